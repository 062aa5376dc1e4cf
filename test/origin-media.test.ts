// Media GET/HEAD/OPTIONS against a running origin: the Range and precondition table (from memory,
// from positioned reads and from streams), HEAD, 405, CORS and preflight, traversal, missing media.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile, unlink, readFile, truncate } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { formatHttpDate } from '../src/http/http-date.ts';
import { planResponse } from '../src/http/representation.ts';
import fc from 'fast-check';
import pino from 'pino';
import { createMediaCache, mediaEtag } from '../src/origin/media-cache.ts';
import { simpleRange } from '../src/origin/media-handler.ts';
import { readWholeThenRange } from './helpers/pipelined.ts';
import { checkAsyncProperty } from './helpers/property.ts';
import type { MediaItem } from '../src/media/library.ts';
import { startTestOrigin, request, rawRequest, makeWav, wavOfSize, type TestOrigin, type RawResponse } from './helpers/origin.ts';

type Case = {
  name: string;
  method?: 'GET' | 'HEAD';
  headers: (v: { etag: string; lm: string; size: number }) => Record<string, string | string[]>;
  status: number;
  /** Expected body bytes [start, end] inclusive of the file, for 200/206 single-part. */
  bytes?: (size: number) => [number, number] | 'none';
  contentRange?: (size: number) => string;
  parts?: (size: number) => Array<[number, number]>;
};

const HOUR = 3600_000;
const shift = (lm: string, ms: number) => formatHttpDate(Date.parse(lm) + ms);

