// The edge's hit lane sends hits of 64 KiB and more from the disk tier's copy with sendfile
// (edge/hit-lane.ts sendFromDisk, DiskStore.bodyFd): the bytes are the stored response's, whole
// and in order for a client that reads late (a short rest through the stream from memory, a long one
// by sendfile as the socket empties), with pipelined requests behind; a purged or replaced object is
// never sent from its old file, while an answer already sending from it keeps it open to the end
// (DiskStore.keepOpen); a client that leaves mid-body ends only its connection; and with sendfile off
// the same bytes come from memory. Objects too large for the memory tier are sent from the disk tier
// alone (short rests and tail kicks read from the file); a file cut short ends the connection and
// drops the entry; such hits keep the disk tier's LRU order.
import assert from 'node:assert/strict';
import { readdirSync, statSync, truncateSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { sendfileHelper, type SendHeadAndFile } from '../src/server/sendfile.ts';
import { bytes, startHarness, ZONE, type Harness } from './helpers/edge-harness.ts';
import { waitFor } from './helpers/origin.ts';
import { pipelinedAnswers } from './helpers/pipelined.ts';

const MiB = 1024 * 1024;
/** Ranges of this size: the socket's buffer seldom takes one whole at once. */
const HALF_MIB = 512 * 1024;
const helper = sendfileHelper() !== undefined;

/**
 * `body` at `target` on the origin, filled into the edge and stored, then a range and the whole
 * object once each through the request path, which memoises the plans the lane answers from.
 */
async function storedAndPlanned(h: Harness, target: string, body: Buffer): Promise<void> {
  h.origin.route(target, { headers: { 'cache-control': 'max-age=600', 'content-type': 'audio/mpeg' }, body });
  assert.equal((await h.get(target)).status, 200);
  await h.edge.idle();
  assert.ok((await h.get(target, { range: 'bytes=0-65535' })).body.equals(body.subarray(0, 65536)));
  assert.ok((await h.get(target)).body.equals(body));
}

/** Pipelined requests for each of `ranges` of `target`, then for the whole of it. */
function rangesThenWhole(target: string, ranges: readonly (readonly [number, number])[]): string {
  return ranges.map(([a, b]) => `GET ${target} HTTP/1.1\r\nHost: ${ZONE}\r\nRange: bytes=${a}-${b}\r\n\r\n`).join('') + `GET ${target} HTTP/1.1\r\nHost: ${ZONE}\r\n\r\n`;
}

/** The answers to rangesThenWhole: each range's 206 and bytes, then the whole object. */
function assertRangesThenWhole(answers: { head: string; body: Buffer }[], ranges: readonly (readonly [number, number])[], body: Buffer): void {
  for (const [i, [a, b]] of ranges.entries()) {
    assert.match(answers[i].head, new RegExp(`^HTTP/1\\.1 206 [^]*\\r\\ncontent-range: bytes ${a}-${b}/${body.length}`, 'i'));
    assert.ok(answers[i].body.equals(body.subarray(a, b + 1)), `range ${i} differs`);
  }
  assert.ok(answers[ranges.length].body.equals(body), 'the whole object differs');
}

for (const sendfile of [true, false]) {
  test(`hits of a large object are the stored bytes, whole and in order, for a client that reads late (sendfile ${sendfile ? 'on' : 'off'})`, async () => {
    const h = await startHarness({ sendfile });
    try {
      const body = bytes(3 * MiB, 7);
      await storedAndPlanned(h, '/song.mp3', body);
      const some = [[7, 7 + HALF_MIB - 1], [2 * MiB, 2 * MiB + HALF_MIB - 1], [100, 65_635], [MiB, MiB + 300_000], [0, MiB]] as const;
      // About 8 MiB in all: more than the unread connection's buffers take.
      const ranges = [...some, ...some, ...some];
      const text = rangesThenWhole('/song.mp3', ranges);
      const lane = h.edge.hitLaneAnswers();
      // Read once the lane wrote its first answer into the unread connection (its rest, past what the
      // socket's buffers take, waits in the stream, and the requests behind it wait too).
      const answers = await pipelinedAnswers(h.edge.port, text, ranges.length + 1, () => waitFor(() => (h.edge.hitLaneAnswers() > lane ? true : undefined)));
      assertRangesThenWhole(answers, ranges, body);
      assert.ok(h.edge.hitLaneAnswers() > lane, 'the hit lane answered none of them');
      assert.equal(h.edge.openBodies() > 0, sendfile && helper, `open bodies: ${h.edge.openBodies()}`);
      // Purged, then stored anew with other bytes: the lane must not send the old file.
      assert.equal((await h.control('POST', '/_mediacdn/purge', { url: `http://${ZONE}/song.mp3` })).status, 200);
      assert.equal(h.edge.openBodies(), 0, 'a purged body is still open');
      const next = bytes(2 * MiB, 8);
      h.origin.route('/song.mp3', { headers: { 'cache-control': 'max-age=600', 'content-type': 'audio/mpeg' }, body: next });
      assert.ok((await h.get('/song.mp3')).body.equals(next));
      await h.edge.idle();
      assert.ok((await h.get('/song.mp3', { range: 'bytes=0-65535' })).body.equals(next.subarray(0, 65536)));
      const again = await pipelinedAnswers(h.edge.port, `GET /song.mp3 HTTP/1.1\r\nHost: ${ZONE}\r\nRange: bytes=65536-393215\r\n\r\n`, 1, async () => undefined);
      assert.ok(again[0].body.equals(next.subarray(65536, 393216)), 'a hit after the purge sent other bytes');
    } finally {
      await h.close();
    }
  });
}

test('a long hit goes on from the disk copy as the client reads: a purge meanwhile does not cut it, and a client that leaves ends only its own connection', async () => {
  const h = await startHarness({ sendfile: true });
  try {
    const body = bytes(8 * MiB, 9);
    await storedAndPlanned(h, '/mix.mp3', body);
    const lane = h.edge.hitLaneAnswers();
    const text = `GET /mix.mp3 HTTP/1.1\r\nHost: ${ZONE}\r\n\r\nGET /mix.mp3 HTTP/1.1\r\nHost: ${ZONE}\r\nRange: bytes=100-199\r\n\r\n`;
    // Unread, the first answer fills the connection's buffers; the object is purged while its rest waits.
    const answers = await pipelinedAnswers(h.edge.port, text, 2, async () => {
      await waitFor(() => (h.edge.hitLaneAnswers() > lane ? true : undefined));
      assert.equal((await h.control('POST', '/_mediacdn/purge', { url: `http://${ZONE}/mix.mp3` })).status, 200);
    });
    assert.match(answers[0].head, /^HTTP\/1\.1 200 /);
    assert.ok(answers[0].body.equals(body), 'the long hit differs');
    assert.ok(answers[1].body.equals(body.subarray(100, 200)), 'the range behind it differs');
    if (helper) assert.equal(h.edge.openBodies(), 0, 'a purged body is still open');
    // Stored again; a client takes 1 MiB of it and leaves.
    assert.equal((await h.get('/mix.mp3')).status, 200);
    await h.edge.idle();
    assert.ok((await h.get('/mix.mp3', { range: 'bytes=0-65535' })).body.equals(body.subarray(0, 65536)));
    const leaver = net.connect(h.edge.port, '127.0.0.1');
    leaver.write(`GET /mix.mp3 HTTP/1.1\r\nHost: ${ZONE}\r\n\r\n`);
    await new Promise<void>((resolve) => {
      let got = 0;
      leaver.on('data', (d: Buffer) => {
        got += d.length;
        if (got >= MiB) {
          leaver.destroy();
          resolve();
        }
      });
    });
    assert.ok((await h.get('/mix.mp3')).body.equals(body), 'the next client got other bytes');
  } finally {
    await h.close();
  }
});

/** The largest file under `dir`: the disk tier's body of the one large object a test stored. */
function largestFile(dir: string): string {
  let best = { file: '', size: -1 };
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    const size = statSync(file).size;
    if (size > best.size) best = { file, size };
  }
  return best.file;
}

