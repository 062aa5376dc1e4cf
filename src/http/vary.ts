// Vary (RFC 9110 §12.5.5) and the secondary cache key it implies (RFC 9111 §4.1).

import { isToken, joinFieldLines, splitList, trimOws } from './types.ts';
import type { Headers, HeaderValue } from './types.ts';

export type VaryResult = { kind: 'any' } | { kind: 'fields'; names: string[] };

/**
 * Vary = #( "*" / field-name ). Names are lower-cased, de-duplicated and sorted, so that
 * `Vary: Accept-Encoding, Origin` and `Vary: origin,accept-encoding` give the same key.
 * RFC 9111 §4.1: "A stored response with a Vary header field value containing a member "*" always
 * fails to match" — so any `*` member makes the whole value 'any'. Members that are not tokens are
 * dropped (they cannot name a field a request could carry).
 */
export function parseVary(header: HeaderValue): VaryResult {
  const value = joinFieldLines(header);
  if (value === undefined) return { kind: 'fields', names: [] };
  const names = new Set<string>();
  for (const member of splitList(value)) {
    if (member === '*') return { kind: 'any' };
    if (isToken(member)) names.add(member.toLowerCase());
  }
  return { kind: 'fields', names: [...names].sort() };
}

/**
 * A stable string for the request header values named by Vary, to append to the primary cache key.
 * RFC 9111 §4.1 lets two requests match after "adding or removing whitespace, where allowed in the
 * header field's syntax; combining multiple header field lines with the same field name" and
 * "normalizing both header field values in a way that is known to have identical semantics, according
 * to the header field's specification (e.g., reordering field values when order is not significant;
 * case-normalization, where values are defined to be case-insensitive)". So field lines are trimmed
 * and joined with ", ", and the fields in NORMALISE are rewritten member by member. An absent header is
 * `null`, distinct from an empty one (""). Serialised with JSON, never by joining with a delimiter a
 * value could contain.
 */
export function varyKey(names: readonly string[], requestHeaders: Headers): string {
  const sorted = [...new Set(names.map((n) => n.toLowerCase()))].sort();
  const pairs = sorted.map((name): [string, string | null] => {
    const v = requestHeaders[name];
    const lines = v === undefined ? undefined : (Array.isArray(v) ? v : [v]).map(trimOws);
    if (lines === undefined || lines.length === 0) return [name, null];
    const joined = lines.join(', ');
    return [name, NORMALISE[name]?.(joined) ?? joined];
  });
  return JSON.stringify(pairs);
}

/**
 * Fields whose semantics allow more than whitespace normalisation. Members are split outside quoted
 * strings, OWS around ";" and "=" is dropped, and:
 * - Accept-Encoding: content-codings are case-insensitive (RFC 9110 §8.4.1) and preference is given
 *   by weights only (§12.5.3), so members are lower-cased and sorted.
 * - Accept-Language: language ranges are case-insensitive (RFC 4647 §2): lower-cased. Not reordered:
 *   negotiators break ties between equal weights by order, so order can change the answer.
 * - Accept: type, subtype and parameter names are case-insensitive (§8.3.1): lower-cased; parameter
 *   values are kept. Not reordered, for the same reason as Accept-Language.
 */
const NORMALISE: Readonly<Record<string, (value: string) => string>> = {
  'accept-encoding': (v) => members(v, 'all').sort().join(', '),
  'accept-language': (v) => members(v, 'all').join(', '),
  accept: (v) => members(v, 'names').join(', '),
};

function members(value: string, lower: 'all' | 'names'): string[] {
  return splitList(value).map((member) => {
    const [first, ...params] = splitList(member, true, ';');
    const out = [(first ?? '').toLowerCase()];
    for (const p of params) {
      const eq = p.indexOf('=');
      const name = trimOws(eq < 0 ? p : p.slice(0, eq)).toLowerCase();
      const arg = eq < 0 ? '' : `=${trimOws(p.slice(eq + 1))}`;
      out.push(name + (lower === 'all' ? arg.toLowerCase() : arg));
    }
    return out.join(';');
  });
}
