// Library commands: add, ls, show, url, rm, check.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { request } from 'undici';
import { ingest } from '../media/ingest.ts';
import { deleteMedia, listMedia, requireMedia } from '../media/catalog.ts';
import { checkLibrary, describeProblem, FIX_GRACE_MS, type Problem } from '../media/check.ts';
import type { Library, Metadata, MediaItem } from '../media/library.ts';
import { InputError, EXIT, MediaCdnError } from '../errors.ts';
import { METADATA_KINDS, type MetadataKind } from '../db/schema.ts';
import { configFrom, intOption, progressBar, type Io } from './context.ts';
import { withLibrary } from './open-library.ts';
import { formatBytes } from '../web/client/format.ts';
import { readAdminToken } from '../config/token.ts';
import { createOriginClient, type OriginClient } from '../origin/client.ts';
import { API_FORCE_HINT } from '../origin/api.ts';
import type { Config } from '../config/index.ts';
import type { Db } from '../db/connect.ts';
import { mediaUrlsForPurge, purgeWaves, recordAndPurge } from './purge-fleet.ts';
import { adminTokenForClient, reportPurge } from './purge.ts';
import { readRunning } from './running.ts';

const REMOTE_HELP = 'use the admin API of the origin at <url> (token from MEDIACDN_TOKEN or the data folder)';

async function remoteClient(config: Config, url: string): Promise<OriginClient> {
  return createOriginClient(url, await readAdminToken(config));
}

type AddOptions = { type?: string; ext?: string; song?: boolean; announcement?: boolean; background?: boolean; title?: string; artist?: string; album?: string; json?: boolean; remote?: string };

export function metadataFromFlags(o: AddOptions, file: string, many: boolean): Metadata | undefined {
  const kinds = (['song', 'announcement', 'background'] as const).filter((k) => o[k]);
  if (kinds.length > 1) throw new InputError('bad_kind', 'give only one of --song, --announcement, --background', { exitCode: EXIT.usage });
  if ((o.artist !== undefined || o.album !== undefined) && kinds[0] !== 'song') throw new InputError('bad_field', '--artist and --album go with --song', { exitCode: EXIT.usage });
  if (kinds.length === 0) {
    if (o.title !== undefined) throw new InputError('kind_required', '--title needs --song, --announcement or --background', { exitCode: EXIT.usage });
    return undefined;
  }
  // Without --title each file is titled after its own name (the natural name lives only in metadata).
  const title = o.title !== undefined && !many ? o.title : (o.title ?? path.basename(file).replace(/\.[^.]+$/, ''));
  const kind = kinds[0];
  return kind === 'song' ? { kind, title, artist: o.artist ?? null, album: o.album ?? null } : { kind, title };
}

/**
 * A local delete: the file's URLs go into the purge log, and once no origin serves the file any
 * more (origin.recordTtlMs after the delete, or sooner when the running `up` is the only origin and
 * answers 404) every edge is purged. Exit 1 when an edge did not confirm (the record is gone either way).
 */
async function deleteAndPurge(config: Config, io: Io, lib: Library, db: Db, ref: string, force: boolean | undefined): Promise<void> {
  const running = readRunning(config);
  const waves = purgeWaves(config, running);
  // Before the delete: a missing token must not leave a deleted file unpurged.
  const token = waves.length > 0 ? await adminTokenForClient(config) : '';
  const item = await deleteMedia(lib, ref, { force }).catch(cliForceHint);
  const deletedAt = Date.now();
  io.out(`removed ${item.id} ${item.fileName}`);
  const zoneHosts = [...new Set([...config.edge.zones.map((z) => z.host), ...(running?.zones ?? [])])];
  const targets = mediaUrlsForPurge(item, zoneHosts).map((url) => ({ url }));
  const onlyUp = running !== undefined && waves.flat().length === 1;
  const run = await recordAndPurge({
    db,
    targets,
    waves,
    client: { token },
    notBefore: deletedAt + config.origin.recordTtlMs,
    originStopped: onlyUp ? () => answers404(`${running.originUrl}/media/${item.fileName}`) : undefined,
  });
  reportPurge(io, run);
  const pending = run.results.filter((r) => r.state === 'pending').length;
  if (pending > 0) throw new MediaCdnError('purge_pending', `${item.fileName} is deleted, but its purge is pending on ${pending} edge${pending === 1 ? '' : 's'} (they apply it when they catch up on the purge log)`);
  if (run.logError !== undefined) throw new MediaCdnError('purge_not_logged', `${item.fileName} is deleted, but its purge is not in the purge log: ${run.logError}`);
}