for (const sendfile of [true, false]) {
  test(`an object larger than the memory tier takes is answered from the disk tier alone: whole, ranges read late, 304 (sendfile ${sendfile ? 'on' : 'off'})`, async () => {
    const h = await startHarness({ sendfile, memoryObjectMaxBytes: MiB });
    try {
      const body = bytes(6 * MiB, 11);
      h.origin.route('/long.mp3', { headers: { 'cache-control': 'max-age=600', 'content-type': 'audio/mpeg', etag: '"long-1"' }, body });
      assert.equal((await h.get('/long.mp3')).headers['x-cache'], 'MISS');
      await h.edge.idle();
      assert.deepEqual(h.edge.usage().memory, { bytes: 0, entries: 0 }, 'too large for the memory tier');
      // The request path answers each shape once (a disk hit) and memoises its plan.
      const first = await h.get('/long.mp3');
      assert.equal(first.headers['x-cache'], 'HIT');
      assert.ok(first.body.equals(body));
      assert.ok((await h.get('/long.mp3', { range: 'bytes=0-65535' })).body.equals(body.subarray(0, 65536)));
      assert.equal((await h.get('/long.mp3', { 'if-none-match': '"long-1"' })).status, 304);
      const lane = h.edge.hitLaneAnswers();
      const whole = await h.get('/long.mp3');
      assert.equal(whole.headers['x-cache'], 'HIT');
      assert.equal(whole.headers['content-length'], String(body.length));
      assert.ok(whole.body.equals(body), 'the whole object differs');
      const notModified = await h.get('/long.mp3', { 'if-none-match': '"long-1"' });
      assert.equal(notModified.status, 304);
      assert.equal(notModified.body.length, 0);
      assert.equal(notModified.headers.etag, '"long-1"');
      // Short, long and last ranges, pipelined and read late: short rests read from the file, long ones by sendfile as the socket empties.
      const some = [[0, 1], [5, 70_000], [MiB - 3, 3 * MiB], [6 * MiB - 200_000, 6 * MiB - 1], [4 * MiB, 4 * MiB + 300_000]] as const;
      const ranges = [...some, ...some];
      const text = rangesThenWhole('/long.mp3', ranges);
      const before = h.edge.hitLaneAnswers();
      const answers = await pipelinedAnswers(h.edge.port, text, ranges.length + 1, () => (sendfile && helper ? waitFor(() => (h.edge.hitLaneAnswers() > before ? true : undefined)) : Promise.resolve()));
      assertRangesThenWhole(answers, ranges, body);
      // Without the sendfile helper the lane has no way to send a disk-only body: the request path answers.
      assert.equal(h.edge.hitLaneAnswers() - lane, sendfile && helper ? 3 + ranges.length : 0, 'answers by the hit lane');
      assert.equal(h.origin.count('/long.mp3'), 1, 'every answer came from the cache');
    } finally {
      await h.close();
    }
  });
}

