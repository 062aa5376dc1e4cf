// serveHttp2: the same answers as node:http2's compatibility API for the same handler (status,
// fields, body, how the stream ends), the hand-over of requests with a body / Expect to that API,
// events of a stream cut short, flow control, and generated fields a handler might set.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import http2 from 'node:http2';
import type { Http2SecureServer, Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import path from 'node:path';
import { rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { serveHttp2 } from './serve.ts';
import { Http2Request, requestFields } from './message.ts';
import type { Http2Response } from './message.ts';
import { makeCa, makeLeaf } from '../../../test/helpers/tls.ts';
import type { Ca } from '../../../test/helpers/tls.ts';

type Req = Http2ServerRequest | Http2Request;
type Res = Http2ServerResponse | Http2Response;
type Handler = (req: Req, res: Res) => void;

const BIG = Buffer.alloc(300_000, 120);

const ROUTES: Record<string, Handler> = {
  '/array': (_q, s) => {
    s.writeHead(200, ['content-type', 'text/plain', 'content-length', '5']);
    s.end('hello');
  },
  '/array-get': (_q, s) => {
    // A list that goes to core as it is (once its names were seen) still answers getHeader.
    s.writeHead(200, ['content-type', 'text/plain', 'x-n', '1']);
    s.end(`${String(s.getHeader('content-type'))} ${String(s.getHeader('X-N'))} ${String(s.getHeader('x-none'))} ${String(s.getHeader('date'))}`);
  },
  '/drained': (_q, s) => {
    // Writes that wait for 'drain' whenever the stream asks to.
    s.writeHead(200, ['content-length', String(BIG.length)]);
    let at = 0;
    const more = (): void => {
      while (at < BIG.length) {
        const piece = BIG.subarray(at, at + 16_384);
        at += piece.length;
        if (!s.write(piece)) return void s.once('drain', more);
      }
      s.end();
    };
    more();
  },
  '/object': (_q, s) => {
    s.writeHead(200, { 'Content-Type': 'text/plain', 'X-Many': ['1', '2'] });
    s.end(Buffer.from('hello'));
  },
  '/implicit': (_q, s) => {
    s.setHeader('X-A', '1');
    s.end('hello world');
  },
  '/status': (_q, s) => {
    s.statusCode = 404;
    s.end('not here');
  },
  '/stream': (_q, s) => {
    s.writeHead(200);
    s.write('a');
    s.write(Buffer.from('b'), () => s.end('c'));
  },
  '/empty': (_q, s) => s.end(),
  '/304': (_q, s) => {
    s.writeHead(304, { etag: '"x"', 'content-length': '5' });
    s.end('ignored');
  },
  '/204': (_q, s) => {
    s.writeHead(204);
    s.end();
  },
  '/length-only': (q, s) => {
    s.writeHead(200, { 'content-length': '10' });
    if (q.method === 'HEAD') s.end();
    else s.end('0123456789');
  },
  '/merge': (_q, s) => {
    s.setHeader('x-b', '1');
    s.setHeader('x-c', '2');
    s.writeHead(200, ['x-c', '3', 'X-C', '4', 'content-length', '2', 'set-cookie', 'a=1', 'set-cookie', 'b=2']);
    s.end('ok');
  },
  '/connection-field': (_q, s) => {
    s.writeHead(200, { connection: 'close', 'content-length': '1' });
    s.end('x');
  },
  '/bad-name': (_q, s) => {
    const codes: string[] = [];
    for (const [n, v] of [['bad name', 'v'], [':status', '200'], ['', 'v'], ['x-undefined', undefined]] as const) {
      try {
        s.setHeader(n, v as unknown as string);
      } catch (err) {
        codes.push((err as { code: string }).code);
      }
    }
    s.end(codes.join(','));
  },
  '/get-remove': (_q, s) => {
    s.setHeader('X-Gone', 'a');
    s.setHeader('X-Kept', 'b');
    s.removeHeader('x-gone');
    s.end(`${String(s.getHeader('x-kept'))} ${String(s.getHeader('X-Gone'))} ${s.headersSent}`);
  },
  '/big': (_q, s) => {
    s.writeHead(200, { 'content-length': String(BIG.length) });
    s.end(BIG);
  },
  '/piped': (_q, s) => {
    s.writeHead(200, { 'content-type': 'text/plain' });
    void pipeline(Readable.from([Buffer.from('one '), Buffer.from('two '), Buffer.from('three')]), s as unknown as NodeJS.WritableStream);
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
      for await (const chunk of q as AsyncIterable<Buffer>) n += chunk.length;
      s.end(`read ${n}`);
    })();
  },
  '/on-data': (q, s) => {
    let n = 0;
    q.on('data', (d: Buffer) => (n += d.length));
    q.on('end', () => s.end(`ended ${n}`));
  },
  '/fields': (q, s) => {
    // Ours are the fields of an HTTP/1.1 request; the edge makes the compatibility API's the same.
    const h = q instanceof Http2Request ? q.headers : requestFields(q.headers);
    s.end(JSON.stringify([q.method, q.url, q.httpVersion, h['host'], h['x-a'], Object.keys(h)]));
  },
  '/events': (q, s) => {
    const seen: string[] = [];
    s.on('finish', () => seen.push('finish'));
    s.on('close', () => seen.push('close'));
    s.end('x', () => seen.push('callback'));
    setTimeout(() => EVENTS.push(`${served(q)} ${q.method}: ${seen.join(' ')}`), 50);
  },
};

