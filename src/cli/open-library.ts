// Opens the library a command works on (database, media folder, the links it publishes). Its own
// module so that commands without a library (edge, dns, purge, stats, sign) load no database code.
import type { Config } from '../config/index.ts';
import { openDatabase, type Db } from '../db/connect.ts';
import { createLocalStorage } from '../storage/local-store.ts';
import { createLibrary, type Library } from '../media/library.ts';
import { linkSigner } from '../edge/zone/signed-url.ts';
import { publicMediaUrl } from './running.ts';

/** `linkBase` replaces the configured link base (an origin on port 0 gives the one of its real port). */
export async function openLibrary(config: Config, linkBase?: () => string): Promise<{ lib: Library; db: Db; close(): Promise<void> }> {
  const db = await openDatabase(config.database);
  // The links the running `mediacdn up` publishes, when it runs on this data folder.
  const mediaUrl = publicMediaUrl(config);
  const lib = createLibrary({ db, storage: createLocalStorage(config.mediaDir), mediaUrl: linkBase ?? mediaUrl, signLink: linkSigner(mediaUrl, config.edge.zones, Date.now) });
  return { lib, db, close: () => db.close() };
}

export async function withLibrary<T>(config: Config, fn: (lib: Library, db: Db) => Promise<T>): Promise<T> {
  const { lib, db, close } = await openLibrary(config);
  try {
    return await fn(lib, db);
  } finally {
    await close();
  }
}
