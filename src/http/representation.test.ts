import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planResponse } from './representation.ts';
import type { BodySegment, Representation, ResponsePlan } from './representation.ts';
import type { Headers } from './types.ts';

const LM = Date.UTC(2024, 0, 15, 12, 0, 0);
const LM_TEXT = 'Mon, 15 Jan 2024 12:00:00 GMT';
const REP: Representation = { size: 100, contentType: 'audio/mpeg', etag: '"abc"', lastModified: LM };
const META = { 'accept-ranges': 'bytes', etag: '"abc"', 'last-modified': LM_TEXT };
const opts = { boundary: () => 'B0UND' };
/** Large enough that a few ranges' multipart framing stays well under the whole representation. */
const BIG: Representation = { ...REP, size: 10_000 };

const full = (rep = REP): ResponsePlan => ({
  status: 200,
  headers: { ...META, 'content-type': rep.contentType, 'content-length': String(rep.size) },
  body: rep.size > 0 ? [{ kind: 'bytes', start: 0, end: rep.size - 1 }] : [],
});
const partial = (start: number, end: number, size = 100): ResponsePlan => ({
  status: 206,
  headers: { ...META, 'content-type': 'audio/mpeg', 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': String(end - start + 1) },
  body: [{ kind: 'bytes', start, end }],
});
const unsatisfiable = (size = 100): ResponsePlan => ({
  status: 416,
  headers: { ...META, 'content-range': `bytes */${size}`, 'content-length': '0' },
  body: [],
});
const NOT_MODIFIED: ResponsePlan = { status: 304, headers: { etag: '"abc"', 'last-modified': LM_TEXT }, body: [] };
const FAILED: ResponsePlan = { status: 412, headers: { 'content-length': '0' }, body: [] };

test('planResponse', async (t) => {
  const rows: Array<[string, 'GET' | 'HEAD', Headers, Representation, ResponsePlan | ((p: ResponsePlan) => void)]> = [
    ['plain GET', 'GET', {}, REP, full()],
    ['plain HEAD', 'HEAD', {}, REP, { ...full(), body: [] }],
    ["Safari's bytes=0-1", 'GET', { range: 'bytes=0-1' }, REP, partial(0, 1)],
    ['open-ended', 'GET', { range: 'bytes=40-' }, REP, partial(40, 99)],
    ['suffix', 'GET', { range: 'bytes=-10' }, REP, partial(90, 99)],
    ['suffix longer than size', 'GET', { range: 'bytes=-500' }, REP, partial(0, 99)],
    ['last-pos past the end', 'GET', { range: 'bytes=95-500' }, REP, partial(95, 99)],
    ['HEAD ignores Range', 'HEAD', { range: 'bytes=0-1' }, REP, { ...full(), body: [] }],
    ['invalid Range → 200', 'GET', { range: 'bytes=5-1' }, REP, full()],
    ['other unit → 200', 'GET', { range: 'items=0-1' }, REP, full()],
    ['unsatisfiable', 'GET', { range: 'bytes=100-' }, REP, unsatisfiable()],
    ['bytes=-0', 'GET', { range: 'bytes=-0' }, REP, unsatisfiable()],
    ['bytes=0- on a 0-byte file', 'GET', { range: 'bytes=0-' }, { ...REP, size: 0 }, unsatisfiable(0)],
    ['bytes=-5 on a 0-byte file → 200 empty', 'GET', { range: 'bytes=-5' }, { ...REP, size: 0 }, full({ ...REP, size: 0 })],
    ['0-byte GET', 'GET', {}, { ...REP, size: 0 }, full({ ...REP, size: 0 })],
    ['overlapping ranges coalesce to one part', 'GET', { range: 'bytes=0-10,5-20' }, REP, partial(0, 20)],
    ['25 ranges → 200', 'GET', { range: 'bytes=' + Array.from({ length: 25 }, (_, i) => `${i * 3}-${i * 3}`).join(',') }, REP, full()],
    ['If-Range strong match', 'GET', { range: 'bytes=0-1', 'if-range': '"abc"' }, REP, partial(0, 1)],
    ['If-Range strong mismatch', 'GET', { range: 'bytes=0-1', 'if-range': '"old"' }, REP, full()],
    ['If-Range weak etag', 'GET', { range: 'bytes=0-1', 'if-range': 'W/"abc"' }, REP, full()],
    ['If-Range date match', 'GET', { range: 'bytes=0-1', 'if-range': LM_TEXT }, REP, partial(0, 1)],
    ['If-Range date mismatch', 'GET', { range: 'bytes=0-1', 'if-range': 'Mon, 15 Jan 2024 12:00:01 GMT' }, REP, full()],
    ['If-Range date, weak Last-Modified', 'GET', { range: 'bytes=0-1', 'if-range': LM_TEXT }, { ...REP, lastModifiedWeak: true }, full()],
    ['If-Range failing → 200 even if unsatisfiable', 'GET', { range: 'bytes=500-', 'if-range': '"old"' }, REP, full()],
    ['If-Range without Range is ignored', 'GET', { 'if-range': '"old"' }, REP, full()],
    ['If-None-Match → 304', 'GET', { 'if-none-match': '"abc"' }, REP, NOT_MODIFIED],
    ['If-None-Match → 304 for HEAD', 'HEAD', { 'if-none-match': 'W/"abc"' }, REP, NOT_MODIFIED],
    ['304 beats Range', 'GET', { 'if-none-match': '"abc"', range: 'bytes=0-1' }, REP, NOT_MODIFIED],
    ['If-Modified-Since → 304', 'GET', { 'if-modified-since': LM_TEXT }, REP, NOT_MODIFIED],
    ['If-Match mismatch → 412', 'GET', { 'if-match': '"zzz"', range: 'bytes=0-1' }, REP, FAILED],
    ['If-Match match + Range', 'GET', { 'if-match': '"abc"', range: 'bytes=0-1' }, REP, partial(0, 1)],
    ['no validators: 304 without meta', 'GET', { 'if-none-match': '*' }, { size: 3, contentType: 'text/plain' }, { status: 304, headers: {}, body: [] }],
    ['no validators: 200', 'GET', {}, { size: 3, contentType: 'text/plain' }, {
      status: 200, headers: { 'accept-ranges': 'bytes', 'content-type': 'text/plain', 'content-length': '3' }, body: [{ kind: 'bytes', start: 0, end: 2 }],
    }],
    ['multi-range, request order kept', 'GET', { range: 'bytes=50-59,0-9' }, BIG, (p) => {
      assert.equal(p.status, 206);
      assert.equal(p.headers['content-type'], 'multipart/byteranges; boundary=B0UND');
      assert.equal(p.headers['content-range'], undefined);
      assert.deepEqual(p.body.filter((s) => s.kind === 'bytes'), [{ kind: 'bytes', start: 50, end: 59 }, { kind: 'bytes', start: 0, end: 9 }]);
    }],
    ['multi-range with overlap coalesced', 'GET', { range: 'bytes=0-9,5-14,9990-' }, BIG, (p) => {
      assert.deepEqual(p.body.filter((s) => s.kind === 'bytes'), [{ kind: 'bytes', start: 0, end: 14 }, { kind: 'bytes', start: 9990, end: 9999 }]);
    }],
    // Never more than the whole: 20 one-byte ranges of a 431-byte file were a 1,820-byte 206.
    ['20 one-byte ranges of 431 bytes → 200', 'GET', { range: 'bytes=' + Array.from({ length: 20 }, (_, i) => `${i * 20}-${i * 20}`).join(',') }, { ...REP, size: 431 }, full({ ...REP, size: 431 })],
    ['two ranges whose framing outweighs 100 bytes → 200', 'GET', { range: 'bytes=0-1,50-51' }, REP, full()],
    ['the same two ranges of 10,000 bytes → 206', 'GET', { range: 'bytes=0-1,50-51' }, BIG, (p) => {
      assert.equal(p.status, 206);
      assert.ok(Number(p.headers['content-length']) < 10_000);
    }],
  ];
  for (const [name, method, headers, rep, want] of rows) {
    await t.test(name, () => {
      const plan = planResponse(method, headers, rep, opts);
      if (typeof want === 'function') want(plan);
      else assert.deepEqual(plan, want);
    });
  }
});

/** What a server would write: the body built from a real Buffer. */
function serialise(body: BodySegment[], file: Buffer): Buffer {
  return Buffer.concat(body.map((s) => (s.kind === 'text' ? Buffer.from(s.text, 'utf8') : file.subarray(s.start, s.end + 1))));
}

test('multipart body: exact Content-Length and the RFC 9110 §14.6 layout', () => {
  const file = Buffer.from(Array.from({ length: 1000 }, (_, i) => i & 0xff));
  const plan = planResponse('GET', { range: 'bytes=0-1,10-12,-2' }, { ...REP, size: 1000, contentType: 'audio/ogg; codecs="vorbis"' }, opts);
  const wire = serialise(plan.body, file);
  assert.equal(plan.headers['content-length'], String(wire.length));
  const expected = Buffer.concat([
    Buffer.from('--B0UND\r\nContent-Type: audio/ogg; codecs="vorbis"\r\nContent-Range: bytes 0-1/1000\r\n\r\n'),
    file.subarray(0, 2),
    Buffer.from('\r\n--B0UND\r\nContent-Type: audio/ogg; codecs="vorbis"\r\nContent-Range: bytes 10-12/1000\r\n\r\n'),
    file.subarray(10, 13),
    Buffer.from('\r\n--B0UND\r\nContent-Type: audio/ogg; codecs="vorbis"\r\nContent-Range: bytes 998-999/1000\r\n\r\n'),
    file.subarray(998, 1000),
    Buffer.from('\r\n--B0UND--\r\n'),
  ]);
  assert.deepEqual(wire, expected);
});

test('multipart Content-Length is exact for many shapes, including non-ASCII content types', () => {
  const file = Buffer.alloc(1000, 7);
  for (const contentType of ['video/mp4', 'text/plain; charset=utf-8', 'application/x-caf\u00e9']) {
    for (const range of ['bytes=0-0,2-2', 'bytes=0-99,200-299,900-', 'bytes=-1,0-0', 'bytes=1-1,3-3,5-5,7-7,9-9']) {
      const plan = planResponse('GET', { range }, { size: 1000, contentType }, {});
      assert.equal(plan.status, 206);
      assert.match(plan.headers['content-type'], /^multipart\/byteranges; boundary=[0-9a-f]{24}$/);
      assert.equal(plan.headers['content-length'], String(serialise(plan.body, file).length), `${contentType} ${range}`);
    }
  }
});

test('a multipart answer is sent only while it costs less than the whole representation', () => {
  // Two one-byte parts with boundary B0UND and type audio/mpeg: each part head is about 70 bytes.
  const two = 'bytes=0-0,9-9';
  const at = (size: number) => planResponse('GET', { range: two }, { ...REP, size }, opts);
  // The framing depends on the size only through its digits in Content-Range: all sizes here have 3.
  const cost = Number(at(999).headers['content-length']);
  assert.ok(cost > 100 && cost < 998, String(cost));
  assert.equal(at(cost + 1).status, 206);
  assert.equal(Number(at(cost + 1).headers['content-length']), cost);
  assert.equal(at(cost).status, 200, 'as large as the whole → the whole');
  assert.equal(at(cost - 1).status, 200);
});

test('boundary needing quotes is quoted; an invalid one is refused', () => {
  const plan = planResponse('GET', { range: 'bytes=0-0,5-5' }, BIG, { boundary: () => 'a b:c' });
  assert.equal(plan.headers['content-type'], 'multipart/byteranges; boundary="a b:c"');
  assert.throws(() => planResponse('GET', { range: 'bytes=0-0,5-5' }, BIG, { boundary: () => 'bad\r\n' }), { code: 'ERR_HTTP_INVALID_ARGUMENT' });
  assert.throws(() => planResponse('GET', { range: 'bytes=0-0,5-5' }, BIG, { boundary: () => 'x'.repeat(71) }), { code: 'ERR_HTTP_INVALID_ARGUMENT' });
});

test('custom maxRanges is honoured', () => {
  assert.equal(planResponse('GET', { range: 'bytes=0-0,5-5,9-9' }, BIG, { maxRanges: 2 }).status, 200);
  assert.equal(planResponse('GET', { range: 'bytes=0-0,5-5' }, BIG, { maxRanges: 2, boundary: () => 'b' }).status, 206);
});

test('nonsensical representations are programmer errors', () => {
  for (const rep of [{ ...REP, size: -1 }, { ...REP, size: 1.5 }, { ...REP, size: NaN }, { ...REP, contentType: 'a\r\nx: y' }, { ...REP, lastModified: NaN }]) {
    assert.throws(() => planResponse('GET', {}, rep), { code: 'ERR_HTTP_INVALID_ARGUMENT', status: 500 });
  }
});
