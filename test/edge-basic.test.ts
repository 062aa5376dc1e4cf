// Edge scenarios: miss then hit, Age, X-Cache, Via, zones by Host, forwarding headers, hop-by-hop fields.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import http from 'node:http';
import net from 'node:net';
import fc from 'fast-check';
import { Agent, request } from 'undici';
import { zoneHostOf } from '../src/edge/zone/zone.ts';
import { checkAsyncProperty } from './helpers/property.ts';
import { ZONE, bytes, startHarness } from './helpers/edge-harness.ts';
import type { Harness } from './helpers/edge-harness.ts';

describe('edge: hits and misses', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('answers a miss from the origin, then a hit with no origin request', async () => {
    const body = bytes(10_000);
    h.origin.route('/a.mp3', { headers: { 'content-type': 'audio/mpeg', 'cache-control': 'max-age=60', etag: '"a1"' }, body });
    const first = await h.get('/a.mp3');
    assert.equal(first.status, 200);
    assert.equal(first.headers['x-cache'], 'MISS');
    assert.equal(first.headers['age'], '0');
    assert.deepEqual(first.body, body);
    h.clock.advance(10);
    const second = await h.get('/a.mp3');
    assert.equal(second.status, 200);
    assert.equal(second.headers['x-cache'], 'HIT');
    assert.equal(second.headers['age'], '10');
    assert.equal(second.headers['content-type'], 'audio/mpeg');
    assert.equal(second.headers['etag'], '"a1"');
    assert.equal(second.headers['content-length'], '10000');
    assert.deepEqual(second.body, body);
    assert.equal(h.origin.count('/a.mp3'), 1);
    const outcomes = h.events.filter((e) => e.zone === ZONE).map((e) => e.outcome);
    assert.deepEqual(outcomes.slice(-2), ['miss', 'hit']);
  });

  it('answers HEAD from the stored GET', async () => {
    h.origin.route('/head.bin', { headers: { 'cache-control': 'max-age=60' }, body: bytes(500) });
    await h.get('/head.bin');
    const head = await h.send('HEAD', '/head.bin');
    assert.equal(head.status, 200);
    assert.equal(head.headers['x-cache'], 'HIT');
    assert.equal(head.headers['content-length'], '500');
    assert.equal(head.body.length, 0);
    assert.equal(h.origin.count('/head.bin'), 1);
  });

  it('keeps query strings apart in the key', async () => {
    h.origin.route('/q', (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end(req.url);
    });
    assert.equal((await h.get('/q?x=1')).body.toString(), '/q?x=1');
    assert.equal((await h.get('/q?x=2')).body.toString(), '/q?x=2');
    assert.equal((await h.get('/q?x=1')).headers['x-cache'], 'HIT');
    assert.equal(h.origin.count('/q?x=1') + h.origin.count('/q?x=2'), 2);
  });

  it('becomes stale by the fake clock and fetches again when the response has no validator', async () => {
    h.origin.route('/short', { headers: { 'cache-control': 'max-age=5' }, body: 'v' });
    await h.get('/short');
    h.clock.advance(4);
    assert.equal((await h.get('/short')).headers['x-cache'], 'HIT');
    h.clock.advance(2);
    const r = await h.get('/short');
    assert.equal(r.headers['x-cache'], 'MISS');
    assert.equal(h.origin.count('/short'), 2);
  });

  it('adds Via and X-Forwarded-For upstream and Via downstream; drops hop-by-hop fields both ways', async () => {
    h.origin.route('/fwd', (req, res) => {
      res.writeHead(200, { 'cache-control': 'no-store', connection: 'x-secret', 'x-secret': 'leak', 'keep-alive': 'timeout=5', 'x-kept': 'yes' });
      res.end('ok');
    });
    // node:http, because undici manages the Connection field itself.
    const r = await rawGet(h.edge.url, '/fwd', { host: ZONE, connection: 'keep-alive, x-drop-me', 'x-drop-me': '1', 'x-forwarded-for': '203.0.113.9', 'x-keep-me': '1' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-cache'], 'BYPASS');
    assert.equal(r.headers['x-kept'], 'yes');
    assert.equal(r.headers['x-secret'], undefined);
    assert.match(String(r.headers['via']), /1\.1 mediacdn/);
    const seen = h.origin.requests.filter((x) => x.url === '/fwd').at(-1)!;
    assert.equal(seen.headers['x-drop-me'], undefined);
    assert.equal(seen.headers['x-keep-me'], '1');
    assert.equal(seen.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
    assert.equal(seen.headers['x-forwarded-host'], ZONE);
    assert.match(String(seen.headers['via']), /1\.1 mediacdn/);
  });

  it('selects the zone by Host, ignoring case and port; unknown hosts get a clear 404', async () => {
    h.origin.route('/z', { headers: { 'cache-control': 'max-age=60' }, body: 'zone' });
    const agent = new Agent();
    try {
      const ok = await request(`${h.edge.url}/z`, { headers: { host: 'CDN.Example.com:8080' }, dispatcher: agent });
      assert.equal(ok.statusCode, 200);
      assert.equal(await ok.body.text(), 'zone');
      const unknown = await request(`${h.edge.url}/z`, { headers: { host: 'other.example.org' }, dispatcher: agent });
      assert.equal(unknown.statusCode, 404);
      assert.match(await unknown.body.text(), /No pull zone is configured for host "other\.example\.org"/);
    } finally {
      await agent.close();
    }
  });

  it('answers 400 to more than one Host line or a Host that is not a host name (RFC 9112 §3.2)', async () => {
    h.origin.route('/hosts', { headers: { 'cache-control': 'max-age=60' }, body: 'hosts' });
    /** One request written as given, on its own connection: the status line and body. */
    const exchange = (head: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const socket = net.connect(h.edge.port, '127.0.0.1');
        const chunks: Buffer[] = [];
        socket.on('data', (c: Buffer) => chunks.push(c));
        socket.on('error', reject);
        socket.on('close', () => {
          const text = Buffer.concat(chunks).toString('latin1');
          resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), body: text.slice(text.indexOf('\r\n\r\n') + 4) });
        });
        socket.write(`${head}\r\nConnection: close\r\n\r\n`);
      });
    assert.deepEqual(await exchange(`GET /hosts HTTP/1.1\r\nHost: ${ZONE}`), { status: 200, body: 'hosts' });
    for (const head of [
      `GET /hosts HTTP/1.1\r\nHost: ${ZONE}\r\nHost: other.example.org`,
      `GET /hosts HTTP/1.1\r\nHost: other.example.org\r\nhost: ${ZONE}`,
      `GET /hosts HTTP/1.1\r\nHost: ${ZONE}\r\nX-A: 1\r\nHOST: ${ZONE}`,
      `GET http://${ZONE}/hosts HTTP/1.1\r\nHost: ${ZONE}\r\nHost: ${ZONE}`,
    ]) {
      const r = await exchange(head);
      assert.equal(r.status, 400, head);
      assert.equal(r.body, 'The request has more than one Host field.\n', head);
    }
    for (const value of ['cdn example.com', 'cdn.example.com/x', 'cdn.example.com:80a', '[::1', 'user@cdn.example.com']) {
      const r = await exchange(`GET /hosts HTTP/1.1\r\nHost: ${value}`);
      assert.equal(r.status, 400, value);
      assert.match(r.body, /^The Host field ".*" is not a host name with an optional port\.\n$/, value);
    }
    // Well-formed but no zone's: 404, as before; and no Host at all is node:http's own 400.
    assert.equal((await exchange('GET /hosts HTTP/1.1\r\nHost: [::1]:8080')).status, 404);
    assert.equal((await exchange('GET /hosts HTTP/1.1')).status, 400);
    // Whatever the Host lines, the answer is the zone's content, a 400 or a 404, and the edge goes on.
    await checkAsyncProperty(
      fc.asyncProperty(fc.array(fc.oneof(fc.constant(ZONE), fc.constant(`${ZONE.toUpperCase()}:8080`), fc.stringMatching(/^[ -~]{0,30}$/)), { maxLength: 3 }), async (hosts) => {
        const lines = hosts.map((v) => `\r\nHost: ${v.trim()}`).join('');
        const r = await exchange(`GET /hosts HTTP/1.1${lines}`);
        if (hosts.length === 1 && zoneHostOf(hosts[0].trim()) === ZONE) assert.deepEqual(r, { status: 200, body: 'hosts' });
        else assert.ok([400, 404].includes(r.status), `${JSON.stringify(hosts)}: ${r.status}`);
      }),
      { numRuns: 100, timeLimitMs: 10_000 },
    );
  });

  it('selects the zone by the authority of an absolute-form target, not by Host (RFC 9112 §3.2.2)', async () => {
    h.origin.route('/abs', { headers: { 'cache-control': 'max-age=60' }, body: 'absolute' });
    /** Sends one raw request line and Host; returns the status and body. */
    const raw = (line: string, host: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const { hostname, port } = new URL(h.edge.url);
        const req = http.request({ hostname, port, method: 'GET', path: line, headers: { host } });
        req.on('response', (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
    const byAuthority = await raw(`http://${ZONE}/abs`, 'nope.example');
    assert.deepEqual(byAuthority, { status: 200, body: 'absolute' });
    const withPort = await raw(`http://CDN.example.com:8080/abs`, 'nope.example');
    assert.equal(withPort.status, 200);
    const unknown = await raw('http://fake.test/abs', ZONE);
    assert.equal(unknown.status, 404);
    assert.match(unknown.body, /No pull zone is configured for host "fake\.test"/);
  });

  it('answers 502 when the origin is unreachable and nothing is cached', async () => {
    const h2 = await startHarness({ zones: [{ host: ZONE, origin: 'http://127.0.0.1:1' }] });
    try {
      const r = await h2.get('/x');
      assert.equal(r.status, 502);
      assert.match(r.body.toString(), /could not be reached/);
    } finally {
      await h2.close();
    }
  });

  it('answers 504 when the origin does not send a response head in time', async () => {
    const h2 = await startHarness({ headersTimeoutMs: 200 });
    try {
      h2.origin.route('/slow', () => {
        // never answers
      });
      const r = await h2.get('/slow');
      assert.equal(r.status, 504);
    } finally {
      await h2.close();
    }
  });

  it('replays a cacheable 404 from the cache', async () => {
    h.origin.route('/gone', { status: 404, headers: { 'cache-control': 'max-age=30', 'content-type': 'text/plain' }, body: 'nope' });
    assert.equal((await h.get('/gone')).status, 404);
    const again = await h.get('/gone');
    assert.equal(again.status, 404);
    assert.equal(again.headers['x-cache'], 'HIT');
    assert.equal(again.body.toString(), 'nope');
    assert.equal(h.origin.count('/gone'), 1);
  });
});

function rawGet(base: string, target: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${target}`, { headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}
