// The answer writers of message.ts that the lanes use, on real sockets: a head written into the room
// in front of a stored body must not change bytes a queued write still has to send; RangeHeads joins
// the heads plainHead makes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { plainHead, RangeHeads, withHeadRoom, writeLaneAnswer } from './message.ts';

/** A head of fixed length naming its client (every head the same length, so framing never shifts). */
const headFor = (who: string): Buffer => Buffer.from(`HTTP/1.1 200 OK\r\nx-who: ${who.padEnd(8, '.')}\r\ncontent-length: ${BODY}\r\n\r\n`, 'latin1');
const BODY = 24 * 1024 * 1024;
/** Bytes written to the slow client before its answer, so that none of the answer can go at once. */
const FILLER = 16 * 1024 * 1024;

describe('writeLaneAnswer', { timeout: 60_000 }, () => {
  it('a head written in front of the body while another client\'s answer waits in its queue leaves that answer as it was', async () => {
    const parts = [Buffer.alloc(BODY / 2, 7), Buffer.alloc(BODY / 2, 9)];
    const { buffer, room } = withHeadRoom(parts, BODY);
    assert.equal(buffer.length, BODY);
    assert.ok(buffer.subarray(0, BODY / 2).every((b) => b === 7) && buffer.subarray(BODY / 2).every((b) => b === 9));
    const done: string[] = [];
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', (d) => {
        const who = d.toString('latin1').trim();
        if (who === 'slow') socket.write(Buffer.alloc(FILLER, 0x66));
        writeLaneAnswer(socket, headFor(who), buffer, room, (err) => done.push(`${who}${err ? ' failed' : ''}`));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const ask = (who: string, read: boolean, before = 0): Promise<{ socket: net.Socket; received: () => Promise<Buffer> }> =>
      new Promise((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => {
          socket.write(`${who}\n`);
          const chunks: Buffer[] = [];
          let got = 0;
          let finish: (b: Buffer) => void;
          const whole = new Promise<Buffer>((r) => (finish = r));
          if (!read) socket.pause();
          socket.on('data', (c: Buffer) => {
            chunks.push(c);
            got += c.length;
            if (got >= before + headFor(who).length + BODY) finish(Buffer.concat(chunks).subarray(before));
          });
          resolve({ socket, received: () => (socket.isPaused() && socket.resume(), whole) });
        });
      });
    // The slow client's answer waits behind 16 MiB it does not read: all of it, head included, is
    // queued, holding the room.
    const slow = await ask('slow', false, FILLER);
    while (room.held === 0) await new Promise((r) => setTimeout(r, 5));
    // Others are answered meanwhile (with a corked pair: the room is held).
    for (let i = 0; i < 3; i++) {
      const other = await ask(`other${i}`, true);
      const bytes = await other.received();
      assert.equal(bytes.subarray(0, headFor(`other${i}`).length).toString('latin1'), headFor(`other${i}`).toString('latin1'));
      other.socket.destroy();
    }
    const bytes = await slow.received();
    const head = headFor('slow');
    assert.equal(bytes.subarray(0, head.length).toString('latin1'), head.toString('latin1'), 'the queued answer kept its own head');
    assert.ok(bytes.subarray(head.length, head.length + BODY / 2).every((b) => b === 7) && bytes.subarray(head.length + BODY / 2).every((b) => b === 9));
    slow.socket.destroy();
    while (room.held !== 0) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(done.sort(), ['other0', 'other1', 'other2', 'slow']);
    // Free again: the next answer goes out of the room, and is whole.
    const last = await ask('last', true);
    const lastBytes = await last.received();
    assert.equal(lastBytes.subarray(0, headFor('last').length).toString('latin1'), headFor('last').toString('latin1'));
    assert.equal(lastBytes.length, headFor('last').length + BODY);
    last.socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});

describe('RangeHeads', () => {
  const shared = Object.freeze(['content-type', 'audio/wav', 'etag', '"abc"', 'cache-control', 'public, max-age=31536000, immutable', 'accept-ranges', 'bytes']);
  const rest = Object.freeze(['access-control-allow-origin', '*', 'x-served-by', 'edge-1']);
  const expected = (start: number, end: number, size: number, age: number, keepAlive: number) =>
    plainHead(206, shared, ['content-range', `bytes ${start}-${end}/${size}`, 'content-length', String(end - start + 1), ...(age >= 0 ? ['age', String(age)] : []), ...rest], keepAlive);

  it('joins the same head plainHead makes, for any range, Age and keep-alive, repeats and changes alike', () => {
    const heads = new RangeHeads();
    const key = {};
    const ask = fc.record({ start: fc.oneof(fc.nat(2 ** 40), fc.constantFrom(0, 9, 10, 99, 100)), span: fc.nat(2 ** 30), extra: fc.nat(2 ** 30), age: fc.oneof(fc.integer({ min: -1, max: 10 ** 9 }), fc.constantFrom(0, 9, 10)), keepAlive: fc.constantFrom(5, 65) });
    fc.assert(
      fc.property(fc.array(ask, { minLength: 1, maxLength: 12 }), (asks) => {
        for (const a of [...asks, ...asks]) {
          const end = a.start + a.span;
          const size = end + 1 + a.extra;
          // (The Date field is this second's in both; a second turning between the two calls is retried.)
          for (let tries = 0; ; tries++) {
            const got = heads.get(key, shared, rest, a.start, end, size, a.age, a.keepAlive)?.toString('latin1');
            const want = expected(a.start, end, size, a.age, a.keepAlive);
            if (got === want || tries > 2) {
              assert.equal(got, want);
              break;
            }
          }
        }
      }),
    );
  });

  it('gives no head for a list plainHead does not take (its own Connection field)', () => {
    const withConnection = ['connection', 'close', ...shared];
    assert.equal(new RangeHeads().get(withConnection, withConnection, rest, 0, 9, 100, -1, 5), undefined);
    assert.equal(new RangeHeads().get(shared, shared, ['connection', 'close'], 0, 9, 100, 3, 5), undefined);
  });
});
