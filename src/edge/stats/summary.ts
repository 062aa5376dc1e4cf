// The readable summary of `mediacdn stats`: a table per zone of the last hour, the last 24 hours and
// the totals.
import { formatBytes } from '../../web/client/format.ts';
import { OUTCOMES } from '../outcome.ts';
import { MINUTE_MS, STATUS_CLASSES, addFigures, emptyFigures, viewFigures } from './figures.ts';
import type { Figures, FiguresView, StatsSnapshot } from './figures.ts';

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const pct = (r: number | null): string => (r === null ? '-' : `${(r * 100).toFixed(1)}%`);
const ms = (n: number | null): string => (n === null ? '-' : n < 10 ? `${n.toFixed(1)} ms` : `${int(n)} ms`);
const tallyText = (t: Record<string, number>): string => {
  const entries = Object.entries(t).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? '-' : entries.map(([k, n]) => `${k}×${int(n)}`).join(' ');
};

function sumMinutes(minutes: ReadonlyArray<Figures & { t: number }>, from: number): Figures {
  const f = emptyFigures();
  for (const m of minutes) if (m.t >= from) addFigures(f, m);
  return f;
}

/** A table per zone: last hour, last 24 hours and totals, for `mediacdn stats [--zone Z]`. */
export function summarise(snapshot: StatsSnapshot, opts: { zone?: string } = {}): string {
  const hosts = Object.keys(snapshot.zones).filter((h) => opts.zone === undefined || h === opts.zone);
  if (hosts.length === 0) return opts.zone === undefined ? 'No statistics recorded yet.\n' : `No statistics for zone ${opts.zone}.\n`;
  const blocks = hosts.map((host) => {
    const zone = snapshot.zones[host];
    const columns = [
      viewFigures(sumMinutes(zone.minutes, (Math.floor(snapshot.generatedAt / MINUTE_MS) - 59) * MINUTE_MS)),
      viewFigures(sumMinutes(zone.minutes, 0)),
      zone.totals,
    ];
    const rows: Array<[string, (f: FiguresView) => string]> = [
      ['requests', (f) => int(f.requests)],
      ...STATUS_CLASSES.filter((c) => c !== '1xx' || zone.totals.responses['1xx'] > 0).map((c): [string, (f: FiguresView) => string] => [`  ${c}`, (f) => int(f.responses[c])]),
      ['  client aborts', (f) => int(f.clientAborts)],
      ['  by protocol', (f) => tallyText(f.requestsByProtocol)],
      ['cache hit rate', (f) => pct(f.hitRate)],
      ...OUTCOMES.map((o): [string, (f: FiguresView) => string] => [`  ${o}`, (f) => int(f.outcomes[o])]),
      ['sent to clients', (f) => formatBytes(f.bytesToClients)],
      ['fetched from origin', (f) => formatBytes(f.bytesFromOrigin)],
      ['origin responses', (f) => int(f.originResponses)],
      ['  p50 / p95 / p99', (f) => `${ms(f.originResponseMs.p50)} / ${ms(f.originResponseMs.p95)} / ${ms(f.originResponseMs.p99)}`],
      ['  non-2xx', (f) => tallyText(f.originNon2xx)],
      ['origin retries', (f) => int(f.originRetries)],
      ['origin errors', (f) => (f.originErrors === 0 ? '0' : `${int(f.originErrors)} (${tallyText(f.originErrorsByCode)})`)],
      ['stale-if-error served', (f) => int(f.staleIfErrorServed)],
      ['stale-while-revalidate', (f) => int(f.staleWhileRevalidateRefreshes)],
    ];
    const table = [['', 'last hour', 'last 24 h', 'total'], ...rows.map(([label, cell]) => [label, ...columns.map(cell)])];
    const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
    const text = table.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('   ').trimEnd());
    return [`zone ${host} (totals since ${new Date(zone.since).toISOString()})`, ...text].join('\n');
  });
  return `${blocks.join('\n\n')}\n`;
}
