// `mediacdn purge <url> | --prefix <url> | --zone <host>`: records the purge in the purge log and asks
// every edge (the fleet, shields first; origin.purgeEdges; the running `up`'s edge; or --edge) to drop
// cached copies, in parallel and with retries. Reports each edge done or pending; exit 1 when any is
// pending (it applies the purge from the log when it can reach the origin again).
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import type { Config } from '../config/index.ts';
import { resolveAdminToken } from '../config/token.ts';
import { EXIT, MediaCdnError } from '../errors.ts';
import { openDatabase } from '../db/connect.ts';
import { describePurgeResult, type PurgeTarget } from '../edge/control/purge-client.ts';
import { configFrom, httpUrlOption, intOption, type Io } from './context.ts';
import { purgeWaves, recordAndPurge, type PurgeRun } from './purge-fleet.ts';
import { readRunning } from './running.ts';

type PurgeFlags = { prefix?: string; zone?: string; edge?: string[]; timeout?: number; attempts?: number };

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

class PurgeUsageError extends MediaCdnError {
  constructor(message: string) {
    super('purge_usage', message, { exitCode: EXIT.usage });
  }
}

/** The admin token without creating one: a client has no business inventing a token the edges do not know. */
export async function adminTokenForClient(config: Config): Promise<string> {
  if (config.token === undefined && !existsSync(config.tokenFile)) {
    throw new PurgeUsageError(`no admin token: set MEDIACDN_TOKEN (or run where ${config.tokenFile} exists)`);
  }
  return (await resolveAdminToken(config)).token;
}

export function registerPurge(program: Command, io: Io): void {
  program
    .command('purge')
    .description('drop cached copies on every edge (shields first): one URL, a URL prefix or a whole zone')
    .argument('[url]', 'absolute URL on a zone, e.g. http://cdn.example.com/media/abc.mp3', httpUrlOption('<url>'))
    .option('--prefix <url>', 'every URL starting with this absolute URL prefix', httpUrlOption('--prefix'))
    .option('--zone <host>', 'everything cached for this zone host')
    .option('--edge <url>', 'edge to purge (repeatable; default: the fleet, origin.purgeEdges and the running `mediacdn up`)', (v: string, prev?: string[]) => collect(httpUrlOption('--edge')(v), prev))
    .option('--timeout <ms>', 'per attempt and edge (default 5000)', intOption('--timeout'))
    .option('--attempts <n>', 'attempts per edge before it is reported pending (default 4)', intOption('--attempts'))
    .action(async (url: string | undefined, flags: PurgeFlags, cmd: Command) => {
      const given = [url, flags.prefix, flags.zone].filter((v) => v !== undefined);
      if (given.length !== 1) throw new PurgeUsageError('purge: give exactly one of <url>, --prefix <url> or --zone <host>');
      if (flags.attempts === 0) throw new PurgeUsageError('purge: --attempts must be at least 1');
      const target: PurgeTarget = url !== undefined ? { url } : flags.prefix !== undefined ? { prefix: flags.prefix } : { zone: flags.zone! };
      const config = configFrom(cmd, io);
      const waves = flags.edge ? [flags.edge.map((u) => ({ name: u.replace(/\/+$/, ''), url: u }))] : purgeWaves(config, readRunning(config));
      if (waves.length === 0) throw new PurgeUsageError('purge: no edges; configure a fleet or origin.purgeEdges, start `mediacdn up`, or pass --edge <url>');
      const token = await adminTokenForClient(config);
      const db = await openDatabase(config.database).catch((err: unknown) => {
        io.err(`mediacdn: purge log: cannot open the database: ${(err as Error).message}`);
        return undefined;
      });
      let run: PurgeRun;
      try {
        run = await recordAndPurge({ db, targets: [target], waves, client: { token, timeoutMs: flags.timeout, attempts: flags.attempts } });
      } finally {
        await db?.close();
      }
      reportPurge(io, run);
      const pending = run.results.filter((r) => r.state === 'pending').length;
      if (pending > 0) throw new MediaCdnError('purge_pending', `purge pending on ${pending} of ${run.results.length} edge${run.results.length === 1 ? '' : 's'}${run.seqs.length > 0 ? ' (they apply it when they catch up on the purge log)' : ''}`);
      if (run.logError !== undefined) throw new MediaCdnError('purge_not_logged', `purge not recorded in the purge log: ${run.logError}`);
    });
}

/** One line per edge (done / pending with the reason) and where the purge is in the log. */
export function reportPurge(io: Io, run: PurgeRun): void {
  for (const r of run.results) (r.state === 'done' ? io.out : io.err)(describePurgeResult(r));
  if (run.seqs.length > 0) io.out(`purge log: ${run.seqs.length === 1 ? `entry ${run.seqs[0]}` : `entries ${run.seqs[0]}-${run.seqs[run.seqs.length - 1]}`}`);
}
