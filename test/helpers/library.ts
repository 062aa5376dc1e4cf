// A throw-away library (database + media folder) for tests.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, type Db } from '../../src/db/connect.ts';
import { createLocalStorage } from '../../src/storage/local-store.ts';
import { createLibrary, type Library } from '../../src/media/library.ts';
import type { KeySource } from '../../src/media/keys.ts';
import { makeTestDatabase, type TestDatabase } from './db.ts';

export type TestLibrary = { lib: Library; db: Db; dir: string; mediaDir: string; testDb: TestDatabase; close(): Promise<void> };

export const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures');

export async function makeTestLibrary(opts: { keySource?: KeySource; now?: () => Date; mediaUrl?: string } = {}): Promise<TestLibrary> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-lib-'));
  const testDb = await makeTestDatabase(dir);
  const db = await openDatabase(testDb.target);
  const mediaDir = path.join(dir, 'media');
  const lib = createLibrary({ db, storage: createLocalStorage(mediaDir), mediaUrl: opts.mediaUrl ?? 'http://media.test/media/', keySource: opts.keySource, now: opts.now });
  return {
    lib,
    db,
    dir,
    mediaDir,
    testDb,
    close: async () => {
      await db.close();
      await testDb.cleanup();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
