// The admin API against a running origin: auth, listing, uploads (raw, multipart, limits, bad input),
// edit and delete (with the cache and the delete hook), /healthz, and the generated token file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { MediaItem } from '../src/media/library.ts';
import { startTestOrigin, request, fixtureBytes, waitFor, multipart, TEST_TOKEN } from './helpers/origin.ts';

const json = (r: { body: Buffer }) => JSON.parse(r.body.toString('utf8'));

test('every API route wants the bearer token: missing or wrong → 401; /healthz is public', async (t) => {
  const o = await startTestOrigin();
  t.after(() => o.close());
  const item = await o.add('tone-3s.mp3');
  const routes: Array<[string, string]> = [['GET', '/api/media'], ['POST', '/api/media'], ['GET', `/api/media/${item.id}`], ['PATCH', `/api/media/${item.id}`], ['DELETE', `/api/media/${item.id}`], ['GET', '/api/nothing']];
  for (const auth of [undefined, 'Bearer wrong-token-wrong-token', `Bearer ${TEST_TOKEN}x`, `Basic ${Buffer.from(`a:${TEST_TOKEN}`).toString('base64')}`, TEST_TOKEN, 'Bearer ']) {
    for (const [method, p] of routes) {
      const r = await request(`${o.url}${p}`, { method, headers: auth ? { authorization: auth } : {} });
      assert.equal(r.status, 401, `${method} ${p} with ${auth}`);
      assert.equal(json(r).code, 'unauthorized');
      assert.match(r.headers['www-authenticate'] ?? '', /^Bearer/);
    }
  }
  assert.equal((await request(`${o.url}/api/media/${item.id}`, { headers: { authorization: `bearer ${TEST_TOKEN}` } })).status, 200, 'scheme is case-insensitive');
  const h = await request(`${o.url}/healthz`);
  assert.equal(h.status, 200);
  assert.deepEqual(json(h), { ok: true, database: 'ok', storage: 'ok' });
});

test('uploads: raw body with metadata in the query, and multipart with fields before the file', async (t) => {
  const o = await startTestOrigin();
  t.after(() => o.close());
  const mp3 = await fixtureBytes('tone-3s.mp3');
  const raw = await request(`${o.url}/api/media?kind=song&title=Tone&artist=Osc`, { method: 'POST', headers: { ...o.auth, 'content-type': 'audio/mpeg' }, body: mp3 });
  assert.equal(raw.status, 201, raw.body.toString());
  const a = json(raw) as MediaItem;
  assert.equal(raw.headers.location, `/api/media/${a.id}`);
  assert.deepEqual([a.kind, a.title, a.artist, a.contentType, a.byteSize], ['song', 'Tone', 'Osc', 'audio/mpeg', mp3.length]);
  assert.equal(a.url, `http://media.test/media/${a.fileName}`);
  assert.ok((await readFile(path.join(o.tl.mediaDir, a.fileName))).equals(mp3));

  const png = await fixtureBytes('loop.png');
  const form = multipart([{ name: 'kind', value: 'background' }, { name: 'title', value: 'Loop' }, { name: 'file', filename: 'loop.png', type: 'image/png', data: png }]);
  const mp = await request(`${o.url}/api/media`, { method: 'POST', headers: { ...o.auth, 'content-type': form.type }, body: form.body });
  assert.equal(mp.status, 201, mp.body.toString());
  const b = json(mp) as MediaItem;
  assert.deepEqual([b.kind, b.title, b.contentType, b.width, b.height], ['background', 'Loop', 'image/png', 64, 36]);

  // No declared type: it comes from the file name or the bytes, as with `mediacdn add`.
  const ogg = multipart([{ name: 'file', filename: 'x.ogg', type: 'application/octet-stream', data: await fixtureBytes('tone-3s.ogg') }]);
  const c = await request(`${o.url}/api/media`, { method: 'POST', headers: { ...o.auth, 'content-type': ogg.type }, body: ogg.body });
  assert.equal(c.status, 201, c.body.toString());
  assert.equal(json(c).contentType, 'audio/ogg');

  const served = await request(`${o.url}/media/${a.fileName}`);
  assert.ok(served.body.equals(mp3), 'an uploaded file is served at once');
});

