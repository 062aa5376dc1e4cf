// The origin against hostile clients: malformed uploads, bodies and headers sent slowly, oversized
// request lines and headers, request smuggling, path traversal and spoofed client addresses. Each
// answer is a clear 4xx; nothing is left behind; the origin keeps serving everyone else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { startTestOrigin, request, sendRaw, fixtureBytes, multipart, makeWav, waitFor, type TestOrigin, type FormPart } from './helpers/origin.ts';

const json = (r: { body: Buffer | string }) => JSON.parse(r.body.toString());

/** Files in the media folder, temp files included. */
const mediaFiles = (o: TestOrigin) => readdir(o.tl.mediaDir).catch(() => [] as string[]);

async function assertNothingStored(o: TestOrigin, what: string): Promise<void> {
  assert.deepEqual(await mediaFiles(o), [], `${what}: no file or temp file left behind`);
  const list = json(await request(`${o.url}/api/media`, { headers: o.auth }));
  assert.equal(list.total, 0, `${what}: no row left behind`);
}

test('malformed multipart uploads get a 400 with a message, leave nothing behind, and the origin keeps answering', async (t) => {
  // One worker's worth of origin: before, the first of these took the process down.
  const o = await startTestOrigin();
  t.after(() => o.close());
  const ogg = await fixtureBytes('tone-3s.ogg');
  const file = (extra: Partial<FormPart> = {}): FormPart => ({ name: 'file', filename: 'a.ogg', type: 'audio/ogg', data: ogg, ...extra });
  const form = (parts: FormPart[], opts?: Parameters<typeof multipart>[1]) => multipart(parts, opts);
  const cases: Array<[string, { body: Buffer; type: string }, string]> = [
    ['wrong file field name', form([file({ name: 'upload' })]), 'unknown_field'],
    ['a song without a title', form([{ name: 'kind', value: 'song' }, file({ filename: 'noext' })]), 'title_required'],
    ['kind=bogus', form([{ name: 'kind', value: 'bogus' }, { name: 'title', value: 'x' }, file()]), 'bad_kind'],
    ['a background with an artist', form([{ name: 'kind', value: 'background' }, { name: 'title', value: 'x' }, { name: 'artist', value: 'y' }, file()]), 'bad_field'],
    ['no closing boundary', form([file()], { close: false }), 'bad_multipart'],
    ['no closing boundary, metadata first', form([{ name: 'kind', value: 'song' }, { name: 'title', value: 'x' }, file()], { close: false }), 'bad_multipart'],
    ['title without kind', form([{ name: 'title', value: 'x' }, file()]), 'kind_required'],
    ['two files', form([file(), file()]), 'too_many_files'],
    ['a file under another name, then the file', form([file({ name: 'other' }), file()]), 'unknown_field'],
    ['field after the file', form([file(), { name: 'kind', value: 'song' }]), 'field_after_file'],
    ['the file cut in the middle', { ...form([file()]), body: form([file()]).body.subarray(0, 3000) }, 'bad_multipart'],
    ['a part header cut in the middle', { ...form([file()]), body: Buffer.from('--test-boundary-3f9a\r\nContent-Disposition: form-da') }, 'bad_multipart'],
    ['a boundary that never appears', { ...form([file()]), type: 'multipart/form-data; boundary=other' }, 'bad_multipart'],
    ['no boundary parameter', { ...form([file()]), type: 'multipart/form-data; charset=utf-8' }, 'bad_multipart'],
    ['empty form', { body: Buffer.from('--test-boundary-3f9a--\r\n'), type: 'multipart/form-data; boundary=test-boundary-3f9a' }, 'file_required'],
    ['field value too long', form([{ name: 'title', value: 'x'.repeat(5000) }, file()]), 'field_too_long'],
  ];
  for (const [what, f, code] of cases) {
    const r = await request(`${o.url}/api/media`, { method: 'POST', headers: { ...o.auth, 'content-type': f.type }, body: f.body });
    assert.equal(r.status, 400, `${what}: ${r.body}`);
    assert.equal(json(r).code, code, what);
    assert.ok(json(r).message.length > 0, what);
    assert.equal((await request(`${o.url}/healthz`)).status, 200, `${what}: the origin still answers`);
    // The 400 goes out only once the upload is cleaned up, so nothing is left at this point already.
    await assertNothingStored(o, what);
  }
  // The same torn form sent and then abandoned by the client: cleaned up once the socket goes.
  const torn = form([file()], { close: false });
  const head = `POST /api/media HTTP/1.1\r\nHost: x\r\nAuthorization: ${o.auth.authorization}\r\nContent-Type: ${torn.type}\r\nContent-Length: ${torn.body.length + 100}\r\n\r\n`;
  await sendRaw(o.url, [head, torn.body], { halfClose: true, waitMs: 2000 });
  await waitFor(async () => ((await mediaFiles(o)).length === 0 ? true : undefined));
  await assertNothingStored(o, 'abandoned torn form');
  const ok = form([{ name: 'kind', value: 'song' }, { name: 'title', value: 'Fine' }, file()]);
  assert.equal((await request(`${o.url}/api/media`, { method: 'POST', headers: { ...o.auth, 'content-type': ok.type }, body: ok.body })).status, 201, 'a good upload still works');
});

