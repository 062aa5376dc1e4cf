// The ingest pipeline against a real database (SQLite, or PostgreSQL when DATABASE_URL is set) and folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { readdir, readFile, writeFile, utimes } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { sql } from 'kysely';
import { ingest } from '../src/media/ingest.ts';
import { deleteMedia, getMedia, listMedia, updateMetadata } from '../src/media/catalog.ts';
import { checkLibrary } from '../src/media/check.ts';
import { FILE_NAME_RE } from '../src/media/keys.ts';
import { makeTestLibrary, FIXTURES } from './helpers/library.ts';

const fixture = (name: string) => createReadStream(path.join(FIXTURES, name));

test('each fixture is stored under a key with the type, size, hash and facts of its content', async (t) => {
  const tl = await makeTestLibrary();
  t.after(() => tl.close());
  const cases = [
    { file: 'tone-3s.mp3', type: 'audio/mpeg', ext: 'mp3', durationMs: [2900, 3100] },
    { file: 'tone-3s.ogg', type: 'audio/ogg', ext: 'ogg', durationMs: [2900, 3100] },
    { file: 'blip-1s.wav', type: 'audio/wav', ext: 'wav', durationMs: [990, 1010] },
    { file: 'loop.png', type: 'image/png', ext: 'png', size: [64, 36] },
    { file: 'loop.gif', type: 'image/gif', ext: 'gif', size: [32, 18] },
  ];
  for (const c of cases) {
    const bytes = await readFile(path.join(FIXTURES, c.file));
    const item = await ingest(tl.lib, { source: fixture(c.file), originalName: c.file, metadata: { kind: 'song', title: c.file } });
    assert.match(item.fileName, FILE_NAME_RE, c.file);
    assert.ok(item.fileName.endsWith(`.${c.ext}`), c.file);
    assert.equal(item.contentType, c.type, c.file);
    assert.equal(item.byteSize, bytes.length);
    assert.equal(item.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.equal(item.url, `http://media.test/media/${item.fileName}`);
    assert.deepEqual(await readFile(path.join(tl.mediaDir, item.fileName)), bytes);
    if (c.durationMs) assert.ok(item.durationMs! >= c.durationMs[0] && item.durationMs! <= c.durationMs[1], `${c.file} duration ${item.durationMs}`);
    if (c.size) assert.deepEqual([item.width, item.height], c.size);
  }
  const { total } = await listMedia(tl.lib);
  assert.equal(total, cases.length);
});

test('the type is taken from the declaration, checked against the bytes, and the extension derived', async (t) => {
  const tl = await makeTestLibrary();
  t.after(() => tl.close());
  const sniffedOnly = await ingest(tl.lib, { source: fixture('tone-3s.mp3') });
  assert.equal(sniffedOnly.contentType, 'audio/mpeg');
  assert.ok(sniffedOnly.fileName.endsWith('.mp3'));
  const alias = await ingest(tl.lib, { source: fixture('blip-1s.wav'), declaredType: 'audio/x-wav' });
  assert.equal(alias.contentType, 'audio/wav');
  const rejected: Array<[string, Parameters<typeof ingest>[1], string]> = [
    ['text declared as audio/mpeg', { source: fixture('not-audio.mp3'), declaredType: 'audio/mpeg' }, 'type_mismatch'],
    ['text with an .mp3 name', { source: fixture('not-audio.mp3'), originalName: 'not-audio.mp3' }, 'type_mismatch'],
    ['an MP3 declared as image/png', { source: fixture('tone-3s.mp3'), declaredType: 'image/png' }, 'type_mismatch'],
    ['a PNG declared as audio/ogg', { source: fixture('loop.png'), declaredType: 'audio/ogg' }, 'type_mismatch'],
    ['text with no type at all', { source: fixture('not-audio.mp3') }, 'unsupported_type'],
    ['a type off the allow-list', { source: fixture('tone-3s.mp3'), declaredType: 'text/html' }, 'unsupported_type'],
    ['an extension that does not fit', { source: fixture('tone-3s.mp3'), declaredType: 'audio/mpeg', ext: 'png' }, 'bad_extension'],
    ['an empty file', { source: Readable.from([]), declaredType: 'audio/mpeg' }, 'empty_file'],
    ['a song without a title', { source: fixture('tone-3s.mp3'), metadata: { kind: 'song', title: ' ' } }, 'title_required'],
  ];
  for (const [what, input, code] of rejected) {
    await assert.rejects(ingest(tl.lib, input), (err: { code?: string }) => err.code === code, what);
  }
  assert.equal((await listMedia(tl.lib)).total, 2);
  assert.equal((await readdir(tl.mediaDir)).length, 2, 'rejected files leave nothing behind');
});

test('50 concurrent adds give 50 distinct files and rows', async (t) => {
  const tl = await makeTestLibrary();
  t.after(() => tl.close());
  const items = await Promise.all(
    Array.from({ length: 50 }, (_, i) => ingest(tl.lib, { source: fixture('tone-3s.ogg'), declaredType: 'audio/ogg', metadata: { kind: 'announcement', title: `a${i}` } })),
  );
  assert.equal(new Set(items.map((i) => i.fileName)).size, 50);
  assert.equal(new Set(items.map((i) => i.id)).size, 50);
  assert.equal((await readdir(tl.mediaDir)).length, 50);
  assert.equal((await listMedia(tl.lib, { kind: 'announcement', limit: 1000 })).total, 50);
});

test('an existing file is never overwritten: a colliding key is redrawn', async (t) => {
  const keys = ['aaaaaaaaaaaaaaaaaaaa', 'aaaaaaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbbbbbb'];
  const tl = await makeTestLibrary({ keySource: () => keys.shift()! });
  t.after(() => tl.close());
  const first = await ingest(tl.lib, { source: fixture('tone-3s.mp3') });
  assert.equal(first.fileName, 'aaaaaaaaaaaaaaaaaaaa.mp3');
  const second = await ingest(tl.lib, { source: fixture('tone-3s.mp3'), declaredType: 'audio/mpeg' });
  assert.equal(second.fileName, 'bbbbbbbbbbbbbbbbbbbb.mp3');
  assert.deepEqual(await readFile(path.join(tl.mediaDir, first.fileName)), await readFile(path.join(FIXTURES, 'tone-3s.mp3')));
  assert.equal(keys.length, 0);
});

test('a key source that only collides gives up instead of overwriting', async (t) => {
  const tl = await makeTestLibrary({ keySource: () => 'cccccccccccccccccccc' });
  t.after(() => tl.close());
  await ingest(tl.lib, { source: fixture('tone-3s.mp3') });
  await assert.rejects(ingest(tl.lib, { source: fixture('tone-3s.mp3') }), { code: 'key_exhausted' });
  assert.deepEqual(await readdir(tl.mediaDir), ['cccccccccccccccccccc.mp3']);
});

test('a failed insert leaves no file', async (t) => {
  const tl = await makeTestLibrary();
  t.after(() => tl.close());
  // A unique index makes the second song's metadata insert fail inside the transaction.
  await sql`create unique index songs_title_unique on songs (title)`.execute(tl.db.kysely);
  await ingest(tl.lib, { source: fixture('tone-3s.mp3'), metadata: { kind: 'song', title: 'same' } });
  await assert.rejects(ingest(tl.lib, { source: fixture('tone-3s.ogg'), metadata: { kind: 'song', title: 'same' } }));
  assert.equal((await listMedia(tl.lib)).total, 1);
  assert.equal((await readdir(tl.mediaDir)).length, 1);
});

test('a failed copy leaves no row and no temp file', async (t) => {
  const tl = await makeTestLibrary();
  t.after(() => tl.close());
  const mp3 = await readFile(path.join(FIXTURES, 'tone-3s.mp3'));
  const broken = new Readable({
    read() {
      this.push(mp3.subarray(0, 4096));
      this.destroy(new Error('disk read failed'));
    },
  });
  await assert.rejects(ingest(tl.lib, { source: broken, declaredType: 'audio/mpeg' }), /disk read failed/);
  await assert.rejects(ingest(tl.lib, { source: fixture('tone-3s.mp3'), maxBytes: 1000 }), { code: 'too_large', status: 413 });
  assert.equal((await listMedia(tl.lib)).total, 0);
  assert.deepEqual(await readdir(tl.mediaDir), []);
});

test('deleting media that metadata points at is refused unless forced', async (t) => {
  const tl = await makeTestLibrary();
  t.after(() => tl.close());
  const song = await ingest(tl.lib, { source: fixture('tone-3s.mp3'), metadata: { kind: 'song', title: 'Tone', artist: 'Gen' } });
  const bare = await ingest(tl.lib, { source: fixture('loop.png') });
  await assert.rejects(deleteMedia(tl.lib, song.id), { code: 'media_in_use', status: 409 });
  assert.ok(await getMedia(tl.lib, song.id));
  await deleteMedia(tl.lib, bare.fileName);
  await deleteMedia(tl.lib, song.id, { force: true });
  assert.equal((await listMedia(tl.lib)).total, 0);
  assert.deepEqual(await readdir(tl.mediaDir), []);
  await assert.rejects(deleteMedia(tl.lib, 999), { status: 404 });
});

test('metadata can be searched, filtered and edited', async (t) => {
  const tl = await makeTestLibrary();
  t.after(() => tl.close());
  const song = await ingest(tl.lib, { source: fixture('tone-3s.mp3'), metadata: { kind: 'song', title: 'Morning 100%', artist: 'The Band' } });
  await ingest(tl.lib, { source: fixture('tone-3s.ogg'), metadata: { kind: 'announcement', title: 'Station ID' } });
  await ingest(tl.lib, { source: fixture('loop.gif'), metadata: { kind: 'background', title: 'Loop' } });
  assert.equal((await listMedia(tl.lib, { q: 'band' })).items[0]?.id, song.id);
  assert.equal((await listMedia(tl.lib, { q: '100%' })).total, 1);
  assert.equal((await listMedia(tl.lib, { q: '_' })).total, 0, 'LIKE wildcards are escaped');
  assert.equal((await listMedia(tl.lib, { kind: 'background' })).items[0]?.title, 'Loop');
  const edited = await updateMetadata(tl.lib, song.id, { title: 'Evening', album: 'Live' });
  assert.deepEqual([edited.kind, edited.title, edited.artist, edited.album], ['song', 'Evening', 'The Band', 'Live']);
  const moved = await updateMetadata(tl.lib, song.id, { kind: 'announcement' });
  assert.deepEqual([moved.kind, moved.title, moved.artist], ['announcement', 'Evening', null]);
});

test('check finds a missing file, a corrupted file and an orphan; --fix removes only old orphans and temps', async (t) => {
  let now = new Date('2026-11-26T12:00:00Z');
  const tl = await makeTestLibrary({ now: () => now });
  t.after(() => tl.close());
  const a = await ingest(tl.lib, { source: fixture('tone-3s.mp3') });
  const b = await ingest(tl.lib, { source: fixture('tone-3s.ogg') });
  const c = await ingest(tl.lib, { source: fixture('blip-1s.wav') });
  assert.deepEqual((await checkLibrary(tl.lib)).problems, []);

  await (await import('node:fs/promises')).unlink(path.join(tl.mediaDir, a.fileName));
  const bytes = await readFile(path.join(tl.mediaDir, b.fileName));
  bytes[100] ^= 0xff;
  await writeFile(path.join(tl.mediaDir, b.fileName), bytes);
  const orphan = path.join(tl.mediaDir, 'zzzzzzzzzzzzzzzzzzzz.mp3');
  await writeFile(orphan, 'orphan');
  await writeFile(path.join(tl.mediaDir, '.tmp-1-deadbeef'), 'partial');
  const mtime = new Date('2026-11-26T11:30:00Z');
  await utimes(orphan, mtime, mtime);
  await utimes(path.join(tl.mediaDir, '.tmp-1-deadbeef'), mtime, mtime);

  const report = await checkLibrary(tl.lib);
  assert.deepEqual(report.problems.map((p) => [p.kind, p.fileName]).sort(), [
    ['hash-mismatch', b.fileName],
    ['missing-file', a.fileName],
    ['orphan-file', 'zzzzzzzzzzzzzzzzzzzz.mp3'],
    ['stale-temp', '.tmp-1-deadbeef'],
  ].sort());

  const young = await checkLibrary(tl.lib, { fix: true });
  assert.deepEqual(young.fixed, [], 'files younger than an hour are kept');
  now = new Date('2026-11-26T13:00:00Z');
  const fixed = await checkLibrary(tl.lib, { fix: true });
  assert.deepEqual(fixed.fixed.sort(), ['.tmp-1-deadbeef', 'zzzzzzzzzzzzzzzzzzzz.mp3']);
  assert.ok(await getMedia(tl.lib, a.id), 'records are never removed by --fix');
  assert.deepEqual((await readdir(tl.mediaDir)).sort(), [b.fileName, c.fileName].sort());
});
