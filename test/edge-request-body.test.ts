// Edge scenarios: request bodies on their way to the origin — `Expect: 100-continue` from real clients
// (curl, node:http) and bodies that stop arriving (cut with 408 after an idle timeout).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ZONE, bytes, startHarness } from './helpers/edge-harness.ts';
import type { Harness } from './helpers/edge-harness.ts';

const run = promisify(execFile);

/** An origin route that answers 201 with the length of the body it received. */
function sink(h: Harness, target: string): void {
  h.origin.route(target, (_req, res, recorded) => {
    res.writeHead(201, { 'content-type': 'text/plain' });
    res.end(`got ${recorded.body.length}`);
  });
}

describe('edge: Expect: 100-continue', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('curl --data-binary @file with Expect: 100-continue uploads through the edge', async () => {
    sink(h, '/api/media');
    const file = path.join(h.cacheDir, 'big.bin');
    const body = bytes(3 * 1024 * 1024, 9);
    await writeFile(file, body);
    // curl sends Expect: 100-continue for large bodies by itself; say it explicitly so the test does not
    // depend on curl's threshold. --expect100-timeout: curl gives up waiting after this and sends anyway,
    // so a long one proves the edge answered 100.
    const { stdout } = await run('curl', [
      '-sS', '--max-time', '60', '--expect100-timeout', '30', '-H', `Host: ${ZONE}`, '-H', 'Expect: 100-continue',
      '-H', 'content-type: application/octet-stream', '--data-binary', `@${file}`,
      '-w', '\n%{http_code}', `${h.edge.url}/api/media`,
    ]);
    const [text, status] = stdout.split('\n');
    assert.equal(status, '201');
    assert.equal(text, `got ${body.length}`);
    const got = h.origin.requests.filter((r) => r.url === '/api/media').at(-1)!;
    assert.ok(got.body.equals(body));
    assert.equal(got.headers['expect'], undefined, 'the edge met the expectation; it does not forward it');
  });

  /** node:http as a client that waits for 100 Continue before it sends the body. */
  function expecting(target: string, host: string, body: Buffer): Promise<{ status: number; continued: boolean; text: string }> {
    return new Promise((resolve, reject) => {
      const { hostname, port } = new URL(h.edge.url);
      let continued = false;
      const req = httpRequest({ hostname, port, path: target, method: 'PUT', headers: { host, expect: '100-continue', 'content-length': String(body.length) } });
      req.on('continue', () => {
        continued = true;
        req.end(body);
      });
      req.on('response', (res: IncomingMessage) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, continued, text: Buffer.concat(parts).toString() }));
      });
      req.on('error', reject);
      req.flushHeaders();
    });
  }

  it('node:http waiting for 100 Continue gets it, sends the body and the origin answer comes back', async () => {
    sink(h, '/put');
    const r = await expecting('/put', ZONE, Buffer.from('payload'));
    assert.deepEqual(r, { status: 201, continued: true, text: 'got 7' });
  });

  it('no 100 Continue for a request the edge refuses anyway: the final answer comes first', async () => {
    const r = await expecting('/put', 'unknown.example', Buffer.from('payload'));
    assert.equal(r.status, 404);
    assert.equal(r.continued, false);
  });
});

describe('edge: idle request bodies', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ clientBodyIdleTimeoutMs: 200 });
  });
  after(() => h.close());

  /** Sends a head and the first bytes of its body, then nothing; resolves with what came back once the edge closes. */
  function stall(head: string, sent: string): Promise<string> {
    const { hostname, port } = new URL(h.edge.url);
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(port), hostname);
      const parts: Buffer[] = [];
      socket.on('data', (c: Buffer) => parts.push(c));
      socket.on('close', () => resolve(Buffer.concat(parts).toString('latin1')));
      socket.on('error', reject);
      // A hang guard far above the 200 ms idle timeout: a socket still open then was never cut.
      socket.setTimeout(15_000, () => {
        socket.destroy();
        reject(new Error('the edge kept the stalled connection open'));
      });
      socket.write(`${head}\r\n\r\n${sent}`);
    });
  }

  it('cuts a POST whose body stops arriving with 408, and the origin never gets a complete request', async () => {
    sink(h, '/slow-upload');
    const answer = await stall(`POST /slow-upload HTTP/1.1\r\nHost: ${ZONE}\r\nContent-Length: 100`, 'only a few bytes');
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.equal(h.origin.count('/slow-upload'), 0);
  });

  it('releases a socket whose unread body stalls after a cached answer', async () => {
    h.origin.route('/cached', { headers: { 'cache-control': 'max-age=600' }, body: 'cached' });
    await h.get('/cached');
    const answer = await stall(`GET /cached HTTP/1.1\r\nHost: ${ZONE}\r\nContent-Length: 100`, 'x');
    assert.match(answer, /^HTTP\/1\.1 200 /);
  });

  it('lets a body that keeps arriving through, however long it is', async () => {
    sink(h, '/steady');
    const body = bytes(6 * 1024 * 1024, 5).toString('base64');
    const r = await h.send('POST', '/steady', { 'content-type': 'application/octet-stream' }, body);
    assert.equal(r.status, 201);
    assert.equal(r.body.toString(), `got ${body.length}`);
  });
});
