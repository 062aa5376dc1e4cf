// The request path is one path: an answer built from a memoised response plan (a hit from memory) is
// byte for byte the answer the planner builds each time, with and without admission limits (which
// every request passes through, hits included).
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ZONE, bytes, startHarness } from './helpers/edge-harness.ts';
import type { Harness } from './helpers/edge-harness.ts';

const SIZE = 50_000;
const BODY = bytes(SIZE, 3);
const HEADERS = { 'cache-control': 'max-age=600', etag: '"p1"', 'content-type': 'audio/mpeg', 'last-modified': 'Sun, 01 Jun 2025 10:00:00 GMT', 'x-origin': 'kept' };

/**
 * The exact bytes of one response on its own connection; Node's Date line (wall clock) left out and a
 * multipart boundary (random per answer) named BOUNDARY.
 */
async function raw(h: Harness, head: string): Promise<Buffer> {
  const { port } = h.edge;
  const socket = net.connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.end(`${head}\r\nHost: ${ZONE}\r\nConnection: close\r\n\r\n`);
  await new Promise<void>((resolve, reject) => {
    socket.once('close', () => resolve());
    socket.once('error', reject);
  });
  const all = Buffer.concat(chunks);
  const end = all.indexOf('\r\n\r\n');
  const headLines = all.subarray(0, end).toString('latin1').split('\r\n').filter((l) => !/^date:/i.test(l));
  const text = Buffer.concat([Buffer.from(headLines.join('\r\n'), 'latin1'), all.subarray(end)]).toString('latin1');
  const boundary = /boundary=([0-9a-f]+)/.exec(text)?.[1];
  return Buffer.from(boundary === undefined ? text : text.replaceAll(boundary, 'BOUNDARY'), 'latin1');
}

const CASES: Array<[string, string]> = [
  ['full GET', 'GET /a.mp3 HTTP/1.1'],
  ['HEAD', 'HEAD /a.mp3 HTTP/1.1'],
  ['HEAD with Range', 'HEAD /a.mp3 HTTP/1.1\r\nRange: bytes=0-9'],
  ['one range', 'GET /a.mp3 HTTP/1.1\r\nRange: bytes=100-1099'],
  ['another range of the same object', 'GET /a.mp3 HTTP/1.1\r\nRange: bytes=49000-'],
  ['suffix range', 'GET /a.mp3 HTTP/1.1\r\nRange: bytes=-500'],
  ['two ranges (multipart)', 'GET /a.mp3 HTTP/1.1\r\nRange: bytes=0-9,2000-2009'],
  ['unsatisfiable range (416)', 'GET /a.mp3 HTTP/1.1\r\nRange: bytes=60000-'],
  ['If-None-Match (304)', 'GET /a.mp3 HTTP/1.1\r\nIf-None-Match: "p1"'],
  ['If-Range matching', 'GET /a.mp3 HTTP/1.1\r\nRange: bytes=5-9\r\nIf-Range: "p1"'],
  ['If-Range not matching', 'GET /a.mp3 HTTP/1.1\r\nRange: bytes=5-9\r\nIf-Range: "other"'],
  ['If-Match failing (412)', 'GET /a.mp3 HTTP/1.1\r\nIf-Match: "other"'],
  ['a stored 404 replayed', 'GET /gone.mp3 HTTP/1.1'],
  ['HEAD with If-None-Match (304)', 'HEAD /a.mp3 HTTP/1.1\r\nIf-None-Match: "p1"'],
  ['If-None-Match weakly matching (304)', 'GET /a.mp3 HTTP/1.1\r\nIf-None-Match: W/"p1"'],
  ['If-None-Match list (304)', 'GET /a.mp3 HTTP/1.1\r\nIf-None-Match: "x", "p1"'],
  ['If-None-Match and Range (304)', 'GET /a.mp3 HTTP/1.1\r\nIf-None-Match: "p1"\r\nRange: bytes=0-9'],
  ['If-None-Match not matching (200)', 'GET /a.mp3 HTTP/1.1\r\nIf-None-Match: "other"'],
  ['If-None-Match not matching, with Range (206)', 'GET /a.mp3 HTTP/1.1\r\nIf-None-Match: "other"\r\nRange: bytes=3-7'],
  ['If-None-Match and If-Modified-Since (304)', 'GET /a.mp3 HTTP/1.1\r\nIf-None-Match: "p1"\r\nIf-Modified-Since: Sun, 01 Jun 2025 09:00:00 GMT'],
  ['allowed Origin', 'GET /a.mp3 HTTP/1.1\r\nOrigin: https://radio.example'],
  ['another allowed Origin', 'GET /a.mp3 HTTP/1.1\r\nOrigin: https://www.radio.example'],
  ['Origin not allowed', 'GET /a.mp3 HTTP/1.1\r\nOrigin: https://other.example'],
  ['allowed Origin with Range', 'GET /a.mp3 HTTP/1.1\r\nOrigin: https://radio.example\r\nRange: bytes=10-19'],
  ['allowed Origin with If-None-Match (304)', 'GET /a.mp3 HTTP/1.1\r\nOrigin: https://radio.example\r\nIf-None-Match: "p1"'],
  ['allowed Origin, a stored 404', 'GET /gone.mp3 HTTP/1.1\r\nOrigin: https://radio.example'],
];

