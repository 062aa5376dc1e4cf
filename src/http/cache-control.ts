// Cache-Control (RFC 9111 §5.2): a forgiving parser, delta-seconds and field-name-list helpers, a formatter;
// and targeted fields such as CDN-Cache-Control (RFC 9213), read strictly as Structured Fields.
// Parsing never throws: a Cache-Control directive we cannot read is skipped, the rest still count.

import { parseDictionary } from './structured-fields.ts';
import { InvalidHttpArgumentError, isToken, joinFieldLines, quote, splitList, trimOws, unquote } from './types.ts';
import type { HeaderValue } from './types.ts';

/** Directive name (lower-case) → argument (quoted-strings unquoted) or `true` when there is none. */
export type CacheControl = ReadonlyMap<string, string | true>;

/** What formatCacheControl accepts: false / undefined omit a directive, arrays become field-name lists. */
export type CacheControlInput =
  | ReadonlyMap<string, string | number | boolean | readonly string[] | undefined>
  | Readonly<Record<string, string | number | boolean | readonly string[] | undefined>>;

/** RFC 9111 §1.2.2: "the cache MUST consider the value to be 2147483648 (2^31) or the greatest ..." */
export const DELTA_SECONDS_MAX = 2 ** 31;

/**
 * Cache-Control = #cache-directive ; cache-directive = token [ "=" ( token / quoted-string ) ].
 * Names are case-insensitive (§5.2: "Cache directives are identified by a token, to be compared
 * case-insensitively"). Several field lines are combined first.
 *
 * Duplicates: the first occurrence wins. §4.2.1: "When there is more than one value present for a given
 * directive (e.g., two Expires header field lines or multiple Cache-Control: max-age directives), either
 * the first occurrence should be used or the response should be considered stale." First-wins keeps
 * the parser simple and predictable; policy code wanting the stricter reading can use
 * `hasConflictingDuplicates`.
 */
export function parseCacheControl(header: HeaderValue): CacheControl {
  return parseWithDuplicates(header).cc;
}

/** True when some directive appears twice with different arguments (e.g. `max-age=1, max-age=9`). */
export function hasConflictingDuplicates(header: HeaderValue): boolean {
  return parseWithDuplicates(header).conflict;
}

function parseWithDuplicates(header: HeaderValue): { cc: CacheControl; conflict: boolean } {
  const cc = new Map<string, string | true>();
  let conflict = false;
  const value = joinFieldLines(header);
  if (value === undefined) return { cc, conflict };
  for (const member of splitList(value)) {
    const eq = member.indexOf('=');
    const name = trimOws(eq < 0 ? member : member.slice(0, eq)).toLowerCase();
    if (!isToken(name)) continue;
    let arg: string | true = true;
    if (eq >= 0) {
      // Be lenient about OWS around "=" (common in the wild, harmless to accept).
      const raw = trimOws(member.slice(eq + 1));
      const unq = raw.startsWith('"') ? unquote(raw) : isToken(raw) ? raw : undefined;
      if (unq === undefined) continue;
      arg = unq;
    }
    const prev = cc.get(name);
    if (prev === undefined) cc.set(name, arg);
    else if (prev !== arg) conflict = true;
  }
  return { cc, conflict };
}

/** Directives whose value RFC 9213 §2.1 maps to an Integer (delta-seconds). */
const INTEGER_DIRECTIVES: ReadonlySet<string> = new Set(['max-age', 's-maxage', 'stale-while-revalidate', 'stale-if-error']);
/** Directives that may carry a field-name list, as a String; without one they are Booleans. */
const FIELD_LIST_DIRECTIVES: ReadonlySet<string> = new Set(['private', 'no-cache']);
/** Directives without a value: Booleans. */
const BOOLEAN_DIRECTIVES: ReadonlySet<string> = new Set([
  'no-store', 'no-transform', 'public', 'must-revalidate', 'proxy-revalidate', 'must-understand', 'immutable',
]);

/**
 * A targeted cache-control field (RFC 9213 §2.1, e.g. CDN-Cache-Control), as directives in the shape
 * parseCacheControl returns, or undefined when the field must be ignored. "Targeted fields are
 * Dictionary Structured Fields", whose directive values map to "Booleans ... when the member has no
 * separate value, Integers ... for directives that take a delta-seconds, and Strings ... for
 * directives that take a field-name list"; "Implementations SHOULD NOT consume values that violate
 * these inferred constraints" and "If a targeted field in a given response is empty, or a parsing
 * error is encountered, that field SHOULD be ignored by the cache". A known directive of the wrong
 * type makes the whole field invalid, so the cache falls back to Cache-Control rather than half-obey
 * it. Parameters are ignored ("Parameters received on cache directives are to be ignored").
 */
