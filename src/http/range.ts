// Range request parsing for the `bytes` unit (RFC 9110 §14.1, §14.2), hardened against hostile input
// and against amplification (overlapping, huge or many out-of-order ranges).

import { joinFieldLines, trimOws } from './types.ts';
import type { HeaderValue } from './types.ts';

/** Inclusive byte positions: { start: 0, end: 0 } is the first byte. */
export type ByteRange = { start: number; end: number };
export type RangeResult =
  | { kind: 'none' }
  | { kind: 'ignore' }
  | { kind: 'unsatisfiable' }
  | { kind: 'ranges'; ranges: ByteRange[] };

export type RangeOptions = {
  /** Most ranges served after coalescing; more → 'ignore' (a 200, never amplify). Default 20. */
  maxRanges?: number;
  /** Most ranges served when they are not in ascending order; more → 'ignore'. Default 5. */
  maxUnorderedRanges?: number;
};

const DEFAULT_MAX_RANGES = 20;
const DEFAULT_MAX_UNORDERED = 5;
// A Range header longer than this is not a player or a PDF viewer; refuse to parse it at all.
const MAX_HEADER_LENGTH = 16 * 1024;

type Spec = { first: string; last: string | undefined } | { suffix: string };

/**
 * Parses a Range header against a representation of `size` bytes.
 *
 * RFC 9110 §14.2: "A server MAY ignore the Range header field." and "A server that supports range
 * requests MAY ignore or reject a Range header field that contains an invalid ranges-specifier
 * (Section 14.1.1), a ranges-specifier with more than two overlapping ranges, or a set of many small
 * ranges that are not listed in ascending order, since these are indications of either a broken
 * client or a deliberate denial-of-service attack (Section 17.15)." We ignore (serve 200) rather than
 * reject: invalid syntax, a unit other than bytes, several Range lines, too many ranges.
 *
 * §14.1.2: "A client can limit the number of bytes requested without knowing the size of the selected
 * representation" — so last-pos past the end and suffix-length past the size are clipped.
 *
 * Size 0: §14.1.1 "When a selected representation has zero length, the only satisfiable form of
 * range-spec is a suffix-range with a non-zero suffix-length." Such a range selects zero bytes, which
 * no Content-Range can express, so we answer 'ignore' (a 200 with the empty body) for it; every
 * int-range on an empty representation is 'unsatisfiable' (416), e.g. `bytes=0-`.
 */
export function parseRange(header: HeaderValue, size: number, opts?: RangeOptions): RangeResult {
  if (header === undefined) return { kind: 'none' };
  if (Array.isArray(header) && header.length > 1) return { kind: 'ignore' }; // Range is not a list field
  const value = joinFieldLines(header);
  if (value === undefined) return { kind: 'none' };
  if (!Number.isSafeInteger(size) || size < 0) return { kind: 'ignore' };
  // The fast path answers one range, so it applies only where one range is allowed.
  const fast = (opts?.maxRanges ?? DEFAULT_MAX_RANGES) >= 1 ? singleIntRange(value, size) : undefined;
  return fast ?? parseRangeSet(value, size, opts);
}

/** Longest digit string the fast path reads: 15 digits stay below 2^53, so the arithmetic is exact. */
const FAST_DIGITS = 15;

/**
 * What players send — `bytes=first-last` or `bytes=first-`, digits only — answered without the general
 * parser below (which splits, matches and sorts); the same result as parseRangeSet gives for it.
 * Undefined when the value has any other shape (the general parser decides those).
 */
function singleIntRange(v: string, size: number): RangeResult | undefined {
  const n = v.length;
  if (n < 8 || !v.startsWith('bytes=')) return undefined;
  let i = 6;
  let first = 0;
  for (let c = v.charCodeAt(i); c >= 48 && c <= 57; c = v.charCodeAt(++i)) first = first * 10 + (c - 48);
  if (i === 6 || i - 6 > FAST_DIGITS || v.charCodeAt(i) !== 45 /* - */) return undefined;
  const from = ++i;
  let last = 0;
  for (let c = v.charCodeAt(i); c >= 48 && c <= 57; c = v.charCodeAt(++i)) last = last * 10 + (c - 48);
  if (i !== n || i - from > FAST_DIGITS) return undefined;
  const open = i === from;
  // §14.1.1: an int-range whose last-pos is below its first-pos is invalid: the header is ignored.
  if (!open && last < first) return { kind: 'ignore' };
  if (first >= size) return { kind: 'unsatisfiable' };
  return { kind: 'ranges', ranges: [{ start: first, end: open ? size - 1 : Math.min(last, size - 1) }] };
}

