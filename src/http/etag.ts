// Entity tags (RFC 9110 §8.8.3): parsing, the strong and weak comparison functions, formatting.

import { InvalidHttpArgumentError, joinFieldLines, splitList, trimOws } from './types.ts';
import type { HeaderValue } from './types.ts';

/** `opaque` includes the double quotes, e.g. { weak: true, opaque: '"abc"' } for W/"abc". */
export type EntityTag = { weak: boolean; opaque: string };
export type EntityTagList = { kind: 'any' } | { kind: 'list'; tags: EntityTag[] } | { kind: 'invalid' };
/** An EntityTag, or its serialised form (an ETag field value). */
export type EntityTagLike = EntityTag | string;

// entity-tag = [ weak ] opaque-tag ; weak = %s"W/" ; opaque-tag = DQUOTE *etagc DQUOTE
// etagc = %x21 / %x23-7E / obs-text (obs-text = %x80-FF)
const ENTITY_TAG = /^(W\/)?("[\x21\x23-\x7e\x80-\xff]*")$/;

/** Parses one entity-tag (surrounding OWS allowed), or undefined if it is not one. */
export function parseEntityTag(s: string | undefined): EntityTag | undefined {
  if (typeof s !== 'string') return undefined;
  const m = ENTITY_TAG.exec(trimOws(s));
  return m ? { weak: m[1] !== undefined, opaque: m[2] } : undefined;
}

/**
 * Parses If-Match / If-None-Match: `"*" / #entity-tag` (RFC 9110 §13.1.1, §13.1.2).
 * Several field lines are combined first. A `*` mixed with tags, or any malformed member, makes
 * the whole field 'invalid' (callers decide what that means: see conditional.ts). An absent field
 * or one with only empty list members is an empty list (which the grammar allows and nothing matches).
 */
export function parseEntityTagList(header: HeaderValue): EntityTagList {
  const value = joinFieldLines(header);
  if (value === undefined) return { kind: 'list', tags: [] };
  if (trimOws(value) === '*') return { kind: 'any' };
  const tags: EntityTag[] = [];
  for (const member of splitList(value, false)) {
    const tag = parseEntityTag(member);
    if (!tag) return { kind: 'invalid' };
    tags.push(tag);
  }
  return { kind: 'list', tags };
}

function toTag(t: EntityTagLike): EntityTag | undefined {
  return typeof t === 'string' ? parseEntityTag(t) : t;
}

/**
 * RFC 9110 §8.8.3.2: "Strong comparison: two entity tags are equivalent if both are not weak and
 * their opaque-tags match character-by-character." Unparsable strings never match.
 */
export function strongMatch(a: EntityTagLike, b: EntityTagLike): boolean {
  const x = toTag(a);
  const y = toTag(b);
  return !!x && !!y && !x.weak && !y.weak && x.opaque === y.opaque;
}

/**
 * RFC 9110 §8.8.3.2: "Weak comparison: two entity tags are equivalent if their opaque-tags match
 * character-by-character, regardless of either or both being tagged as "weak"."
 */
export function weakMatch(a: EntityTagLike, b: EntityTagLike): boolean {
  const x = toTag(a);
  const y = toTag(b);
  return !!x && !!y && x.opaque === y.opaque;
}

export function formatEntityTag(tag: EntityTag): string {
  if (!ENTITY_TAG.test(tag.opaque)) throw new InvalidHttpArgumentError(`formatEntityTag: bad opaque-tag ${JSON.stringify(tag.opaque)}`);
  return (tag.weak ? 'W/' : '') + tag.opaque;
}

/**
 * A strong ETag value from a content hash in hex, base64 or base64url, e.g. `"9f86d0…"`.
 * Base64 padding is kept (`=` is a legal etagc). Throws on anything that is not such a hash,
 * because a quote or control character here would be a header-injection bug in our own code.
 */
export function strongEtagFromHash(hexOrBase64: string): string {
  if (typeof hexOrBase64 !== 'string' || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(hexOrBase64)) {
    throw new InvalidHttpArgumentError(`strongEtagFromHash: not a hex/base64 hash: ${JSON.stringify(hexOrBase64)}`);
  }
  return `"${hexOrBase64}"`;
}