test('a body that stops arriving is cut with 408 and cleaned up; 50 trickling clients hold nothing', async (t) => {
  const o = await startTestOrigin({ origin: { bodyIdleTimeoutMs: 200 } });
  t.after(() => o.close());
  const ogg = await fixtureBytes('tone-3s.ogg');
  const head = (type: string, length: number) => `POST /api/media HTTP/1.1\r\nHost: x\r\nAuthorization: ${o.auth.authorization}\r\nContent-Type: ${type}\r\nContent-Length: ${length}\r\n\r\n`;

  // A raw upload that stops after 3000 of 7049 bytes, and a multipart one that stops inside the file.
  const raw = await sendRaw(o.url, [head('audio/ogg', ogg.length), ogg.subarray(0, 3000)]);
  assert.equal(raw.status, 408, raw.text);
  assert.equal(json(raw).code, 'body_timeout');
  assert.ok(raw.closed, 'the connection is closed');
  const f = multipart([{ name: 'kind', value: 'song' }, { name: 'title', value: 'x' }, { name: 'file', filename: 'a.ogg', type: 'audio/ogg', data: ogg }]);
  const mp = await sendRaw(o.url, [head(f.type, f.body.length), f.body.subarray(0, 4000)]);
  assert.equal(mp.status, 408, mp.text);
  await waitFor(async () => ((await mediaFiles(o)).length === 0 ? true : undefined));
  await assertNothingStored(o, 'idle bodies');

  // 50 clients sending a byte a second, slower than the idle timeout: every socket is released (the
  // clients would need 20 s to finish their bodies; the origin cuts each after the first gap).
  const trickles = await Promise.all(
    Array.from({ length: 50 }, () => sendRaw(o.url, [head('audio/ogg', 1000), ...Array.from({ length: 20 }, () => 'x')], { gapMs: 1000, waitMs: 30_000 })),
  );
  assert.deepEqual(trickles.map((r) => [r.status, r.closed]), trickles.map(() => [408, true]));
  assert.equal((await request(`${o.url}/healthz`)).status, 200);

  // A body nobody reads (GET /healthz with a body) is cut the same way once the answer is out.
  const get = await sendRaw(o.url, ['GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc']);
  assert.equal(get.status, 200);
  assert.ok(get.closed, 'the connection with the stalled body is closed');
  await waitFor(async () => ((await mediaFiles(o)).length === 0 ? true : undefined));
});

test('an upload at a steady pace is never cut, however much longer than the idle timeout it takes', async (t) => {
  const o = await startTestOrigin({ origin: { bodyIdleTimeoutMs: 1000 } });
  t.after(() => o.close());
  const wav = makeWav(0.5); // 88 KB
  const chunks: Buffer[] = [];
  for (let i = 0; i < wav.length; i += 2048) chunks.push(wav.subarray(i, i + 2048));
  // 44 chunks, one every 50 ms: about 2.2 s in all, more than twice the idle timeout.
  const head = `POST /api/media?kind=song&title=Slow HTTP/1.1\r\nHost: x\r\nAuthorization: ${o.auth.authorization}\r\nContent-Type: audio/wav\r\nContent-Length: ${wav.length}\r\nConnection: close\r\n\r\n`;
  const r = await sendRaw(o.url, [head, ...chunks], { gapMs: 50, waitMs: 20_000 });
  assert.equal(r.status, 201, r.text.slice(0, 300));
  assert.equal(json(r).byteSize, wav.length);
});

test('slowloris on the headers: a request whose headers never finish gets 408 and is closed', async (t) => {
  const o = await startTestOrigin({ origin: { headersTimeoutMs: 300 } });
  t.after(() => o.close());
  const lines = Array.from({ length: 100 }, (_, i) => `X-Slow-${i}: a\r\n`);
  const r = await sendRaw(o.url, ['GET /healthz HTTP/1.1\r\nHost: x\r\n', ...lines], { gapMs: 100, waitMs: 15_000 });
  assert.ok(r.closed, 'closed before the client ran out of header lines');
  assert.equal(r.status, 408, r.text);
  assert.equal(json(r).code, 'request_timeout');
  assert.equal((await request(`${o.url}/healthz`)).status, 200);
});