const EVENTS: string[] = [];

function served(req: Req): string {
  return req instanceof Http2Request ? 'own' : 'node';
}

type Answer = { fields: string[]; body: string; rst: number };

/** One request on a session: the answer's fields without Date (and their order), body, reset code. */
function ask(session: http2.ClientHttp2Session, target: string, method = 'GET', extra: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve) => {
    const stream = session.request({ ':path': target, ':method': method, ':authority': 'cdn.example', ...extra }, { endStream: body === undefined });
    const fields: string[] = [];
    const parts: Buffer[] = [];
    stream.on('response', (_h, _f, raw: string[]) => {
      for (let i = 0; i < raw.length; i += 2) if (raw[i] !== 'date') fields.push(`${raw[i]}: ${raw[i + 1]}`);
    });
    stream.on('data', (d: Buffer) => parts.push(d));
    stream.on('error', () => {});
    const timer = setTimeout(() => {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      resolve({ fields, body: 'no answer within 2 s', rst: -1 });
    }, 2_000);
    stream.on('close', () => {
      clearTimeout(timer);
      resolve({ fields, body: Buffer.concat(parts).toString('latin1'), rst: stream.rstCode ?? -1 });
    });
    if (body !== undefined) stream.end(body);
  });
}

async function h2Server(ca: Ca, leafDir: string, own: boolean, handler: Handler): Promise<{ server: Http2SecureServer; url: string }> {
  const leaf = await makeLeaf(ca, ['localhost'], leafDir);
  const server = http2.createSecureServer({ allowHTTP1: true, cert: leaf.cert, key: leaf.key });
  server.on('request', handler);
  if (own) serveHttp2(server, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `https://localhost:${(server.address() as AddressInfo).port}` };
}

