// Edge scenarios: request coalescing — one origin request for concurrent misses, streaming to waiters,
// stalled and failed fills, clients that go away.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import type { Dispatcher } from 'undici';
import { ZONE, bytes, startHarness } from './helpers/edge-harness.ts';
import type { Harness } from './helpers/edge-harness.ts';

/** An origin route that sends the head and the first `firstBytes`, then waits for release(). */
function heldRoute(body: Buffer, firstBytes: number, headers: Record<string, string> = { 'cache-control': 'max-age=300' }) {
  const held: ServerResponse[] = [];
  let releaseAll: () => void = () => {};
  const released = new Promise<void>((r) => (releaseAll = r));
  return {
    handler: (_req: unknown, res: ServerResponse) => {
      held.push(res);
      res.writeHead(200, { 'content-length': String(body.length), 'content-type': 'audio/mpeg', ...headers });
      res.write(body.subarray(0, firstBytes));
      void released.then(() => res.end(body.subarray(firstBytes)));
    },
    release: () => releaseAll(),
    held,
  };
}

async function readAll(res: Dispatcher.ResponseData): Promise<Buffer> {
  return Buffer.from(await res.body.arrayBuffer());
}

/** Reads from a response body until at least n bytes arrived; returns them (the rest stays unread). */
async function readAtLeast(res: Dispatcher.ResponseData, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  for await (const chunk of res.body) {
    parts.push(chunk as Buffer);
    got += (chunk as Buffer).length;
    if (got >= n) break;
  }
  return Buffer.concat(parts);
}

describe('edge: request coalescing of 200 concurrent misses', () => {
  // The default body idle timeout: on a loaded machine, attaching 200 clients while the origin holds
  // the body can take longer than the 400 ms the stall scenarios below use, and must not fail the fill.
  let h: Harness;
  let agent: Agent;
  const get = (target: string) => request(`${h.edge.url}${target}`, { headers: { host: ZONE }, dispatcher: agent });
  before(async () => {
    h = await startHarness();
    agent = new Agent({ connections: 400 });
  });
  after(async () => {
    await agent.close();
    await h.close();
  });

  it('200 concurrent misses make one origin request and get 200 identical, correct bodies', async () => {
    const body = bytes(256 * 1024, 3);
    const route = heldRoute(body, 64 * 1024);
    h.origin.route('/hot.mp3', route.handler);
    // All 200 get their response head while the origin is still holding the rest of the body:
    // they are all attached to the one fill at the same time.
    const responses = await Promise.all(Array.from({ length: 200 }, () => get('/hot.mp3')));
    assert.equal(h.origin.count('/hot.mp3'), 1);
    route.release();
    const bodies = await Promise.all(responses.map(readAll));
    for (const r of responses) assert.equal(r.statusCode, 200);
    for (const b of bodies) assert.ok(b.equals(body));
    assert.equal(h.origin.count('/hot.mp3'), 1);
    const again = await get('/hot.mp3');
    assert.equal(again.headers['x-cache'], 'HIT');
    assert.ok((await readAll(again)).equals(body));
  });
});

