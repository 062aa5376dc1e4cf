// Generated hostile requests against a running origin (fast-check, seeded, bounded): multipart bodies
// built from good and bad parts, then cut short or corrupted, under random Content-Types, framings and
// extra headers; and media requests with random Range / conditional / Cache-Control values. The origin
// must answer every complete request with a non-5xx status (JSON {code, message} for errors), keep
// answering /healthz, never send more than the whole file, and leave no temp file or stray row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { startTestOrigin, request, sendRaw, fixtureBytes, multipart, wavOfSize, type FormPart, type RawExchange } from './helpers/origin.ts';
import { checkAsyncProperty } from './helpers/property.ts';

const json = (r: { body: Buffer | string }) => JSON.parse(r.body.toString());

/** Printable header text, sometimes with bytes a header may not carry (NUL, DEL, obs-text). */
const headerText = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 }),
  fc.string({ unit: fc.constantFrom('a', ' ', '\t', '\u0000', '\u007f', '\u00e9', ';', '=', '"', ','), maxLength: 20 }),
);
const tokenText = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_!#$%&*+.^`|~'), minLength: 1, maxLength: 20 });
const extraHeaders = fc.array(fc.tuple(fc.oneof(tokenText, fc.constantFrom('range', 'if-none-match', 'cache-control', 'expect', 'content-encoding', 'x-forwarded-for', 'host')), headerText), { maxLength: 5 });

function headerBlock(headers: Array<[string, string]>): string {
  return headers.map(([k, v]) => `${k}: ${v}\r\n`).join('');
}

test('generated and truncated multipart uploads with random headers: the origin always answers and leaves nothing behind', async (t) => {
  // A short idle timeout so that a body cut short without the connection closing is not a wait.
  const o = await startTestOrigin({ origin: { bodyIdleTimeoutMs: 300, maxUploadBytes: 64 * 1024 } });
  t.after(() => o.close());
  const ogg = await fixtureBytes('tone-3s.ogg');
  const png = await fixtureBytes('loop.png');

  const data = fc.oneof(fc.constant(ogg), fc.constant(png), fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a)), fc.constant(Buffer.alloc(0)), fc.constant(Buffer.alloc(70 * 1024, 1)));
  const part: fc.Arbitrary<FormPart> = fc.record({
    name: fc.oneof(fc.constantFrom('file', 'kind', 'title', 'artist', 'album', 'ext', 'type', 'name', 'upload', ''), tokenText),
    value: fc.oneof(fc.constantFrom('song', 'announcement', 'background', 'bogus', '', 'ogg', 'audio/ogg'), fc.string({ maxLength: 40 }), fc.constant('x'.repeat(5000))),
    filename: fc.option(fc.constantFrom('a.ogg', 'b.png', '../../etc/passwd', '', 'ü.mp3', 'a"b.ogg'), { nil: undefined }),
    type: fc.option(fc.constantFrom('audio/ogg', 'image/png', 'text/html', 'application/octet-stream', 'audio/mpeg; x="'), { nil: undefined }),
    data: fc.option(data, { nil: undefined }),
  });
  const body = fc.record({
    parts: fc.array(part, { maxLength: 5 }),
    close: fc.boolean(),
    boundary: fc.constantFrom('b0und4ry', 'x', 'a'.repeat(70), 'with space'),
    cut: fc.option(fc.nat(), { nil: undefined }),
    noise: fc.option(fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 40 })), { nil: undefined }),
  });
  const contentType = fc.oneof(
    fc.constant('form'),
    fc.constant('form-quoted'),
    fc.constantFrom('multipart/form-data; boundary=other', 'multipart/form-data', 'multipart/form-data; boundary=', 'multipart/mixed; boundary=b0und4ry', 'audio/ogg', 'image/png'),
    headerText,
  );
  const framing = fc.constantFrom('length', 'chunked', 'longer', 'none');
  const query = fc.array(fc.tuple(fc.constantFrom('kind', 'title', 'artist', 'type', 'ext', 'name', 'bogus'), fc.constantFrom('song', 'background', 'x', '', 'audio/ogg', '%00')), { maxLength: 3 });

  let created = 0;
  let answered = 0;
  await checkAsyncProperty(
    fc.asyncProperty(body, contentType, framing, query, extraHeaders, fc.boolean(), async (b, ct, frame, q, extra, goodToken) => {
      const form = multipart(b.parts, { boundary: b.boundary, close: b.close });
      let bytes = form.body;
      if (b.noise) {
        const at = b.noise[0] % (bytes.length + 1);
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(b.noise[1]), bytes.subarray(at)]);
      }
      if (b.cut !== undefined) bytes = bytes.subarray(0, b.cut % (bytes.length + 1));
      const type = ct === 'form' ? `multipart/form-data; boundary=${b.boundary}` : ct === 'form-quoted' ? `multipart/form-data; boundary="${b.boundary}"` : ct;
      const target = `/api/media${q.length ? `?${q.map(([k, v]) => `${k}=${v}`).join('&')}` : ''}`;
      const headers: Array<[string, string]> = [['host', 'origin.test'], ['authorization', goodToken ? o.auth.authorization : 'Bearer nope-nope-nope-nope'], ['content-type', type], ['connection', 'close'], ...extra];
      let payload: Buffer = bytes;
      if (frame === 'length') headers.push(['content-length', String(bytes.length)]);
      if (frame === 'longer') headers.push(['content-length', String(bytes.length + 10)]);
      if (frame === 'chunked') {
        headers.push(['transfer-encoding', 'chunked']);
        payload = Buffer.concat([bytes.length ? Buffer.from(`${bytes.length.toString(16)}\r\n`) : Buffer.alloc(0), bytes, Buffer.from(bytes.length ? '\r\n0\r\n\r\n' : '0\r\n\r\n')]);
      }
      const r: RawExchange = await sendRaw(o.url, [`POST ${target} HTTP/1.1\r\n${headerBlock(headers)}\r\n`, payload], { halfClose: true, waitMs: 10_000 });
      // A request whose body the client cut short (it half-closed before the declared length) may get
      // no answer at all; every other one gets one.
      if (r.status === 0) assert.ok(frame === 'longer' || r.closed, `no answer to a complete request:\n${r.text}`);
      else {
        answered++;
        assert.ok(r.status < 500, `status ${r.status}:\n${r.text.slice(0, 400)}`);
        if (r.status === 201) created++;
        else {
          const err = json(r);
          assert.equal(typeof err.code, 'string');
          assert.ok(typeof err.message === 'string' && err.message.length > 0);
        }
      }
      const health = await sendRaw(o.url, ['GET /healthz HTTP/1.1\r\nHost: origin.test\r\nConnection: close\r\n\r\n'], { waitMs: 10_000 });
      assert.equal(health.status, 200, `the origin still answers: ${health.text || '(nothing)'}`);
    }),
    { numRuns: 150, timeLimitMs: 40_000 },
  );
  assert.ok(answered > 0);
  // Clean-up of uploads whose client went away finishes shortly after; then nothing stray is left.
  const deadline = Date.now() + 10_000;
  let files: string[] = [];
  for (;;) {
    files = await readdir(o.tl.mediaDir).catch(() => []);
    if (!files.some((f) => f.startsWith('.tmp-')) || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.deepEqual(files.filter((f) => f.startsWith('.tmp-')), [], 'no temp files');
  const total = json(await request(`${o.url}/api/media`, { headers: o.auth })).total;
  assert.equal(total, created, 'one row per 201');
  assert.equal(files.length, created, 'one file per 201');
});

