// The edge's hit lane sends hits of 64 KiB and more from the disk tier's copy with sendfile
// (edge/hit-lane.ts sendFromDisk, DiskStore.bodyFd): the bytes are the stored response's, whole
// and in order for a client that reads late (a short rest through the stream from memory, a long one
// by sendfile as the socket empties), with pipelined requests behind; a purged or replaced object is
// never sent from its old file, while an answer already sending from it keeps it open to the end
// (DiskStore.keepOpen); a client that leaves mid-body ends only its connection; and with sendfile off
// the same bytes come from memory.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { sendfileHelper } from '../src/server/sendfile.ts';
import { bytes, startHarness, ZONE } from './helpers/edge-harness.ts';
import { waitFor } from './helpers/origin.ts';
import { pipelinedAnswers } from './helpers/pipelined.ts';

const MiB = 1024 * 1024;
/** Ranges of this size: the socket's buffer seldom takes one whole at once. */
const HALF_MIB = 512 * 1024;
const helper = sendfileHelper() !== undefined;


for (const sendfile of [true, false]) {
  test(`hits of a large object are the stored bytes, whole and in order, for a client that reads late (sendfile ${sendfile ? 'on' : 'off'})`, async () => {
    const h = await startHarness({ sendfile });
    try {
      const body = bytes(3 * MiB, 7);
      h.origin.route('/song.mp3', { headers: { 'cache-control': 'max-age=600', 'content-type': 'audio/mpeg' }, body });
      assert.equal((await h.get('/song.mp3')).status, 200);
      await h.edge.idle();
      // A second hit memoises the plan the lane answers from.
      assert.ok((await h.get('/song.mp3', { range: 'bytes=0-65535' })).body.equals(body.subarray(0, 65536)));
      assert.ok((await h.get('/song.mp3')).body.equals(body));
      const some = [[7, 7 + HALF_MIB - 1], [2 * MiB, 2 * MiB + HALF_MIB - 1], [100, 65_635], [MiB, MiB + 300_000], [0, MiB]] as const;
      // About 8 MiB in all: more than the unread connection's buffers take.
      const ranges = [...some, ...some, ...some];
      const text = ranges.map(([a, b]) => `GET /song.mp3 HTTP/1.1\r\nHost: ${ZONE}\r\nRange: bytes=${a}-${b}\r\n\r\n`).join('') + `GET /song.mp3 HTTP/1.1\r\nHost: ${ZONE}\r\n\r\n`;
      const lane = h.edge.hitLaneAnswers();
      // Read once the lane wrote its first answer into the unread connection (its rest, past what the
      // socket's buffers take, waits in the stream, and the requests behind it wait too).
      const answers = await pipelinedAnswers(h.edge.port, text, ranges.length + 1, () => waitFor(() => (h.edge.hitLaneAnswers() > lane ? true : undefined)));
      for (const [i, [a, b]] of ranges.entries()) {
        assert.match(answers[i].head, new RegExp(`^HTTP/1\\.1 206 [^]*\\r\\ncontent-range: bytes ${a}-${b}/${body.length}`, 'i'));
        assert.ok(answers[i].body.equals(body.subarray(a, b + 1)), `range ${i} differs`);
      }
      assert.ok(answers[ranges.length].body.equals(body), 'the whole object differs');
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
    h.origin.route('/mix.mp3', { headers: { 'cache-control': 'max-age=600', 'content-type': 'audio/mpeg' }, body });
    assert.equal((await h.get('/mix.mp3')).status, 200);
    await h.edge.idle();
    // Hits memoise the plans the lane answers from.
    assert.ok((await h.get('/mix.mp3', { range: 'bytes=0-65535' })).body.equals(body.subarray(0, 65536)));
    assert.ok((await h.get('/mix.mp3')).body.equals(body));
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
