// serveHttp1: the same bytes on the wire as node:http for the same handler, pipelining, the hand-over
// to node:http (bodies, split heads, anything unusual) in the middle of a connection, aborts, the
// keep-alive timeout, and hostile byte streams that must not disturb the next client.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import http2 from 'node:http2';
import tls from 'node:tls';
import path from 'node:path';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { serveHttp1 } from './serve.ts';
import type { Http1Front } from './serve.ts';
import { makeCa, makeLeaf } from '../../../test/helpers/tls.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * writeHeadShared where the response has it (ours), else writeHead with the joined list (node:http):
 * the bytes on the wire must be the same. The shared lists are module constants, so every request
 * shape after the first finds its list's head lines made already.
 */
function sharedHead(s: ServerResponse, status: number, shared: readonly string[], tail: string[]): void {
  const own = s as unknown as { writeHeadShared?: (status: number, shared: readonly string[], tail: readonly string[]) => unknown };
  if (typeof own.writeHeadShared === 'function') own.writeHeadShared(status, shared, tail);
  else s.writeHead(status, shared.concat(tail));
}
const SHARED = Object.freeze(['content-type', 'audio/mpeg', 'cache-control', 'public, max-age=60', 'x-list', 'a', 'X-List', 'b']);
const SHARED_CLOSE = Object.freeze(['Connection', 'close', 'x-a', '1']);
const SHARED_CHUNKED = Object.freeze(['transfer-encoding', 'chunked']);
const SHARED_KEEP_ALIVE = Object.freeze(['keep-alive', 'timeout=3']);
const SHARED_LENGTH = Object.freeze(['content-length', '4', 'x-a', '1']);
const SHARED_BAD_VALUE = Object.freeze(['x-a', '1', 'x-bad', 'a\r\nb']);
const SHARED_BAD_NAME = Object.freeze(['bad name', 'v']);

/** A head that cannot be written: the error's code, as the body of a 500. */
function refused(s: ServerResponse, write: () => void): void {
  try {
    write();
  } catch (err) {
    const code = String((err as { code?: string }).code);
    s.writeHead(500, { 'content-length': String(code.length) });
    s.end(code);
  }
}

