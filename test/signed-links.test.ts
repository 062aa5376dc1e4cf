// Signed links outside the edge: `mediacdn sign`, and the links the origin and the CLI publish when
// the media host is a zone that serves signed links only (SQLite, or PostgreSQL with DATABASE_URL).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import pino from 'pino';
import { loadConfig } from '../src/config/index.ts';
import { checkSignature } from '../src/edge/zone/signed-url.ts';
import { startOrigin, type RunningOrigin } from '../src/origin/server.ts';
import { openLibrary } from '../src/cli/open-library.ts';
import { mediaUrlsForPurge } from '../src/cli/purge-fleet.ts';
import { createWebRoutes, PUBLIC_API_PATHS } from '../src/web/routes.ts';
import { cliInProcess } from './helpers/cli.ts';
import { FIXTURES, makeTestLibrary, type TestLibrary } from './helpers/library.ts';

const KEY = 'signing-key-for-tests-0123456789abcdef';
const OLD = 'older-signing-key-0123456789abcdefgh';

function pathAndQuery(url: string): string {
  const u = new URL(url.startsWith('//') ? `http:${url}` : url);
  return u.pathname + u.search;
}

describe('signed links: mediacdn sign, and links the library publishes', () => {
  let tl: TestLibrary;
  let mediacdn: ReturnType<typeof cliInProcess>;
  let env: Record<string, string | undefined>;
  before(async () => {
    tl = await makeTestLibrary();
    const config = {
      cdn: 'cdn.radio.example',
      edge: { zones: [{ host: 'cdn.radio.example', origin: 'http://127.0.0.1:4000', signedUrls: { keys: [KEY, OLD], linkTtlSeconds: 3600 } }, { host: 'open.example', origin: 'http://127.0.0.1:4000' }] },
    };
    await writeFile(path.join(tl.dir, 'mediacdn.config.json'), JSON.stringify(config));
    env = { MEDIACDN_DATA: tl.dir, DATABASE_URL: tl.testDb.url ?? '', MEDIACDN_TOKEN: 'test-admin-token-0123456789abcdef' };
    mediacdn = cliInProcess(env, tl.dir);
  });
  after(() => tl.close());

  it('mediacdn sign prints a link the edge accepts, with the first key, prefix and address', async () => {
    const r = await mediacdn('sign', 'https://cdn.radio.example/media/abc.mp3', '--expires-in', '2h', '--path-prefix', '/media/', '--ip', '203.0.113.7');
    assert.equal(r.code, 0, r.err);
    const link = r.out.trim();
    assert.match(link, /^https:\/\/cdn\.radio\.example\/media\/abc\.mp3\?expires=\d+&prefix=%2Fmedia%2F&ip=203\.0\.113\.7&token=[A-Za-z0-9_-]{43}$/);
    const expires = Number(new URL(link).searchParams.get('expires'));
    assert.ok(Math.abs(expires - (Date.now() / 1000 + 7200)) < 60);
    assert.equal(checkSignature(pathAndQuery(link).replace('abc.mp3', 'other.mp3'), [KEY], Date.now(), '203.0.113.7').kind, 'ok');
    assert.equal(checkSignature(pathAndQuery(link), [OLD], Date.now(), '203.0.113.7').kind, 'refused');
  });

  it('mediacdn sign: usage errors are one line and exit code 2', async () => {
    for (const args of [
      ['https://open.example/media/a.mp3'],
      ['https://nowhere.example/a.mp3'],
      ['not a url'],
      ['https://cdn.radio.example/media/a.mp3', '--expires-in', 'soon'],
      ['https://cdn.radio.example/media/a.mp3', '--path-prefix', '/other/'],
      ['https://cdn.radio.example/media/a.mp3', '--ip', '300.1.1.1'],
    ]) {
      const r = await mediacdn('sign', ...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, /^mediacdn: [^\n]+$/);
      assert.equal(r.out, '');
    }
  });

  it('the CLI prints signed links of the library (add, url)', async () => {
    const added = await mediacdn('add', path.join(FIXTURES, 'tone-3s.mp3'), '--song', '--title', 'Signed', '--json');
    assert.equal(added.code, 0, added.err);
    const url = await mediacdn('url', '1');
    assert.equal(url.code, 0, url.err);
    assert.match(url.out, /^\/\/cdn\.radio\.example\/media\/[a-z]{20}\.mp3\?expires=\d+&token=/);
    assert.equal(checkSignature(pathAndQuery(url.out.trim()), [KEY], Date.now(), '127.0.0.1').kind, 'ok');
    // A deleted file is purged under the plain link, which is what the edge stores it under.
    const plain = url.out.trim().split('?')[0];
    assert.deepEqual(mediaUrlsForPurge({ url: url.out.trim() }, ['cdn.radio.example']), [`http:${plain}`]);
  });

  it('the origin publishes signed links (playlist, admin API), the same within a window', async () => {
    const config = loadConfig({ cwd: tl.dir, env: { ...env, LOG_LEVEL: 'silent' }, flags: { origin: { host: '127.0.0.1', port: 0, workers: 1 } } });
    // As `mediacdn origin` starts it: the library from the CLI's openLibrary, the web routes on it.
    const { lib, close } = await openLibrary(config);
    let origin: RunningOrigin | undefined;
    try {
      origin = await startOrigin({ config, library: lib, logger: pino({ level: 'silent' }), extraRoutes: createWebRoutes({ library: lib, stationDir: path.join(tl.dir, 'station') }), publicApiPaths: PUBLIC_API_PATHS });
      const playlist = (await (await request(`${origin.url}/api/playlist`)).body.json()) as { songs: Array<{ url: string }> };
      assert.equal(playlist.songs.length, 1);
      const link = playlist.songs[0].url;
      assert.equal(checkSignature(pathAndQuery(link), [KEY], Date.now(), '127.0.0.1').kind, 'ok');
      const api = (await (await request(`${origin.url}/api/media`, { headers: { authorization: `Bearer ${env.MEDIACDN_TOKEN}` } })).body.json()) as { items: Array<{ url: string }> };
      assert.equal(api.items[0].url, link);
      const now = (await (await request(`${origin.url}/api/now`)).body.json()) as { current: { url: string } };
      assert.equal(now.current.url, link);
    } finally {
      await origin?.close();
      await close();
    }
  });
});