const CASES: Case[] = [
  { name: 'plain GET', headers: () => ({}), status: 200, bytes: (s) => [0, s - 1] },
  { name: 'first two bytes (Safari probe)', headers: () => ({ range: 'bytes=0-1' }), status: 206, bytes: () => [0, 1], contentRange: (s) => `bytes 0-1/${s}` },
  { name: 'suffix range', headers: () => ({ range: 'bytes=-500' }), status: 206, bytes: (s) => [s - 500, s - 1], contentRange: (s) => `bytes ${s - 500}-${s - 1}/${s}` },
  { name: 'open-ended range', headers: () => ({ range: 'bytes=100-' }), status: 206, bytes: (s) => [100, s - 1], contentRange: (s) => `bytes 100-${s - 1}/${s}` },
  { name: 'range past the end is clipped', headers: () => ({ range: 'bytes=10-99999999' }), status: 206, bytes: (s) => [10, s - 1], contentRange: (s) => `bytes 10-${s - 1}/${s}` },
  { name: 'suffix longer than the file', headers: () => ({ range: 'bytes=-99999999' }), status: 206, bytes: (s) => [0, s - 1], contentRange: (s) => `bytes 0-${s - 1}/${s}` },
  { name: 'range starting at the size → 416', headers: (v) => ({ range: `bytes=${v.size}-` }), status: 416, bytes: () => 'none', contentRange: (s) => `bytes */${s}` },
  { name: 'inverted range is invalid → ignored', headers: () => ({ range: 'bytes=5-1' }), status: 200, bytes: (s) => [0, s - 1] },
  { name: 'other unit → ignored', headers: () => ({ range: 'items=0-1' }), status: 200, bytes: (s) => [0, s - 1] },
  { name: 'garbage → ignored', headers: () => ({ range: 'bytes=abc' }), status: 200, bytes: (s) => [0, s - 1] },
  { name: 'two Range lines → ignored', headers: () => ({ range: ['bytes=0-1', 'bytes=2-3'] }), status: 200, bytes: (s) => [0, s - 1] },
  {
    name: 'range across a 64 KiB block boundary',
    headers: (v) => ({ range: `bytes=${Math.min(65530, v.size - 20)}-${Math.min(65545, v.size - 5)}` }),
    status: 206,
    bytes: (s) => [Math.min(65530, s - 20), Math.min(65545, s - 5)],
  },
  { name: 'two ranges → multipart', headers: () => ({ range: 'bytes=0-1,20-29' }), status: 206, parts: () => [[0, 1], [20, 29]] },
  { name: 'overlapping ranges are coalesced', headers: () => ({ range: 'bytes=0-100,50-150' }), status: 206, bytes: () => [0, 150], contentRange: (s) => `bytes 0-150/${s}` },
  {
    name: '21 ranges → whole file, never amplified',
    headers: () => ({ range: `bytes=${Array.from({ length: 21 }, (_, i) => `${i * 10}-${i * 10 + 1}`).join(',')}` }),
    status: 200,
    bytes: (s) => [0, s - 1],
  },
  { name: 'If-None-Match with the ETag → 304', headers: (v) => ({ 'if-none-match': v.etag }), status: 304, bytes: () => 'none' },
  { name: 'If-None-Match weak form matches (weak comparison)', headers: (v) => ({ 'if-none-match': `W/${v.etag}` }), status: 304, bytes: () => 'none' },
  { name: 'If-None-Match list', headers: (v) => ({ 'if-none-match': `"nope", ${v.etag}` }), status: 304, bytes: () => 'none' },
  { name: 'If-None-Match *', headers: () => ({ 'if-none-match': '*' }), status: 304, bytes: () => 'none' },
  { name: 'If-None-Match other → 200', headers: () => ({ 'if-none-match': '"nope"' }), status: 200, bytes: (s) => [0, s - 1] },
  { name: 'If-Modified-Since = Last-Modified → 304', headers: (v) => ({ 'if-modified-since': v.lm }), status: 304, bytes: () => 'none' },
  { name: 'If-Modified-Since earlier → 200', headers: (v) => ({ 'if-modified-since': shift(v.lm, -HOUR) }), status: 200, bytes: (s) => [0, s - 1] },
  { name: 'If-None-Match wins over If-Modified-Since', headers: (v) => ({ 'if-none-match': '"nope"', 'if-modified-since': shift(v.lm, HOUR) }), status: 200, bytes: (s) => [0, s - 1] },
  { name: 'If-Match other → 412', headers: () => ({ 'if-match': '"nope"' }), status: 412, bytes: () => 'none' },
  { name: 'If-Match weak never matches (strong comparison) → 412', headers: (v) => ({ 'if-match': `W/${v.etag}` }), status: 412, bytes: () => 'none' },
  { name: 'If-Match the ETag → 200', headers: (v) => ({ 'if-match': v.etag }), status: 200, bytes: (s) => [0, s - 1] },
  { name: 'If-Match * → 200', headers: () => ({ 'if-match': '*' }), status: 200, bytes: (s) => [0, s - 1] },
  { name: 'If-Unmodified-Since earlier → 412', headers: (v) => ({ 'if-unmodified-since': shift(v.lm, -HOUR) }), status: 412, bytes: () => 'none' },
  { name: 'If-Unmodified-Since later → 200', headers: (v) => ({ 'if-unmodified-since': shift(v.lm, HOUR) }), status: 200, bytes: (s) => [0, s - 1] },
  { name: 'If-Match passing makes If-Unmodified-Since ignored', headers: (v) => ({ 'if-match': v.etag, 'if-unmodified-since': shift(v.lm, -HOUR) }), status: 200, bytes: (s) => [0, s - 1] },
  { name: 'If-Match is evaluated before If-None-Match', headers: (v) => ({ 'if-match': '"nope"', 'if-none-match': v.etag }), status: 412, bytes: () => 'none' },
  { name: 'If-Range with the ETag → 206', headers: (v) => ({ range: 'bytes=0-9', 'if-range': v.etag }), status: 206, bytes: () => [0, 9], contentRange: (s) => `bytes 0-9/${s}` },
  { name: 'If-Range weak ETag → whole file', headers: (v) => ({ range: 'bytes=0-9', 'if-range': `W/${v.etag}` }), status: 200, bytes: (s) => [0, s - 1] },
  { name: 'If-Range other ETag → whole file', headers: () => ({ range: 'bytes=0-9', 'if-range': '"nope"' }), status: 200, bytes: (s) => [0, s - 1] },
  { name: 'If-Range exact date → 206', headers: (v) => ({ range: 'bytes=0-9', 'if-range': v.lm }), status: 206, bytes: () => [0, 9], contentRange: (s) => `bytes 0-9/${s}` },
  { name: 'If-Range other date → whole file', headers: (v) => ({ range: 'bytes=0-9', 'if-range': shift(v.lm, HOUR) }), status: 200, bytes: (s) => [0, s - 1] },
  { name: 'If-Range without Range is ignored', headers: () => ({ 'if-range': '"nope"' }), status: 200, bytes: (s) => [0, s - 1] },
  { name: 'HEAD', method: 'HEAD', headers: () => ({}), status: 200, bytes: () => 'none' },
  { name: 'HEAD ignores Range', method: 'HEAD', headers: () => ({ range: 'bytes=0-1' }), status: 200, bytes: () => 'none' },
  { name: 'HEAD with If-None-Match → 304', method: 'HEAD', headers: (v) => ({ 'if-none-match': v.etag }), status: 304, bytes: () => 'none' },
];

function assertMediaHeaders(r: RawResponse, what: string): void {
  assert.equal(r.headers['access-control-allow-origin'], '*', `${what}: CORS`);
  assert.equal(r.headers['access-control-expose-headers'], 'Content-Range, Content-Length, Accept-Ranges, ETag', `${what}: exposed headers`);
  if (r.status !== 304) assert.equal(r.headers['x-content-type-options'], 'nosniff', what);
  else assert.equal(r.headers['x-content-type-options'], undefined, `${what}: a 304 has no body to sniff`);
  assert.equal(r.headers['vary'], undefined, `${what}: nothing varies by request`);
}

