// Axis arithmetic for the dashboard's charts, pure (tested without a browser): round value ticks
// (whole numbers for counts), time ticks on round clock minutes, and one left margin for charts that
// stand together, so that their time axes line up.

/** 1, 2, 2.5, 5 × 10^n (for counts 1, 2, 5 × 10^n, at least 1): the smallest such step giving at most `ticks` intervals. */
export function niceMax(max: number, ticks = 4, integer = false): { top: number; step: number } {
  if (!(max > 0)) return integer ? { top: 1, step: 1 } : { top: 1, step: 0.25 };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const steps = integer ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10];
  let step = steps.map((m) => m * mag).find((s) => s >= raw) as number;
  if (integer) step = Math.max(1, Math.round(step));
  return { top: step * Math.ceil(max / step - 1e-9), step };
}

/** The values at which the y axis is labelled, from 0 to the top. */
export function valueTicks(maxValue: number, opts: { yMax?: number; integer?: boolean } = {}): number[] {
  const { top, step } = opts.yMax !== undefined ? { top: opts.yMax, step: opts.yMax / 4 } : niceMax(maxValue, 4, opts.integer ?? false);
  const out: number[] = [];
  for (let i = 0; i * step <= top + 1e-9; i++) out.push(Math.round(i * step * 1e9) / 1e9);
  return out;
}

/** Rough width of an axis label at 11 px: enough to keep the left margin tight without measuring text. */
export const CHAR_PX = 6.6;

/** The left margin that fits the widest of these labels (give it every chart's labels to line charts up). */
export function gutterFor(labels: readonly string[]): number {
  return Math.ceil(Math.max(1, ...labels.map((l) => l.length)) * CHAR_PX) + 14;
}

const MINUTE = 60_000;
/** Spacings of time labels, in minutes. */
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 240, 360, 720];

/**
 * Indexes of `times` (minute starts, one per minute) that get a label: round clock times (:00, :15, …
 * in the viewer's time zone, `offsetMinutes` = -getTimezoneOffset()), at most `maxLabels` of them.
 */
export function timeTicks(times: readonly number[], maxLabels: number, offsetMinutes = 0): number[] {
  if (times.length === 0) return [];
  const span = (times[times.length - 1] - times[0]) / MINUTE + 1;
  const step = TIME_STEPS.find((s) => span / s <= Math.max(1, maxLabels)) ?? TIME_STEPS[TIME_STEPS.length - 1];
  const out: number[] = [];
  times.forEach((t, i) => {
    const minute = Math.round(t / MINUTE) + offsetMinutes;
    if (((minute % step) + step) % step === 0) out.push(i);
  });
  return out;
}