const ROUTES: Record<string, Handler> = {
  // A request read to its end and then destroyed (as undici does with a body it forwarded) keeps its
  // connection and its answer.
  '/read-destroy': (q, s) => {
    q.on('end', () => {
      q.destroy();
      s.writeHead(200, ['content-type', 'text/plain', 'content-length', '4']);
      s.end('read');
    });
    q.resume();
  },
  '/array': (_q, s) => {
    s.writeHead(200, ['content-type', 'text/plain', 'content-length', '5']);
    s.end('hello');
  },
  '/object': (_q, s) => {
    s.writeHead(200, { 'content-type': 'text/plain' });
    s.end(Buffer.from('hello'));
  },
  '/implicit': (_q, s) => {
    s.setHeader('x-a', '1');
    s.end('hello world');
  },
  '/stream': (_q, s) => {
    s.writeHead(200);
    s.write('a');
    s.write(Buffer.from('b'));
    s.end('c');
  },
  '/empty': (_q, s) => s.end(),
  '/304': (_q, s) => {
    s.writeHead(304, { etag: '"x"' });
    s.end();
  },
  '/204': (_q, s) => {
    s.writeHead(204);
    s.end();
  },
  '/length-only': (_q, s) => {
    s.writeHead(200, { 'content-length': '10' });
    s.end(s.req.method === 'HEAD' ? undefined : '0123456789');
  },
  '/merge': (_q, s) => {
    s.setHeader('x-b', '1');
    s.setHeader('x-c', '2');
    s.writeHead(200, ['x-c', '3', 'x-c', '4', 'content-length', '2']);
    s.end('ok');
  },
  '/status-text': (_q, s) => {
    s.writeHead(299, 'Fine Indeed', { 'content-length': '0' });
    s.end();
  },
  '/info': (_q, s) => {
    s.writeInformation(103, { link: '</a>; rel=preload' });
    s.writeHead(200, { 'content-length': '1' });
    s.end('x');
  },
  '/close-field': (_q, s) => {
    s.writeHead(200, { connection: 'close', 'content-length': '1' });
    s.end('x');
  },
  '/keep-alive-field': (_q, s) => {
    s.writeHead(200, { 'keep-alive': 'timeout=3', 'content-length': '1' });
    s.end('x');
  },
  '/bad-field': (_q, s) => {
    const codes: string[] = [];
    for (const [n, v] of [['x', 'a\r\nb'], ['bad name', 'v'], ['y', 'caf\u20ac']] as const) {
      try {
        s.setHeader(n, v);
      } catch (err) {
        codes.push((err as { code: string }).code);
      }
    }
    s.end(codes.join(','));
  },
  '/shared': (_q, s) => {
    sharedHead(s, 200, SHARED, ['age', '5', 'content-length', '5']);
    s.end('hello');
  },
  '/shared-304': (_q, s) => {
    sharedHead(s, 304, SHARED, ['etag', '"x"']);
    s.end();
  },
  '/shared-no-length': (_q, s) => {
    sharedHead(s, 200, SHARED, []);
    s.end('hello');
  },
  '/shared-close': (_q, s) => {
    sharedHead(s, 200, SHARED_CLOSE, ['content-length', '1']);
    s.end('x');
  },
  '/shared-chunked': (_q, s) => {
    sharedHead(s, 200, SHARED_CHUNKED, []);
    s.write('a');
    s.end('b');
  },
  '/shared-keep-alive': (_q, s) => {
    sharedHead(s, 200, SHARED_KEEP_ALIVE, ['content-length', '1']);
    s.end('x');
  },
  '/shared-length': (_q, s) => {
    sharedHead(s, 200, SHARED_LENGTH, []);
    s.end(s.req.method === 'HEAD' ? undefined : 'four');
  },
  '/shared-length-in-tail-too': (_q, s) => {
    sharedHead(s, 200, SHARED_LENGTH, ['content-length', '2']);
    s.end(s.req.method === 'HEAD' ? undefined : 'ok');
  },
  '/shared-after-set': (_q, s) => {
    s.setHeader('x-b', '1');
    sharedHead(s, 200, SHARED, ['content-length', '2']);
    s.end('ok');
  },
  '/shared-bad-value': (_q, s) => refused(s, () => sharedHead(s, 200, SHARED_BAD_VALUE, ['content-length', '0'])),
  '/shared-bad-name': (_q, s) => refused(s, () => sharedHead(s, 200, SHARED_BAD_NAME, ['content-length', '0'])),
  '/shared-bad-tail': (_q, s) => refused(s, () => sharedHead(s, 200, SHARED, ['content-length', '0', 'x-bad', 'caf\u20ac'])),
  '/big': (_q, s) => {
    s.writeHead(200, { 'content-length': String(100_000) });
    s.end(Buffer.alloc(100_000, 120));
  },
  '/piped': (_q, s) => {
    s.writeHead(200, { 'content-type': 'text/plain' });
    void pipeline(Readable.from([Buffer.from('one '), Buffer.from('two '), Buffer.from('three')]), s);
  },
  '/later': (_q, s) => {
    setImmediate(() => {
      s.writeHead(200, { 'content-length': '5' });
      s.end('later');
    });
  },
  '/iterate': (q, s) => {
    void (async () => {
      let n = 0;
      for await (const chunk of q) n += (chunk as Buffer).length;
      s.end(`read ${n}`);
    })();
  },
  '/on-data': (q, s) => {
    q.on('data', () => s.destroy());
    q.on('end', () => s.end('ended'));
  },
  '/echo': (q, s) => {
    const parts: Buffer[] = [];
    q.on('data', (d: Buffer) => parts.push(d));
    q.on('end', () => {
      const body = Buffer.concat(parts);
      s.writeHead(200, { 'content-length': String(body.length), 'x-served-by': served(q) });
      s.end(body);
    });
  },
  '/hold': (_q, s) => {
    // Answered when the test says so (release()), meanwhile the connection's next requests wait.
    held.push(() => {
      s.writeHead(200, { 'content-length': '4' });
      s.end('held');
    });
    arrived?.();
  },
  '/url': (q, s) => {
    s.writeHead(200, { 'content-length': String((q.url ?? '').length) });
    s.end(q.url);
  },
  '/who': (q, s) => {
    s.writeHead(200, { 'content-length': '0', 'x-served-by': served(q) });
    s.end();
  },
};

