// Reads an HTTP/1.1 request head, strictly, for the plain listener's own connection handling
// (serve.ts). It takes only the plain shape nearly every request has: GET, HEAD or OPTIONS, no body,
// one line per field, visible ASCII only, each field name once, a Host line in HTTP/1.1. Anything
// else — a body, Expect, Upgrade, a repeated field, obs-fold, a bare LF, obs-text, an unknown version
// or method, a head near the size limit — is "not mine": the connection goes to node:http's parser
// from that request on, which answers it (or refuses it with its 400 / 431) as it always has. So this
// reader never has to refuse anything, and a request it takes means the same as node:http would make
// of it (test: head.test.ts sends both the same generated heads).

export type RequestHead = {
  kind: 'head';
  method: 'GET' | 'HEAD' | 'OPTIONS';
  url: string;
  /** 1 for HTTP/1.1, 0 for HTTP/1.0. */
  minor: 0 | 1;
  /** Field names in lower case, values without surrounding whitespace, as node:http gives them. */
  headers: Record<string, string>;
  /** Names as sent and values, alternating (IncomingMessage.rawHeaders). */
  rawHeaders: string[];
  /** Whether the connection stays open after the answer (HTTP/1.1 unless `close`; HTTP/1.0 with `keep-alive`). */
  keepAlive: boolean;
  /** Offset just after the head's empty line. */
  end: number;
};

/** No complete head yet (the caller decides whether to wait). */
export const INCOMPLETE = { kind: 'incomplete' } as const;
/** A head this reader does not take: node:http's parser gets it. */
export const NOT_MINE = { kind: 'not-mine' } as const;

const CRLFCRLF = Buffer.from('\r\n\r\n');
/** ' HTTP/1.1' */
const VERSION_LENGTH = 9;
/** Token characters (field names), by code: 1 for a token character. */
const TCHAR = new Uint8Array(0x80);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TCHAR[c.charCodeAt(0)] = 1;
/** More fields than any real client sends; such a head is node:http's to judge. */
const MAX_FIELDS = 100;
/**
 * Field names players, browsers and tools send, in lower case. A name that is one of them, in any
 * case, is matched in place and stored under this string: no lower-casing, no token check, and a key
 * the headers object has seen before (a fresh string as key costs a string-table lookup each time).
 */
const KNOWN_NAMES = [
  'host', 'user-agent', 'accept', 'accept-encoding', 'accept-language', 'connection', 'range', 'if-range', 'if-none-match',
  'if-modified-since', 'origin', 'referer', 'cache-control', 'pragma', 'cookie', 'authorization', 'x-forwarded-for',
  'content-length', 'sec-fetch-dest', 'sec-fetch-mode', 'sec-fetch-site', 'dnt', 'upgrade-insecure-requests', 'icy-metadata',
  'priority', 'te',
];
const KNOWN_BY_LENGTH: string[][] = [];
for (const name of KNOWN_NAMES) (KNOWN_BY_LENGTH[name.length] ??= []).push(name);

/** The known lower-case name that text[pos, pos + length) spells in any case, else undefined. */
function knownName(text: string, pos: number, length: number): string | undefined {
  const names = KNOWN_BY_LENGTH[length];
  if (names === undefined) return undefined;
  next: for (let k = 0; k < names.length; k++) {
    const lower = names[k];
    for (let i = 0; i < length; i++) {
      const l = lower.charCodeAt(i);
      const c = text.charCodeAt(pos + i);
      // A letter in either case; any other character exactly.
      if (c !== l && !(l >= 97 && l <= 122 && (c | 0x20) === l)) continue next;
    }
    return lower;
  }
  return undefined;
}

/** Bytes read as text to look for a head's end before the buffer itself is searched. */
const FIRST_LOOK = 2048;

/** Heads this close to the limit are node:http's, which counts them its own way. */
const LIMIT_MARGIN = 256;

/**
 * The head starting at `start` in `buf` (bytes up to `length`), INCOMPLETE when its end is not
 * there yet (and the bytes so far are still under the limit), or NOT_MINE.
 */