test('bad uploads: too large (declared and streamed), wrong or unsupported type, unknown fields → 4xx, nothing stored', async (t) => {
  const o = await startTestOrigin({ origin: { maxUploadBytes: 10_000 } });
  t.after(() => o.close());
  const mp3 = await fixtureBytes('tone-3s.mp3'); // 12225 bytes
  const ogg = await fixtureBytes('tone-3s.ogg'); // 7049 bytes, under the limit
  const text = await fixtureBytes('not-audio.mp3');
  const chunked = (body: Buffer) => ({ method: 'POST', body, headers: { ...o.auth, 'content-type': 'audio/mpeg', 'transfer-encoding': 'chunked' } });
  const cases: Array<[string, Parameters<typeof request>[1], number, string]> = [
    ['Content-Length over the limit', { method: 'POST', body: mp3, headers: { ...o.auth, 'content-type': 'audio/mpeg' } }, 413, 'too_large'],
    ['chunked body over the limit', chunked(mp3), 413, 'too_large'],
    ['multipart file over the limit', (() => { const f = multipart([{ name: 'file', filename: 'a.mp3', type: 'audio/mpeg', data: mp3 }]); return { method: 'POST', body: f.body, headers: { ...o.auth, 'content-type': f.type } }; })(), 413, 'too_large'],
    ['text declared as audio', { method: 'POST', body: text, headers: { ...o.auth, 'content-type': 'audio/mpeg' } }, 415, 'type_mismatch'],
    ['type off the allow-list', { method: 'POST', body: ogg, headers: { ...o.auth, 'content-type': 'text/html' } }, 415, 'unsupported_type'],
    ['empty body', { method: 'POST', body: Buffer.alloc(0), headers: { ...o.auth, 'content-type': 'audio/ogg' } }, 400, 'empty_file'],
    ['unknown query field', { method: 'POST', path: '/api/media?colour=red', body: ogg, headers: { ...o.auth, 'content-type': 'audio/ogg' } }, 400, 'unknown_field'],
    ['title without kind', { method: 'POST', path: '/api/media?title=x', body: ogg, headers: { ...o.auth, 'content-type': 'audio/ogg' } }, 400, 'kind_required'],
    ['bad kind', { method: 'POST', path: '/api/media?kind=jingle&title=x', body: ogg, headers: { ...o.auth, 'content-type': 'audio/ogg' } }, 400, 'bad_kind'],
    ['song without a title', { method: 'POST', path: '/api/media?kind=song', body: ogg, headers: { ...o.auth, 'content-type': 'audio/ogg' } }, 400, 'title_required'],
    ['multipart unknown field', (() => { const f = multipart([{ name: 'colour', value: 'red' }, { name: 'file', filename: 'a.ogg', type: 'audio/ogg', data: ogg }]); return { method: 'POST', body: f.body, headers: { ...o.auth, 'content-type': f.type } }; })(), 400, 'unknown_field'],
    ['multipart without a file', (() => { const f = multipart([{ name: 'kind', value: 'song' }]); return { method: 'POST', body: f.body, headers: { ...o.auth, 'content-type': f.type } }; })(), 400, 'file_required'],
    ['multipart field after the file', (() => { const f = multipart([{ name: 'file', filename: 'a.ogg', type: 'audio/ogg', data: ogg }, { name: 'kind', value: 'song' }]); return { method: 'POST', body: f.body, headers: { ...o.auth, 'content-type': f.type } }; })(), 400, 'field_after_file'],
    ['multipart garbage', { method: 'POST', body: Buffer.from('garbage'), headers: { ...o.auth, 'content-type': 'multipart/form-data; boundary=x' } }, 400, 'bad_multipart'],
  ];
  for (const [what, opts, status, code] of cases) {
    const r = await request(`${o.url}/api/media`, opts);
    assert.equal(r.status, status, `${what}: ${r.body}`);
    assert.equal(json(r).code, code, what);
  }
  const list = json(await request(`${o.url}/api/media`, { headers: o.auth }));
  assert.equal(list.total, 0, 'nothing was stored');
  // The field-after-file case stored its file before the late field arrived; it is removed just after.
  const files = await waitFor(async () => {
    const f = await readdir(o.tl.mediaDir);
    return f.length === 0 ? f : undefined;
  }).catch(() => readdir(o.tl.mediaDir));
  assert.deepEqual(files, [], 'no file or temp file left behind');
});

