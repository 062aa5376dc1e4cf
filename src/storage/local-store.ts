// Media storage in a local folder: temp file + fsync + link() into place, so a name is never overwritten.
import { constants, createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { finished } from 'node:stream/promises';
import type { MediaStorage, PendingWrite, StoredFile } from './store.ts';

/** Names starting so are temp files: never listed as media, removed by `check --fix` once old. */
export const TEMP_PREFIX = '.tmp-';

/** Names we publish: no path separators, no dotfiles. */
function assertPlainName(name: string): void {
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name) || name.includes('..')) throw new Error(`invalid stored file name ${JSON.stringify(name)}`);
}

export function createLocalStorage(root: string): MediaStorage {
  let ensured: Promise<void> | undefined;
  const ensureRoot = () => (ensured ??= fsp.mkdir(root, { recursive: true }).then(() => undefined));

  async function fsyncDir(): Promise<void> {
    const fh = await fsp.open(root, constants.O_RDONLY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async function* scan(temps: boolean): AsyncIterable<StoredFile> {
    await ensureRoot();
    const dir = await fsp.opendir(root);
    for await (const ent of dir) {
      if (!ent.isFile()) continue;
      const isTemp = ent.name.startsWith(TEMP_PREFIX);
      if (isTemp !== temps) continue;
      if (!temps && ent.name.startsWith('.')) continue;
      const st = await fsp.stat(path.join(root, ent.name)).catch(() => undefined);
      if (st) yield { name: ent.name, size: st.size, mtimeMs: st.mtimeMs };
    }
  }

  return {
    kind: 'local',
    async beginWrite(): Promise<PendingWrite> {
      await ensureRoot();
      const tempPath = path.join(root, `${TEMP_PREFIX}${process.pid}-${randomBytes(8).toString('hex')}`);
      const fh = await fsp.open(tempPath, 'wx', 0o644);
      // The stream writes through the FileHandle, which owns the descriptor and closes it once, when
      // the stream is destroyed. (With the bare number, destroy() closed it and fh.close() closed the
      // same number again: by then it could be another client's socket.) autoClose is off so that
      // commit() can fsync between the last write and the close.
      const stream = createWriteStream('', { fd: fh, autoClose: false });
      let closing: Promise<void> | undefined;
      const closeFh = () =>
        (closing ??= new Promise<void>((resolve) => {
          if (stream.closed) return resolve();
          stream.once('close', () => resolve());
          stream.destroy();
        }).then(() => fh.close().catch(() => {})));
      return {
        stream,
        tempPath,
        async commit(name) {
          assertPlainName(name);
          if (!closing) {
            if (!stream.writableFinished) await finished(stream);
            await fh.sync();
          }
          await closeFh();
          try {
            // link() fails with EEXIST instead of replacing: the exclusive publish we need.
            await fsp.link(tempPath, path.join(root, name));
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'EEXIST') return 'exists';
            throw err;
          }
          await fsp.unlink(tempPath);
          await fsyncDir();
          return 'ok';
        },
        async abort() {
          await closeFh();
          await fsp.rm(tempPath, { force: true });
        },
      };
    },
    async stat(name) {
      assertPlainName(name);
      const st = await fsp.stat(path.join(root, name)).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
        throw err;
      });
      return st?.isFile() ? { name, size: st.size, mtimeMs: st.mtimeMs } : undefined;
    },
    createReadStream(name, range) {
      assertPlainName(name);
      return createReadStream(path.join(root, name), range ? { start: range.start, end: range.end } : {});
    },
    async remove(name) {
      assertPlainName(name);
      try {
        await fsp.unlink(path.join(root, name));
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw err;
      }
    },
    list: () => scan(false),
    listTemps: () => scan(true),
    async removeTemp(name) {
      if (!name.startsWith(TEMP_PREFIX) || name.includes('/')) throw new Error(`not a temporary file: ${name}`);
      await fsp.rm(path.join(root, name), { force: true });
    },
    localPath(name) {
      assertPlainName(name);
      return path.join(root, name);
    },
    async check() {
      try {
        await ensureRoot();
        await fsp.access(root, constants.W_OK | constants.R_OK);
        return true;
      } catch {
        return false;
      }
    },
  };
}
