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
/** Anything but HTAB, CR, LF and visible ASCII with space. */
const OUTSIDE = /[^\t\r\n\x20-\x7e]/;
/** A request target: visible ASCII, no space. */
const VISIBLE = /^[\x21-\x7e]+$/;
/** ' HTTP/1.1' */
const VERSION_LENGTH = 9;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
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
  let text: string;
  let at: number;
  if (found !== -1) {
    at = start + found;
    if (at + 4 - start >= limit) return NOT_MINE;
    text = first.slice(0, found);
  } else {
    at = buf.indexOf(CRLFCRLF, Math.max(start, window - 3));
    if (at === -1 || at + 4 > length) return length - start >= limit ? NOT_MINE : INCOMPLETE;
    if (at + 4 - start >= limit) return NOT_MINE;
    text = buf.toString('latin1', start, at);
  }
  if (OUTSIDE.test(text)) return NOT_MINE;
  let lineEnd = text.indexOf('\r\n');
  if (lineEnd === -1) lineEnd = text.length;
  // The request line: method SP target SP HTTP/1.x, the target visible ASCII (no regex match to make).
  const method = text.startsWith('GET ') ? 'GET' : text.startsWith('HEAD ') ? 'HEAD' : text.startsWith('OPTIONS ') ? 'OPTIONS' : undefined;
  if (method === undefined) return NOT_MINE;
  const urlEnd = lineEnd - VERSION_LENGTH;
  if (urlEnd <= method.length + 1) return NOT_MINE;
  const version = text.slice(urlEnd, lineEnd);
  const minor = version === ' HTTP/1.1' ? 1 : version === ' HTTP/1.0' ? 0 : undefined;
  if (minor === undefined) return NOT_MINE;
  const url = text.slice(method.length + 1, urlEnd);
  if (!VISIBLE.test(url)) return NOT_MINE;
  const headers: Record<string, string> = {};
  const rawHeaders: string[] = [];
  let connection: string | undefined;
  let count = 0;
  let pos = lineEnd + 2;
  while (pos < text.length) {
    // A line ends at the next LF, which must follow a CR, and holds no other CR: a lone CR or LF
    // inside a line is a framing question node:http answers. (The last line ends where the text does.)
    const lf = text.indexOf('\n', pos);
    if (lf !== -1 && text.charCodeAt(lf - 1) !== 13) return NOT_MINE;
    const next = lf === -1 ? text.length : lf - 1;
    const cr = text.indexOf('\r', pos);
    if (cr !== -1 && cr < next) return NOT_MINE;
    if (++count > MAX_FIELDS) return NOT_MINE;
    const colon = text.indexOf(':', pos);
    if (colon <= pos || colon >= next) return NOT_MINE;
    const name = text.slice(pos, colon);
    let key = knownName(text, pos, colon - pos);
    if (key === undefined) {
      if (!TOKEN.test(name)) return NOT_MINE;
      key = name.toLowerCase();
    }
    let vs = colon + 1;
    let ve = next;
    while (vs < ve && (text.charCodeAt(vs) === 32 || text.charCodeAt(vs) === 9)) vs++;
    while (ve > vs && (text.charCodeAt(ve - 1) === 32 || text.charCodeAt(ve - 1) === 9)) ve--;
    const value = text.slice(vs, ve);
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
    rawHeaders.push(name, value);
    pos = next + 2;
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
  return { kind: 'head', method, url, minor, headers, rawHeaders, keepAlive, end: at + 4 };
}
