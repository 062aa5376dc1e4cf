// The sendfile helper on real sockets: head then file slice arrive byte for byte; a slice past the
// file's end stops at it; the part of a head the socket did not take is queued as a copy, so the
// head's bytes may be rewritten at once (RangeHeads); bad arguments are refused with a TypeError, a
// bad descriptor with -errno; idleSocketFd gives no descriptor for a socket with bytes queued.
// (Skipped where it was not built: test/origin-sendfile.test.ts fails when a C compiler is there and
// the helper is not.)
import assert from 'node:assert/strict';
import { closeSync, openSync, writeFileSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { idleSocketFd, sendfileHelper, sendHeadAndSlice } from './sendfile.ts';

const helper = sendfileHelper();

/** A connected pair on 127.0.0.1: the server's side and everything the client receives until it closes. */
async function pair(): Promise<{ server: net.Socket; received: Promise<Buffer>; close(): void }> {
  const listener = net.createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
  const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
  const server = await accepted;
  const received = new Promise<Buffer>((resolve) => {
    const parts: Buffer[] = [];
    client.on('data', (d: Buffer) => parts.push(d));
    client.on('end', () => resolve(Buffer.concat(parts)));
  });
  return { server, received, close: () => listener.close() };
}

test('sendHeadAndFile writes the head, then the slice, and stops at the end of the file', { skip: helper === undefined ? 'the sendfile helper was not built (no C compiler)' : false }, async () => {
  const send = helper!;
  const file = path.join(os.tmpdir(), `mediacdn-sendfile-unit-${process.pid}`);
  const bytes = Buffer.alloc(200_000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) & 0xff;
  writeFileSync(file, bytes);
  const fd = openSync(file, 'r');
  try {
    const p = await pair();
    const sockFd = idleSocketFd(p.server);
    assert.equal(typeof sockFd, 'number');
    const head = Buffer.from('HEAD\r\n');
    assert.equal(send(sockFd!, head, fd, 1000, 5000), head.length + 5000);
    // Past the end: only what the file has.
    assert.equal(send(sockFd!, Buffer.alloc(0), fd, bytes.length - 10, 100), 10);
    p.server.end();
    const got = await p.received;
    assert.ok(got.equals(Buffer.concat([head, bytes.subarray(1000, 6000), bytes.subarray(bytes.length - 10)])));
    p.close();
  } finally {
    closeSync(fd);
    unlinkSync(file);
  }
});

test('sendHeadAndFile refuses bad arguments and reports a bad descriptor as -errno', { skip: helper === undefined ? 'the sendfile helper was not built (no C compiler)' : false }, async () => {
  const send = helper! as unknown as (...args: unknown[]) => number;
  const p = await pair();
  const sockFd = idleSocketFd(p.server)!;
  for (const args of [[], [sockFd, 'head', 0, 0, 1], [-1, Buffer.alloc(0), 0, 0, 1], [sockFd, Buffer.alloc(0), -5, 0, 1], [sockFd, Buffer.alloc(0), 0, -1, 1], [sockFd, Buffer.alloc(0), 0, 0, -1], [sockFd, Buffer.alloc(0), 0, 0]]) {
    assert.throws(() => send(...args), TypeError, JSON.stringify(args));
  }
  // A descriptor that is not open: nothing written, -EBADF.
  assert.ok(send(sockFd, Buffer.alloc(0), 987_654, 0, 10) < 0);
  // Bytes queued in the stream: no descriptor to write behind them.
  p.server.cork();
  p.server.write('x');
  assert.equal(idleSocketFd(p.server), undefined);
  p.server.uncork();
  p.server.destroy();
  p.close();
});

test('sendHeadAndSlice queues a copy of the part of the head the socket did not take', { skip: helper === undefined ? 'the sendfile helper was not built (no C compiler)' : false }, async () => {
  const file = path.join(os.tmpdir(), `mediacdn-sendfile-head-${process.pid}`);
  writeFileSync(file, Buffer.from('0123456789'));
  const fd = openSync(file, 'r');
  const p = await pair();
  try {
    // More than a socket's buffer takes while the client is not reading yet.
    const head = Buffer.alloc(16 * 1024 * 1024, 0x61);
    const original = Buffer.from(head);
    assert.equal(sendHeadAndSlice(p.server, helper!, head, fd, 2, 5), 0);
    assert.ok(p.server.writableLength > 0, 'the whole head was taken at once: the test needs a larger one');
    // The caller's bytes change at once, as a template's do for its next answer.
    head.fill(0x7a);
    p.server.end();
    const got = await p.received;
    // The body went nowhere (the head was not all out): the caller writes it after the head's rest.
    assert.equal(got.length, original.length);
    assert.ok(got.equals(original), 'the queued rest of the head changed with the caller\'s bytes');
  } finally {
    p.server.destroy();
    p.close();
    closeSync(fd);
    unlinkSync(file);
  }
});
