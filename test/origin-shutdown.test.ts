// Stopping the origin: idle keep-alive connections (served by our own HTTP/1.1 handling or handed to
// node:http) are closed at once, a response being written is finished first; no grace period is spent.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import net from 'node:net';
import { startTestOrigin } from './helpers/origin.ts';

function connect(url: string): Promise<net.Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => resolve(socket));
    socket.on('error', reject);
  });
}

/** Sends a request on an open connection and resolves with the first bytes of its answer. */
function ask(socket: net.Socket, request: string): Promise<string> {
  return new Promise((resolve) => {
    socket.once('data', (d: Buffer) => resolve(d.toString('latin1')));
    socket.write(request);
  });
}

it('closes idle keep-alive connections at once when it stops, without waiting for the grace period', { timeout: 20_000 }, async () => {
  const o = await startTestOrigin({ origin: { shutdownGraceMs: 60_000, keepAliveTimeoutMs: 60_000 } });
  const item = await o.add('tone-3s.mp3');
  const own = await connect(o.url);
  assert.match(await ask(own, `GET /media/${item.fileName} HTTP/1.1\r\nHost: a\r\n\r\n`), /^HTTP\/1\.1 200 OK\r\n/);
  // A connection node:http serves (its first request had a body).
  const handed = await connect(o.url);
  assert.match(await ask(handed, 'POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi'), /^HTTP\/1\.1 405 /);
  const closed = [own, handed].map((s) => new Promise((resolve) => s.on('close', resolve)));
  await o.close();
  await Promise.all(closed);
  assert.equal(o.logs.some((l) => String(l.msg).includes('grace period over')), false);
});
