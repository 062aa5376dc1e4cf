// Text a database dialect cannot store unchanged (NUL, unpaired surrogates) is refused where it comes in,
// on both dialects alike, naming the field: 400 from the API, exit 3 from the CLI; nothing is stored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { cliInProcess } from './helpers/cli.ts';
import { EXIT } from '../src/errors.ts';
import { textDefect } from '../src/media/text.ts';
import { fixtureBytes, multipart, request, startTestOrigin, type FormPart } from './helpers/origin.ts';
import { FIXTURES, makeTestLibrary } from './helpers/library.ts';
import { folderHashes, tableRows } from './helpers/backup.ts';

const json = (r: { body: Buffer }) => JSON.parse(r.body.toString('utf8')) as { code: string; message: string };

test('textDefect: NUL only where PostgreSQL stores the text, unpaired surrogates everywhere', () => {
  const rows: Array<[string, 'sqlite' | 'postgres' | undefined, RegExp | undefined]> = [
    ['plain Zoë 𝄞 "quoted"\nline two', undefined, undefined],
    ['a\u0000b', undefined, /NUL character \(U\+0000\) at character 2, which PostgreSQL cannot store/],
    ['a\u0000b', 'postgres', /NUL/],
    ['a\u0000b', 'sqlite', undefined],
    ['\ud800', 'sqlite', /unpaired UTF-16 surrogate/],
    ['x\udfff', 'postgres', /unpaired UTF-16 surrogate/],
    ['\ud834\udd1e', undefined, undefined],
    ['\ufffd', undefined, undefined],
  ];
  for (const [value, dialect, expected] of rows) {
    const got = textDefect(value, dialect);
    if (expected === undefined) assert.equal(got, undefined, JSON.stringify(value));
    else assert.match(got ?? '', expected, JSON.stringify(value));
  }
});

test('the API answers 400 naming the field for NUL or an unpaired surrogate in title, artist, album or q, and stores nothing', async (t) => {
  const o = await startTestOrigin();
  t.after(() => o.close());
  const song = await o.add('tone-3s.mp3', { kind: 'song', title: 'Tone', artist: 'Osc', album: null });
  const rowsBefore = await tableRows(o.tl.db);
  const filesBefore = await folderHashes(o.tl.mediaDir);
  const mp3 = await fixtureBytes('tone-3s.mp3');
  const post = (query: string) => request(`${o.url}/api/media?${query}`, { method: 'POST', headers: { ...o.auth, 'content-type': 'audio/mpeg' }, body: mp3 });
  const form = (parts: FormPart[]) => {
    const f = multipart(parts);
    return request(`${o.url}/api/media`, { method: 'POST', headers: { ...o.auth, 'content-type': f.type }, body: f.body });
  };
  const patch = (body: string) => request(`${o.url}/api/media/${song.id}`, { method: 'PATCH', headers: { ...o.auth, 'content-type': 'application/json' }, body });
  const cases: Array<[string, Promise<{ status: number; body: Buffer }>, string]> = [
    ['raw upload, NUL in title', post('kind=song&title=a%00b'), 'title'],
    ['raw upload, NUL in artist', post('kind=song&title=ok&artist=%00'), 'artist'],
    ['raw upload, NUL in album', post('kind=song&title=ok&album=x%00'), 'album'],
    ['multipart upload, NUL in title', form([{ name: 'kind', value: 'announcement' }, { name: 'title', value: 'gate\u00004' }, { name: 'file', filename: 'tone-3s.mp3', type: 'audio/mpeg', data: mp3 }]), 'title'],
    ['edit, NUL in title', patch('{"title":"a\\u0000b"}'), 'title'],
    ['edit, unpaired surrogate in artist', patch('{"artist":"\\ud800x"}'), 'artist'],
    ['edit, NUL in album', patch('{"album":"\\u0000"}'), 'album'],
    ['list, NUL in q', request(`${o.url}/api/media?q=%00`, { headers: o.auth }), 'q'],
  ];
  for (const [what, pending, field] of cases) {
    const r = await pending;
    assert.equal(r.status, 400, `${what}: ${r.body.toString()}`);
    const body = json(r);
    assert.equal(body.code, 'bad_text', what);
    assert.match(body.message, new RegExp(`^${field} contains (a NUL character|an unpaired UTF-16 surrogate)`), what);
  }
  assert.deepEqual(await tableRows(o.tl.db), rowsBefore, 'no row changed');
  assert.deepEqual(await folderHashes(o.tl.mediaDir), filesBefore, 'no file stored');
});

test('the CLI exits 3 naming the field, with one line on stderr, and stores nothing', async (t) => {
  const tl = await makeTestLibrary();
  t.after(() => tl.close());
  const mediacdn = cliInProcess({ MEDIACDN_DATA: tl.dir, DATABASE_URL: tl.testDb.url }, tl.dir);
  const file = path.join(FIXTURES, 'tone-3s.mp3');
  for (const [args, field] of [
    [['--song', '--title', 'a\u0000b'], 'title'],
    [['--song', '--title', 'ok', '--artist', 'x\u0000'], 'artist'],
    [['--song', '--title', 'ok', '--album', '\udc00'], 'album'],
    [['--background', '--title', '\ud800'], 'title'],
  ] as const) {
    const r = await mediacdn('add', file, ...args);
    assert.equal(r.code, EXIT.input, r.err);
    assert.match(r.err, new RegExp(`^mediacdn: ${file.replace(/[.]/g, '\\.')}: ${field} contains (a NUL character|an unpaired UTF-16 surrogate)[^\\n]*$`));
  }
  const ls = await mediacdn('ls', '--search', 'a\u0000');
  assert.equal(ls.code, EXIT.input, ls.err);
  assert.match(ls.err, /^mediacdn: q contains a NUL/);
  assert.deepEqual(await tableRows(tl.db), { media: [], songs: [], announcements: [], backgrounds: [] });
  assert.deepEqual(await folderHashes(tl.mediaDir), {});
});
