// Conditional requests (RFC 9110 §13): the one place that decides 304 / 412 / proceed, and If-Range.

import { parseEntityTag, parseEntityTagList, strongMatch, weakMatch } from './etag.ts';
import { parseHttpDate } from './http-date.ts';
import { joinFieldLines, trimOws } from './types.ts';
import type { Headers, HeaderValue } from './types.ts';

export type Validators = {
  /** The ETag field value of the selected representation, e.g. '"abc"' or 'W/"abc"'. */
  etag?: string;
  /** Last modification time in ms; compared at one-second precision, as HTTP-date carries. */
  lastModified?: number;
  /**
   * Set when lastModified must not be treated as a strong validator (RFC 9110 §8.8.2.2), e.g. an edge
   * whose cached response has Date less than a second after Last-Modified. Only If-Range cares.
   */
  lastModifiedWeak?: boolean;
};

export type PreconditionResult = { kind: 'proceed' } | { kind: 'not-modified' } | { kind: 'precondition-failed' };

const PROCEED: PreconditionResult = { kind: 'proceed' };
const NOT_MODIFIED: PreconditionResult = { kind: 'not-modified' };
const FAILED: PreconditionResult = { kind: 'precondition-failed' };

const seconds = (ms: number) => Math.floor(ms / 1000);

/**
 * RFC 9110 §13.2.2 precedence, for an origin server (or an edge answering from its cache):
 * 1. If-Match → 412 when false. 2. else If-Unmodified-Since → 412 when false.
 * 3. If-None-Match → when false: 304 for GET/HEAD, else 412. 4. else (GET/HEAD) If-Modified-Since → 304 when false.
 * (Step 5, If-Range, is ifRangeAllowsPartial.) `exists` false means there is no current representation
 * (then `v` is ignored): `If-Match: *` fails and `If-None-Match: *` passes, as for a PUT that creates.
 *
 * We skip the "unless it can be determined that the state-change has already succeeded" escape
 * for 412: we only serve GET/HEAD, where there is no state change.
 */
export function evaluatePreconditions(method: string, headers: Headers, v: Validators, exists = true): PreconditionResult {
  const isGetOrHead = method === 'GET' || method === 'HEAD';
  const etag = exists ? v.etag : undefined;
  const lastModified = exists && Number.isFinite(v.lastModified) ? v.lastModified : undefined;

  const ifMatch = present(headers['if-match']);
  if (ifMatch !== undefined) {
    if (!ifMatchPasses(ifMatch, etag, exists)) return FAILED;
  } else {
    // §13.1.4: "A recipient MUST ignore If-Unmodified-Since if the request contains an If-Match header
    // field"; "MUST ignore ... if the received field value is not a valid HTTP-date (including when the
    // field value appears to be a list of dates)"; "MUST ignore ... if the resource does not have a
    // modification date available." Otherwise "the origin server MUST NOT perform the requested method
    // if the selected representation's last modification date is more recent than the date provided".
    const since = singleDate(headers['if-unmodified-since']);
    if (since !== undefined && lastModified !== undefined && seconds(lastModified) > seconds(since)) return FAILED;
  }

  const ifNoneMatch = present(headers['if-none-match']);
  if (ifNoneMatch !== undefined) {
    if (!ifNoneMatchPasses(ifNoneMatch, etag, exists)) return isGetOrHead ? NOT_MODIFIED : FAILED;
    return PROCEED;
  }

  // §13.1.3: "A recipient MUST ignore If-Modified-Since if the request contains an If-None-Match header
  // field"; "... if the received field value is not a valid HTTP-date, the field value has more than one
  // member, or if the request method is neither GET nor HEAD"; "... if the resource does not have a
  // modification date available." Then: "The origin server SHOULD NOT perform the requested method if
  // the selected representation's last modification date is earlier than or equal to the date provided
  // in the field value; instead, the origin server SHOULD generate a 304 (Not Modified) response".
  // RFC 2616 called a date in the future invalid; RFC 9110 dropped that rule, and so do we: a client
  // that claims a future date gets a 304 while the representation is older than that date.
  if (isGetOrHead) {
    const since = singleDate(headers['if-modified-since']);
    if (since !== undefined && lastModified !== undefined && seconds(lastModified) <= seconds(since)) return NOT_MODIFIED;
  }
  return PROCEED;
}