test('media requests with random Range, If-* and Cache-Control values: never a 5xx, never more than the whole file', async (t) => {
  const o = await startTestOrigin();
  t.after(() => o.close());
  const small = path.join(o.tl.dir, 'small.wav');
  await writeFile(small, wavOfSize(431));
  const items = [await o.add('tone-3s.ogg'), await o.add('loop.png'), await o.addPath(small)];
  const pos = fc.oneof(fc.constant(''), fc.nat({ max: 8000 }).map(String), fc.constantFrom('0', '00', '9007199254740993', '1'.repeat(30)));
  const rangeValue = fc.oneof(
    headerText,
    fc.tuple(fc.constantFrom('bytes=', 'BYTES=', 'bytes =', 'items='), fc.array(fc.tuple(pos, pos), { maxLength: 40 }), fc.constantFrom(',', ', ', ',,'))
      .map(([u, specs, sep]) => u + specs.map(([a, b]) => `${a}-${b}`).join(sep)),
    // Many small disjoint ranges: where multipart framing outweighs the bytes.
    fc.uniqueArray(fc.nat({ max: 300 }), { minLength: 2, maxLength: 20 }).map((ps) => `bytes=${ps.sort((a, b) => a - b).map((p) => `${p * 3}-${p * 3}`).join(',')}`),
  );
  const validators = await Promise.all(items.map(async (item) => (await request(`${o.url}/media/${item.fileName}`, { method: 'HEAD' })).headers));
  const known = validators.flatMap((h) => [String(h.etag), `W/${h.etag}`, `"x", ${h.etag}`, String(h['last-modified'])]);
  const conditionalValue = fc.oneof(headerText, fc.constantFrom(...known, '*', 'Thu, 01 Jan 1970 00:00:00 GMT', 'Fri, 31 Dec 9999 23:59:59 GMT', 'no-cache', 'max-age=0'));
  const conditionalName = fc.constantFrom('if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'if-range', 'cache-control', 'pragma');
  await checkAsyncProperty(
    fc.asyncProperty(
      fc.nat({ max: items.length - 1 }),
      fc.constantFrom('GET', 'HEAD'),
      fc.option(rangeValue, { nil: undefined }),
      fc.array(fc.tuple(conditionalName, conditionalValue), { maxLength: 4 }),
      extraHeaders,
      async (i, method, range, conditionals, extra) => {
        const item = items[i];
        const headers: Array<[string, string]> = [['host', 'origin.test'], ['connection', 'close'], ...extra, ...conditionals];
        if (range !== undefined) headers.push(['range', range]);
        const r = await sendRaw(o.url, [`${method} /media/${item.fileName} HTTP/1.1\r\n${headerBlock(headers)}\r\n`], { waitMs: 10_000 });
        assert.ok(r.status > 0 && r.status < 500, `status ${r.status}:\n${r.text.slice(0, 300)}`);
        const length = /\r\ncontent-length: (\d+)/i.exec(r.text)?.[1];
        if (r.status === 200 || r.status === 206) {
          assert.ok(Number(length) <= item.byteSize, `${length} bytes for a ${item.byteSize}-byte file`);
          if (method === 'GET') assert.equal(Buffer.byteLength(r.text, 'latin1') - r.text.indexOf('\r\n\r\n') - 4, Number(length), 'Content-Length matches the body');
        }
      },
    ),
    { numRuns: 300, timeLimitMs: 30_000 },
  );
  assert.equal((await request(`${o.url}/healthz`)).status, 200);
});