test('listing, reading, editing: paging, kind filter, search; malformed JSON, unknown fields and bad ids → 400', async (t) => {
  const o = await startTestOrigin();
  t.after(() => o.close());
  const song = await o.add('tone-3s.mp3', { kind: 'song', title: 'Morning Tone', artist: 'Oscillator' });
  const ann = await o.add('tone-3s.ogg', { kind: 'announcement', title: 'Station ID' });
  await o.add('loop.png');
  const get = (p: string) => request(`${o.url}${p}`, { headers: o.auth });
  assert.equal(json(await get('/api/media')).total, 3);
  const page = json(await get('/api/media?limit=2&offset=0'));
  assert.equal(page.items.length, 2);
  assert.equal(page.total, 3);
  assert.deepEqual(json(await get('/api/media?kind=announcement')).items.map((i: MediaItem) => i.id), [ann.id]);
  assert.deepEqual(json(await get('/api/media?q=oscill')).items.map((i: MediaItem) => i.id), [song.id]);
  assert.deepEqual(json(await get('/api/media?kind=none')).total, 1);
  assert.equal(json(await get(`/api/media/${song.id}`)).title, 'Morning Tone');
  assert.equal(json(await get(`/api/media/${song.fileName}`)).id, song.id);
  assert.equal((await get('/api/media/999999')).status, 404);

  const patch = (p: string, body: string, type = 'application/json') => request(`${o.url}${p}`, { method: 'PATCH', headers: { ...o.auth, 'content-type': type }, body });
  const ok = await patch(`/api/media/${song.id}`, JSON.stringify({ title: 'Evening Tone', album: 'Tests' }));
  assert.equal(ok.status, 200, ok.body.toString());
  assert.deepEqual([json(ok).title, json(ok).artist, json(ok).album], ['Evening Tone', 'Oscillator', 'Tests']);

  const bad: Array<[string, Promise<Awaited<ReturnType<typeof request>>>, number, string]> = [
    ['malformed JSON', patch(`/api/media/${song.id}`, '{"title": '), 400, 'bad_json'],
    ['unknown field', patch(`/api/media/${song.id}`, JSON.stringify({ title: 'x', colour: 'red' })), 400, 'unknown_field'],
    ['wrong field type', patch(`/api/media/${song.id}`, JSON.stringify({ title: 5 })), 400, 'bad_field'],
    ['bad kind', patch(`/api/media/${song.id}`, JSON.stringify({ kind: 'jingle' })), 400, 'bad_field'],
    ['not JSON at all', patch(`/api/media/${song.id}`, 'title=x', 'application/x-www-form-urlencoded'), 415, 'unsupported_media_type'],
    ['bad id', get('/api/media/abc'), 400, 'bad_id'],
    ['negative id', get('/api/media/-1'), 400, 'bad_id'],
    ['encoded traversal id', get('/api/media/..%2f..%2fadmin-token'), 400, 'bad_id'],
    ['huge id', get('/api/media/99999999999999999999'), 400, 'bad_id'],
    ['unknown list parameter', get('/api/media?sort=asc'), 400, 'unknown_field'],
    ['bad limit', get('/api/media?limit=-3'), 400, 'bad_parameter'],
    ['bad kind filter', get('/api/media?kind=jingle'), 400, 'bad_kind'],
    ['unknown route', get('/api/songs'), 404, 'not_found'],
    ['wrong method', request(`${o.url}/api/media`, { method: 'PUT', headers: o.auth }), 405, 'method_not_allowed'],
  ];
  for (const [what, p, status, code] of bad) {
    const r = await p;
    assert.equal(r.status, status, `${what}: ${r.body}`);
    assert.equal(json(r).code, code, what);
    assert.equal(typeof json(r).message, 'string');
  }
  assert.equal(json(await get(`/api/media/${song.id}`)).title, 'Evening Tone', 'rejected edits changed nothing');
});

test('DELETE: 409 while metadata points at it, then ?force=1; the cache forgets and the hook runs', async (t) => {
  const deleted: MediaItem[] = [];
  const o = await startTestOrigin({ onMediaDeleted: (item) => deleted.push(item) });
  t.after(() => o.close());
  const song = await o.add('tone-3s.mp3', { kind: 'song', title: 'T' });
  const bare = await o.add('loop.png');
  const mediaUrl = (i: MediaItem) => `${o.url}/media/${i.fileName}`;
  assert.equal((await request(mediaUrl(song))).status, 200);
  assert.equal((await request(mediaUrl(bare))).status, 200);
  const del = (p: string) => request(`${o.url}${p}`, { method: 'DELETE', headers: o.auth });

  const refused = await del(`/api/media/${song.id}`);
  assert.equal(refused.status, 409);
  assert.equal(json(refused).code, 'media_in_use');
  assert.match(json(refused).message, /is used by 1 song record\(s\); repeat with \?force=1 to delete them too$/);
  assert.equal((await request(mediaUrl(song))).status, 200);
  assert.equal((await del(`/api/media/${song.id}?force=maybe`)).status, 400);

  assert.equal((await del(`/api/media/${song.id}?force=1`)).status, 200);
  assert.equal((await del(`/api/media/${bare.fileName}`)).status, 200);
  // Both were in the origin's memory cache a moment ago; a delete through the API applies at once.
  assert.equal((await request(mediaUrl(song))).status, 404);
  assert.equal((await request(mediaUrl(bare))).status, 404);
  assert.deepEqual(deleted.map((i) => i.id), [song.id, bare.id]);
  assert.equal((await del(`/api/media/${song.id}`)).status, 404);
});

test('without MEDIACDN_TOKEN a token is generated once into the data folder (mode 0600) and then reused', async (t) => {
  const o = await startTestOrigin({ token: null });
  t.after(() => o.close());
  assert.equal(o.origin.tokenCreated, true);
  const file = path.join(o.tl.dir, 'admin-token');
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal((await readFile(file, 'utf8')).trim(), o.origin.token);
  assert.ok(o.origin.token.length >= 32);
  assert.equal((await request(`${o.url}/api/media`, { headers: o.auth })).status, 200);
  const { resolveAdminToken } = await import('../src/config/token.ts');
  const again = await Promise.all([resolveAdminToken(o.config), resolveAdminToken(o.config)]);
  assert.deepEqual(again, [{ token: o.origin.token, created: false }, { token: o.origin.token, created: false }]);
});