/** Every variant's zone allows two origins: the CORS fields are part of what a memoised plan answers. */
const CORS_ZONE = { corsOrigins: ['https://radio.example', 'https://www.radio.example'] };

describe('edge: a memoised plan answers exactly like the planner', () => {
  const variants = [
    { name: 'memoised', over: {}, zone: CORS_ZONE },
    { name: 'planned every time', over: { memoisePlans: false }, zone: CORS_ZONE },
    { name: 'memoised, with limits', over: { maxConnectionsPerIp: 50 }, zone: { ...CORS_ZONE, rateLimit: { requestsPerSecond: 10_000, burst: 10_000 } } },
    { name: 'planned every time, with limits', over: { memoisePlans: false, maxConnectionsPerIp: 50 }, zone: { ...CORS_ZONE, rateLimit: { requestsPerSecond: 10_000, burst: 10_000 } } },
  ];
  const edges: Harness[] = [];
  before(async () => {
    for (const v of variants) {
      const h = await startHarness(v.over, v.zone);
      h.origin.route('/a.mp3', { headers: HEADERS, body: BODY, validate: true });
      h.origin.route('/gone.mp3', { status: 404, headers: { 'cache-control': 'max-age=60', 'content-type': 'text/plain' }, body: 'gone\n' });
      // Fill, then every case below is a HIT from memory.
      assert.equal((await h.get('/a.mp3')).headers['x-cache'], 'MISS');
      assert.equal((await h.get('/gone.mp3')).headers['x-cache'], 'MISS');
      edges.push(h);
    }
  });
  after(() => Promise.all(edges.map((h) => h.close())));

  for (const [name, head] of CASES) {
    it(name, async () => {
      // Twice each: the first answer may build the memoised plan, the second uses it.
      for (let round = 0; round < 2; round++) {
        const answers = [];
        for (const h of edges) answers.push(await raw(h, head));
        const first = answers[0].toString('latin1');
        assert.match(first, /\r\nx-cache: HIT\r\n/i);
        for (let i = 1; i < answers.length; i++) assert.equal(answers[i].toString('latin1'), first, `${variants[i].name} differs from ${variants[0].name}`);
      }
      for (const h of edges) assert.equal(h.origin.count('/a.mp3'), 1);
    });
  }

  it('limits still apply to hits: over the rate, a hit is refused like any request', async () => {
    const h = await startHarness({}, { rateLimit: { requestsPerSecond: 1, burst: 1 } });
    after(() => h.close());
    h.origin.route('/a.mp3', { headers: HEADERS, body: BODY });
    assert.equal((await h.get('/a.mp3')).status, 200);
    const refused = await h.get('/a.mp3');
    assert.equal(refused.status, 429);
    assert.equal(h.origin.count('/a.mp3'), 1);
  });
});
