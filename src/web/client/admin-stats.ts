// Edge statistics per zone: totals for the chosen window and charts over time of hit rate, bandwidth,
// origin response time (p50 / p95) and origin non-2xx. Polls GET /api/edge-stats while the page is visible.
import { api, ApiError } from './api.ts';
import { h, one } from './dom.ts';
import { chartTicks, renderChart, type ChartSpec } from './charts.ts';
import { gutterFor } from './chart-axes.ts';
import { formatBitrate, formatBytes, formatCount, formatMs, formatPercent } from './format.ts';
import { emptyState } from './admin-ui.ts';
import { isSnapshot, windowTotals, zoneSeries, type WireSnapshot } from './stats-model.ts';
import { renderFleetTable } from './fleet-table.ts';

const POLL_MS = 10_000;
const ZONE_KEY = 'mediacdn.zone';

function cssColor(name: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || '#5847eb';
}

export function createStatsView(): { start(): void; stop(): void } {
  const section = one('#stats');
  const body = one('.stats-body', section);
  const zoneSelect = one<HTMLSelectElement>('.zone-select', section);
  const rangeGroup = one('.segmented', section);
  const rangeButtons = [...rangeGroup.querySelectorAll<HTMLButtonElement>('button')];
  let minutes = 60;
  let snapshot: WireSnapshot | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = false;

  function tile(label: string, value: string, note: string, bad = false): HTMLElement {
    return h('div', { class: `tile${bad ? ' tile-bad' : ''}` }, h('div', { class: 'tile-label' }, label), h('div', { class: 'tile-value' }, value), h('div', { class: 'tile-note' }, note));
  }

  /** "11 / 29 ms" when both read in ms: fits a tile on a phone. */
  function pair(a: number | null, b: number | null): string {
    if (a === null || b === null) return '–';
    return a < 1000 && b < 1000 ? `${formatMs(a).replace(/ ms$/, '')} / ${formatMs(b)}` : `${formatMs(a)} / ${formatMs(b)}`;
  }

  function render(): void {
    if (snapshot === undefined) return;
    const hosts = Object.keys(snapshot.zones).sort();
    zoneSelect.hidden = hosts.length < 2;
    if (hosts.length === 0) {
      body.replaceChildren(emptyState('chart', 'No traffic through the edge yet', 'Play something on the listener page: the figures appear here within a minute.'));
      return;
    }
    const wanted = zoneSelect.value || localStorage.getItem(ZONE_KEY) || hosts[0];
    const host = hosts.includes(wanted) ? wanted : hosts[0];
    if (zoneSelect.options.length !== hosts.length || [...zoneSelect.options].some((o, i) => o.value !== hosts[i])) {
      zoneSelect.replaceChildren(...hosts.map((z) => h('option', { value: z }, z)));
    }
    zoneSelect.value = host;
    const zone = snapshot.zones[host];
    const s = zoneSeries(snapshot, zone, minutes);
    const w = windowTotals(snapshot, zone, minutes);
    const span = minutes >= 60 ? `last ${minutes / 60} h` : `last ${minutes} min`;
    const all = zone.totals;
    const sinceDate = new Date(zone.since);
    const since = `in all since ${sinceDate.toDateString() === new Date(snapshot.generatedAt).toDateString() ? sinceDate.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : sinceDate.toLocaleDateString()}`;
    const nonOk = Object.entries(w.originNon2xxByStatus).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}×${n}`).join(' ');

    const charts = [h('div', { class: 'chart', 'data-chart': 'hit-rate' }), h('div', { class: 'chart', 'data-chart': 'bandwidth' }), h('div', { class: 'chart', 'data-chart': 'origin-time' }), h('div', { class: 'chart', 'data-chart': 'origin-non2xx' })];
    body.replaceChildren(
      h('p', { class: 'zone-name' }, `Zone ${host} · ${span} · updated ${new Date(snapshot.generatedAt).toLocaleTimeString()}`),
      h('div', { class: 'tiles' },
        tile('Requests', formatCount(w.requests), `${formatCount(all.requests)} ${since}`),
        tile('Hit rate', formatPercent(w.hitRate), `${formatPercent(all.hitRate)} ${since}`),
        tile('Served', formatBytes(w.bytesToClients), `${formatBytes(all.bytesToClients)} ${since}`),
        tile('From origin', formatBytes(w.bytesFromOrigin), `${formatCount(w.originResponses)} origin response${w.originResponses === 1 ? '' : 's'}`),
        tile('Origin p50 / p95', pair(w.originP50, w.originP95), `time to first byte, ${span}`),
        tile('Origin non-2xx', formatCount(w.originNon2xx + w.originErrors), nonOk !== '' ? nonOk + (w.originErrors ? ` · ${w.originErrors} errors` : '') : w.originErrors ? `${w.originErrors} failed connections` : 'none', w.originNon2xx + w.originErrors > 0),
      ),
      h('div', { class: 'charts' }, ...charts),
    );
    const [c1, c2, c3] = [cssColor('--chart-1'), cssColor('--chart-2'), cssColor('--chart-3')];
    const specs: ChartSpec[] = [
      {
        title: 'Cache hit rate',
        times: s.times,
        series: [{ label: 'Hits (incl. stale, revalidated)', color: c1, values: s.hitRate }],
        format: (v) => `${Math.round(v * 100)} %`,
        yMax: 1,
        summary: `Share of requests answered from the cache per minute; ${formatPercent(w.hitRate)} over the ${span}.`,
      },
      {
        title: 'Bandwidth',
        times: s.times,
        series: [
          { label: 'Served to clients', color: c1, values: s.servedBps },
          { label: 'Fetched from origin', color: c3, values: s.originBps, dashed: true },
        ],
        format: formatBitrate,
        summary: `${formatBytes(w.bytesToClients)} served and ${formatBytes(w.bytesFromOrigin)} fetched from the origin over the ${span}.`,
      },
      {
        title: 'Origin response time',
        times: s.times,
        series: [
          { label: 'p50', color: c1, values: s.originP50 },
          { label: 'p95', color: c2, values: s.originP95, dashed: true },
        ],
        format: formatMs,
        summary: `Time to the origin's response head; p50 ${formatMs(w.originP50)}, p95 ${formatMs(w.originP95)} over the ${span}.`,
      },
      {
        title: 'Origin non-2xx and errors',
        times: s.times,
        series: [
          { label: 'Non-2xx responses', color: c2, values: s.originNon2xx },
          { label: 'Failed connections', color: c3, values: s.originErrors, dashed: true },
        ],
        // Counts of responses: whole numbers on the axis.
        integer: true,
        format: (v) => String(v),
        summary: `${w.originNon2xx} origin responses outside 2xx and ${w.originErrors} failed origin connections over the ${span}.`,
      },
    ];
    // One left margin for all four: the same minutes stand at the same place in every chart.
    const gutter = gutterFor(specs.flatMap((spec) => chartTicks(spec).map(spec.format)));
    specs.forEach((spec, i) => renderChart(charts[i], { ...spec, gutter }));
  }

  async function poll(): Promise<void> {
    clearTimeout(timer);
    try {
      const body_ = await api<unknown>('GET', '/api/edge-stats');
      if (!isSnapshot(body_)) throw new Error('the statistics are in a format this page does not know');
      snapshot = body_;
      rangeGroup.hidden = false;
      render();
      renderFleetTable(one('.fleet-body', section), body_);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return;
      if (err instanceof ApiError && (err.status === 404 || err.status === 501)) {
        rangeGroup.hidden = true;
        body.replaceChildren(emptyState('chart', 'Edge statistics are not available', h('span', {}, 'This origin does not relay an edge’s statistics. Start everything with ', h('code', {}, 'mediacdn up'), ' to see hit rate, bandwidth and origin timings here.')));
        return; // no point polling a server that has no such endpoint
      } else if (snapshot === undefined) {
        body.replaceChildren(h('p', { class: 'banner banner-error', role: 'alert' }, `Edge statistics could not be loaded: ${(err as Error).message}`));
      }
    }
    if (running) timer = setTimeout(() => void poll(), POLL_MS);
  }

  for (const b of rangeButtons) {
    b.addEventListener('click', () => {
      minutes = Number(b.dataset.range);
      for (const x of rangeButtons) x.setAttribute('aria-pressed', String(x === b));
      render();
    });
  }
  zoneSelect.addEventListener('change', () => {
    localStorage.setItem(ZONE_KEY, zoneSelect.value);
    render();
  });
  document.addEventListener('visibilitychange', () => {
    if (!running) return;
    if (document.hidden) clearTimeout(timer);
    else void poll();
  });

  return {
    start() {
      running = true;
      void poll();
    },
    stop() {
      running = false;
      clearTimeout(timer);
    },
  };
}