function parseMultipart(body: Buffer, contentType: string): Array<{ range: string; type: string; bytes: Buffer }> {
  const boundary = /boundary=("?)([^";]+)\1/.exec(contentType)?.[2];
  assert.ok(boundary, contentType);
  const text = body.toString('latin1');
  const parts = text.split(`--${boundary}`).slice(1, -1);
  assert.ok(text.endsWith(`--${boundary}--\r\n`), 'closing delimiter');
  return parts.map((p) => {
    const [head, ...rest] = p.replace(/^\r\n/, '').split('\r\n\r\n');
    const data = rest.join('\r\n\r\n').replace(/\r\n$/, '');
    return { range: /Content-Range: (.*)/.exec(head)?.[1] ?? '', type: /Content-Type: (.*)/.exec(head)?.[1] ?? '', bytes: Buffer.from(data, 'latin1') };
  });
}

async function runTable(t: TestOrigin, item: MediaItem, file: Buffer, label: string): Promise<void> {
  const url = `${t.url}/media/${item.fileName}`;
  const v = { etag: mediaEtag(item.sha256), lm: formatHttpDate(Date.parse(item.createdAt)), size: item.byteSize };
  assert.equal(file.length, item.byteSize);
  for (const c of CASES) {
    const what = `${label}: ${c.name}`;
    const r = await request(url, { method: c.method, headers: c.headers(v) });
    assert.equal(r.status, c.status, what);
    assertMediaHeaders(r, what);
    if ([200, 206, 304].includes(c.status)) {
      assert.equal(r.headers['cache-control'], 'public, max-age=31536000, immutable', what);
      assert.equal(r.headers.etag, v.etag, what);
      assert.equal(r.headers['last-modified'], v.lm, what);
    }
    if (c.status === 200 || c.status === 206) assert.equal(r.headers['accept-ranges'], 'bytes', what);
    if (c.status === 200) {
      assert.equal(r.headers['content-type'], item.contentType, what);
      assert.equal(r.headers['content-length'], String(item.byteSize), what);
    }
    const bytes = c.bytes?.(v.size);
    if (bytes === 'none') assert.equal(r.body.length, 0, `${what}: no body`);
    else if (bytes) assert.ok(r.body.equals(file.subarray(bytes[0], bytes[1] + 1)), `${what}: body bytes ${bytes}`);
    if (c.contentRange) assert.equal(r.headers['content-range'], c.contentRange(v.size), what);
    if (c.parts) {
      assert.match(r.headers['content-type'] ?? '', /^multipart\/byteranges; boundary=/, what);
      const parts = parseMultipart(r.body, r.headers['content-type'] as string);
      assert.equal(Number(r.headers['content-length']), r.body.length, `${what}: exact Content-Length`);
      assert.deepEqual(
        parts.map((p) => [p.range, p.type, p.bytes.toString('hex')]),
        c.parts(v.size).map(([a, b]) => [`bytes ${a}-${b}/${v.size}`, item.contentType, file.subarray(a, b + 1).toString('hex')]),
        what,
      );
    }
  }
}

test('the Range and precondition table, with bodies from memory, from positioned reads and from streams', async (t) => {
  const big = path.join(os.tmpdir(), `mediacdn-origin-big-${process.pid}.wav`);
  // ~1.2 MB: whole, it streams (over the 1 MiB of one positioned read); its ranges are positioned reads.
  await writeFile(big, makeWav(14, { sampleRate: 22050, channels: 2 }));
  t.after(() => unlink(big).catch(() => {}));
  for (const [label, originOpts] of [
    ['memory', {}],
    ['hot blocks', { memoryCacheMaxFileBytes: 128 * 1024 }],
    // The large file is over its block quota (half of 1 MiB): ranges over 128 KiB are positioned reads.
    ['positioned reads', { memoryCacheBytes: 1024 * 1024 }],
    ['disk', { memoryCacheBytes: 0 }],
  ] as const) {
    const o = await startTestOrigin({ origin: originOpts });
    try {
      const small = await o.add('tone-3s.mp3', { kind: 'song', title: 'Tone' });
      await runTable(o, small, await readFile(path.join(o.tl.mediaDir, small.fileName)), `${label} mp3`);
      const large = await o.addPath(big);
      await runTable(o, large, await readFile(big), `${label} wav ${large.byteSize} B`);
      const stats = o.origin.cacheStats();
      if (label === 'disk') assert.equal(stats.memoryBytes, 0);
      else assert.ok(stats.memoryBytes >= small.byteSize, 'small file held in memory');
      // Run twice: the second pass answers the large file's small ranges from cached blocks.
      if (label === 'hot blocks') await runTable(o, large, await readFile(big), `${label} wav again`);
    } finally {
      await o.close();
    }
  }
});

