// Time-series line charts drawn as SVG: a few series over the last hours, per minute. Redrawn at the
// container's width (text stays crisp, no scaling), with a hover / keyboard read-out of the values.
import { gutterFor, timeTicks, valueTicks } from './chart-axes.ts';
import { h, svg } from './dom.ts';

export type Series = { label: string; color: string; values: readonly (number | null)[]; dashed?: boolean };

export type ChartSpec = {
  title: string;
  /** Minute start times (ms since the epoch), one per value. */
  times: readonly number[];
  series: readonly Series[];
  format: (v: number) => string;
  /** Fixed top of the y axis (e.g. 1 for ratios); otherwise a round number above the largest value. */
  yMax?: number;
  /** Counts: the y axis is labelled in whole numbers only. */
  integer?: boolean;
  /** Left margin in px; charts shown together get the same one, so their time axes line up. */
  gutter?: number;
  /** What the numbers mean in one sentence, for screen readers. */
  summary: string;
};

const HEIGHT = 180;
const PAD = { top: 10, right: 12, bottom: 24 };
function clock(t: number): string {
  const d = new Date(t);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** Path data with a gap wherever a value is null. */
function pathFor(values: readonly (number | null)[], x: (i: number) => number, y: (v: number) => number): string {
  let d = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) {
      pen = false;
      return;
    }
    d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    pen = true;
  });
  return d;
}

/** The y axis labels' values for a chart's data. */
export function chartTicks(spec: Pick<ChartSpec, 'series' | 'yMax' | 'integer'>): number[] {
  const maxValue = Math.max(0, ...spec.series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v))));
  return valueTicks(maxValue, { yMax: spec.yMax, integer: spec.integer });
}

export function renderChart(container: HTMLElement, spec: ChartSpec): void {
  const legend = h('ul', { class: 'legend' }, ...spec.series.map((s) => h('li', {}, h('span', { class: `swatch${s.dashed ? ' dashed' : ''}`, 'data-color': s.color }), s.label)));
  for (const sw of legend.querySelectorAll<HTMLElement>('.swatch')) sw.style.setProperty('--c', sw.dataset.color ?? 'currentColor');
  const plot = h('div', { class: 'plot' });
  const readout = h('div', { class: 'readout', hidden: true });
  container.replaceChildren(h('h3', { class: 'chart-title' }, spec.title), legend, plot, readout);

  const draw = () => {
    const width = Math.max(240, Math.floor(plot.clientWidth || 600));
    const n = spec.times.length;
    const ticks = chartTicks(spec);
    const top = ticks[ticks.length - 1];
    const left = spec.gutter ?? gutterFor(ticks.map(spec.format));
    const innerW = width - left - PAD.right;
    const innerH = HEIGHT - PAD.top - PAD.bottom;
    const x = (i: number) => left + (n <= 1 ? innerW : (i / (n - 1)) * innerW);
    const y = (v: number) => PAD.top + innerH - (Math.min(v, top) / top) * innerH;

    const root = svg('svg', { viewBox: `0 0 ${width} ${HEIGHT}`, width, height: HEIGHT, role: 'img', 'aria-label': `${spec.title}. ${spec.summary}`, class: 'chart-svg' });
    const grid = svg('g', { class: 'grid' });
    for (const v of ticks) {
      grid.append(svg('line', { x1: left, x2: width - PAD.right, y1: y(v), y2: y(v) }));
      grid.append(svg('text', { x: left - 8, y: y(v) + 4, 'text-anchor': 'end', class: 'y-tick' }, spec.format(v)));
    }
    if (n > 1) {
      const labels = timeTicks(spec.times, Math.max(2, Math.floor(innerW / 70)), -new Date(spec.times[0]).getTimezoneOffset());
      for (const i of labels) {
        // Labels at the very edges are anchored inside the plot so they are not cut off.
        const anchor = x(i) - left < 16 ? 'start' : width - PAD.right - x(i) < 16 ? 'end' : 'middle';
        grid.append(svg('text', { x: x(i), y: HEIGHT - 6, 'text-anchor': anchor, class: 'x-tick' }, clock(spec.times[i])));
      }
    }
    root.append(grid);
    for (const s of spec.series) {
      const d = pathFor(s.values, x, y);
      if (d === '') continue;
      root.append(svg('path', { d, class: 'line', stroke: s.color, fill: 'none', 'stroke-width': 2, 'stroke-dasharray': s.dashed ? '5 4' : 'none', 'vector-effect': 'non-scaling-stroke' }));
      // A lone point (one minute of data) would be invisible as a path: mark it.
      s.values.forEach((v, i) => {
        const alone = v !== null && (i === 0 || s.values[i - 1] === null) && (i === n - 1 || s.values[i + 1] === null);
        if (alone) root.append(svg('circle', { cx: x(i), cy: y(v as number), r: 3, fill: s.color }));
      });
    }
    const cursor = svg('line', { class: 'cursor', y1: PAD.top, y2: PAD.top + innerH, x1: -10, x2: -10 });
    root.append(cursor);
    plot.replaceChildren(root);

    const show = (i: number) => {
      cursor.setAttribute('x1', String(x(i)));
      cursor.setAttribute('x2', String(x(i)));
      readout.hidden = false;
      readout.replaceChildren(
        h('strong', {}, clock(spec.times[i])),
        ...spec.series.map((s) => {
          const v = s.values[i];
          return h('span', {}, `${s.label}: ${v === null || v === undefined ? '–' : spec.format(v)}`);
        }),
      );
    };
    root.addEventListener('pointermove', (ev) => {
      const r = root.getBoundingClientRect();
      const px = ((ev.clientX - r.left) / r.width) * width;
      show(Math.min(n - 1, Math.max(0, Math.round(((px - left) / innerW) * (n - 1)))));
    });
    root.addEventListener('pointerleave', () => {
      readout.hidden = true;
      cursor.setAttribute('x1', '-10');
      cursor.setAttribute('x2', '-10');
    });
  };
  draw();
  const ro = new ResizeObserver(() => draw());
  ro.observe(plot);
  // The observer goes with the container's next render.
  (container as HTMLElement & { _ro?: ResizeObserver })._ro?.disconnect();
  (container as HTMLElement & { _ro?: ResizeObserver })._ro = ro;
}
