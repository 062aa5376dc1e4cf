// Files a server reloads when they change (certificates, CA files). The folders of the files are
// watched, and the folders their symbolic links resolve to (certbot's live/ names point into
// archive/), so a file replaced by rename or a link re-pointed is seen as well as one rewritten in
// place; a poll compares them too, for file systems without change events.
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { realpath } from 'node:fs/promises';
import path from 'node:path';

export type FileWatchOptions = {
  /** Wait after a file event before reading (writers replace cert and key one after the other); default 250 ms. */
  settleMs?: number;
  /** Files are also compared this often, for file systems without change events; default 60 s, 0 = never. */
  pollMs?: number;
};

export type FileWatch = { close(): void };

/** Calls `changed` a settle time after any event in the files' folders, and on every poll. */
export async function watchFiles(files: readonly string[], opts: FileWatchOptions, changed: () => void): Promise<FileWatch> {
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(changed, opts.settleMs ?? 250);
    timer.unref();
  };
  const folders = new Set<string>();
  for (const file of files) {
    folders.add(path.dirname(file));
    const real = await realpath(file).catch(() => file);
    folders.add(path.dirname(real));
  }
  const watchers: FSWatcher[] = [];
  for (const folder of folders) {
    try {
      const w = watch(folder, { persistent: false }, schedule);
      w.on('error', () => {}); // a folder that goes away: the poll still compares the files
      watchers.push(w);
    } catch {
      // not watchable (some network file systems): the poll covers it
    }
  }
  const pollMs = opts.pollMs ?? 60_000;
  const poll = pollMs > 0 ? setInterval(changed, pollMs) : undefined;
  poll?.unref();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      clearInterval(poll);
      for (const w of watchers) w.close();
    },
  };
}