/** Answers of /hold waiting for release(), and who waits for the next /hold to arrive. */
const held: (() => void)[] = [];
let arrived: (() => void) | undefined;
function release(): void {
  for (const answer of held.splice(0)) answer();
}
/** Resolves once a /hold request reached the handler. */
function nextHold(): Promise<void> {
  return new Promise((resolve) => (arrived = () => {
    arrived = undefined;
    resolve();
  }));
}

function served(req: IncomingMessage): string {
  const r: object = req;
  return r instanceof http.IncomingMessage || r instanceof http2.Http2ServerRequest ? 'node' : 'own';
}

const handler: Handler = (req, res) => {
  const route = ROUTES[(req.url ?? '').split('?')[0]];
  if (route) return route(req, res);
  res.writeHead(404, { 'content-length': '0' });
  res.end();
};

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Sends raw bytes and collects everything until the server closes the connection. */
function exchange(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    socket.on('data', (d) => parts.push(d));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(parts).toString('latin1')));
    socket.write(bytes);
  });
}

const normalise = (text: string) => text.replace(/\r\nDate: [^\r]*\r\n/g, '\r\nDate: -\r\n');
const BYE = 'GET /who HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n';

// A broken hand-over or close would hang on a socket that never closes: fail instead.
describe('serveHttp1', { timeout: 60_000 }, () => {
  let plain: http.Server;
  let own: http.Server;
  let front: Http1Front;
  let plainPort: number;
  let ownPort: number;
  before(async () => {
    plain = http.createServer({ keepAliveTimeout: 65_000 }, handler);
    own = http.createServer({ keepAliveTimeout: 65_000 }, handler);
    front = serveHttp1(own, handler, { maxHeaderBytes: 16 * 1024 });
    plainPort = await listen(plain);
    ownPort = await listen(own);
  });
  after(async () => {
    for (const s of [plain, own]) {
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      s.closeAllConnections();
      if (s === own) front.closeAll();
      await closed;
    }
  });

  it('writes the same bytes as node:http for every handler and request shape', async () => {
    const shapes = [
      (p: string) => `GET ${p} HTTP/1.1\r\nHost: a\r\n\r\n${BYE}`,
      (p: string) => `HEAD ${p} HTTP/1.1\r\nHost: a\r\n\r\n${BYE}`,
      (p: string) => `GET ${p} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`,
      (p: string) => `GET ${p} HTTP/1.0\r\n\r\n`,
      (p: string) => `GET ${p} HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /who HTTP/1.0\r\n\r\n`,
      (p: string) => `GET ${p} HTTP/1.0\r\nTE: chunked\r\n\r\n`,
    ];
    for (const path of Object.keys(ROUTES).filter((p) => p !== '/echo' && p !== '/who' && p !== '/hold')) {
      for (const shape of shapes) {
        const request = shape(path);
        const [theirs, mine] = await Promise.all([exchange(plainPort, request), exchange(ownPort, request)]);
        assert.equal(normalise(mine).replaceAll('x-served-by: own', 'x-served-by: node'), normalise(theirs), JSON.stringify(request));
        assert.ok(mine.length > 0, request);
      }
    }
  });

  it('answers pipelined requests in order', async () => {
    const request = ['/array', '/later', '/stream', '/big', '/implicit'].map((p) => `GET ${p} HTTP/1.1\r\nHost: a\r\n\r\n`).join('') + BYE;
    const [theirs, mine] = await Promise.all([exchange(plainPort, request), exchange(ownPort, request)]);
    assert.equal(normalise(mine).replace('x-served-by: own', 'x-served-by: node'), normalise(theirs));
    assert.equal(mine.match(/HTTP\/1\.1 200/g)?.length, 6);
  });

  it('stops reading behind a slow answer when much is pipelined, and answers every request once it resumes', async () => {
    // 64 KiB and more of requests behind one answered on the next turn: the socket is paused, then resumed.
    const one = 'GET /who HTTP/1.1\r\nHost: a\r\n\r\n';
    const many = one.repeat(4000);
    assert.ok(many.length > 96 * 1024);
    const request = `GET /later HTTP/1.1\r\nHost: a\r\n\r\n${many}${BYE}`;
    const [theirs, mine] = await Promise.all([exchange(plainPort, request), exchange(ownPort, request)]);
    assert.equal(mine.match(/HTTP\/1\.1 200/g)?.length, 4002);
    assert.equal(mine.match(/x-served-by: node/g), null);
    assert.ok(normalise(mine).replaceAll('x-served-by: own', 'x-served-by: node') === normalise(theirs), `ours: ${mine.length} bytes, node:http's: ${theirs.length}`);
  });

  it('hands a connection to node:http at its first request with a body, keeping the order', async () => {
    const request = 'GET /who HTTP/1.1\r\nHost: a\r\n\r\nPOST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /who HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n';
    const text = await exchange(ownPort, request);
    const served = [...text.matchAll(/x-served-by: (\w+)/g)].map((m) => m[1]);
    assert.deepEqual(served, ['own', 'node', 'node']);
    assert.match(text, /\r\n\r\nhelloHTTP\/1\.1 200/);
  });

  it('hands over a head that arrives in pieces, and node:http finishes it', async () => {
    const socket = net.connect(ownPort, '127.0.0.1');
    let text = '';
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const first = new Promise<void>((resolve) =>
      socket.on('data', (d) => {
        text += d.toString('latin1');
        if (text.includes('x-served-by: own')) resolve();
      }),
    );
    // The first request whole, the second's head cut: the first is answered, then the rest is sent.
    socket.write('GET /who HTTP/1.1\r\nHost: a\r\n\r\nGET /who HTTP/1.1\r\nHo');
    await first;
    socket.write('st: a\r\nConnection: close\r\n\r\n');
    await closed;
    assert.deepEqual([...text.matchAll(/x-served-by: (\w+)/g)].map((m) => m[1]), ['own', 'node']);
  });

  it('leaves malformed requests to node:http, which refuses them as before', async () => {
    for (const bad of ['GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n', 'GET / HTTP/1.1\r\n\r\n', 'BREW / HTTP/1.1\r\nHost: a\r\n\r\n', `GET / HTTP/1.1\r\nHost: a\r\nX: ${'a'.repeat(17_000)}\r\n\r\n`]) {
      const [theirs, mine] = await Promise.all([exchange(plainPort, bad), exchange(ownPort, bad)]);
      assert.equal(normalise(mine), normalise(theirs), JSON.stringify(bad.slice(0, 60)));
      assert.match(mine, /^HTTP\/1\.1 4\d\d /);
    }
  });

  it('answers queued for a client that does not read keep their bytes while others are answered', async () => {
    // Small answers are joined in a space that is reused while writes complete at once: a write that
    // waits in a socket's queue must keep what it had.
    const server = http.createServer();
    const f = serveHttp1(server, (req, res) => {
      const fill = Number((req.url ?? '').slice(1));
      res.writeHead(200, ['content-length', '8000']);
      res.end(Buffer.alloc(8000, fill));
    }, { maxHeaderBytes: 16 * 1024 });
    const port = await listen(server);
    const slow = net.connect(port, '127.0.0.1');
    slow.pause();
    const requests = 1000;
    slow.write(`${'GET /1 HTTP/1.1\r\nHost: a\r\n\r\n'.repeat(requests - 1)}GET /1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
    // Answers to the others (bytes 2 and 3) while the slow client's answers wait in its socket.
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 20; i++) assert.match(await exchange(port, `GET /${2 + (i % 2)} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`), /^HTTP\/1\.1 200 /);
    const parts: Buffer[] = [];
    slow.on('data', (c: Buffer) => parts.push(c));
    slow.resume();
    // Until the server closes after the last answer (or, when bytes were mixed up, a while).
    await new Promise((r) => {
      slow.once('close', r);
      setTimeout(r, 5000).unref();
    });
    slow.destroy();
    const all = Buffer.concat(parts);
    let at = 0;
    let answers = 0;
    while (at < all.length) {
      const end = all.indexOf('\r\n\r\n', at);
      assert.ok(end > 0);
      const body = all.subarray(end + 4, end + 4 + 8000);
      assert.equal(body.length, 8000);
      assert.ok(body.every((b) => b === 1), `answer ${answers} has another client's bytes`);
      at = end + 4 + 8000;
      answers++;
    }
    assert.equal(answers, requests);
    f.closeAll();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('tells a response that its client went away', async () => {
    const server = http.createServer();
    let closed!: (v: { finished: boolean; aborted: boolean }) => void;
    const outcome = new Promise<{ finished: boolean; aborted: boolean }>((resolve) => (closed = resolve));
    let wrote!: () => void;
    const writing = new Promise<void>((resolve) => (wrote = resolve));
    const f = serveHttp1(server, (req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('part', () => wrote());
      res.once('close', () => closed({ finished: res.writableFinished, aborted: (req as { aborted?: boolean }).aborted === true }));
    }, { maxHeaderBytes: 16 * 1024 });
    const port = await listen(server);
    const socket = net.connect(port, '127.0.0.1');
    socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await writing;
    socket.destroy();
    assert.deepEqual(await outcome, { finished: false, aborted: true });
    f.closeAll();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('closes a connection left idle for the keep-alive time, and every connection on closeAll', async () => {
    const server = http.createServer({ keepAliveTimeout: 20 });
    server.keepAliveTimeoutBuffer = 0;
    const f = serveHttp1(server, handler, { maxHeaderBytes: 16 * 1024 });
    const port = await listen(server);
    const idle = await exchange(port, 'GET /array HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.match(idle, /Keep-Alive: timeout=0\r\n[\s\S]*hello$/);
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.on('connect', resolve));
    server.keepAliveTimeout = 0;
    const other = net.connect(port, '127.0.0.1');
    other.write('GET /array HTTP/1.1\r\nHost: a\r\n\r\n');
    await new Promise((resolve) => other.once('data', resolve));
    assert.equal(f.connections >= 1, true);
    const ended = new Promise((resolve) => other.on('close', resolve));
    f.closeAll();
    await ended;
    socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('the idle sweep never cuts an answer or a connection in use, and closes one silent for its keep-alive time', async () => {
    const LIMIT = 200;
    const server = http.createServer({ keepAliveTimeout: LIMIT });
    server.keepAliveTimeoutBuffer = 0;
    // /slow: six pieces 100 ms apart, three times the keep-alive time in all.
    const f = serveHttp1(server, (req, res) => {
      if (req.url !== '/slow') return handler(req, res);
      res.writeHead(200, { 'content-length': '6' });
      let n = 0;
      const piece = (): void => {
        n++;
        if (n === 6) res.end('6');
        else {
          res.write(String(n));
          setTimeout(piece, 100);
        }
      };
      piece();
    }, { maxHeaderBytes: 16 * 1024 });
    const port = await listen(server);
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let lastByte = 0;
    socket.on('data', (d) => {
      text += d.toString('latin1');
      lastByte = performance.now();
    });
    let gone = false;
    const closed = new Promise<number>((resolve) => socket.on('close', () => {
      gone = true;
      resolve(performance.now());
    }));
    const answers = (): number => text.split('HTTP/1.1 200 OK').length - 1;
    const until = async (count: number): Promise<void> => {
      while (answers() < count) {
        assert.equal(gone, false, `connection closed after ${answers()} answers: ${JSON.stringify(text)}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    socket.write('GET /slow HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(1);
    while (!text.endsWith('123456')) {
      assert.equal(gone, false, `connection closed during the slow answer: ${JSON.stringify(text)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    // Requests 20 ms apart, well inside the keep-alive time: each answered on the same connection.
    for (let i = 2; i <= 6; i++) {
      await new Promise((r) => setTimeout(r, 20));
      socket.write('GET /array HTTP/1.1\r\nHost: a\r\n\r\n');
      await until(i);
    }
    const end = await closed;
    assert.equal(answers(), 6);
    assert.match(text, /\r\n\r\n123456/);
    // Closed by the sweep, and not before the connection was silent for its keep-alive time (less the
    // last bytes' way to the client).
    assert.ok(end - lastByte >= LIMIT - 20, `closed after ${Math.round(end - lastByte)} ms of silence`);
    // (The server's own 'close' may come after the client saw the connection end.)
    while (f.connections !== 0) await new Promise((r) => setTimeout(r, 5));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /**
   * A server whose direct answer to /held writes its head and `first` now, holds the connection, and
   * writes `rest` when the test calls finish() (which lets go twice: the second does nothing).
   */
  async function heldAnswerServer(server: http.Server, first: string, rest: string): Promise<{ front: Http1Front; port: number; isHolding: Promise<void>; finish(): void }> {
    let finish = (): void => {};
    let holding!: () => void;
    const isHolding = new Promise<void>((resolve) => (holding = resolve));
    const front = serveHttp1(server, handler, {
      maxHeaderBytes: 16 * 1024,
      answer: (head, socket, _keepAlive, connection) => {
        if (head.url !== '/held') return false;
        socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${first.length + rest.length}\r\n\r\n${first}`);
        const release = connection.hold();
        finish = () => {
          socket.write(rest);
          release();
          release();
        };
        holding();
        return true;
      },
    });
    return { front, port: await listen(server), isHolding, finish: () => finish() };
  }

  it('a direct answer that holds its connection: requests behind it wait, the idle sweep and closeIdle leave it until it lets go', async () => {
    const LIMIT = 50;
    const server = http.createServer({ keepAliveTimeout: LIMIT });
    server.keepAliveTimeoutBuffer = 0;
    const held = await heldAnswerServer(server, 'firs', 't-in');
    const socket = net.connect(held.port, '127.0.0.1');
    let text = '';
    socket.on('data', (d) => (text += d.toString('latin1')));
    let gone = false;
    const closed = new Promise<void>((resolve) => socket.on('close', () => {
      gone = true;
      resolve();
    }));
    socket.write('GET /held HTTP/1.1\r\nHost: a\r\n\r\nGET /array HTTP/1.1\r\nHost: a\r\n\r\n');
    await held.isHolding;
    // Four times the keep-alive time, silent: the held answer keeps the connection; /array waits.
    await new Promise((r) => setTimeout(r, 4 * LIMIT));
    assert.equal(gone, false, 'the idle sweep closed a held connection');
    assert.equal(text, 'HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nfirs');
    held.front.closeIdle();
    await new Promise((r) => setImmediate(r));
    assert.equal(gone, false, 'closeIdle closed a held connection');
    held.finish();
    await closed;
    // The held answer whole, then no other: closeIdle asked for no further request.
    assert.equal(text, 'HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nfirst-in');
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('a request pipelined behind a held direct answer is answered once it lets go', async () => {
    const server = http.createServer();
    const held = await heldAnswerServer(server, 'ab', 'cd');
    const socket = net.connect(held.port, '127.0.0.1');
    let text = '';
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.write('GET /held HTTP/1.1\r\nHost: a\r\n\r\nGET /array HTTP/1.1\r\nHost: a\r\n\r\n');
    await held.isHolding;
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(text, 'HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nab');
    held.finish();
    while (!text.endsWith('hello')) await new Promise((r) => setTimeout(r, 5));
    assert.match(text, /^HTTP\/1\.1 200 OK\r\ncontent-length: 4\r\n\r\nabcdHTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nhello$/);
    socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('closeIdle ends idle connections now and busy ones once their answer is out', async () => {
    const server = http.createServer();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let holding!: () => void;
    const isHolding = new Promise<void>((resolve) => (holding = resolve));
    const f = serveHttp1(server, (req, res) => {
      if (req.url !== '/hold') return handler(req, res);
      holding();
      void held.then(() => {
        res.writeHead(200, { 'content-length': '4' });
        res.end('done');
      });
    }, { maxHeaderBytes: 16 * 1024 });
    const port = await listen(server);
    const idle = net.connect(port, '127.0.0.1');
    idle.write('GET /array HTTP/1.1\r\nHost: a\r\n\r\n');
    await new Promise((resolve) => idle.once('data', resolve));
    const busy = net.connect(port, '127.0.0.1');
    let busyText = '';
    busy.on('data', (d) => (busyText += d.toString('latin1')));
    busy.write('GET /hold HTTP/1.1\r\nHost: a\r\n\r\n');
    await isHolding;
    const busyClosed = new Promise((resolve) => busy.on('close', resolve));
    let busyDone = false;
    void busyClosed.then(() => (busyDone = true));
    f.closeIdle();
    await new Promise((resolve) => idle.on('close', resolve));
    assert.equal(busyDone, false);
    release();
    await busyClosed;
    assert.match(busyText, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\ndone$/);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('reads every plain connection into the shared buffer, and keeps what waits out of it', async () => {
    // One buffer takes every connection's reads: a request that waits behind a slow answer, and the
    // head of a request handed to node:http, must be copies, or the next read of another connection
    // (same length, other letters) would change them.
    const before = front.directReads;
    const socket = net.connect(ownPort, '127.0.0.1');
    let text = '';
    socket.on('data', (d) => (text += d.toString('latin1')));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const waiting = nextHold();
    socket.write(`GET /hold HTTP/1.1\r\nHost: a\r\n\r\nGET /url?${'a'.repeat(40)} HTTP/1.1\r\nHost: a\r\n\r\nPOST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhello`);
    await waiting;
    const other = await exchange(ownPort, `GET /url?${'b'.repeat(40)} HTTP/1.1\r\nHost: b\r\n\r\nPOST /echo HTTP/1.1\r\nHost: b\r\nContent-Length: 10\r\nConnection: close\r\n\r\nBBBBBbbbbb`);
    assert.match(other, new RegExp(`\r\n\r\n/url\\?${'b'.repeat(40)}HTTP/1\\.1 200 OK[\\s\\S]*\r\n\r\nBBBBBbbbbb$`));
    release();
    // The rest of the echo's body after node:http has the connection, and another client's bytes between.
    await new Promise<void>((resolve) => setTimeout(resolve, 20));
    await exchange(ownPort, `GET /url?${'c'.repeat(40)} HTTP/1.1\r\nHost: c\r\nConnection: close\r\n\r\n`);
    socket.end('world');
    await closed;
    assert.match(text, new RegExp(`^HTTP/1\\.1 200 OK[^]*\r\n\r\nheldHTTP/1\\.1 200 OK[^]*\r\n\r\n/url\\?${'a'.repeat(40)}HTTP/1\\.1 200 OK[^]*x-served-by: node\r\n[^]*\r\n\r\nhelloworld$`));
    assert.ok(front.directReads >= before + 3, `direct reads: ${front.directReads - before} of 3 connections`);
  });

  it('survives generated byte streams and answers the next client as ever', async () => {
    const piece = fc.oneof(
      fc.constantFrom(
        'GET /array HTTP/1.1\r\nHost: a\r\n\r\n',
        'HEAD /big HTTP/1.1\r\nHost: a\r\n\r\n',
        'GET /stream HTTP/1.0\r\n\r\n',
        'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc',
        'GET /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n',
        '\r\n',
        'GET / HTTP/1.1\r\n',
        'Host: a\r\n\r\n',
      ),
      fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a).toString('latin1')),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 8 }), async (pieces) => {
        await new Promise<void>((resolve) => {
          const socket = net.connect(ownPort, '127.0.0.1');
          socket.on('error', () => {});
          socket.on('close', () => resolve());
          socket.end(Buffer.from(pieces.join(''), 'latin1'));
          socket.resume();
        });
        const after = await exchange(ownPort, BYE);
        assert.match(after, /^HTTP\/1\.1 200 OK\r\n[\s\S]*x-served-by: own/);
      }),
      { numRuns: 150 },
    );
  });
});

describe('serveHttp1 on a TLS server that speaks HTTP/2 and HTTP/1.1', { timeout: 60_000 }, () => {
  it('serves HTTP/1.1 connections itself and leaves h2 ones to HTTP/2', async () => {
    const ca = await makeCa();
    const leaf = await makeLeaf(ca, ['localhost'], path.join(ca.dir, 'leaf'));
    const server = http2.createSecureServer({ allowHTTP1: true, cert: leaf.cert, key: leaf.key });
    const seen: string[] = [];
    const onRequest = (req: IncomingMessage, res: ServerResponse) => {
      seen.push(`${req.httpVersion} ${served(req)}`);
      res.writeHead(200, { 'content-length': '2' });
      res.end('ok');
    };
    server.on('request', onRequest);
    const f = serveHttp1(server, onRequest, { maxHeaderBytes: 16 * 1024 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const h1 = await new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: ca.pem, ALPNProtocols: ['http/1.1'] });
      let text = '';
      socket.on('data', (d) => (text += d.toString('latin1')));
      socket.on('error', reject);
      socket.on('close', () => resolve(text));
      socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\nGET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    });
    assert.equal(h1.match(/HTTP\/1\.1 200 OK\r\n/g)?.length, 2);
    const session = http2.connect(`https://localhost:${port}`, { ca: ca.pem });
    const h2 = await new Promise<string>((resolve, reject) => {
      const stream = session.request({ ':path': '/' });
      let body = '';
      stream.on('data', (d: Buffer) => (body += d.toString()));
      stream.on('end', () => resolve(body));
      stream.on('error', reject);
    });
    session.close();
    assert.equal(h2, 'ok');
    assert.deepEqual(seen, ['1.1 own', '1.1 own', '2.0 node']);
    // (A TLS connection's handle is the TLS layer's: it reads through the stream.)
    assert.equal(f.directReads, 0);
    f.closeAll();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(ca.dir, { recursive: true, force: true });
  });
});