test('slices read in one go reuse their buffers: concurrent ranges, some cut short by their client, all right', async (t) => {
  const big = path.join(os.tmpdir(), `mediacdn-origin-reuse-${process.pid}.wav`);
  await writeFile(big, makeWav(14, { sampleRate: 22050, channels: 2 }));
  t.after(() => unlink(big).catch(() => {}));
  const file = await readFile(big);
  // Nothing held in memory: every range over 128 KiB is one positioned read into a pooled buffer.
  const o = await startTestOrigin({ origin: { memoryCacheBytes: 0 } });
  t.after(() => o.close());
  const item = await o.addPath(big);
  const u = new URL(`${o.url}/media/${item.fileName}`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  t.after(() => agent.destroy());
  const ask = (start: number, end: number, cut: boolean) =>
    new Promise<void>((resolve, reject) => {
      const req = http.get({ host: u.hostname, port: u.port, path: u.pathname, agent: cut ? false : agent, headers: { range: `bytes=${start}-${end}` } }, (res) => {
        if (cut) {
          // Gone after the head: the response never finishes, and its buffer is not reused.
          res.destroy();
          return resolve();
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            assert.equal(res.statusCode, 206);
            assert.ok(Buffer.concat(chunks).equals(file.subarray(start, end + 1)), `bytes ${start}-${end}`);
            resolve();
          } catch (err) {
            reject(err);
          }
        });
      });
      req.on('error', (err) => (cut ? resolve() : reject(err)));
    });
  for (let round = 0; round < 4; round++) {
    const asks: Promise<void>[] = [];
    for (let i = 0; i < 48; i++) {
      const start = ((round * 48 + i) * 7919) % (file.length - 300_000);
      const length = 131_073 + ((i * 104_729) % 900_000);
      asks.push(ask(start, Math.min(file.length - 1, start + length - 1), i % 7 === 3));
    }
    await Promise.all(asks);
  }
});

/**
 * An origin with defaults changed by `origin`, and a WAV of `bytes` varied bytes (none repeat within a
 * 256-byte stretch) added to its library: the file's bytes and its media URL.
 */
async function originWithWav(t: { after(fn: () => unknown): void }, name: string, bytes: number, origin: Record<string, number> = {}): Promise<{ o: TestOrigin; data: Buffer; url: string; fileName: string }> {
  const data = wavOfSize(bytes);
  for (let i = 44; i < data.length; i++) data[i] = Math.imul(i, 2654435761) >>> 24;
  const file = path.join(os.tmpdir(), `mediacdn-origin-${name}-${process.pid}.wav`);
  await writeFile(file, data);
  t.after(() => unlink(file).catch(() => {}));
  const o = await startTestOrigin({ origin });
  t.after(() => o.close());
  const item = await o.addPath(file);
  return { o, data, url: `${o.url}/media/${item.fileName}`, fileName: item.fileName };
}

test('a file within its block quota: a crowd of overlapping ranges reads each block once, later ranges come from memory', async (t) => {
  // The default budget (64 MiB): a 4 MiB file is within its quota of hot blocks (half the budget).
  const { o, data, url: u } = await originWithWav(t, 'crowd', 4 * 1024 * 1024);
  assert.equal((await request(u, { method: 'HEAD' })).status, 200);
  const before = o.origin.cacheStats().readBytes;
  // 30 players' 256 KiB ranges at 128 KiB steps, all at once: each block is wanted by two of them,
  // and odd offsets and lengths take slices out of the middle of blocks too.
  const ranges = Array.from({ length: 30 }, (_, k) => [k * 131_072 + (k % 3), k * 131_072 + 262_143 + (k % 5)] as const);
  const blocks = new Set(ranges.flatMap(([start, end]) => Array.from({ length: Math.floor(end / 65_536) - Math.floor(start / 65_536) + 1 }, (_, i) => Math.floor(start / 65_536) + i)));
  const check = async () =>
    Promise.all(
      ranges.map(async ([start, end]) => {
        const r = await request(u, { headers: { range: `bytes=${start}-${end}` } });
        assert.equal(r.status, 206);
        assert.ok(r.body.equals(data.subarray(start, end + 1)), `bytes ${start}-${end}`);
      }),
    );
  await check();
  const read = o.origin.cacheStats().readBytes - before;
  // Each 64 KiB block the ranges touch was read once, however the requests met in time.
  assert.equal(read, blocks.size * 65_536);
  await check();
  assert.equal(o.origin.cacheStats().readBytes - before, read, 'the second pass read nothing');
});

