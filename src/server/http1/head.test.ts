// readHead: the plain request shapes it takes, everything else left to node:http, and — for generated
// heads, well-formed and not — agreement with node:http's own parser on every head it takes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { readHead } from './head.ts';

const MAX = 16 * 1024;
const read = (text: string) => readHead(Buffer.from(text, 'latin1'), 0, Buffer.byteLength(text, 'latin1'), MAX);

describe('readHead', () => {
  it('takes a plain GET, HEAD or OPTIONS and gives what node:http gives', () => {
    const h = read('GET /a.mp3?x=1 HTTP/1.1\r\nHost: cdn.example\r\nUser-Agent:  curl/8 \r\nRange: bytes=0-1\r\n\r\nGET /next');
    assert.equal(h.kind, 'head');
    if (h.kind !== 'head') return;
    assert.equal(h.method, 'GET');
    assert.equal(h.url, '/a.mp3?x=1');
    assert.equal(h.minor, 1);
    assert.deepEqual(h.headers, { host: 'cdn.example', 'user-agent': 'curl/8', range: 'bytes=0-1' });
    assert.deepEqual(h.rawHeaders, ['Host', 'cdn.example', 'User-Agent', 'curl/8', 'Range', 'bytes=0-1']);
    assert.equal(h.keepAlive, true);
    assert.equal(h.end, h.end);
    assert.equal('GET /a.mp3?x=1 HTTP/1.1\r\nHost: cdn.example\r\nUser-Agent:  curl/8 \r\nRange: bytes=0-1\r\n\r\n'.length, h.end);
    assert.equal(read('HEAD / HTTP/1.1\r\nHost: a\r\n\r\n').kind, 'head');
    assert.equal(read('OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n').kind, 'head');
    assert.equal(read('GET http://a.example/x HTTP/1.1\r\nHost: b\r\n\r\n').kind, 'head');
    assert.equal(read('GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n').kind, 'head');
  });

  it('finds a head of any length at any offset: ending inside the first bytes it reads as text, across their end, or far past them', () => {
    // Heads whose empty line falls on every position around the 2 KiB first look, and longer ones,
    // after other bytes in the buffer and followed by a pipelined request; cut anywhere, incomplete.
    const lengths = [...Array.from({ length: 24 }, (_, i) => 2030 + i), 100, 4000, 9000];
    for (const offset of [0, 7, 2047]) {
      for (const total of lengths) {
        const prefix = 'GET /x HTTP/1.1\r\nHost: a\r\nX-Pad: ';
        const head = `${prefix}${'p'.repeat(Math.max(1, total - prefix.length - 4))}\r\n\r\n`;
        const buf = Buffer.from(`${'z'.repeat(offset)}${head}GET /next HTTP/1.1\r\n`, 'latin1');
        const h = readHead(buf, offset, buf.length, MAX);
        assert.equal(h.kind, 'head', `offset ${offset}, head of ${head.length}`);
        if (h.kind !== 'head') continue;
        assert.equal(h.end, offset + head.length);
        assert.equal(h.headers['x-pad'], 'p'.repeat(Math.max(1, total - prefix.length - 4)));
        for (const cut of [head.length - 1, head.length - 2, head.length - 3, 2048, 2049]) {
          if (cut >= head.length) continue;
          assert.equal(readHead(buf, offset, offset + cut, MAX).kind, 'incomplete', `offset ${offset}, head of ${head.length} cut at ${cut}`);
        }
      }
    }
  });

  it('decides keep-alive as HTTP/1.0 and 1.1 do', () => {
    const keep = (t: string) => {
      const h = read(t);
      assert.equal(h.kind, 'head', t);
      return h.kind === 'head' && h.keepAlive;
    };
    assert.equal(keep('GET / HTTP/1.1\r\nHost: a\r\n\r\n'), true);
    assert.equal(keep('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'), false);
    assert.equal(keep('GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n'), false);
    assert.equal(keep('GET / HTTP/1.0\r\n\r\n'), false);
    assert.equal(keep('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n'), true);
    assert.equal(keep('GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n'), false);
  });

  it('waits for the rest of a head, up to the size limit', () => {
    assert.equal(read('GET / HTTP/1.1\r\nHost: a\r\n').kind, 'incomplete');
    assert.equal(read('G').kind, 'incomplete');
    assert.equal(read(`GET /${'a'.repeat(MAX)}`).kind, 'not-mine');
    assert.equal(read(`GET / HTTP/1.1\r\nHost: a\r\nX: ${'a'.repeat(MAX)}\r\n\r\n`).kind, 'not-mine');
  });

  it('leaves every other shape to node:http', () => {
    const others = [
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc',
      'DELETE / HTTP/1.1\r\nHost: a\r\n\r\n',
      'get / HTTP/1.1\r\nHost: a\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx',
      'GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nX: caf\xe9\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nX : 1\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nX\r\n\r\n',
      'GET / HTTP/1.1\r\n\r\n',
      'GET / HTTP/2.0\r\nHost: a\r\n\r\n',
      'GET  / HTTP/1.1\r\nHost: a\r\n\r\n',
      '\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n',
      'GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\rxX-B: 2\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\nX-B: 2\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\x01\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nX-A\x7f: 1\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nX-A: caf\xe9\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n folded\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nno colon here\r\nX-A: 1\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\n__proto__: x\r\n\r\n',
      `GET / HTTP/1.1\r\nHost: a\r\n${Array.from({ length: 120 }, (_, i) => `X-${i}: 1\r\n`).join('')}\r\n`,
    ];
    for (const text of others) assert.equal(read(text).kind, 'not-mine', JSON.stringify(text));
  });

  describe('agrees with node:http on every head it takes', () => {
    let server: http.Server;
    let port: number;
    before(async () => {
      server = http.createServer((req, res) => {
        const body = JSON.stringify({ method: req.method, url: req.url, version: req.httpVersion, headers: req.headers, rawHeaders: req.rawHeaders });
        // In a field, so that HEAD answers carry it too.
        res.writeHead(200, { 'x-view': Buffer.from(body).toString('base64'), 'content-length': '0', connection: 'close' });
        res.end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));

    /** What node:http makes of the bytes: its JSON view, or undefined when it refused them. */
    const nodeView = (bytes: Buffer) =>
      new Promise<unknown>((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1');
        const parts: Buffer[] = [];
        socket.on('data', (d) => parts.push(d));
        socket.on('error', reject);
        socket.on('close', () => {
          const text = Buffer.concat(parts).toString('latin1');
          const view = /\r\nx-view: ([A-Za-z0-9+/=]+)\r\n/.exec(text);
          resolve(text.startsWith('HTTP/1.1 200') && view ? JSON.parse(Buffer.from(view[1], 'base64').toString()) : undefined);
        });
        socket.end(bytes);
      });

    const tchar = fc.constantFrom(...'abcxyzABCXYZ019-_!#$%&\'*+.^`|~');
    const anyChar = fc.constantFrom(...'aZ09 -/:;,=?"()<>@[]{}\\\t\r\n\x00\x7f\xe9'.split(''));
    const often = <T>(usual: fc.Arbitrary<T>, other: fc.Arbitrary<T>) => fc.oneof({ arbitrary: usual, weight: 6 }, { arbitrary: other, weight: 1 });
    // Names the reader knows, in any case, and near misses: one character swapped for one that differs
    // from a letter only in bit 0x20 ('@', '[', '`', '{') or for another token character.
    const known = fc.constantFrom('host', 'range', 'if-none-match', 'connection', 'content-length', 'origin', 'x-forwarded-for', 'user-agent', 'if-range', 'te', 'dnt');
    const anyCase = fc.tuple(known, fc.array(fc.boolean(), { minLength: 15, maxLength: 15 })).map(([n, up]) => [...n].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(''));
    const nearMiss = fc.tuple(known, fc.nat(), fc.constantFrom('@', '[', '`', '{', '_', '-', '0', 'q')).map(([n, at, c]) => n.slice(0, at % n.length) + c + n.slice((at % n.length) + 1));
    const name = often(
      fc.oneof(
        fc.constantFrom('Host', 'host', 'Range', 'If-None-Match', 'Connection', 'Content-Length', 'Transfer-Encoding', 'Expect', 'Origin', 'X-Forwarded-For'),
        fc.array(tchar, { minLength: 1, maxLength: 8 }).map((a) => a.join('')),
        anyCase,
        nearMiss,
      ),
      fc.array(anyChar, { minLength: 0, maxLength: 4 }).map((a) => a.join('')),
    );
    const value = often(
      fc.oneof(fc.constantFrom('a.example', 'bytes=0-1', '"x"', 'close', 'keep-alive', 'keep-alive, close', 'Upgrade', '0', '5', 'chunked', ' spaced ', '\tt\t', ''), fc.string({ maxLength: 12 }).filter((v) => /^[\x20-\x7e]*$/.test(v))),
      fc.array(anyChar, { maxLength: 10 }).map((a) => a.join('')),
    );
    const head = fc.record({
      method: often(fc.constantFrom('GET', 'HEAD', 'OPTIONS'), fc.constantFrom('POST', 'get', 'PATCH', 'CONNECT')),
      target: often(fc.constantFrom('/', '/a.mp3?x=1', '*', 'http://h/x', '/%zz', '/a"b', '/{}|^`'), fc.array(anyChar, { maxLength: 6 }).map((a) => `/${a.join('')}`)),
      version: often(fc.constantFrom('HTTP/1.1', 'HTTP/1.0'), fc.constantFrom('HTTP/1.2', 'http/1.1', 'HTTP/2.0')),
      host: fc.boolean(),
      fields: fc.array(fc.tuple(name, often(fc.constantFrom(': ', ':', ':\t'), fc.constantFrom(' : ', ' :')), value), { maxLength: 5 }),
      end: often(fc.constant('\r\n'), fc.constantFrom('\n', '\r')),
    });

    it('method, target, version and fields', async () => {
      let taken = 0;
      await fc.assert(
        fc.asyncProperty(head, async (h) => {
          const text = `${h.method} ${h.target} ${h.version}\r\n${h.host ? 'Host: cdn.example\r\n' : ''}${h.fields.map(([n, sep, v]) => `${n}${sep}${v}${h.end}`).join('')}\r\n`;
          const bytes = Buffer.from(text, 'latin1');
          const mine = readHead(bytes, 0, bytes.length, MAX);
          if (mine.kind !== 'head') return;
          taken++;
          const theirs = await nodeView(bytes);
          assert.deepEqual({ method: mine.method, url: mine.url, version: `1.${mine.minor}`, headers: { ...mine.headers }, rawHeaders: mine.rawHeaders }, theirs, JSON.stringify(text));
        }),
        { numRuns: 400 },
      );
      assert.ok(taken > 40, `only ${taken} generated heads were taken`);
    });
  });
});