/**
 * §13.1.1: "If the field value is "*", the condition is false if the origin server has no current
 * representation for the target resource. If the field value is a list of entity tags, the condition is
 * true if any of the listed tags matches the entity tag of the selected representation." Matching uses
 * the strong comparison ("An origin server MUST use the strong comparison function when comparing entity
 * tags for If-Match"). A malformed field cannot match anything, so it fails: If-Match guards against
 * lost updates, and failing closed is the safe side.
 */
function ifMatchPasses(header: HeaderValue, etag: string | undefined, exists: boolean): boolean {
  const list = parseEntityTagList(header);
  if (list.kind === 'any') return exists;
  if (list.kind === 'invalid' || etag === undefined) return false;
  return list.tags.some((tag) => strongMatch(tag, etag));
}

/**
 * §13.1.2: "If the field value is "*", the condition is false if the origin server has a current
 * representation for the target resource. If the field value is a list of entity tags, the condition is
 * false if one of the listed tags matches the entity tag of the selected representation." and "A
 * recipient MUST use the weak comparison function when comparing entity tags for If-None-Match". A
 * malformed field matches nothing, so the condition is true and the full response is sent (always safe).
 */
function ifNoneMatchPasses(header: HeaderValue, etag: string | undefined, exists: boolean): boolean {
  const list = parseEntityTagList(header);
  if (list.kind === 'any') return !exists;
  if (list.kind === 'invalid' || etag === undefined) return true;
  return !list.tags.some((tag) => weakMatch(tag, etag));
}

/** node never gives an empty array, but a hand-built header map might: treat it as absent. */
function present(h: HeaderValue): HeaderValue {
  return Array.isArray(h) && h.length === 0 ? undefined : h;
}

/** One HTTP-date from one field line; several lines count as a list of dates and are ignored. */
function singleDate(header: HeaderValue): number | undefined {
  if (Array.isArray(header) && header.length !== 1) return undefined;
  return parseHttpDate(joinFieldLines(header));
}

/**
 * RFC 9110 §13.1.5 If-Range = entity-tag / HTTP-date. Returns whether the Range header may be honoured
 * (true when If-Range is absent). "A server MUST ignore an If-Range header field received in a request
 * that does not contain a Range header field" — the caller only asks when Range is present.
 * - entity-tag: "the condition is true if ... exactly matches the ETag field value for the selected
 *   representation using the strong comparison function"; a weak tag therefore never matches.
 * - HTTP-date: "If the HTTP-date validator provided is not a strong validator in the sense defined by
 *   Section 8.8.2.2, the condition is false." / "If the HTTP-date validator provided exactly matches the
 *   Last-Modified field value for the selected representation, the condition is true." We treat our
 *   Last-Modified as strong unless `lastModifiedWeak` says otherwise (§8.8.2.2 lets an origin server
 *   with reliable knowledge do so); "exactly matches" is compared at second precision.
 * Anything else (garbage, several field lines) is false: send the whole representation.
 */
export function ifRangeAllowsPartial(ifRange: HeaderValue, v: Validators): boolean {
  if (ifRange === undefined) return true;
  if (Array.isArray(ifRange) && ifRange.length !== 1) return false;
  const value = trimOws(joinFieldLines(ifRange) ?? '');
  if (value.startsWith('"') || value.startsWith('W/')) {
    const tag = parseEntityTag(value);
    return !!tag && v.etag !== undefined && strongMatch(tag, v.etag);
  }
  const date = parseHttpDate(value);
  if (date === undefined || v.lastModified === undefined || !Number.isFinite(v.lastModified) || v.lastModifiedWeak) return false;
  return seconds(date) === seconds(v.lastModified);
}
