// `mediacdn stats [--zone Z] [--edge URL] [--json]`: reads a running edge's /_mediacdn/stats and prints
// a readable summary per zone (last hour, last 24 hours, totals).
import type { Command } from 'commander';
import { request } from 'undici';
import type { Config } from '../config/index.ts';
import { MediaCdnError } from '../errors.ts';
import { parseSnapshot, summarise } from '../edge/stats.ts';
import { adminTokenForClient } from './purge.ts';
import { configFrom, type Io } from './context.ts';

type StatsFlags = { zone?: string; edge?: string; json?: boolean };

/** The local edge's control URL from the config: the admin listener when there is one. */
export function defaultEdgeUrl(config: Config): string {
  const e = config.edge;
  const host = e.adminPort !== undefined ? e.adminHost : e.host;
  const local = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${local.includes(':') ? `[${local}]` : local}:${e.adminPort ?? e.port}`;
}

export function registerStats(program: Command, io: Io): void {
  program
    .command('stats')
    .description("print a running edge's statistics: requests, hit rate, bytes, origin response times, errors")
    .option('--zone <host>', 'only this zone')
    .option('--edge <url>', 'edge to ask (default: the local edge from the config)')
    .option('--json', 'print the raw JSON snapshot')
    .action(async (flags: StatsFlags, cmd: Command) => {
      const config = configFrom(cmd, io);
      const edge = (flags.edge ?? defaultEdgeUrl(config)).replace(/\/+$/, '');
      const token = await adminTokenForClient(config);
      let status: number;
      let text: string;
      try {
        const res = await request(`${edge}/_mediacdn/stats`, { headers: { authorization: `Bearer ${token}` }, headersTimeout: 10_000, bodyTimeout: 10_000 });
        status = res.statusCode;
        text = await res.body.text();
      } catch (err) {
        throw new MediaCdnError('stats_unreachable', `cannot reach the edge at ${edge}: ${(err as Error).message}`, { cause: err });
      }
      if (status !== 200) throw new MediaCdnError('stats_failed', `${edge} answered HTTP ${status}: ${text.trim().slice(0, 200)}`);
      const parsed = parseSnapshot(JSON.parse(text));
      if (parsed.kind === 'invalid') throw new MediaCdnError('stats_failed', `${edge}: the statistics ${parsed.reason}`);
      if (flags.json) io.out(JSON.stringify(parsed.snapshot, null, 2));
      else io.out(summarise(parsed.snapshot, { zone: flags.zone }).trimEnd());
    });
}
