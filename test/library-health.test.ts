// The dashboard's view of `mediacdn check`: GET /api/library-check flags records whose file is
// missing or has another size (cheap: no file is read), GET /api/library-verify also hashes every
// file and keeps that result for every worker; uploads in progress are not problems.
import assert from 'node:assert/strict';
import { readFile, truncate, unlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { LibraryHealth } from '../src/web/library-health.ts';
import { webAdminJson } from '../src/web/routes.ts';
import { request } from './helpers/origin.ts';
import { startWebOrigin, WEB_TOKEN } from './helpers/web.ts';

const auth = { authorization: `Bearer ${WEB_TOKEN}` };

async function health(url: string, name = 'library-check'): Promise<LibraryHealth> {
  const res = await request(`${url}/api/${name}`, { headers: auth });
  assert.equal(res.status, 200, res.body.toString());
  return JSON.parse(res.body.toString()) as LibraryHealth;
}

describe('library health for the dashboard', () => {
  it('a missing file and a file of another size are flagged at once; a changed content only after a verify, which every worker then shows', async (t) => {
    const w = await startWebOrigin();
    t.after(() => w.close());
    const gone = await w.add('tone-3s.mp3', { kind: 'song', title: 'Gone Tone', artist: 'Lab' });
    const short = await w.add('tone-3s.ogg', { kind: 'song', title: 'Short Tone' });
    const flipped = await w.add('blip-1s.wav', { kind: 'announcement', title: 'Flipped Ident' });
    await w.add('loop.gif', { kind: 'background', title: 'Fine Loop' });

    const clean = await health(w.url);
    assert.deepEqual([clean.records, clean.files, clean.problems, clean.contents], [4, 4, [], null]);

    const media = w.tl.mediaDir;
    await unlink(path.join(media, gone.fileName));
    await truncate(path.join(media, short.fileName), 100);
    const bytes = await readFile(path.join(media, flipped.fileName));
    bytes[bytes.length - 1] ^= 0xff;
    await writeFile(path.join(media, flipped.fileName), bytes);
    // An orphan from long ago is a problem; a fresh one (an upload finishing) is not.
    await writeFile(path.join(media, 'oldorphanfileabcdefg.mp3'), 'x');
    await utimes(path.join(media, 'oldorphanfileabcdefg.mp3'), new Date(Date.now() - 2 * 3_600_000), new Date(Date.now() - 2 * 3_600_000));
    await writeFile(path.join(media, 'neworphanfileabcdefg.mp3'), 'x');

    // The size check is reused for a few seconds: a second worker (its own service) sees the change now.
    const other = webAdminJson({ library: w.library, dataDir: w.tl.dir });
    const sized = (await other['library-check']()) as LibraryHealth;
    const byFile = (h: LibraryHealth) => Object.fromEntries(h.problems.map((p) => [p.fileName, p]));
    assert.deepEqual(Object.keys(byFile(sized)).sort(), [gone.fileName, short.fileName, 'oldorphanfileabcdefg.mp3'].sort());
    assert.equal(byFile(sized)[gone.fileName].kind, 'missing-file');
    assert.equal(byFile(sized)[gone.fileName].title, 'Gone Tone');
    assert.equal(byFile(sized)[gone.fileName].mediaKind, 'song');
    assert.equal(byFile(sized)[gone.fileName].message, `missing file: media ${gone.id} ${gone.fileName}`);
    assert.equal(byFile(sized)[short.fileName].kind, 'size-mismatch');
    assert.equal(byFile(sized)[short.fileName].message, `size mismatch: media ${short.id} ${short.fileName} is 100 bytes, recorded ${short.byteSize}`);
    assert.equal(sized.contents, null);

    const verified = await health(w.url, 'library-verify');
    assert.equal(byFile(verified)[flipped.fileName].kind, 'hash-mismatch');
    assert.equal(byFile(verified)[flipped.fileName].title, 'Flipped Ident');
    assert.equal(verified.contents?.problems, 1);
    assert.equal(verified.contents?.records, 4);
    assert.ok(Date.parse(verified.contents!.checkedAt) <= Date.now());
    // The other worker shows the content result too (it is kept in the data folder).
    const seen = (await other['library-check']()) as LibraryHealth;
    assert.equal(byFile(seen)[flipped.fileName]?.kind, 'hash-mismatch');
    assert.deepEqual(seen.contents, verified.contents);

    // Deleting the damaged record clears its flag without another verify.
    await w.library.db.kysely.deleteFrom('announcements').where('media_id', '=', flipped.id).execute();
    await w.library.db.kysely.deleteFrom('media').where('id', '=', flipped.id).execute();
    const after = (await webAdminJson({ library: w.library, dataDir: w.tl.dir })['library-check']()) as LibraryHealth;
    assert.equal(byFile(after)[flipped.fileName], undefined, 'its file is now an orphan, and too young to count');
    assert.ok(after.problems.every((p) => p.kind !== 'hash-mismatch'));
  });

  it('needs the admin token; a damaged contents file reads as never verified', async (t) => {
    const w = await startWebOrigin();
    t.after(() => w.close());
    for (const name of ['library-check', 'library-verify']) {
      const res = await request(`${w.url}/api/${name}`);
      assert.equal(res.status, 401, name);
      const post = await request(`${w.url}/api/${name}`, { method: 'POST', headers: auth, body: '{}' });
      assert.equal(post.status, 405, name);
      const q = await request(`${w.url}/api/${name}?hash=1`, { headers: auth });
      assert.equal(q.status, 400, name);
    }
    await writeFile(path.join(w.tl.dir, 'library-check.json'), '{"version":1,"checkedAt":');
    assert.equal((await health(w.url)).contents, null);
  });
});
