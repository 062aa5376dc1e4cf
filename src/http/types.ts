// Shared types and tiny field-value helpers for the pure HTTP layer (RFC 9110 §5).
// Everything in src/http/ depends only on this file and on each other, never on the rest of src/.

/** A header value as node's IncomingHttpHeaders gives it: one line, several lines, or absent. */
export type HeaderValue = string | string[] | undefined;
/** Header map with lower-case keys. */
export type Headers = Record<string, HeaderValue>;

/** Thrown only for programmer errors (bad arguments), never for hostile request input. */
export class InvalidHttpArgumentError extends Error {
  readonly code = 'ERR_HTTP_INVALID_ARGUMENT';
  readonly status = 500;
  constructor(message: string) {
    super(message);
    this.name = 'InvalidHttpArgumentError';
  }
}

// RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function isToken(s: string): boolean {
  return TOKEN.test(s);
}

/** Trims OWS (SP / HTAB) only, unlike String#trim which also eats CR, LF and unicode spaces. */
export function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s[a] === ' ' || s[a] === '\t')) a++;
  while (b > a && (s[b - 1] === ' ' || s[b - 1] === '\t')) b--;
  return s.slice(a, b);
}

/**
 * RFC 9110 §5.3: "A recipient MAY combine multiple field lines within a field section that have the
 * same field name into one field line ... by appending each subsequent field line value to the
 * combined field line value in order, separated by a comma (",") and optional whitespace".
 */
export function joinFieldLines(v: HeaderValue): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  return v.length === 0 ? undefined : v.join(', ');
}

/**
 * Splits a list-based field value (#rule, RFC 9110 §5.6.1) on commas that are outside quoted-strings,
 * trims OWS around each member and drops empty members ("a recipient MUST parse and ignore a
 * reasonable number of empty list elements"). Never throws; an unterminated quote runs to the end.
 * `escapes: false` is for entity-tags, whose opaque-tag may contain a backslash that is not an escape.
 * `delimiter: ';'` splits a member into its parameters the same way.
 */
export function splitList(value: string, escapes = true, delimiter = ','): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted) {
      if (c === '\\' && escapes) i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') {
      quoted = true;
    } else if (c === delimiter) {
      const member = trimOws(value.slice(start, i));
      if (member !== '') out.push(member);
      start = i + 1;
    }
  }
  const last = trimOws(value.slice(start));
  if (last !== '') out.push(last);
  return out;
}

/**
 * RFC 9110 §5.6.4: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE. Returns the unescaped
 * content, or undefined if `s` is not exactly one well-formed quoted-string.
 */
export function unquote(s: string): string | undefined {
  if (s.length < 2 || s[0] !== '"' || s[s.length - 1] !== '"') return undefined;
  let out = '';
  for (let i = 1; i < s.length - 1; i++) {
    let c = s[i];
    if (c === '"') return undefined;
    if (c === '\\') {
      if (i + 1 >= s.length - 1) return undefined;
      c = s[++i];
    }
    out += c;
  }
  return out;
}

/** Inverse of unquote: wraps in DQUOTE and escapes DQUOTE and backslash. */
export function quote(s: string): string {
  return '"' + s.replace(/["\\]/g, (m) => '\\' + m) + '"';
}

/** The first line of a field that may have been sent several times (Node gives some as arrays). */
export function firstValue(v: HeaderValue): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
