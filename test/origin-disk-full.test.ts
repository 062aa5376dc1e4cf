// Uploads that hit a full disk: 507 with a message through the API (raw and multipart), one line and
// exit 1 from the CLI, and nothing left behind. On a real 1 MiB tmpfs when the tests may mount one
// (CI runs as root), and always with the storage's write failing with ENOSPC.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import type { MediaStorage } from '../src/storage/store.ts';
import { runCli } from './helpers/cli.ts';
import { startTestOrigin, request, multipart, makeWav, fixtureBytes, type TestOrigin } from './helpers/origin.ts';

const run = promisify(execFile);
const json = (r: { body: Buffer }) => JSON.parse(r.body.toString('utf8'));

/** Storage whose writes fail with ENOSPC once `room` bytes have been written (across all uploads). */
function fullAfter(room: number): (s: MediaStorage) => MediaStorage {
  let used = 0;
  return (s) => ({
    ...s,
    async beginWrite() {
      const pending = await s.beginWrite();
      const stream = new Writable({
        write(chunk: Buffer, _enc, cb) {
          used += chunk.length;
          if (used > room) return cb(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' }));
          pending.stream.write(chunk, cb);
        },
        final(cb) {
          pending.stream.end(cb);
        },
      });
      return { tempPath: pending.tempPath, stream, commit: (name) => pending.commit(name), abort: () => pending.abort() };
    },
  });
}

async function assertNothingLeft(o: TestOrigin, what: string): Promise<void> {
  assert.deepEqual(await readdir(o.tl.mediaDir).catch(() => []), [], `${what}: no file or temp file`);
  assert.equal(json(await request(`${o.url}/api/media`, { headers: o.auth })).total, 0, `${what}: no row`);
}

async function uploadBoth(o: TestOrigin, wav: Buffer): Promise<Array<[string, Awaited<ReturnType<typeof request>>]>> {
  const raw = await request(`${o.url}/api/media?kind=song&title=Big`, { method: 'POST', headers: { ...o.auth, 'content-type': 'audio/wav' }, body: wav });
  const f = multipart([{ name: 'kind', value: 'song' }, { name: 'title', value: 'Big' }, { name: 'file', filename: 'big.wav', type: 'audio/wav', data: wav }]);
  const mp = await request(`${o.url}/api/media`, { method: 'POST', headers: { ...o.auth, 'content-type': f.type }, body: f.body });
  return [['raw', raw], ['multipart', mp]];
}

test('an upload whose storage write fails with ENOSPC is a 507 with a message, and leaves nothing', async (t) => {
  const o = await startTestOrigin({ wrapStorage: fullAfter(64 * 1024) });
  t.after(() => o.close());
  for (const [what, r] of await uploadBoth(o, makeWav(1))) {
    assert.equal(r.status, 507, `${what}: ${r.body}`);
    assert.equal(json(r).code, 'storage_full', what);
    assert.match(json(r).message, /no space left/, what);
  }
  await assertNothingLeft(o, 'ENOSPC');
  assert.equal((await request(`${o.url}/healthz`)).status, 200);
});

/** Mounts a tmpfs of `size` on `dir`; undefined when this process may not mount (not root). */
async function mountTmpfs(dir: string, size: string): Promise<(() => Promise<void>) | undefined> {
  await mkdir(dir, { recursive: true });
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  } catch {
    return undefined;
  }
  return async () => {
    await run('umount', [dir]);
  };
}

test('a full 1 MiB tmpfs under the media folder: API 507, CLI exit 1 with one line, nothing left, small files still fit', async (t) => {
  const o = await startTestOrigin();
  const unmount = await mountTmpfs(o.tl.mediaDir, '1m');
  t.after(async () => {
    await o.origin.close();
    await unmount?.();
    await o.tl.close();
  });
  if (!unmount) {
    t.skip('mounting a tmpfs needs root (CI runs as root; the ENOSPC test above covers the same path)');
    return;
  }
  const big = makeWav(6); // about 1 MiB of samples: more than the tmpfs holds
  for (const [what, r] of await uploadBoth(o, big)) {
    assert.equal(r.status, 507, `${what}: ${r.body}`);
    assert.equal(json(r).code, 'storage_full', what);
  }
  await assertNothingLeft(o, 'tmpfs');

  const file = path.join(o.tl.dir, 'big.wav');
  await writeFile(file, big);
  const env = { MEDIACDN_DATA: o.tl.dir, MEDIA_DIR: o.tl.mediaDir, DATABASE_URL: o.tl.testDb.url ?? '' };
  const cli = await runCli(['add', file, '--song', '--title', 'Big'], { env, cwd: o.tl.dir });
  assert.equal(cli.code, 1, cli.stderr);
  assert.match(cli.stderr, /^mediacdn: .*big\.wav: no space left to store the file/m);
  assert.equal(cli.stderr.trim().split('\n').filter((l) => l.startsWith('mediacdn:')).length, 1, cli.stderr);
  assert.doesNotMatch(cli.stderr, /\n\s+at /, 'no stack trace');
  await assertNothingLeft(o, 'CLI on tmpfs');

  const small = await request(`${o.url}/api/media`, { method: 'POST', headers: { ...o.auth, 'content-type': 'audio/ogg' }, body: await fixtureBytes('tone-3s.ogg') });
  assert.equal(small.status, 201, 'the space of the refused uploads was given back');
});