describe('edge: request coalescing', () => {
  let h: Harness;
  let agent: Agent;
  const get = (target: string, headers: Record<string, string> = {}, signal?: AbortSignal) =>
    request(`${h.edge.url}${target}`, { headers: { host: ZONE, ...headers }, dispatcher: agent, signal });

  before(async () => {
    h = await startHarness({ bodyTimeoutMs: 400 });
    agent = new Agent({ connections: 400 });
  });
  after(async () => {
    await agent.close();
    await h.close();
  });

  it('waiters receive the body as it streams in, before the origin has finished', async () => {
    const body = bytes(512 * 1024, 4);
    const route = heldRoute(body, 100 * 1024);
    h.origin.route('/stream.mp3', route.handler);
    const a = await get('/stream.mp3');
    const b = await get('/stream.mp3');
    // Both read the first 100 KiB while the origin still holds the rest: streamed, not buffered.
    const [startA, startB] = await Promise.all([readAtLeast(a, 100 * 1024), readAtLeast(b, 100 * 1024)]);
    assert.ok(startA.subarray(0, 100 * 1024).equals(body.subarray(0, 100 * 1024)));
    assert.ok(startB.subarray(0, 100 * 1024).equals(body.subarray(0, 100 * 1024)));
    assert.equal(route.held[0].writableEnded, false, 'origin has not finished');
    route.release();
    assert.equal(h.origin.count('/stream.mp3'), 1);
  });

  it('a client that aborts during a miss neither poisons the entry nor cuts off the other waiters', async () => {
    const body = bytes(300 * 1024, 5);
    const route = heldRoute(body, 50 * 1024);
    h.origin.route('/abort.mp3', route.handler);
    const controller = new AbortController();
    const leader = await get('/abort.mp3', {}, controller.signal);
    const other = await get('/abort.mp3');
    await readAtLeast(leader, 1);
    controller.abort();
    await assert.rejects(readAll(leader));
    route.release();
    assert.ok((await readAll(other)).equals(body), 'the other waiter gets the whole body');
    const hit = await get('/abort.mp3');
    assert.equal(hit.headers['x-cache'], 'HIT');
    assert.ok((await readAll(hit)).equals(body), 'the stored entry is complete');
    assert.equal(h.origin.count('/abort.mp3'), 1);
  });

  it('a fill that stalls does not hang its waiters, and is not stored', async () => {
    const body = bytes(200 * 1024, 6);
    const route = heldRoute(body, 20 * 1024);
    h.origin.route('/stall.mp3', route.handler);
    const waiters = await Promise.all([get('/stall.mp3'), get('/stall.mp3'), get('/stall.mp3')]);
    // The origin never sends the rest; the edge's body idle timeout (400 ms) fails the fill.
    for (const w of waiters) await assert.rejects(readAll(w));
    assert.equal(h.origin.count('/stall.mp3'), 1);
    h.origin.route('/stall.mp3', { headers: { 'cache-control': 'max-age=300' }, body });
    const again = await get('/stall.mp3');
    assert.equal(again.headers['x-cache'], 'MISS', 'nothing was stored from the stalled fill');
    assert.ok((await readAll(again)).equals(body));
    route.release();
  });

  it('a fill whose origin connection breaks errors its waiters and is not stored', async () => {
    const body = bytes(100 * 1024, 7);
    h.origin.route('/reset.mp3', (_req, res) => {
      res.writeHead(200, { 'content-length': String(body.length), 'cache-control': 'max-age=300' });
      res.write(body.subarray(0, 10 * 1024), () => setImmediate(() => res.socket?.destroy()));
    });
    const waiters = await Promise.all([get('/reset.mp3'), get('/reset.mp3')]);
    for (const w of waiters) await assert.rejects(readAll(w));
    h.origin.route('/reset.mp3', { headers: { 'cache-control': 'max-age=300' }, body });
    const again = await get('/reset.mp3');
    assert.equal(again.headers['x-cache'], 'MISS');
    assert.ok((await readAll(again)).equals(body));
  });

  it('does not share a response that may not be stored: each waiter gets its own', async () => {
    let n = 0;
    h.origin.route('/private', (_req, res) => {
      n++;
      const mine = n;
      setImmediate(() => {
        res.writeHead(200, { 'cache-control': 'private' });
        res.end(`for request ${mine}`);
      });
    });
    const replies = await Promise.all([get('/private'), get('/private'), get('/private')]);
    const texts = await Promise.all(replies.map(async (r) => (await readAll(r)).toString()));
    assert.equal(new Set(texts).size, 3, 'three distinct private responses');
    assert.equal(h.origin.count('/private'), 3);
    for (const r of replies) assert.equal(r.headers['x-cache'], 'BYPASS');
  });
});