test('oversized request lines and headers: 414 and 431 with a JSON message, like the edge', async (t) => {
  const o = await startTestOrigin();
  t.after(() => o.close());
  const many = Array.from({ length: 3000 }, (_, i) => `X-H${i}: v\r\n`).join('');
  const cases: Array<[string, string, number, string]> = [
    ['a 64 KiB header', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(64 * 1024)}\r\n\r\n`, 431, 'headers_too_large'],
    ['a 100 KB URL', `GET /media/${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414, 'uri_too_long'],
    ['3,000 headers', `GET /healthz HTTP/1.1\r\nHost: x\r\n${many}\r\n`, 431, 'headers_too_large'],
    ['not HTTP at all', 'HELLO\r\n\r\n', 400, 'bad_request'],
  ];
  for (const [what, bytes, status, code] of cases) {
    const r = await sendRaw(o.url, [bytes]);
    assert.equal(r.status, status, `${what}: ${r.text.slice(0, 200)}`);
    assert.equal(json(r).code, code, what);
    assert.ok(r.closed, `${what}: closed`);
  }
  assert.equal((await request(`${o.url}/healthz`, { headers: { 'x-pad': 'a'.repeat(8000) } })).status, 200, 'large but legal headers pass');
});

test('request smuggling: conflicting framing is refused with 400 and the hidden request is never answered', async (t) => {
  const o = await startTestOrigin();
  t.after(() => o.close());
  const hidden = 'GET /api/media HTTP/1.1\r\nHost: x\r\n\r\n';
  const variants: Array<[string, string]> = [
    ['CL.TE', `POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${hidden}`],
    ['TE.CL', `POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n${hidden}`],
    ['two Content-Lengths', `POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n${hidden}`],
    ['Content-Length list', `POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0, 44\r\n\r\n${hidden}`],
    ['obfuscated Transfer-Encoding', `POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n${hidden}`],
    ['Transfer-Encoding with a space before the colon', `POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n${hidden}`],
    ['chunked not last', `POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${hidden}`],
    ['bare LF line endings', `POST /healthz HTTP/1.1\nHost: x\nContent-Length: 0\nTransfer-Encoding: chunked\n\n0\n\n${hidden}`],
    ['negative Content-Length', `POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n${hidden}`],
    ['header folding', `POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n Transfer-Encoding: chunked\r\n\r\n${hidden}`],
  ];
  for (const [what, bytes] of variants) {
    const r = await sendRaw(o.url, [bytes], { halfClose: true });
    // RFC 9112 §6.3: 400 and close. When the parser only finds out inside the body, a response to the
    // first request is already under way and the connection is simply closed.
    assert.ok(r.status === 400 || (r.status === 0 && r.closed), `${what}: ${r.text.slice(0, 200)}`);
    assert.ok(r.responses <= 1, `${what}: at most one answer, the hidden request was not parsed`);
    assert.doesNotMatch(r.text, /"items"|401 Unauthorized/, `${what}: nothing of the hidden request`);
  }
});

test('path traversal and spoofed client addresses get nothing: no file outside the library, no admin access', async (t) => {
  const o = await startTestOrigin();
  t.after(() => o.close());
  const item = await o.add('tone-3s.mp3');
  const secrets = [/test-admin-token/, /"name":\s*"mediacdn"/, /root:x:0:0/];
  const targets = [
    '/media/../admin-token', '/media/..%2fadmin-token', '/media/%2e%2e/%2e%2e/package.json', '/media/..%252f..%252fpackage.json',
    '/media/....//....//etc/passwd', '/media/%c0%ae%c0%ae/etc/passwd', '/assets/../../package.json', '/assets/..%2f..%2f..%2fpackage.json',
    '/assets/%2e%2e%2f%2e%2e%2fpackage.json', '/api/media/..%2f..%2fadmin-token', '/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd',
    `/media/${item.fileName}/../../package.json`, `/media/${item.fileName}%00.png`, '/media/.tmp-x', '/admin/../package.json',
  ];
  for (const target of targets) {
    const r = await sendRaw(o.url, [`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`]);
    assert.ok(r.status >= 400 && r.status < 500, `${target}: ${r.status}`);
    for (const s of secrets) assert.doesNotMatch(r.text, s, target);
  }
  // The origin never trusts forwarding headers: an admin route still wants the token.
  const spoofs: Array<Record<string, string>> = [{ 'x-forwarded-for': '127.0.0.1' }, { 'x-real-ip': '127.0.0.1' }, { forwarded: 'for=127.0.0.1' }, { 'x-forwarded-host': 'localhost' }];
  for (const h of spoofs) {
    assert.equal((await request(`${o.url}/api/media`, { headers: h })).status, 401, JSON.stringify(h));
  }
});
