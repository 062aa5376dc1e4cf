// The local folder store: an aborted write closes its file exactly once. A second close of the same
// descriptor number closed whatever the process had opened under it meanwhile: a client's socket
// (its next request got "socket hang up") or a file libuv was polling (the process aborted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLocalStorage } from './local-store.ts';

test('abort() closes the temp file once: descriptors opened right after it stay open', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = createLocalStorage(path.join(dir, 'media'));
  for (let i = 0; i < 100; i++) {
    const pending = await store.beginWrite();
    pending.stream.write(Buffer.alloc(4096, i));
    await pending.abort();
    // Very likely gets the number the temp file had.
    const probe = await open(path.join(dir, 'probe'), 'w');
    await new Promise((r) => setTimeout(r, 2));
    const closedUnderUs = (err: NodeJS.ErrnoException) => assert.fail(`round ${i}: a descriptor opened after abort() was closed under us (${err.code})`);
    await probe.stat().catch(closedUnderUs);
    await probe.close().catch(closedUnderUs);
  }
  assert.deepEqual(await readdir(path.join(dir, 'media')), [], 'no temp file left');
});

test('a committed write is published under its name; aborting after a failed commit is safe', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = createLocalStorage(path.join(dir, 'media'));
  const first = await store.beginWrite();
  first.stream.end(Buffer.from('hello'));
  assert.equal(await first.commit('abc.mp3'), 'ok');
  const second = await store.beginWrite();
  second.stream.end(Buffer.from('other'));
  assert.equal(await second.commit('abc.mp3'), 'exists');
  await second.abort();
  assert.deepEqual(await readdir(path.join(dir, 'media')), ['abc.mp3']);
  assert.equal((await store.stat('abc.mp3'))?.size, 5);
});
