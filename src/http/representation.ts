// The shared responder: turns a request's method + headers and a representation's metadata into a
// response plan (status, headers, body segments). Used by the origin AND the edge so both answer
// Range and conditional requests identically. Pure: the caller streams the byte segments.

import { randomBytes } from 'node:crypto';
import { evaluatePreconditions, ifRangeAllowsPartial } from './conditional.ts';
import { formatHttpDate } from './http-date.ts';
import { parseRange } from './range.ts';
import type { ByteRange } from './range.ts';
import { InvalidHttpArgumentError, isToken } from './types.ts';
import type { Headers } from './types.ts';

export type Representation = {
  size: number;
  contentType: string;
  etag?: string;
  /** ms since the epoch; sent at second precision. */
  lastModified?: number;
  /** See Validators.lastModifiedWeak: when true, an If-Range date never matches. */
  lastModifiedWeak?: boolean;
};
/** `bytes` is inclusive on both ends, like ByteRange; `text` is to be written as UTF-8. */
export type BodySegment = { kind: 'bytes'; start: number; end: number } | { kind: 'text'; text: string };
export type ResponsePlan = {
  status: 200 | 206 | 304 | 412 | 416;
  headers: Record<string, string>;
  /** Empty for HEAD, 304, 412 and 416, and for an empty representation. */
  body: BodySegment[];
};
export type PlanOptions = {
  maxRanges?: number;
  maxUnorderedRanges?: number;
  /** Multipart boundary source; default 24 random hex characters. */
  boundary?: () => string;
};

// RFC 2046 §5.1.1: boundary := 0*69<bchars> bcharsnospace
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

/**
 * Order (RFC 9110 §13.2.2): preconditions first (412 / 304), then — for GET only — If-Range gating and
 * Range. §14.2: "A server MUST ignore a Range header field received with a request method that is
 * unrecognized or for which range handling is not defined. For this specification, GET is the only
 * method for which range handling is defined." So HEAD always plans a 200.
 *
 * The caller adds Date, Cache-Control, Vary, CORS and the like; it must not add Content-Length or
 * Content-Range itself. Throws InvalidHttpArgumentError on a nonsensical representation.
 */
export function planResponse(method: 'GET' | 'HEAD', reqHeaders: Headers, rep: Representation, opts?: PlanOptions): ResponsePlan {
  checkRepresentation(rep);
  const validators = { etag: rep.etag, lastModified: rep.lastModified, lastModifiedWeak: rep.lastModifiedWeak };
  const meta: Record<string, string> = {};
  if (rep.etag !== undefined) meta['etag'] = rep.etag;
  if (rep.lastModified !== undefined) meta['last-modified'] = formatHttpDate(rep.lastModified);

  const pre = evaluatePreconditions(method, reqHeaders, validators);
  // §15.4.5: a 304 sends the validators a 200 would have; Content-Length / Content-Type would describe
  // a body the 304 does not have, so they are left out.
  if (pre.kind === 'not-modified') return { status: 304, headers: meta, body: [] };
  if (pre.kind === 'precondition-failed') return { status: 412, headers: { 'content-length': '0' }, body: [] };

  const headers: Record<string, string> = { 'accept-ranges': 'bytes', ...meta };
  const full = (): ResponsePlan => ({
    status: 200,
    headers: { ...headers, 'content-type': rep.contentType, 'content-length': String(rep.size) },
    body: method === 'GET' && rep.size > 0 ? [{ kind: 'bytes', start: 0, end: rep.size - 1 }] : [],
  });

  const rangeHeader = reqHeaders['range'];
  if (method !== 'GET' || rangeHeader === undefined) return full();
  // §13.1.5: "If the validator given in the If-Range header field matches the current validator for the
  // selected representation, then the server SHOULD process the Range header field as requested. If the
  // validator does not match, then the server MUST ignore the Range header field."
  if (!ifRangeAllowsPartial(reqHeaders['if-range'], validators)) return full();

  const range = parseRange(rangeHeader, rep.size, { maxRanges: opts?.maxRanges, maxUnorderedRanges: opts?.maxUnorderedRanges });
  switch (range.kind) {
    case 'none':
    case 'ignore':
      return full();
    case 'unsatisfiable':
      // §15.5.17: "a server generating a 416 (Range Not Satisfiable) response to a byte-range request
      // SHOULD generate a Content-Range header field specifying the current length".
      return { status: 416, headers: { ...headers, 'content-range': `bytes */${rep.size}`, 'content-length': '0' }, body: [] };
    case 'ranges': {
      if (range.ranges.length === 1) return single(headers, rep, range.ranges[0]);
      const parts = multipart(headers, rep, range.ranges, opts?.boundary);
      // §14.2: "A server MAY ignore the Range header field." We do when the multipart framing makes the
      // 206 at least as large as the whole representation (20 one-byte ranges of a 431-byte file were
      // a 1,820-byte answer): a range request never costs more than a plain GET.
      return Number(parts.headers['content-length']) >= rep.size ? full() : parts;
    }
  }
}