export function readHead(buf: Buffer, start: number, length: number, maxHeaderBytes: number): RequestHead | typeof INCOMPLETE | typeof NOT_MINE {
  const limit = maxHeaderBytes - LIMIT_MARGIN;
  // Most heads end in their first bytes: those as text, searched there (a search in the buffer is a
  // call into C++ and its text another). Past them (or past the limit), the buffer is searched.
  const window = Math.min(length, start + FIRST_LOOK, start + limit);
  const first = buf.toString('latin1', start, window);
  const found = first.indexOf('\r\n\r\n');
  // The head is text[0, n) (the text read, not a slice of it: a slice costs each character read);
  // text[n] starts its CR LF CR LF when there is more, so a CR LF searched for is found at n at most.
  let text: string;
  let at: number;
  let n: number;
  if (found !== -1) {
    at = start + found;
    if (at + 4 - start >= limit) return NOT_MINE;
    text = first;
    n = found;
  } else {
    at = buf.indexOf(CRLFCRLF, Math.max(start, window - 3));
    if (at === -1 || at + 4 > length) return length - start >= limit ? NOT_MINE : INCOMPLETE;
    if (at + 4 - start >= limit) return NOT_MINE;
    text = buf.toString('latin1', start, at);
    n = text.length;
  }
  let lineEnd = text.indexOf('\r\n');
  if (lineEnd === -1) lineEnd = n;
  // The request line: method SP target SP HTTP/1.x, the target visible ASCII.
  const method = text.startsWith('GET ') ? 'GET' : text.startsWith('HEAD ') ? 'HEAD' : text.startsWith('OPTIONS ') ? 'OPTIONS' : undefined;
  if (method === undefined) return NOT_MINE;
  const urlEnd = lineEnd - VERSION_LENGTH;
  if (urlEnd <= method.length + 1) return NOT_MINE;
  const version = text.slice(urlEnd, lineEnd);
  const minor = version === ' HTTP/1.1' ? 1 : version === ' HTTP/1.0' ? 0 : undefined;
  if (minor === undefined) return NOT_MINE;
  for (let i = method.length + 1; i < urlEnd; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return NOT_MINE;
  }
  const url = text.slice(method.length + 1, urlEnd);
  const headers: Record<string, string> = {};
  let connection: string | undefined;
  let count = 0;
  let pos = lineEnd + 2;
  while (pos < n) {
    if (++count > MAX_FIELDS) return NOT_MINE;
    // name ":" value CR LF, the name a token, the value HTAB, SP and visible ASCII only: any other
    // byte (a lone CR or LF, obs-fold, a control, obs-text) is a question node:http answers. The
    // last line ends where the text does. (A line without a colon makes a name with its CR LF in it.)
    const colon = text.indexOf(':', pos);
    if (colon <= pos) return NOT_MINE;
    let key = knownName(text, pos, colon - pos);
    if (key === undefined) {
      for (let i = pos; i < colon; i++) {
        const c = text.charCodeAt(i);
        if (c > 0x7e || TCHAR[c] === 0) return NOT_MINE;
      }
      key = text.slice(pos, colon).toLowerCase();
    }
    // The value without the blanks around it.
    let vs = -1;
    let ve = -1;
    let i = colon + 1;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c > 0x20) {
        if (c > 0x7e) return NOT_MINE;
        if (vs === -1) vs = i;
        ve = i + 1;
      } else if (c !== 0x20 && c !== 0x09) {
        if (c === 0x0d && text.charCodeAt(i + 1) === 0x0a) break;
        return NOT_MINE;
      }
    }
    const value = vs === -1 ? '' : text.slice(vs, ve);
    // A repeated field (node:http joins or drops repeats by name), or a name Object.prototype has
    // (__proto__, constructor ...): node:http's.
    if (headers[key] !== undefined) return NOT_MINE;
    switch (key) {
      case 'content-length':
        if (value !== '0') return NOT_MINE;
        break;
      case 'transfer-encoding':
      case 'expect':
      case 'upgrade':
      case 'http2-settings':
        return NOT_MINE;
      case 'connection':
        connection = value.toLowerCase();
        break;
    }
    headers[key] = value;
    pos = i + 2;
  }
  if (minor === 1 && headers.host === undefined) return NOT_MINE;
  let close = false;
  let keepAliveAsked = false;
  if (connection !== undefined) {
    for (const token of connection.split(',')) {
      const t = token.trim();
      if (t === 'close') close = true;
      else if (t === 'keep-alive') keepAliveAsked = true;
      else if (t === 'upgrade') return NOT_MINE;
    }
  }
  const keepAlive = !close && (minor === 1 || keepAliveAsked);
  return new Head(method, url, minor, headers, keepAlive, at + 4, text, lineEnd + 2, n);
}

/** A head readHead took. Its rawHeaders, which only the request path reads, are made when asked for. */
class Head {
  readonly kind = 'head';
  readonly method: 'GET' | 'HEAD' | 'OPTIONS';
  readonly url: string;
  readonly minor: 0 | 1;
  readonly headers: Record<string, string>;
  readonly keepAlive: boolean;
  readonly end: number;
  /** The head's text without its empty line (text[0, #length)), and where its fields start. */
  readonly #text: string;
  readonly #fields: number;
  readonly #length: number;
  #raw: string[] | undefined;

  constructor(method: 'GET' | 'HEAD' | 'OPTIONS', url: string, minor: 0 | 1, headers: Record<string, string>, keepAlive: boolean, end: number, text: string, fields: number, length: number) {
    this.method = method;
    this.url = url;
    this.minor = minor;
    this.headers = headers;
    this.keepAlive = keepAlive;
    this.end = end;
    this.#text = text;
    this.#fields = fields;
    this.#length = length;
  }

  get rawHeaders(): string[] {
    if (this.#raw !== undefined) return this.#raw;
    // The fields readHead checked: name ":" value CR LF, the value's blanks trimmed.
    const text = this.#text;
    const n = this.#length;
    const raw: string[] = [];
    let pos = this.#fields;
    while (pos < n) {
      const colon = text.indexOf(':', pos);
      let next = text.indexOf('\r\n', colon);
      if (next === -1) next = n;
      raw.push(text.slice(pos, colon), trimBlanks(text, colon + 1, next));
      pos = next + 2;
    }
    this.#raw = raw;
    return raw;
  }
}

/** text[from, to) without the spaces and tabs around it. */
function trimBlanks(text: string, from: number, to: number): string {
  while (from < to && (text.charCodeAt(from) === 0x20 || text.charCodeAt(from) === 0x09)) from++;
  while (to > from && (text.charCodeAt(to - 1) === 0x20 || text.charCodeAt(to - 1) === 0x09)) to--;
  return text.slice(from, to);
}