/** The helper, taking at most 40 KiB of a body per call, as a socket whose buffer is nearly full does: rests short enough are read from the file. */
function tight(): SendHeadAndFile | undefined {
  const real = sendfileHelper();
  return real && ((socketFd, head, fileFd, offset, count) => real(socketFd, head, fileFd, offset, Math.min(count, 40 * 1024)));
}

test('a disk-only object through a socket that takes 40 KiB at a time: short rests read from the file, long ones by sendfile with kicks read from the file', { skip: !helper && 'no sendfile helper' }, async () => {
  const h = await startHarness({ sendfile: true, memoryObjectMaxBytes: MiB, sendfileWith: tight() });
  try {
    const body = bytes(3 * MiB, 16);
    await storedAndPlanned(h, '/slow.mp3', body);
    const lane = h.edge.hitLaneAnswers();
    for (const [a, b] of [[10, 100_009], [MiB, MiB + 40 * 1024 - 1], [2 * MiB, 2 * MiB + 500_000], [3 * MiB - 70_000, 3 * MiB - 1]] as const) {
      const r = await h.get('/slow.mp3', { range: `bytes=${a}-${b}` });
      assert.equal(r.status, 206);
      assert.ok(r.body.equals(body.subarray(a, b + 1)), `bytes ${a}-${b} differ`);
    }
    assert.ok((await h.get('/slow.mp3')).body.equals(body));
    assert.equal(h.edge.hitLaneAnswers(), lane + 5);
  } finally {
    await h.close();
  }
});

