// The sendfile helper on real sockets: head then file slice arrive byte for byte; a slice past the
// file's end stops at it; a head given as a string goes out as its latin1 bytes; bad arguments are refused with a TypeError, a bad descriptor with -errno;
// idleSocketFd gives no descriptor for a socket with bytes queued. (Skipped where it was not built:
// test/origin-sendfile.test.ts fails when a C compiler is there and the helper is not.)
import assert from 'node:assert/strict';
import { closeSync, openSync, writeFileSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { idleSocketFd, sendfileHelper } from './sendfile.ts';

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
    // A string head goes out as latin1 bytes: a short one, and one past the helper's stack room.
    const short = 'HTTP/1.1 206 caf\u00e9\r\n\r\n';
    assert.equal(send(sockFd!, short, fd, 0, 100), short.length + 100);
    const long = `X-Long: ${'ab'.repeat(6000)}\u00ff\r\n\r\n`;
    assert.equal(send(sockFd!, long, fd, 7, 3), long.length + 3);
    // Past the end: only what the file has.
    assert.equal(send(sockFd!, Buffer.alloc(0), fd, bytes.length - 10, 100), 10);
    p.server.end();
    const got = await p.received;
    const latin1 = (text: string) => Buffer.from(text, 'latin1');
    assert.ok(got.equals(Buffer.concat([head, bytes.subarray(1000, 6000), latin1(short), bytes.subarray(0, 100), latin1(long), bytes.subarray(7, 10), bytes.subarray(bytes.length - 10)])));
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
  for (const args of [[], [sockFd, 42, 0, 0, 1], [sockFd, { length: 1 }, 0, 0, 1], [sockFd, 'head', -1, 0, 1], [sockFd, 'x'.repeat(10_000), 0, -1, 1], [-1, Buffer.alloc(0), 0, 0, 1], [sockFd, Buffer.alloc(0), -5, 0, 1], [sockFd, Buffer.alloc(0), 0, -1, 1], [sockFd, Buffer.alloc(0), 0, 0, -1], [sockFd, Buffer.alloc(0), 0, 0]]) {
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
