// The web routes over HTTP, mounted in a real origin: pages with their security headers, the browser's
// TypeScript served as JavaScript, revalidation, names that must not resolve, and the public playlist.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createAssetStore } from '../src/web/assets.ts';
import { contentSecurityPolicy } from '../src/web/routes.ts';
import type { Playlist } from '../src/web/client/playlist-types.ts';
import { rawRequest, request } from './helpers/origin.ts';
import { startWebOrigin, type WebOrigin } from './helpers/web.ts';

describe('web routes in the origin', () => {
  let w: WebOrigin;
  before(async () => {
    w = await startWebOrigin();
    await w.add('tone-3s.mp3', { kind: 'song', title: 'Tone', artist: 'Lab', album: 'Tests' });
    await w.add('blip-1s.wav', { kind: 'announcement', title: 'Ident' });
    await w.add('loop.gif', { kind: 'background', title: 'Loop' });
    await w.add('tone-3s.ogg'); // no metadata: not on the air
  });
  after(() => w.close());

  for (const [pathname, title] of [['/', 'mediacdn radio'], ['/admin', 'mediacdn dashboard']] as const) {
    it(`GET ${pathname}: the page, revalidated with its ETag, under a content security policy`, async () => {
      const res = await request(`${w.url}${pathname}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
      assert.match(res.body.toString(), new RegExp(`<title>${title}</title>`));
      assert.equal(res.headers['cache-control'], 'no-cache');
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['content-security-policy'], contentSecurityPolicy(w.library.mediaUrl));
      assert.match(res.headers['content-security-policy'] as string, new RegExp(`media-src 'self' blob: ${w.url.replace(/[.]/g, '\\.')}(;|$)`));
      const again = await request(`${w.url}${pathname}`, { headers: { 'if-none-match': res.headers.etag as string } });
      assert.equal(again.status, 304);
      assert.equal(again.body.length, 0);
      const head = await request(`${w.url}${pathname}`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], res.headers['content-length']);
      assert.equal(head.body.length, 0);
    });
  }

  it('the policy names MEDIA_URL’s origin only when it is absolute', () => {
    assert.match(contentSecurityPolicy('https://cdn.example.com/media/'), /img-src 'self' data: blob: https:\/\/cdn\.example\.com;/);
    assert.match(contentSecurityPolicy('/media/'), /media-src 'self' blob:;/);
    assert.doesNotMatch(contentSecurityPolicy('javascript:alert(1)//'), /javascript/);
  });

  it('serves every browser module as JavaScript that parses, with types gone and imports that resolve to served files', async () => {
    const names = createAssetStore().names();
    const modules = names.filter((n) => n.endsWith('.ts'));
    assert.ok(modules.includes('player.ts') && modules.includes('admin.ts'), names.join(' '));
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-web-js-'));
    try {
      for (const name of modules) {
        const res = await request(`${w.url}/assets/${name}`);
        assert.equal(res.status, 200, name);
        assert.equal(res.headers['content-type'], 'text/javascript; charset=utf-8', name);
        const js = res.body.toString();
        assert.doesNotMatch(js, /^\s*import type /m, name);
        assert.doesNotMatch(js, /^\s*export type /m, name);
        for (const m of js.matchAll(/from '\.\/([^']+)'/g)) assert.ok(names.includes(m[1]), `${name} imports ${m[1]}, which is not served`);
        const file = path.join(dir, name.replace(/\.ts$/, '.mjs'));
        await writeFile(file, js);
        const check = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8' });
        assert.equal(check.status, 0, `${name}: ${check.stderr}`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const css = await request(`${w.url}/assets/app.css`);
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    const again = await request(`${w.url}/assets/player.ts`, { headers: { 'if-none-match': css.headers.etag as string } });
    assert.equal(again.status, 200, 'another file’s ETag does not match');
    const same = await request(`${w.url}/assets/app.css`, { headers: { 'if-none-match': css.headers.etag as string } });
    assert.equal(same.status, 304);
  });

  it('names outside the asset set are not served, whatever their spelling', async () => {
    for (const target of ['/assets/../package.json', '/assets/%2e%2e/package.json', '/assets/..%2fpackage.json', '/assets/radio.test.ts', '/assets/tsconfig.json',
      '/assets/', '/assets/Player.ts', '/assets/player.ts/', '/assets/player.ts%00', '/assets/.hidden.css', '/assets/client/player.ts', '/admin/x', '/index.htm']) {
      const res = await rawRequest(w.url, target);
      assert.equal(res.status, 404, target);
      assert.doesNotMatch(res.text, /stripTypeScriptTypes|"name": "mediacdn"/, target);
    }
  });

  it('other methods on its paths are 405 with Allow', async () => {
    for (const [method, target] of [['POST', '/'], ['DELETE', '/admin'], ['PUT', '/assets/app.css']] as const) {
      const res = await request(`${w.url}${target}`, { method, body: method === 'DELETE' ? undefined : 'x' });
      assert.equal(res.status, 405, `${method} ${target}`);
      assert.equal(res.headers.allow, 'GET, HEAD');
      assert.deepEqual(Object.keys(JSON.parse(res.body.toString())).sort(), ['code', 'message']);
    }
  });

  it('GET /api/playlist: songs, announcements and backgrounds with their MEDIA_URL links, public, cached briefly', async () => {
    const res = await request(`${w.url}/api/playlist`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(res.headers['cache-control'], 'public, max-age=10');
    const p = JSON.parse(res.body.toString()) as Playlist;
    assert.equal(p.version, 1);
    assert.deepEqual(p.songs.map((s) => [s.kind, s.title, s.artist, s.album, s.contentType]), [['song', 'Tone', 'Lab', 'Tests', 'audio/mpeg']]);
    assert.deepEqual(p.announcements.map((s) => [s.kind, s.title, s.artist]), [['announcement', 'Ident', null]]);
    assert.deepEqual(p.backgrounds.map((s) => [s.kind, s.title, s.contentType, s.width, s.height]), [['background', 'Loop', 'image/gif', 32, 18]]);
    for (const t of [...p.songs, ...p.announcements, ...p.backgrounds]) assert.ok(t.url.startsWith(w.library.mediaUrl), t.url);
    assert.ok(Math.abs((p.songs[0].durationMs as number) - 3000) < 200, String(p.songs[0].durationMs));
    const media = await request(p.songs[0].url);
    assert.equal(media.status, 200);
    assert.equal(media.headers['content-type'], 'audio/mpeg');
    const again = await request(`${w.url}/api/playlist`, { headers: { 'if-none-match': res.headers.etag as string } });
    assert.equal(again.status, 304);
  });
});

describe('web routes over an empty library', () => {
  it('the playlist is empty, not an error', async (t) => {
    const w = await startWebOrigin();
    t.after(() => w.close());
    const res = await request(`${w.url}/api/playlist`);
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body.toString()), { version: 1, songs: [], announcements: [], backgrounds: [] });
  });
});