/**
 * The general parser of a (joined) Range value against a size that is a safe integer: every shape
 * parseRange accepts. Exported so the tests can hold the fast path to it.
 */
export function parseRangeSet(value: string, size: number, opts?: RangeOptions): RangeResult {
  const specs = parseSpecs(value);
  if (!specs) return { kind: 'ignore' };

  // Clip each satisfiable spec to the representation; remember where it was requested.
  const clipped: Array<ByteRange & { order: number }> = [];
  let emptySuffix = false;
  specs.forEach((spec, order) => {
    if ('suffix' in spec) {
      // §14.1.1: "A suffix-range is satisfiable if the suffix-length is non-zero."
      const n = toNumber(spec.suffix);
      if (n === 0) return;
      if (size === 0) { emptySuffix = true; return; }
      clipped.push({ start: Math.max(0, size - n), end: size - 1, order });
    } else {
      // §14.1.1: an int-range "is satisfiable if the first-pos is less than the current length".
      const first = toNumber(spec.first);
      if (first >= size) return;
      const last = spec.last === undefined ? size - 1 : Math.min(toNumber(spec.last), size - 1);
      clipped.push({ start: first, end: last, order });
    }
  });
  if (clipped.length === 0) return emptySuffix ? { kind: 'ignore' } : { kind: 'unsatisfiable' };

  const merged = coalesce(clipped);
  const maxRanges = opts?.maxRanges ?? DEFAULT_MAX_RANGES;
  if (merged.length > maxRanges) return { kind: 'ignore' };
  const ascending = merged.every((r, i) => i === 0 || merged[i - 1].start < r.start);
  if (!ascending && merged.length > (opts?.maxUnorderedRanges ?? DEFAULT_MAX_UNORDERED)) return { kind: 'ignore' };
  return { kind: 'ranges', ranges: merged.map(({ start, end }) => ({ start, end })) };
}

/**
 * ranges-specifier = range-unit "=" range-set ; range-set = 1#range-spec
 * range-spec = int-range / suffix-range / other-range ; int-range = first-pos "-" [ last-pos ]
 * suffix-range = "-" suffix-length. Returns undefined when the value is not a valid bytes range-set.
 */
function parseSpecs(value: string): Spec[] | undefined {
  if (value.length > MAX_HEADER_LENGTH) return undefined;
  const v = trimOws(value);
  const eq = v.indexOf('=');
  // §14.1: range unit names are case-insensitive. No whitespace is allowed around "=".
  if (eq < 0 || v.slice(0, eq).toLowerCase() !== 'bytes') return undefined;
  const specs: Spec[] = [];
  for (const raw of v.slice(eq + 1).split(',')) {
    const member = trimOws(raw);
    if (member === '') continue; // empty list elements are ignored (§5.6.1)
    const m = /^(\d*)-(\d*)$/.exec(member);
    if (!m || (m[1] === '' && m[2] === '')) return undefined;
    if (m[1] === '') { specs.push({ suffix: m[2] }); continue; }
    // §14.1.1: "An int-range is invalid if the last-pos value is present and less than the first-pos."
    if (m[2] !== '' && compareDecimal(m[2], m[1]) < 0) return undefined;
    specs.push({ first: m[1], last: m[2] === '' ? undefined : m[2] });
  }
  return specs.length > 0 ? specs : undefined;
}

/** Compares two digit strings exactly, however long (no float rounding). */
function compareDecimal(a: string, b: string): number {
  const x = a.replace(/^0+(?=\d)/, '');
  const y = b.replace(/^0+(?=\d)/, '');
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Digit string to number; anything past 2^53 saturates (it is beyond any size we serve anyway). */
function toNumber(digits: string): number {
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : Number.MAX_SAFE_INTEGER;
}

/**
 * RFC 9110 §14.2: "A server that receives a ranges-specifier with overlapping or adjacent ranges MAY
 * coalesce them" and §14.6: "the server SHOULD send the parts in the same order that the
 * corresponding range-spec appeared in the received Range header field, excluding those ranges that
 * were deemed unsatisfiable or that were coalesced into other ranges." A merged range takes the
 * position of its earliest-requested member. After this, total bytes can never exceed the size.
 */
function coalesce(ranges: Array<ByteRange & { order: number }>): Array<ByteRange & { order: number }> {
  const sorted = [...ranges].sort((a, b) => a.start - b.start || a.end - b.end);
  const out: Array<ByteRange & { order: number }> = [];
  for (const r of sorted) {
    const prev = out[out.length - 1];
    if (prev && r.start <= prev.end + 1) {
      prev.end = Math.max(prev.end, r.end);
      prev.order = Math.min(prev.order, r.order);
    } else {
      out.push({ ...r });
    }
  }
  return out.sort((a, b) => a.order - b.order);
}