export function parseTargetedCacheControl(header: HeaderValue): CacheControl | undefined {
  const dict = parseDictionary(header);
  if (dict === undefined || dict.size === 0) return undefined;
  const cc = new Map<string, string | true>();
  for (const [name, member] of dict) {
    if (member.kind === 'inner-list') {
      if (INTEGER_DIRECTIVES.has(name) || FIELD_LIST_DIRECTIVES.has(name) || BOOLEAN_DIRECTIVES.has(name)) return undefined;
      continue; // an extension directive we do not read
    }
    const v = member.value;
    if (INTEGER_DIRECTIVES.has(name)) {
      if (v.type !== 'integer' || v.value < 0) return undefined;
      cc.set(name, String(Math.min(v.value, DELTA_SECONDS_MAX)));
    } else if (FIELD_LIST_DIRECTIVES.has(name)) {
      if (v.type === 'string') cc.set(name, v.value);
      else if (v.type === 'boolean') {
        if (v.value) cc.set(name, true);
      } else return undefined;
    } else if (BOOLEAN_DIRECTIVES.has(name)) {
      if (v.type !== 'boolean') return undefined;
      if (v.value) cc.set(name, true);
    } else if (v.type === 'boolean') {
      if (v.value) cc.set(name, true);
    } else {
      cc.set(name, v.type === 'byte-sequence' ? v.value.toString('base64') : String(v.value));
    }
  }
  return cc;
}

/**
 * delta-seconds = 1*DIGIT (§1.2.2). Returns undefined when the directive is absent, has no argument or
 * an invalid one (negative, fractional, signed, non-ASCII digits). §1.2.2: "If a cache receives a
 * delta-seconds value greater than the greatest integer it can represent, or if any of its subsequent
 * calculations overflows, the cache MUST consider the value to be 2147483648 (2^31)". We clamp there.
 * The quoted form (`max-age="60"`) is accepted: §5.2 asks senders not to generate it, but it parses.
 */
export function ccSeconds(cc: CacheControl, name: string): number | undefined {
  const v = cc.get(name.toLowerCase());
  return typeof v === 'string' ? parseDeltaSeconds(v) : undefined;
}

/** delta-seconds = 1*DIGIT (§1.2.2), clamped at 2^31; undefined for anything else. */
export function parseDeltaSeconds(v: string): number | undefined {
  if (!/^[0-9]+$/.test(v)) return undefined;
  const stripped = v.replace(/^0+(?=\d)/, '');
  if (stripped.length > 10) return DELTA_SECONDS_MAX;
  return Math.min(Number(stripped), DELTA_SECONDS_MAX);
}

/**
 * For `no-cache="a, b"` and `private="x"` (§5.2.2.4, §5.2.2.7): undefined when the directive is absent,
 * `true` when it is present without an argument (it covers the whole response), otherwise the
 * lower-cased field names. The token form (`private=x`) is accepted too, as §5.2.2.7 suggests.
 */
export function ccFieldNames(cc: CacheControl, name: string): string[] | true | undefined {
  const v = cc.get(name.toLowerCase());
  if (v === undefined || v === true) return v;
  return splitList(v).filter(isToken).map((n) => n.toLowerCase());
}

/**
 * Serialises directives in insertion order. `true` → bare name, number → `name=n` (floored, must be a
 * non-negative finite number), array → quoted field-name list, string → token or quoted-string.
 * Throws on a name that is not a token, a bad number, a field name that is not a token or a value with
 * control characters: those are bugs in our own code (or header injection attempts passing through it).
 */
export function formatCacheControl(obj: CacheControlInput): string {
  const entries = obj instanceof Map ? [...obj.entries()] : Object.entries(obj);
  const parts: string[] = [];
  for (const [rawName, v] of entries) {
    if (v === undefined || v === false) continue;
    const name = String(rawName).toLowerCase();
    if (!isToken(name)) throw new InvalidHttpArgumentError(`formatCacheControl: directive name is not a token: ${JSON.stringify(rawName)}`);
    if (v === true) parts.push(name);
    else if (typeof v === 'number') {
      if (!Number.isFinite(v) || v < 0) throw new InvalidHttpArgumentError(`formatCacheControl: ${name} needs delta-seconds, got ${v}`);
      parts.push(`${name}=${Math.min(Math.floor(v), DELTA_SECONDS_MAX)}`);
    } else if (Array.isArray(v)) {
      if (!v.every(isToken)) throw new InvalidHttpArgumentError(`formatCacheControl: ${name} field names must be tokens`);
      parts.push(`${name}=${quote(v.join(', '))}`);
    } else {
      const s = String(v);
      // qdtext / quoted-pair allow HTAB, SP, VCHAR and obs-text only.
      if (/[^\t\x20-\x7e\x80-\xff]/.test(s)) throw new InvalidHttpArgumentError(`formatCacheControl: ${name} has a character a header cannot carry`);
      parts.push(`${name}=${isToken(s) ? s : quote(s)}`);
    }
  }
  return parts.join(', ');
}