for (const how of ['a long rest by sendfile', 'a short rest read from the file'] as const) {
  test(`a disk-only object whose file was cut short (${how}): the connection ends, the entry is dropped, the next request fetches it again`, { skip: !helper && 'no sendfile helper' }, async () => {
    const h = await startHarness({ sendfile: true, memoryObjectMaxBytes: MiB, sendfileWith: how === 'a long rest by sendfile' ? undefined : tight() });
    try {
      const body = bytes(4 * MiB, 12);
      // The request path answers it once (and verifies the file), and a range once.
      await storedAndPlanned(h, '/cut.mp3', body);
      const lane = h.edge.hitLaneAnswers();
      assert.ok((await h.get('/cut.mp3')).body.equals(body));
      assert.equal(h.edge.hitLaneAnswers(), lane + 1);
      truncateSync(largestFile(h.cacheDir), 2 * MiB);
      if (how === 'a long rest by sendfile') await assert.rejects(h.get('/cut.mp3'), 'the answer promised 4 MiB and could not send them');
      else await assert.rejects(h.get('/cut.mp3', { range: `bytes=${2 * MiB - 50_000}-${2 * MiB + 49_999}` }), 'the answer promised 100,000 bytes and could not send them');
      await waitFor(() => (h.edge.usage().disk?.entries === 0 ? true : undefined));
      const again = await h.get('/cut.mp3');
      assert.equal(again.headers['x-cache'], 'MISS');
      assert.ok(again.body.equals(body));
      assert.equal(h.origin.count('/cut.mp3'), 2);
    } finally {
      await h.close();
    }
  });
}

test('a disk-only object the hit lane answers counts as recently used in the disk tier', { skip: !helper && 'no sendfile helper' }, async () => {
  // Room on disk for two of these objects, not three.
  const h = await startHarness({ sendfile: true, memoryObjectMaxBytes: MiB, diskCacheBytes: 9 * MiB });
  try {
    const a = bytes(4 * MiB, 13);
    const b = bytes(4 * MiB, 14);
    const c = bytes(4 * MiB, 15);
    for (const [p, body] of [['/a.mp3', a], ['/b.mp3', b], ['/c.mp3', c]] as const) h.origin.route(p, { headers: { 'cache-control': 'max-age=600' }, body });
    await h.get('/a.mp3');
    await h.edge.idle();
    await h.get('/a.mp3'); // the request path (plan memoised)
    await h.get('/b.mp3');
    await h.edge.idle();
    const lane = h.edge.hitLaneAnswers();
    assert.ok((await h.get('/a.mp3')).body.equals(a));
    assert.equal(h.edge.hitLaneAnswers(), lane + 1, 'the lane answered');
    // b was used before a's last hit, so c pushes out b, not a.
    await h.get('/c.mp3');
    await h.edge.idle();
    assert.equal((await h.get('/a.mp3')).headers['x-cache'], 'HIT');
    assert.equal((await h.get('/b.mp3')).headers['x-cache'], 'MISS');
  } finally {
    await h.close();
  }
});