async function answers404(url: string): Promise<boolean> {
  const res = await request(url, { method: 'HEAD', headersTimeout: 2000, bodyTimeout: 2000 });
  await res.body.dump();
  return res.statusCode === 404;
}

/** A deletion refused while metadata points at the media: say how to force it on the command line. */
function cliForceHint(err: unknown): never {
  if (err instanceof MediaCdnError && err.code === 'media_in_use') {
    throw new MediaCdnError(err.code, `${err.message.replace(API_FORCE_HINT, '')}; pass --force to delete them too`, { status: err.status, exitCode: err.exitCode });
  }
  throw err;
}

export function describeItem(i: MediaItem): string {
  const facts = [i.contentType, formatBytes(i.byteSize)];
  if (i.durationMs !== null) facts.push(`${(i.durationMs / 1000).toFixed(1)} s`);
  if (i.width !== null) facts.push(`${i.width}x${i.height}`);
  const meta = i.kind ? `${i.kind}: ${i.title}${i.artist ? ` — ${i.artist}` : ''}` : '(no metadata)';
  return `${String(i.id).padStart(5)}  ${i.fileName}  ${facts.join(', ')}  ${meta}`;
}

export function registerLibrary(program: Command, io: Io): void {
  program
    .command('add')
    .description('store media files in the library under fresh keys')
    .argument('<file...>', 'files to add')
    .option('--type <mime>', 'declared MIME type (default: from the extension, checked against the content)')
    .option('--ext <ext>', 'extension to store under (default: from the type)')
    .option('--song', 'record as a song')
    .option('--announcement', 'record as an announcement')
    .option('--background', 'record as a background')
    .option('--title <title>', 'title (default: the file name without extension)')
    .option('--artist <artist>', 'song artist')
    .option('--album <album>', 'song album')
    .option('--json', 'print JSON')
    .option('--remote <url>', REMOTE_HELP)
    .action(async (files: string[], o: AddOptions, cmd: Command) => {
      const config = configFrom(cmd, io);
      // Check every input before storing any, so a bad argument stores nothing.
      const sizes = new Map<string, number>();
      for (const f of files) {
        const st = await stat(f).catch((err: NodeJS.ErrnoException) => {
          throw new InputError('file_unreadable', `cannot read ${f}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
        });
        if (!st.isFile()) throw new InputError('file_unreadable', `cannot read ${f}: not a regular file`);
        sizes.set(f, st.size);
        metadataFromFlags(o, f, files.length > 1);
      }
      if (o.remote !== undefined) {
        const client = await remoteClient(config, o.remote);
        const added: MediaItem[] = [];
        for (const f of files) {
          const item = await client.upload(f, { name: path.basename(f), type: o.type, ext: o.ext, metadata: metadataFromFlags(o, f, files.length > 1) }).catch((err: unknown) => {
            if (err instanceof MediaCdnError) throw new MediaCdnError(err.code, `${f}: ${err.message}`, { status: err.status, exitCode: err.exitCode, cause: err });
            throw err;
          });
          added.push(item);
          if (!o.json) io.out(`${item.id}\t${item.fileName}\t${item.url}`);
        }
        if (o.json) io.out(JSON.stringify(added.length === 1 && files.length === 1 ? added[0] : added, null, 2));
        return;
      }
      await withLibrary(config, async (lib) => {
        const added: MediaItem[] = [];
        for (const f of files) {
          const bar = progressBar(io, path.basename(f), sizes.get(f));
          const source = createReadStream(f);
          const item = await ingest(lib, {
            source,
            declaredType: o.type,
            ext: o.ext,
            originalName: path.basename(f),
            metadata: metadataFromFlags(o, f, files.length > 1),
            onProgress: (n) => bar.update(n),
          }).catch((err: unknown) => {
            if (err instanceof MediaCdnError) throw new MediaCdnError(err.code, `${f}: ${err.message}`, { status: err.status, exitCode: err.exitCode, cause: err });
            const e = err as NodeJS.ErrnoException;
            if (e.code === 'EACCES' || e.code === 'EISDIR') throw new InputError('file_unreadable', `cannot read ${f}: ${e.message}`);
            throw err;
          });
          bar.done();
          added.push(item);
          if (!o.json) io.out(`${item.id}\t${item.fileName}\t${item.url}`);
        }
        if (o.json) io.out(JSON.stringify(added.length === 1 && files.length === 1 ? added[0] : added, null, 2));
      });
    });

  program
    .command('ls')
    .description('list the library')
    .option('--kind <kind>', `only ${METADATA_KINDS.join(', ')} or none`)
    .option('--search <text>', 'title / artist / album contains')
    .option('--limit <n>', 'at most n items', intOption('--limit'), 100)
    .option('--offset <n>', 'skip n items', intOption('--offset'), 0)
    .option('--json', 'print JSON')
    .option('--remote <url>', REMOTE_HELP)
    .action(async (o: { kind?: string; search?: string; limit: number; offset: number; json?: boolean; remote?: string }, cmd: Command) => {
      if (o.kind !== undefined && o.kind !== 'none' && !METADATA_KINDS.includes(o.kind as MetadataKind)) {
        throw new InputError('bad_kind', `--kind must be one of ${METADATA_KINDS.join(', ')}, none`, { exitCode: EXIT.usage });
      }
      const config = configFrom(cmd, io);
      const query = { kind: o.kind as MetadataKind | 'none' | undefined, q: o.search, limit: o.limit, offset: o.offset };
      const r =
        o.remote !== undefined
          ? await (await remoteClient(config, o.remote)).list(query)
          : await withLibrary(config, (lib) => listMedia(lib, query));
      if (o.json) io.out(JSON.stringify(r, null, 2));
      else {
        for (const i of r.items) io.out(describeItem(i));
        io.out(`${r.items.length} of ${r.total} item(s)`);
      }
    });

  program
    .command('show')
    .description('show one media record')
    .argument('<id|file>', 'numeric id or stored file name')
    .action(async (ref: string, _o: unknown, cmd: Command) => {
      await withLibrary(configFrom(cmd, io), async (lib) => io.out(JSON.stringify(await requireMedia(lib, ref), null, 2)));
    });

  program
    .command('url')
    .description('print the public link of a media record')
    .argument('<id|file>', 'numeric id or stored file name')
    .action(async (ref: string, _o: unknown, cmd: Command) => {
      await withLibrary(configFrom(cmd, io), async (lib) => io.out((await requireMedia(lib, ref)).url));
    });

  program
    .command('rm')
    .description('delete a media record and its file')
    .argument('<id|file>', 'numeric id or stored file name')
    .option('--force', 'also delete the song / announcement / background pointing at it')
    .option('--remote <url>', REMOTE_HELP)
    .action(async (ref: string, o: { force?: boolean; remote?: string }, cmd: Command) => {
      const config = configFrom(cmd, io);
      if (o.remote !== undefined) {
        // The origin purges its edges itself.
        const item = await (await remoteClient(config, o.remote)).remove(ref, { force: o.force }).catch(cliForceHint);
        io.out(`removed ${item.id} ${item.fileName}`);
        return;
      }
      await withLibrary(config, (lib, db) => deleteAndPurge(config, io, lib, db, ref, o.force));
    });

  program
    .command('check')
    .description('verify every record has its file (size and SHA-256) and every file has a record')
    .option('--fix', 'remove orphan files and temp files older than an hour (never records)')
    .option('--no-hash', 'compare sizes only')
    .option('--json', 'print JSON')
    .action(async (o: { fix?: boolean; hash: boolean; json?: boolean }, cmd: Command) => {
      await withLibrary(configFrom(cmd, io), async (lib) => {
        const r = await checkLibrary(lib, { fix: o.fix, hash: o.hash });
        if (o.json) io.out(JSON.stringify(r, null, 2));
        else {
          for (const p of r.problems) io.out(describeProblem(p));
          for (const f of r.fixed) io.out(`removed ${f}`);
          // --fix leaves young orphans and temp files alone (an upload may be writing them): say so.
          const kept = o.fix ? r.problems.filter((p): p is Extract<Problem, { ageMs: number }> => (p.kind === 'orphan-file' || p.kind === 'stale-temp') && !r.fixed.includes(p.fileName)) : [];
          const grace = `${FIX_GRACE_MS / 60_000} min`;
          for (const p of kept) io.out(`kept ${p.fileName}: ${Math.floor(p.ageMs / 60_000)} min old, younger than ${grace} (a write may be in progress)`);
          const keptNote = kept.length > 0 ? `, ${kept.length} kept (younger than ${grace}; run check --fix again later)` : '';
          io.out(`${r.records} record(s), ${r.files} file(s), ${r.problems.length} problem(s)${o.fix ? `, ${r.fixed.length} fixed${keptNote}` : ''}`);
        }
        const unfixed = r.problems.filter((p) => !r.fixed.includes(p.fileName));
        if (unfixed.length > 0) process.exitCode = EXIT.failure;
      });
    });
}
