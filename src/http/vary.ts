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
 * header field's syntax; combining multiple header field lines with the same field name" — so each field
 * line is trimmed of OWS and lines are joined with ", ". An absent header is `null`, distinct from an
 * empty one (""). Serialised with JSON, never by joining with a delimiter a value could contain.
 */
export function varyKey(names: readonly string[], requestHeaders: Headers): string {
  const sorted = [...new Set(names.map((n) => n.toLowerCase()))].sort();
  const pairs = sorted.map((name): [string, string | null] => {
    const v = requestHeaders[name];
    const lines = v === undefined ? undefined : (Array.isArray(v) ? v : [v]).map(trimOws);
    return [name, lines === undefined || lines.length === 0 ? null : lines.join(', ')];
  });
  return JSON.stringify(pairs);
}