test('a hot block keeps room for a head in front of it, outside its neighbour, and a block-aligned range is answered right with its head there', async (t) => {
  const { o, data, url: u, fileName } = await originWithWav(t, 'rooms', 700_000);
  const silent = pino({ level: 'silent' });
  const cache = createMediaCache({ lib: o.tl.lib, logger: silent, now: () => 0, tail200: [], tail304: [], cacheControl: 'public', memoryCacheBytes: 64 << 20, memoryCacheMaxFileBytes: 0, ttlMs: 60_000 });
  t.after(() => cache.close());
  const entry = await cache.load(fileName);
  assert.ok(entry && entry.body === undefined);
  // Blocks 0-2 in one read (three blocks share one allocation).
  await new Promise<void>((resolve, reject) => cache.readRange(entry, 0, 3 * 65_536 - 1, (err) => (err ? reject(err) : resolve())));
  for (const k of [1, 2]) {
    const bytes = cache.held(entry, k * 65_536, (k + 1) * 65_536 - 1) as Buffer;
    const room = cache.roomAt(entry, k * 65_536);
    assert.ok(room && Buffer.isBuffer(bytes), `block ${k} has a room`);
    assert.equal(bytes.buffer, room.memory);
    assert.equal(bytes.byteOffset, room.at);
    // A head as long as the room, written into it, leaves the block before it intact.
    new Uint8Array(room.memory, room.at - room.bytes, room.bytes).fill(0xff);
  }
  assert.equal(cache.roomAt(entry, 65_537), undefined, 'no room inside a block');
  assert.equal(cache.roomAt(entry, 5 * 65_536), undefined, 'no room for a block not held');
  const held = cache.held(entry, 0, 3 * 65_536 - 1) as Buffer[];
  assert.ok(Buffer.concat(held).equals(data.subarray(0, 3 * 65_536)));
  // Over HTTP: the origin's own cache, the same range twice (the second from its blocks, head in the room).
  for (let i = 0; i < 2; i++) {
    const r = await request(u, { headers: { range: 'bytes=65536-131071' } });
    assert.equal(r.status, 206);
    assert.ok(r.body.equals(data.subarray(65_536, 131_072)));
  }
  // The budget counts the rooms: 3 blocks of 64 KiB and their 1 KiB rooms.
  assert.equal(cache.stats().memoryBytes, 3 * (65_536 + 1024));
});

test('a block read that fails fails every request waiting for it, and the next requests read again', async (t) => {
  const { o, data, url: u, fileName } = await originWithWav(t, 'cut', 2 * 1024 * 1024);
  assert.equal((await request(u, { method: 'HEAD' })).status, 200); // the descriptor is open from here on
  const stored = path.join(o.tl.mediaDir, fileName);
  await truncate(stored, 1024 * 1024); // the file loses its second half behind the origin's back
  const outcomes = await Promise.all(
    Array.from({ length: 12 }, (_, k) =>
      request(u, { headers: { range: `bytes=${1_100_000 + k * 20_000}-${1_100_000 + k * 20_000 + 262_143}` } }).then(
        (r) => r.status,
        () => 'cut',
      ),
    ),
  );
  for (const x of outcomes) assert.ok(x === 500 || x === 'cut', `a failed read is an error, not bytes: ${x}`);
  await writeFile(stored, data); // restored: the same blocks are read again, not remembered as failed
  const r = await request(u, { headers: { range: 'bytes=1100000-1362143' } });
  assert.equal(r.status, 206);
  assert.ok(r.body.equals(data.subarray(1_100_000, 1_362_144)));
  const head = await request(u, { headers: { range: 'bytes=0-99' } });
  assert.ok(head.body.equals(data.subarray(0, 100)));
});

test('a pooled buffer is not reused while its response waits behind another on a client that is not reading', async (t) => {
  // 16 MiB of varied bytes: more than the loopback socket buffers hold, so a whole-file answer to a
  // client that does not read stays unfinished, and the range pipelined behind it waits in memory.
  const w = await originWithWav(t, 'pipelined', 16 * 1024 * 1024, { memoryCacheBytes: 0 });
  const data = w.data;
  const u = new URL(w.url);
  const slice: [number, number] = [5_000_000, 5_000_000 + 700_000 - 1];
  const slow = net.connect(Number(u.port), u.hostname);
  slow.pause();
  await new Promise<void>((resolve) => slow.once('connect', () => resolve()));
  slow.write(`GET ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\n\r\nGET ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nRange: bytes=${slice[0]}-${slice[1]}\r\n\r\n`);
  // Meanwhile other clients read many slices in one go each (into pooled buffers).
  for (let round = 0; round < 6; round++) {
    await Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        const start = 1_000_000 + ((round * 16 + i) * 104_729) % 8_000_000;
        // Read in one go (600 kB) or streamed in 256 KiB pieces (2 MB), as the whole file is.
        const length = i % 2 === 0 ? 600_000 : 2_000_000;
        const r = await request(u.href, { headers: { range: `bytes=${start}-${start + length - 1}` } });
        assert.ok(r.body.equals(data.subarray(start, start + length)));
      }),
    );
  }
  // Now read everything: the whole file, then the range that waited behind it.
  const got = await readWholeThenRange(slow, data.length, 700_000);
  assert.ok(got.whole.equals(data), 'the whole file, streamed, holds its own bytes');
  assert.ok(got.range.equals(data.subarray(slice[0], slice[1] + 1)), 'the pipelined range holds its own bytes');
});

