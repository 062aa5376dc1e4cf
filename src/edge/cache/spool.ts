// A fill shared between the workers of an edge while it arrives. The worker that fills a key writes
// the body to a spool file as it comes in (only once another worker waits for the key) and reports how
// much is written; the waiting workers read the file up to that point into a growing body of their
// own, which their clients stream exactly as they would a fill of their own worker. The spool is not
// the cache: the filler still stores the object in the disk tier, and the spool file goes away a
// while after the fill (a waiter opens it as soon as it hears of it).
import { randomBytes } from 'node:crypto';
import { mkdir, open, rm, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { SharedFill } from '../cluster/worker.ts';
import type { GrowingBody } from './growing-body.ts';

/** The spool folder under the cache root (not a zone name: zone folders match /^[a-z0-9.-]+$/). */
export const SPOOL_DIR = '_spool';
/** How long a spool file stays after its fill: waiters open it well before. */
const SPOOL_KEEP_MS = 60_000;
/** The most a waiter reads from a spool at once. */
const READ_MAX = 1024 * 1024;

/** Removes spool files left by an earlier run (the edge starts with no fill in progress). */
export async function clearSpools(cacheRoot: string): Promise<void> {
  await rm(path.join(cacheRoot, SPOOL_DIR), { recursive: true, force: true });
}

/**
 * Writes `body` to a new spool file under `cacheRoot` as it grows, calling `progress` after each
 * write with how many bytes the file holds; `end` once with whether the whole body is in it.
 * Resolves when it is done either way.
 */
export async function spoolBody(body: GrowingBody, cacheRoot: string, progress: (file: string, bytes: number) => void, end: (ok: boolean) => void): Promise<void> {
  const dir = path.join(cacheRoot, SPOOL_DIR);
  const file = path.join(dir, `${randomBytes(10).toString('hex')}.spool`);
  let fh: FileHandle | undefined;
  let ok = false;
  try {
    await mkdir(dir, { recursive: true });
    fh = await open(file, 'w', 0o600);
    let written = 0;
    for (;;) {
      if (written < body.length) {
        const parts: Buffer[] = [];
        for (let i = body.chunkIndexAt(written); i < body.chunks.length; i++) {
          const chunk = body.chunks[i];
          const from = Math.max(0, written - body.chunkStart(i));
          parts.push(from === 0 ? chunk : chunk.subarray(from));
        }
        const { bytesWritten } = await fh.writev(parts);
        written += bytesWritten;
        progress(file, written);
        continue;
      }
      if (body.state === 'complete') {
        ok = true;
        break;
      }
      if (body.state === 'failed') break;
      await new Promise<void>((resolve) => body.listen(resolve));
    }
  } catch {
    // A spool that cannot be written (disk full): the waiters' streams end short; the fill goes on.
  } finally {
    await fh?.close().catch(() => {});
    end(ok);
    setTimeout(() => void unlink(file).catch(() => {}), SPOOL_KEEP_MS).unref();
  }
}

/**
 * Feeds `body` from another worker's spool as `fill` reports progress; completes it when the fill
 * does, fails it when the fill will not complete or the file cannot be read.
 */
export async function followSpool(fill: SharedFill, body: GrowingBody): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(fill.spool, 'r');
    let have = 0;
    for (;;) {
      if (have < fill.bytes) {
        const want = Math.min(READ_MAX, fill.bytes - have);
        const { bytesRead, buffer } = await fh.read({ buffer: Buffer.allocUnsafe(want), position: have });
        if (bytesRead === 0) throw new Error('the spool file is shorter than its filler reported');
        body.push(bytesRead === want ? buffer : buffer.subarray(0, bytesRead));
        have += bytesRead;
        continue;
      }
      if (fill.ended === true) {
        body.end();
        return;
      }
      if (fill.ended === false) throw new Error('the fill in another worker did not complete');
      await new Promise<void>((resolve) => {
        fill.onChange = () => {
          fill.onChange = undefined;
          resolve();
        };
      });
    }
  } catch (err) {
    body.fail(err instanceof Error ? err : new Error(String(err)));
  } finally {
    await fh?.close().catch(() => {});
  }
}
