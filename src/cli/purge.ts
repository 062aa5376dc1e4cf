// `mediacdn purge <url> | --prefix <url> | --zone <host>`: asks every configured edge
// (origin.purgeEdges, or --edge) to drop cached copies. Each edge purges its shield first.
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import type { Config } from '../config/index.ts';
import { resolveAdminToken } from '../config/token.ts';
import { EXIT, MediaCdnError } from '../errors.ts';
import { purgeEdges } from '../edge/control/purge-client.ts';
import type { PurgeTarget } from '../edge/control/purge-client.ts';
import { configFrom, type Io } from './context.ts';

type PurgeFlags = { prefix?: string; zone?: string; edge?: string[] };

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
    .description('drop cached copies on the edges: one URL, a URL prefix or a whole zone')
    .argument('[url]', 'absolute URL on a zone, e.g. http://cdn.example.com/media/abc.mp3')
    .option('--prefix <url>', 'every URL starting with this absolute URL prefix')
    .option('--zone <host>', 'everything cached for this zone host')
    .option('--edge <url>', 'edge to purge (repeatable; default: origin.purgeEdges from the config)', collect)
    .action(async (url: string | undefined, flags: PurgeFlags, cmd: Command) => {
      const given = [url, flags.prefix, flags.zone].filter((v) => v !== undefined);
      if (given.length !== 1) throw new PurgeUsageError('purge: give exactly one of <url>, --prefix <url> or --zone <host>');
      const target: PurgeTarget = url !== undefined ? { url } : flags.prefix !== undefined ? { prefix: flags.prefix } : { zone: flags.zone! };
      const config = configFrom(cmd, io);
      const edges = flags.edge ?? config.origin.purgeEdges;
      if (edges.length === 0) throw new PurgeUsageError('purge: no edges; pass --edge <url> or set origin.purgeEdges in the config file');
      const token = await adminTokenForClient(config);
      const results = await purgeEdges(edges, target, { token });
      let failed = 0;
      for (const r of results) {
        if (r.ok) io.out(`${r.edge}: removed ${r.removed}${r.shield ? ` (shield ${r.shield.url}: removed ${r.shield.removed})` : ''}`);
        else {
          failed++;
          io.err(`${r.edge}: purge failed${r.status !== undefined ? ` (HTTP ${r.status})` : ''}: ${r.error}`);
        }
      }
      if (failed > 0) throw new MediaCdnError('purge_failed', `purge failed on ${failed} of ${results.length} edge${results.length === 1 ? '' : 's'}`);
    });
}
