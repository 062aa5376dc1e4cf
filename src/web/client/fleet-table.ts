// The fleet's edges under the statistics charts: one row per edge from GET /api/edge-stats `edges`
// (requests, hit rate, bytes sent, errors since each edge's statistics began) and the fleet total.
import { h } from './dom.ts';
import { formatBytes, formatCount, formatPercent } from './format.ts';

/** One row of /api/edge-stats `edges` (src/cli/fleet-stats.ts EdgeStatsRow). */
export type WireEdgeRow = {
  name: string;
  ok: boolean;
  error?: string;
  requests: number;
  hitRate: number | null;
  bytesToClients: number;
  responses5xx: number;
  originErrors: number;
};

export function edgeRows(body: unknown): WireEdgeRow[] {
  const edges = (body as { edges?: unknown } | null)?.edges;
  if (!Array.isArray(edges)) return [];
  return edges.filter((e): e is WireEdgeRow => typeof e === 'object' && e !== null && typeof (e as WireEdgeRow).name === 'string' && typeof (e as WireEdgeRow).ok === 'boolean');
}

/** A table, or nothing when the origin relays a single edge (the charts say everything then). */
export function renderFleetTable(target: HTMLElement, body: unknown): void {
  const rows = edgeRows(body);
  if (rows.length < 2) {
    target.replaceChildren();
    return;
  }
  const up = rows.filter((r) => r.ok);
  const sum = (f: (r: WireEdgeRow) => number) => up.reduce((a, r) => a + f(r), 0);
  const served = sum((r) => (r.hitRate === null ? 0 : r.requests));
  const hits = sum((r) => (r.hitRate === null ? 0 : r.hitRate * r.requests));
  const cells = (r: { requests: number; hitRate: number | null; bytesToClients: number; responses5xx: number; originErrors: number }) => [
    h('td', { class: 'num' }, formatCount(r.requests)),
    h('td', { class: 'num' }, formatPercent(r.hitRate)),
    h('td', { class: 'num' }, formatBytes(r.bytesToClients)),
    h('td', { class: 'num' }, formatCount(r.responses5xx + r.originErrors)),
  ];
  target.replaceChildren(
    h(
      'table',
      { class: 'fleet-table' },
      h('caption', {}, `Fleet: ${up.length} of ${rows.length} edges answering (totals since each edge started counting)`),
      h('thead', {}, h('tr', {}, ...['Edge', 'Requests', 'Hit rate', 'Sent', 'Errors'].map((t, i) => h('th', { scope: 'col', class: i > 0 ? 'num' : undefined }, t)))),
      h(
        'tbody',
        {},
        ...rows.map((r) =>
          r.ok
            ? h('tr', {}, h('th', { scope: 'row' }, r.name), ...cells(r))
            : h('tr', { class: 'fleet-down' }, h('th', { scope: 'row' }, r.name), h('td', { colspan: '4' }, `no answer: ${r.error ?? 'unknown'}`)),
        ),
      ),
      h('tfoot', {}, h('tr', {}, h('th', { scope: 'row' }, 'Fleet'), ...cells({ requests: sum((r) => r.requests), hitRate: served === 0 ? null : hits / served, bytesToClients: sum((r) => r.bytesToClients), responses5xx: sum((r) => r.responses5xx), originErrors: sum((r) => r.originErrors) }))),
    ),
  );
}