function single(headers: Record<string, string>, rep: Representation, r: ByteRange): ResponsePlan {
  return {
    status: 206,
    headers: {
      ...headers,
      'content-type': rep.contentType,
      'content-range': contentRange(r, rep.size),
      'content-length': String(r.end - r.start + 1),
    },
    body: [{ kind: 'bytes', start: r.start, end: r.end }],
  };
}

/**
 * §14.6 multipart/byteranges: each part carries Content-Type and Content-Range. "A server MUST NOT
 * generate a multipart response to a request for a single range" (§15.3.7.2) — single() handles that.
 * Content-Length is exact: the sum of the UTF-8 lengths of the text segments and of the byte ranges.
 * Part header names are Title-Case: case-insensitive by spec, but some players' parsers are naive.
 */
function multipart(headers: Record<string, string>, rep: Representation, ranges: ByteRange[], boundarySource?: () => string): ResponsePlan {
  const boundary = (boundarySource ?? defaultBoundary)();
  if (!BOUNDARY.test(boundary)) throw new InvalidHttpArgumentError(`planResponse: invalid multipart boundary ${JSON.stringify(boundary)}`);
  const body: BodySegment[] = [];
  let length = 0;
  const text = (t: string) => {
    body.push({ kind: 'text', text: t });
    length += Buffer.byteLength(t, 'utf8');
  };
  ranges.forEach((r, i) => {
    text(`${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${rep.contentType}\r\nContent-Range: ${contentRange(r, rep.size)}\r\n\r\n`);
    body.push({ kind: 'bytes', start: r.start, end: r.end });
    length += r.end - r.start + 1;
  });
  text(`\r\n--${boundary}--\r\n`);
  return {
    status: 206,
    headers: { ...headers, 'content-type': `multipart/byteranges; boundary=${isToken(boundary) ? boundary : `"${boundary}"`}`, 'content-length': String(length) },
    body,
  };
}

function contentRange(r: ByteRange, size: number): string {
  return `bytes ${r.start}-${r.end}/${size}`;
}

function defaultBoundary(): string {
  return randomBytes(12).toString('hex');
}

function checkRepresentation(rep: Representation): void {
  if (!Number.isSafeInteger(rep.size) || rep.size < 0) throw new InvalidHttpArgumentError(`planResponse: bad size ${rep.size}`);
  // A CR or LF here would let a stored content type inject headers into the multipart parts.
  if (typeof rep.contentType !== 'string' || /[^\t\x20-\x7e\x80-\xff]/.test(rep.contentType)) {
    throw new InvalidHttpArgumentError(`planResponse: bad content type ${JSON.stringify(rep.contentType)}`);
  }
  if (rep.lastModified !== undefined && !Number.isFinite(rep.lastModified)) {
    throw new InvalidHttpArgumentError(`planResponse: bad lastModified ${rep.lastModified}`);
  }
}