describe('serveHttp2', { timeout: 60_000 }, () => {
  let ca: Ca;
  const seen: string[] = [];
  const handler: Handler = (req, res) => {
    seen.push(`${req.method} ${req.url} ${served(req)}`);
    const route = ROUTES[(req.url ?? '').split('?')[0]];
    if (route) return route(req, res);
    res.writeHead(404, { 'content-length': '0' });
    res.end();
  };
  let node: { server: Http2SecureServer; url: string };
  let own: { server: Http2SecureServer; url: string };
  let nodeSession: http2.ClientHttp2Session;
  let ownSession: http2.ClientHttp2Session;

  before(async () => {
    ca = await makeCa();
    node = await h2Server(ca, path.join(ca.dir, 'a'), false, handler);
    own = await h2Server(ca, path.join(ca.dir, 'b'), true, handler);
    nodeSession = http2.connect(node.url, { ca: ca.pem });
    ownSession = http2.connect(own.url, { ca: ca.pem });
  });

  after(async () => {
    nodeSession.close();
    ownSession.close();
    await Promise.all([node, own].map(({ server }) => new Promise<void>((resolve) => server.close(() => resolve()))));
    await rm(ca.dir, { recursive: true, force: true });
  });

  it('answers every handler and request shape as the compatibility API does', async () => {
    const shapes: [string, Record<string, string>, string | undefined, string][] = [
      ['GET', {}, undefined, 'own'],
      ['HEAD', {}, undefined, 'own'],
      ['OPTIONS', {}, undefined, 'own'],
      ['GET', { host: 'other.example', 'x-a': 'v' }, undefined, 'own'],
      ['POST', {}, 'body!', 'node'],
      ['GET', {}, 'a GET with a body', 'node'],
      ['GET', { expect: '100-continue' }, undefined, 'node'],
      ['DELETE', {}, undefined, 'node'],
    ];
    let compared = 0;
    for (const target of Object.keys(ROUTES)) {
      for (const [method, extra, body, by] of shapes) {
        seen.length = 0;
        const a = await ask(nodeSession, target, method, extra, body);
        const b = await ask(ownSession, target, method, extra, body);
        const label = `${method} ${target} ${JSON.stringify(extra)}${body === undefined ? '' : ' with a body'}`;
        assert.deepEqual(b, a, label);
        assert.deepEqual(seen, [`${method} ${target} node`, `${method} ${target} ${by}`], label);
        compared++;
      }
    }
    assert.equal(compared, Object.keys(ROUTES).length * shapes.length);
  });

  it('a response finishes, calls back and closes in that order', async () => {
    await new Promise((resolve) => setTimeout(resolve, 80));
    EVENTS.length = 0;
    for (const method of ['GET', 'HEAD']) await ask(ownSession, '/events', method);
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.deepEqual(EVENTS, ['own GET: finish callback close', 'own HEAD: finish callback close']);
  });

  it('tells a response its client reset the stream: close without finish, the request aborted; the session goes on', async () => {
    let res: Res | undefined;
    let req: Req | undefined;
    const closed = new Promise<void>((resolve) => {
      ROUTES['/held'] = (q, s) => {
        req = q;
        res = s;
        s.writeHead(200);
        const more = () => {
          while (s.write(Buffer.alloc(16 * 1024, 1)));
        };
        more();
        s.on('drain', more);
        s.on('close', () => resolve());
      };
    });
    try {
      const stream = ownSession.request({ ':path': '/held' });
      stream.once('data', () => stream.close(http2.constants.NGHTTP2_CANCEL));
      stream.on('error', () => {});
      await closed;
      assert.ok(req instanceof Http2Request);
      assert.equal(res!.writableFinished, false);
      assert.equal(req.aborted, true);
      assert.equal(res!.destroyed, true);
      assert.equal((await ask(ownSession, '/array')).body, 'hello');
    } finally {
      delete ROUTES['/held'];
    }
  });

  it('a big body waits for the client\'s flow control and arrives whole', async () => {
    const client = http2.connect(own.url, { ca: ca.pem, settings: { initialWindowSize: 16 * 1024 } });
    try {
      const stream = client.request({ ':path': '/big' });
      const parts: Buffer[] = [];
      stream.pause();
      await new Promise((resolve) => setTimeout(resolve, 50));
      stream.on('data', (d: Buffer) => parts.push(d));
      stream.resume();
      await new Promise<void>((resolve) => stream.on('end', () => resolve()));
      assert.ok(Buffer.concat(parts).equals(BIG));
    } finally {
      client.close();
    }
  });

  it('generated field names and values a handler sets: the same answer or the same error', async () => {
    const name = fc.oneof(fc.constantFrom('x-a', 'X-A', 'content-type', 'connection', 'Connection', 'set-cookie', ' x-pad ', 'bad name', ':path', 'x\u00e9', ''), fc.string({ maxLength: 8 }));
    const value = fc.oneof(fc.constantFrom('v', 'trailers', '', 'a\tb', '7'), fc.array(fc.constantFrom('1', '2'), { minLength: 1, maxLength: 3 }), fc.integer({ min: 0, max: 99 }));
    const op = fc.tuple(fc.constantFrom('set', 'append', 'remove', 'list'), name, value);
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 6 }), async (ops) => {
        ROUTES['/generated'] = (_q, s) => {
          const out: string[] = [];
          const list: (string | number)[] = [];
          // A copy: the compatibility API adds to an array value it was given.
          for (const [kind, n, v] of structuredClone(ops)) {
            try {
              if (kind === 'set') s.setHeader(n, v as string);
              else if (kind === 'append') (s as Http2Response).appendHeader(n, v as string);
              else if (kind === 'remove') s.removeHeader(n);
              else list.push(n, Array.isArray(v) ? v[0] : v);
              out.push('ok');
            } catch (err) {
              out.push((err as { code?: string }).code ?? 'error');
            }
          }
          try {
            s.writeHead(200, list as string[]);
          } catch (err) {
            // The fields set before stay: a handler can only give up.
            s.destroy();
            return;
          }
          s.end(out.join(','));
        };
        // Fresh sessions: a run that resets its stream must not count against the next one's.
        const nodeClient = http2.connect(node.url, { ca: ca.pem });
        const ownClient = http2.connect(own.url, { ca: ca.pem });
        const a = await ask(nodeClient, '/generated');
        const b = await ask(ownClient, '/generated');
        nodeClient.close();
        ownClient.close();
        assert.deepEqual(b, a);
        assert.notEqual(a.rst, -1, a.body);
      }),
      { numRuns: 150 },
    );
    delete ROUTES['/generated'];
  });
});