test('the fast paths answer exactly what the shared planner would', async (t) => {
  const o = await startTestOrigin();
  t.after(() => o.close());
  const item = await o.add('tone-3s.ogg');
  const url = `${o.url}/media/${item.fileName}`;
  const rep = { size: item.byteSize, contentType: item.contentType, etag: mediaEtag(item.sha256), lastModified: Date.parse(item.createdAt) };
  const extra = { 'cache-control': 'public, max-age=31536000, immutable', 'x-content-type-options': 'nosniff', 'access-control-allow-origin': '*', 'access-control-expose-headers': 'Content-Range, Content-Length, Accept-Ranges, ETag' };
  const strip = (h: RawResponse['headers']) => Object.fromEntries(Object.entries(h).filter(([k]) => !['date', 'connection', 'keep-alive'].includes(k)));
  const last = item.byteSize - 1;
  const cases: Array<readonly ['GET' | 'HEAD', Record<string, string>]> = [
    ['GET', {}], ['HEAD', {}], ['GET', { 'if-none-match': rep.etag }], ['HEAD', { 'if-none-match': rep.etag }],
    // The single-range fast path, and forms that must go to the planner.
    ...['bytes=0-', 'bytes=0-0', 'bytes=10-19', `bytes=${last}-`, `bytes=${last}-${last}`, 'bytes=100-99999999', 'bytes=007-0009', `bytes=${last + 1}-`, 'bytes=9-3', 'bytes=-500', 'Bytes=1-2', 'bytes= 1-2']
      .flatMap((range) => [['GET', { range }], ['HEAD', { range }]] as const),
    ['GET', { range: 'bytes=1-2', 'if-range': rep.etag }],
  ];
  for (const [method, headers] of cases) {
    const plan = planResponse(method, headers, rep, { maxRanges: 20 });
    const r = await request(url, { method, headers });
    assert.equal(r.status, plan.status, `${method} ${JSON.stringify(headers)}`);
    const expected: Record<string, string> = { ...plan.headers, ...(plan.status === 416 ? {} : extra) };
    if (plan.status === 304) delete expected['x-content-type-options'];
    if (plan.status === 416) Object.assign(expected, { 'x-content-type-options': 'nosniff', 'access-control-allow-origin': '*', 'access-control-expose-headers': extra['access-control-expose-headers'] });
    assert.deepEqual(strip(r.headers), expected, `${method} ${JSON.stringify(headers)}`);
    // A 206 from the prebuilt list has the planner's order too (then the tail every 200 / 206 gets).
    if (plan.status === 206) assert.deepEqual(Object.keys(strip(r.headers)), Object.keys(expected), `order: ${JSON.stringify(headers)}`);
  }
});

test('property: the single-range fast path takes only what the planner answers with that one range', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 5_000_000 }),
      fc.nat({ max: 6_000_000 }),
      fc.option(fc.nat({ max: 6_000_000 }), { nil: undefined }),
      fc.nat({ max: 3 }),
      (size, a, b, zeros) => {
        const header = `bytes=${'0'.repeat(zeros)}${a}-${b === undefined ? '' : b}`;
        const fast = simpleRange(header, size);
        const plan = planResponse('GET', { range: header }, { size, contentType: 'audio/wav', etag: '"e"', lastModified: 0 }, { maxRanges: 20 });
        if (fast === undefined) {
          assert.ok(plan.status !== 206 || a >= size || (b !== undefined && b < a), `${header} of ${size}: the planner answered 206 for a form the fast path left`);
          return;
        }
        assert.equal(plan.status, 206);
        assert.deepEqual(plan.body, [{ kind: 'bytes', start: fast.start, end: fast.end }]);
        assert.equal(plan.headers['content-range'], `bytes ${fast.start}-${fast.end}/${size}`);
      },
    ),
    { numRuns: 2000 },
  );
  for (const junk of [undefined, '', 'bytes=', 'bytes=-', 'bytes=1', 'bytes=a-b', 'bytes=1-2-3', 'bytes=1234567890123456-', `bytes=1-${'9'.repeat(16)}`, 'items=1-2']) {
    assert.equal(simpleRange(junk, 1000), undefined, String(junk));
  }
});

test('a multi-range request never costs more than the whole file: 20 one-byte ranges of 431 bytes get the 431 bytes', async (t) => {
  const o = await startTestOrigin();
  t.after(() => o.close());
  const file = path.join(os.tmpdir(), `mediacdn-origin-431-${process.pid}.wav`);
  const data = wavOfSize(431);
  await writeFile(file, data);
  t.after(() => unlink(file).catch(() => {}));
  const item = await o.addPath(file);
  const url = `${o.url}/media/${item.fileName}`;
  const twenty = `bytes=${Array.from({ length: 20 }, (_, i) => `${i * 20}-${i * 20}`).join(',')}`;
  const r = await request(url, { headers: { range: twenty } });
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-length'], '431');
  assert.ok(r.body.equals(data));
  // Two small ranges still get their multipart answer while it is the cheaper one.
  const two = await request(url, { headers: { range: 'bytes=0-3,8-11' } });
  assert.equal(two.status, 206);
  assert.ok(two.body.length < 431, String(two.body.length));
});

