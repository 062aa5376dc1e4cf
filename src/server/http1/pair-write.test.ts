// writePair on real sockets: every head leaves right in front of its own body, whatever the socket
// was doing (idle, queued behind bytes its reader has not taken, corked), the stream's length and
// 'drain' count the body, and a generated mix of pairs and plain writes arrives byte for byte.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { writePair } from './pair-write.ts';

type Served = { server: net.Server; port: number; next: () => Promise<net.Socket> };

async function serve(): Promise<Served> {
  const waiting: ((s: net.Socket) => void)[] = [];
  const arrived: net.Socket[] = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    const w = waiting.shift();
    if (w) w(socket);
    else arrived.push(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const next = () => new Promise<net.Socket>((resolve) => (arrived.length > 0 ? resolve(arrived.shift()!) : waiting.push(resolve)));
  return { server, port, next };
}

/** Runs `fn` with a new loopback server, closed afterwards. */
async function withServer(fn: (s: Served) => Promise<void>): Promise<void> {
  const s = await serve();
  try {
    await fn(s);
  } finally {
    s.server.close();
  }
}

/** A client connection and the server's end of it; `all(n)` resolves with the first n bytes read. */
async function connect(s: Served, paused = false): Promise<{ client: net.Socket; peer: net.Socket; all: (n: number) => Promise<Buffer> }> {
  const peerP = s.next();
  const client = net.connect(s.port, '127.0.0.1');
  await new Promise<void>((resolve) => client.once('connect', resolve));
  if (paused) client.pause();
  const chunks: Buffer[] = [];
  let got = 0;
  let want = Infinity;
  let finish: ((b: Buffer) => void) | undefined;
  client.on('data', (c: Buffer) => {
    chunks.push(c);
    got += c.length;
    if (got >= want && finish) finish(Buffer.concat(chunks));
  });
  const all = (n: number) =>
    new Promise<Buffer>((resolve) => {
      want = n;
      finish = resolve;
      if (client.isPaused()) client.resume();
      if (got >= n) resolve(Buffer.concat(chunks));
    });
  return { client, peer: await peerP, all };
}

const bytes = (n: number, seed: number): Buffer => {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
};

describe('writePair', { timeout: 60_000 }, () => {
  it('sends a Buffer or string head and a body as one write the stream counts, and calls back once they are out', () =>
    withServer(async (s) => {
      const { client, peer, all } = await connect(s);
      const body = bytes(64 * 1024, 1);
      const calls: string[] = [];
      assert.equal(writePair(peer, Buffer.from('HEAD-A\r\n', 'latin1'), body, (err) => calls.push(err ? 'error' : 'a')), true);
      assert.equal(peer.writableLength, 0, 'an idle socket takes the pair at once');
      // A body that is a Uint8Array view (not a Buffer) of a larger store.
      const store = new Uint8Array(bytes(200_000, 2));
      const view = store.subarray(1000, 1000 + 70_000);
      writePair(peer, 'HEAD-B\r\n', view, (err) => calls.push(err ? 'error' : 'b'));
      const got = await all(8 + body.length + 8 + view.length);
      assert.deepEqual(got, Buffer.concat([Buffer.from('HEAD-A\r\n'), body, Buffer.from('HEAD-B\r\n'), view]));
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(calls, ['a', 'b']);
      assert.equal(peer.bytesWritten, got.length);
      client.destroy();
    }));

  it('behind bytes the reader has not taken, or on a corked socket, the pair still leaves in order and whole; the stream counts the body and drains', () =>
    withServer(async (s) => {
      const { client, peer, all } = await connect(s, true);
      const filler = bytes(8 * 1024 * 1024, 3);
      peer.write(filler);
      assert.ok(peer.writableLength > 0);
      const body1 = bytes(4 * 1024 * 1024, 4);
      const ok = writePair(peer, 'H1\r\n', body1, undefined);
      assert.equal(ok, false, 'the stream asks to wait for drain');
      assert.ok(peer.writableLength >= body1.length);
      const drained = new Promise<void>((resolve) => peer.once('drain', resolve));
      peer.cork();
      const body2 = bytes(100_000, 5);
      writePair(peer, Buffer.from('H2\r\n'), body2, undefined);
      peer.write('tail');
      peer.uncork();
      const got = await all(filler.length + 4 + body1.length + 4 + body2.length + 4);
      await drained;
      assert.ok(got.equals(Buffer.concat([filler, Buffer.from('H1\r\n'), body1, Buffer.from('H2\r\n'), body2, Buffer.from('tail')])));
      // Idle again: the paired way, and the socket's own writes after it are untouched.
      writePair(peer, 'H3\r\n', body2, undefined);
      peer.write('end');
      const more = await all(got.length + 4 + body2.length + 3);
      assert.ok(more.subarray(got.length).equals(Buffer.concat([Buffer.from('H3\r\n'), body2, Buffer.from('end')])));
      client.destroy();
    }));

  it('on a closed or ended socket calls back with an error and sends nothing', () =>
    withServer(async (s) => {
      const { client, peer } = await connect(s);
      peer.end();
      const err = await new Promise<Error | null | undefined>((resolve) => writePair(peer, 'H\r\n', bytes(70_000, 6), resolve));
      assert.ok(err instanceof Error);
      client.destroy();
      const other = await connect(s);
      other.peer.destroy();
      const err2 = await new Promise<Error | null | undefined>((resolve) => writePair(other.peer, 'H\r\n', bytes(70_000, 6), resolve));
      assert.ok(err2 instanceof Error);
      other.client.destroy();
    }));

  it('a generated mix of pairs and plain writes, with the reader pausing, arrives byte for byte', () =>
    withServer(async (s) => {
      const step = fc.oneof(
        fc.record({ kind: fc.constant('pair' as const), head: fc.string({ minLength: 1, maxLength: 300 }), stringHead: fc.boolean(), size: fc.integer({ min: 0, max: 300_000 }) }),
        fc.record({ kind: fc.constant('plain' as const), size: fc.integer({ min: 1, max: 200_000 }) }),
        fc.record({ kind: fc.constant('cork' as const) }),
        fc.record({ kind: fc.constant('uncork' as const) }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), fc.boolean(), async (steps, paused) => {
          const { client, peer, all } = await connect(s, paused);
          const expected: Buffer[] = [];
          let seed = 0;
          for (const st of steps) {
            if (st.kind === 'pair') {
              const head = Buffer.from(st.head, 'latin1');
              const body = bytes(st.size, seed++);
              writePair(peer, st.stringHead ? head.toString('latin1') : head, body, undefined);
              expected.push(head, body);
            } else if (st.kind === 'plain') {
              const body = bytes(st.size, seed++);
              peer.write(body);
              expected.push(body);
            } else if (st.kind === 'cork') peer.cork();
            else if (peer.writableCorked > 0) peer.uncork();
          }
          while (peer.writableCorked > 0) peer.uncork();
          const want = Buffer.concat(expected);
          const got = await all(want.length);
          client.destroy();
          assert.ok(got.equals(want));
        }),
        { numRuns: 40 },
      );
    }));
});
