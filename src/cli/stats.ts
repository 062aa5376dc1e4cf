// `mediacdn stats [--zone Z] [--edge URL] [--json]`: reads a running edge's /_mediacdn/stats and prints
// a readable summary per zone (last hour, last 24 hours, totals). With a fleet configured (and no
// --edge), asks every edge: one row per edge, then the fleet total.
import type { Command } from 'commander';
import { request } from 'undici';
import type { Config } from '../config/index.ts';
import { InputError, MediaCdnError } from '../errors.ts';
import { parseSnapshot } from '../edge/stats/persistence.ts';
import { summarise } from '../edge/stats/summary.ts';
import { formatBytes } from '../web/client/format.ts';
import { fetchFleetStats, statsSources, type EdgeStatsRow } from './fleet-stats.ts';
import { adminTokenForClient } from './purge.ts';
import { configFrom, httpUrlOption, type Io } from './context.ts';
import { readRunning } from './running.ts';

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
    .option('--edge <url>', 'edge to ask (default: every fleet edge, else the running `mediacdn up`, else the local edge from the config)', httpUrlOption('--edge'))
    .option('--json', 'print the raw JSON snapshot')
    .action(async (flags: StatsFlags, cmd: Command) => {
      const config = configFrom(cmd, io);
      const token = await adminTokenForClient(config);
      const running = readRunning(config);
      if (flags.edge === undefined && config.fleet.length > 0) {
        const fleet = await fetchFleetStats(statsSources(config, running ? [running.controlUrl] : []), token);
        requireZone(fleet.zones, flags.zone, config, 'the fleet');
        if (flags.json) io.out(JSON.stringify(fleet, null, 2));
        else io.out(`${fleetTable(fleet.edges)}\n\nfleet total (${fleet.edges.filter((e) => e.ok).length} of ${fleet.edges.length} edges answered)\n${summarise(fleet, { zone: flags.zone }).trimEnd()}`);
        if (fleet.edges.every((e) => !e.ok)) throw new MediaCdnError('stats_unreachable', 'no edge of the fleet answered');
        return;
      }
      const edge = (flags.edge ?? running?.controlUrl ?? defaultEdgeUrl(config)).replace(/\/+$/, '');
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
      requireZone(parsed.snapshot.zones, flags.zone, config, edge);
      if (flags.json) io.out(JSON.stringify(parsed.snapshot, null, 2));
      else io.out(summarise(parsed.snapshot, { zone: flags.zone }).trimEnd());
    });
}

/**
 * `--zone` names a zone the statistics know, or one configured here that has had no request yet
 * (reported as such); anything else is a mistake worth an exit code (3).
 */
function requireZone(zones: Readonly<Record<string, unknown>>, zone: string | undefined, config: Config, where: string): void {
  if (zone === undefined || Object.hasOwn(zones, zone) || config.edge.zones.some((z) => z.host === zone)) return;
  const known = Object.keys(zones);
  throw new InputError('unknown_zone', `stats: ${where} has no statistics for zone ${JSON.stringify(zone)} (${known.length > 0 ? `zones: ${known.join(', ')}` : 'no zone has statistics yet'})`);
}

/** One line per fleet edge: whether it answered, requests, hit rate, bytes sent, origin errors. */
export function fleetTable(rows: readonly EdgeStatsRow[]): string {
  const table = [
    ['edge', 'status', 'requests', 'hit rate', 'sent', 'from origin', '5xx', 'origin errors'],
    ...rows.map((r) =>
      r.ok
        ? [r.name, 'ok', r.requests.toLocaleString('en-US'), r.hitRate === null ? '-' : `${(r.hitRate * 100).toFixed(1)}%`, formatBytes(r.bytesToClients), formatBytes(r.bytesFromOrigin), String(r.responses5xx), String(r.originErrors)]
        : [r.name, `no answer: ${r.error ?? ''}`, '', '', '', '', '', ''],
    ),
  ];
  const answered = table.filter((r, i) => i === 0 || rows[i - 1].ok);
  const widths = table[0].map((_, i) => Math.max(...answered.map((r) => r[i].length)));
  return table
    .map((r, i) => (i > 0 && !rows[i - 1].ok ? `${r[0].padEnd(widths[0])}   ${r[1]}` : r.map((c, j) => (j < 2 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('   ').trimEnd()))
    .join('\n');
}