test('OPTIONS answers CORS preflights (Range included), other methods get 405 with Allow', async (t) => {
  const o = await startTestOrigin();
  t.after(() => o.close());
  const item = await o.add('tone-3s.mp3');
  const url = `${o.url}/media/${item.fileName}`;
  const pre = await request(url, { method: 'OPTIONS', headers: { origin: 'https://player.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'range, if-none-match' } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], '*');
  assert.match(pre.headers['access-control-allow-methods'] ?? '', /\bGET\b/);
  for (const h of ['range', 'if-none-match', 'if-range']) assert.ok((pre.headers['access-control-allow-headers'] ?? '').toLowerCase().split(/,\s*/).includes(h), h);
  assert.ok(Number(pre.headers['access-control-max-age']) > 0);
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
    const r = await request(url, { method, body: method === 'DELETE' ? undefined : 'x' });
    assert.equal(r.status, 405, method);
    assert.equal(r.headers.allow, 'GET, HEAD, OPTIONS', method);
    assert.equal(r.headers['access-control-allow-origin'], '*');
  }
  // The same CORS headers whatever the request's Origin: a cache can hold one copy for everyone.
  const a = await request(url, { headers: { origin: 'https://a.example' } });
  const b = await request(url);
  assert.equal(a.headers['access-control-allow-origin'], b.headers['access-control-allow-origin']);
});

test('names outside the library form are 404 without any lookup, whatever their encoding', async (t) => {
  const o = await startTestOrigin();
  t.after(() => o.close());
  const item = await o.add('tone-3s.mp3');
  const valid = item.fileName;
  // A file in the media folder without a record, and the secrets next to it, must never be served.
  await writeFile(path.join(o.tl.mediaDir, 'abcdefghijklmnopqrst.mp3'), 'unlisted');
  o.origin.forgetMedia(valid);
  const before = o.origin.cacheStats().entries;
  const targets = [
    '/media/../admin-token',
    '/media/../../etc/passwd',
    '/media/%2e%2e/admin-token',
    '/media/%2E%2E%2Fadmin-token',
    '/media/..%2fmediacdn.db',
    '/media/..%5cmediacdn.db',
    '/media/..\\mediacdn.db',
    '/media/%00',
    `/media/${valid}%00`,
    `/media/${valid.replace('.', '%00.')}`,
    `/media/${valid}/..`,
    `/media/${valid}/`,
    `/media/./${valid}`,
    `/media//${valid}`,
    `/media/%${valid.charCodeAt(0).toString(16)}${valid.slice(1)}`,
    `/media/${valid.toUpperCase()}`,
    `/media/${valid} `.replace(' ', '%20'),
    `/media/${'a'.repeat(2000)}.mp3`,
    `/media/${valid.slice(0, 20)}.mp3abcdef`,
    '/media/%EF%BD%81bcdefghijklmnopqrst.mp3',
    '/media/.tmp-1-abc',
    '/media/',
    '/media',
  ];
  for (const target of targets) {
    const r = await rawRequest(o.url, target);
    assert.ok(r.status === 404 || r.status === 400, `${target} → ${r.status}`);
    assert.doesNotMatch(r.text, /unlisted|SQLite/, target);
  }
  assert.equal(o.origin.cacheStats().entries, before, 'no name outside the library form was looked up');
  const unlisted = await rawRequest(o.url, '/media/abcdefghijklmnopqrst.mp3');
  assert.equal(unlisted.status, 404, 'a file without a record is not served');
  assert.equal((await rawRequest(o.url, `/media/${valid}?v=3`)).status, 200, 'a query string does not change the name');
});

test('missing media → 404 with a short public max-age; a record whose file is gone → 404 and a loud log line', async (t) => {
  // The MP3 (12 KiB) is read from disk on demand, the OGG (7 KiB) is held in memory: both paths.
  const o = await startTestOrigin({ origin: { notFoundMaxAge: 60, memoryCacheMaxFileBytes: 8000 } });
  t.after(() => o.close());
  const r = await request(`${o.url}/media/abcdefghijklmnopqrst.mp3`);
  assert.equal(r.status, 404);
  assert.equal(r.headers['cache-control'], 'public, max-age=60');
  assert.equal(r.headers['access-control-allow-origin'], '*');
  for (const file of ['tone-3s.mp3', 'tone-3s.ogg']) {
    const item = await o.add(file);
    await unlink(path.join(o.tl.mediaDir, item.fileName));
    const gone = await request(`${o.url}/media/${item.fileName}`);
    assert.equal(gone.status, 404, file);
    const line = o.logs.find((l) => l.fileName === item.fileName && l.level === 50);
    assert.ok(line, `an error line names ${item.fileName}`);
    assert.match(String(line.msg), /MEDIA FILE BROKEN/);
  }
});

test('a deletion by another process takes effect once the record trust period is over', async (t) => {
  let clock = 1_000_000;
  const o = await startTestOrigin({ now: () => clock, recordTtlMs: 5000 });
  t.after(() => o.close());
  const item = await o.add('loop.png');
  const url = `${o.url}/media/${item.fileName}`;
  assert.equal((await request(url)).status, 200);
  // Deleted behind the origin's back (as `mediacdn rm` in another process would).
  await o.tl.lib.db.kysely.deleteFrom('media').where('id', '=', item.id).execute();
  await unlink(path.join(o.tl.mediaDir, item.fileName));
  assert.equal((await request(url)).status, 200, 'still trusted within the period (served from memory)');
  clock += 5000;
  assert.equal((await request(url)).status, 404, 'checked again after the period');
});

test('the record trust period counts from the start of the lookup, and forget() cancels a lookup in flight', async (t) => {
  let clock = 1_000_000;
  const o = await startTestOrigin({ now: () => clock, recordTtlMs: 5000 });
  t.after(() => o.close());
  const silent = pino({ level: 'silent' });
  const cache = createMediaCache({
    lib: o.tl.lib, logger: silent, now: () => clock, tail200: [], tail304: [], cacheControl: 'public',
    memoryCacheBytes: 1 << 20, memoryCacheMaxFileBytes: 1 << 20, ttlMs: 5000,
  });
  t.after(() => cache.close());
  const a = await o.add('loop.png');
  // The clock moves while the query runs: the record is trusted from when it was asked for.
  const loading = cache.load(a.fileName);
  clock += 4999;
  assert.ok(await loading);
  assert.ok(cache.peek(a.fileName), 'trusted until start + ttl');
  clock += 1;
  assert.equal(cache.peek(a.fileName), undefined, 'not trusted past start + ttl, however long the query took');
  // A deletion in this process while a lookup runs: what the lookup read is not kept.
  const b = await o.add('tone-3s.mp3');
  const inFlight = cache.load(b.fileName);
  cache.forget(b.fileName);
  await o.tl.lib.db.kysely.deleteFrom('media').where('id', '=', b.id).execute();
  assert.equal(await inFlight, null);
  assert.equal(cache.peek(b.fileName), undefined, 'nothing cached from the cancelled lookup');
  assert.equal(await cache.load(b.fileName), null, 'a new lookup sees the deletion');
});

test('the record cache evicts the least recently used file, never one in use', async (t) => {
  const o = await startTestOrigin({});
  t.after(() => o.close());
  const cache = createMediaCache({
    lib: o.tl.lib, logger: pino({ level: 'silent' }), now: () => 1_000_000, tail200: [], tail304: [], cacheControl: 'public',
    memoryCacheBytes: 1 << 24, memoryCacheMaxFileBytes: 1 << 20, ttlMs: 60_000, maxEntries: 4,
  });
  t.after(() => cache.close());
  const names: string[] = [];
  for (let i = 0; i < 8; i++) names.push((await o.add('loop.png')).fileName);
  const [a, ...others] = names;
  for (const name of [a, ...others.slice(0, 3)]) assert.ok(await cache.load(name));
  // `a` is used before each new file: it stays, and the others go in the order they were loaded.
  for (const name of others.slice(3)) {
    assert.ok(cache.peek(a), 'the file in use is still there');
    assert.ok(await cache.load(name));
    assert.equal(cache.stats().entries, 4);
  }
  assert.deepEqual(
    names.map((n) => cache.peek(n) !== undefined),
    [true, false, false, false, false, true, true, true],
  );
});

test('property: concurrent slices through the hot-block cache, whatever the budget, are the file\'s bytes; the budget holds', async (t) => {
  const { o, data, fileName } = await originWithWav(t, 'blocks-property', 700_000);
  const silent = pino({ level: 'silent' });
  const slice = fc.tuple(fc.nat({ max: data.length - 1 }), fc.integer({ min: 1, max: 1024 * 1024 }));
  await checkAsyncProperty(
    fc.asyncProperty(
      // Budgets below, around and above the file and its quota (half the budget).
      fc.constantFrom(64 * 1024, 200_000, 1 << 20, 1_500_000, 64 << 20),
      fc.constantFrom(0, 64 * 1024, 1 << 20),
      fc.array(fc.array(slice, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 4 }),
      async (budget, maxFile, batches) => {
        const cache = createMediaCache({ lib: o.tl.lib, logger: silent, now: () => 0, tail200: [], tail304: [], cacheControl: 'public', memoryCacheBytes: budget, memoryCacheMaxFileBytes: maxFile, ttlMs: 60_000 });
        try {
          const entry = await cache.load(fileName);
          assert.ok(entry);
          for (const batch of batches) {
            // One batch at once: reads of the same blocks meet in flight.
            await Promise.all(
              batch.map(([start, length]) => {
                const end = Math.min(data.length - 1, start + length - 1);
                return new Promise<void>((resolve, reject) => {
                  if (entry.body) return resolve(); // held whole: sent as a slice of the body, not read
                  cache.readRange(entry, start, end, (err, body, done) => {
                    try {
                      assert.ifError(err);
                      const got = Array.isArray(body) ? Buffer.concat(body) : (body as Buffer);
                      assert.ok(got.equals(data.subarray(start, end + 1)), `bytes ${start}-${end} (budget ${budget}, maxFile ${maxFile})`);
                      done?.();
                      resolve();
                    } catch (e) {
                      reject(e);
                    }
                  });
                });
              }),
            );
            assert.ok(cache.stats().memoryBytes <= budget, `memory ${cache.stats().memoryBytes} within the budget ${budget}`);
          }
        } finally {
          cache.close();
        }
      },
    ),
    { numRuns: 40, timeLimitMs: 10_000 },
  );
});
