// The request and response objects of the TLS listener's own handling of plain HTTP/2 requests
// (serve.ts): what request handlers use of node:http2's compatibility objects, with the same answer
// on the wire — fields lower-cased, Connection dropped, a flat field list in writeHead overriding
// fields set before (repeats kept), Date added, no body for HEAD / 204 / 304 — built straight on the
// core stream API. What it leaves out is the cost: no Readable per request (these requests have no
// body), no socket proxy per stream, no wait for trailers before the stream may end.
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { BodilessRequest } from '../bodiless-request.ts';

const COLON = 0x3a; // a pseudo-header field's name starts with ':'

/**
 * An HTTP/2 request's fields as an HTTP/1.1 request carries them: no pseudo-header fields, and the
 * authority in Host (RFC 9113 §8.3.1: ":authority" replaces Host; a client that sends both must
 * send the same host — the edge's recv refuses one that does not — and :authority wins). Node's
 * header object has a null prototype (a dictionary): the result is a plain object.
 */
export function requestFields(headers: IncomingHttpHeaders): Record<string, string | string[] | undefined> {
  const fields: Record<string, string | string[] | undefined> = {};
  for (const name in headers) if (name.charCodeAt(0) !== COLON) fields[name] = headers[name];
  const authority = headers[':authority'];
  if (typeof authority === 'string') fields['host'] = authority;
  return fields;
}

export class Http2Request extends BodilessRequest {
  readonly method: string;
  readonly url: string;
  readonly httpVersion = '2.0';
  readonly httpVersionMajor = 2;
  readonly httpVersionMinor = 0;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly rawHeaders: string[];
  readonly stream: ServerHttp2Stream;
  /** The connection (node's proxy for the session's socket: its address, not its bytes). */
  readonly socket: Socket;

  /** destroy() resets the stream; the connection and its other streams go on. */
  constructor(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: string[]) {
    super(stream);
    this.stream = stream;
    this.method = headers[':method'] as string;
    this.url = headers[':path'] as string;
    this.headers = requestFields(headers);
    this.rawHeaders = rawHeaders;
    this.socket = stream.session!.socket as Socket;
  }
}

type Value = string | number | readonly string[];
type Callback = (err?: Error | null) => void;

/** Pseudo-header fields a handler may not set (':status' is the status code's). */
const REQUEST_PSEUDO = new Set([':status', ':method', ':path', ':authority', ':scheme']);
/** Names found to be tokens (a response's names are few and repeat: the test runs once per name). */
const TOKENS = new Set<string>();
const TOKEN = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/;

function codeError<T extends Error>(err: T, code: string): T {
  return Object.assign(err, { code });
}

function headersSent(): Error {
  return codeError(new Error('Response has already been initiated.'), 'ERR_HTTP2_HEADERS_SENT');
}

/** The field's name as it goes out, or undefined for a field HTTP/2 drops (Connection). */
function fieldName(name: unknown, value: unknown): string | undefined {
  if (typeof name !== 'string') throw codeError(new TypeError(`The "name" argument must be of type string. Received ${typeof name}`), 'ERR_INVALID_ARG_TYPE');
  const key = name.trim().toLowerCase();
  if (key === '' || key.includes(' ')) throw codeError(new TypeError(`Header name must be a valid HTTP token ["${key}"]`), 'ERR_INVALID_HTTP_TOKEN');
  const pseudo = key.charCodeAt(0) === COLON;
  if (pseudo && REQUEST_PSEUDO.has(key)) throw codeError(new TypeError('Cannot set HTTP/2 pseudo-headers'), 'ERR_HTTP2_PSEUDOHEADER_NOT_ALLOWED');
  if (value === undefined || value === null) throw codeError(new TypeError(`Invalid value "${String(value)}" for header "${key}"`), 'ERR_HTTP2_INVALID_HEADER_VALUE');
  if (key === 'connection' && value !== 'trailers') return undefined;
  if (pseudo && key !== ':protocol') throw codeError(new TypeError(`"${key}" is an invalid pseudoheader or is used incorrectly`), 'ERR_HTTP2_INVALID_PSEUDOHEADER');
  return key;
}

/**
 * A flat field list as core's raw field list, when it needs none of the work setHeader / appendHeader
 * do: every name one seen before as it goes out (lower case, a token, not a pseudo-header field, not
 * Connection), every value a string, no name twice (repeats merge, and an empty value is replaced),
 * a status core takes as it is. Undefined otherwise: the list then goes the long way, with the same answer.
 */
function plainList(status: number, list: readonly string[]): (string | number)[] | undefined {
  const n = list.length;
  if ((n & 1) !== 0 || !Number.isInteger(status) || status < 200 || status > 599) return undefined;
  const raw: (string | number)[] = [':status', status];
  for (let i = 0; i < n; i += 2) {
    const name = list[i];
    const value = list[i + 1];
    if (typeof value !== 'string' || !TOKENS.has(name) || name.charCodeAt(0) === COLON || name === 'connection') return undefined;
    for (let j = 0; j < i; j += 2) if (list[j] === name) return undefined;
    raw.push(name, value);
  }
  return raw;
}

export class Http2Response extends EventEmitter {
  readonly req: Http2Request;
  readonly stream: ServerHttp2Stream;
  sendDate = true;
  /** HTTP/2 has no reason phrase: kept for handlers that set one, never sent. */
  statusMessage = '';
  writableEnded = false;
  writableFinished = false;
  #statusCode = 200;
  #fields: Record<string, Value> = Object.create(null) as Record<string, Value>;
  #closed = false;
  /** A field was set before writeHead (its list must then replace them). */
  #someSet = false;
  /** The stream's 'drain' is listened for (only after a write it could not take). */
  #awaitingDrain = false;
  /** The raw list writeHead sent (plainList: ':status' first), and how much of it was ours, for getHeader. */
  #sentList: readonly (string | number)[] | undefined;
  #sentLength = 0;

  constructor(req: Http2Request, stream: ServerHttp2Stream) {
    super();
    this.req = req;
    this.stream = stream;
  }

  get statusCode(): number {
    return this.#statusCode;
  }

  set statusCode(code: number) {
    code |= 0;
    if (code >= 100 && code < 200) throw codeError(new RangeError('Cannot set HTTP/2 1xx status codes'), 'ERR_HTTP2_INFO_STATUS_NOT_ALLOWED');
    if (code < 100 || code > 599) throw codeError(new RangeError(`Invalid status code: ${code}`), 'ERR_HTTP2_STATUS_INVALID');
    this.#statusCode = code;
  }

  get socket(): Socket | undefined {
    return this.#closed ? undefined : this.req.socket;
  }

  get headersSent(): boolean {
    return this.stream.headersSent;
  }

  get destroyed(): boolean {
    return this.stream.destroyed;
  }

  get writable(): boolean {
    return !this.writableEnded && !this.stream.destroyed;
  }

  get writableNeedDrain(): boolean {
    return this.stream.writableNeedDrain;
  }

  get shouldKeepAlive(): boolean {
    return true;
  }

  /** Connection management is the session's business in HTTP/2: a handler's wish is ignored. */
  set shouldKeepAlive(_keep: boolean) {}

  setHeader(name: string, value: Value): this {
    if (this.stream.headersSent) throw headersSent();
    const key = this.#checked(fieldName(name, value));
    if (key !== undefined) this.#fields[key] = value;
    this.#someSet = true;
    return this;
  }

  appendHeader(name: string, value: Value): this {
    if (this.stream.headersSent) throw headersSent();
    const key = this.#checked(fieldName(name, value));
    if (key === undefined) return this;
    this.#someSet = true;
    const had = this.#fields[key];
    // An empty value (or 0) is replaced rather than added to, as by the compatibility API.
    if (!had) this.#fields[key] = value;
    else this.#fields[key] = (Array.isArray(had) ? (had as string[]) : [String(had)]).concat(value as string | string[]);
    return this;
  }

  /** A name with characters outside a token resets the stream (as the compatibility API does). */
  #checked(key: string | undefined): string | undefined {
    if (key === undefined || TOKENS.has(key)) return key;
    if (TOKEN.test(key)) {
      if (TOKENS.size < 1000) TOKENS.add(key);
      return key;
    }
    this.destroy(codeError(new TypeError(`Header name must be a valid HTTP token ["${key}"]`), 'ERR_INVALID_HTTP_TOKEN'));
    return undefined;
  }

  getHeader(name: string): Value | undefined {
    const key = name.trim().toLowerCase();
    const list = this.#sentList;
    // (Core may add to the raw list — Date — which the compatibility API's getHeader does not show.)
    if (list !== undefined) for (let i = 2; i < this.#sentLength; i += 2) if (list[i] === key) return list[i + 1] as string;
    return this.#fields[key];
  }

  removeHeader(name: string): void {
    if (this.stream.headersSent) throw headersSent();
    delete this.#fields[name.trim().toLowerCase()];
  }

  writeHead(statusCode: number, reason?: string | Record<string, Value> | readonly string[], obj?: Record<string, Value> | readonly string[]): this {
    if (this.#closed || this.stream.destroyed) return this;
    if (this.stream.headersSent) throw headersSent();
    if (typeof reason !== 'string') obj ??= reason;
    if (Array.isArray(obj) && !this.#someSet) {
      // The common case (a cache's prebuilt fields): handed to core as they are, a raw field list.
      const raw = plainList(statusCode, obj);
      if (raw !== undefined) {
        this.#statusCode = statusCode;
        this.#sentList = raw;
        this.#sentLength = raw.length;
        this.stream.respond(raw as unknown as Record<string, string>, { endStream: false, sendDate: this.sendDate } as { endStream: boolean });
        return this;
      }
    }
    if (Array.isArray(obj)) {
      // A flat list overrides fields set before and keeps its own repeats.
      if (this.#someSet) for (let i = 0; i < obj.length; i += 2) this.removeHeader(obj[i]);
      for (let i = 0; i < obj.length; i += 2) this.appendHeader(obj[i], obj[i + 1]);
    } else if (obj) {
      const o = obj as Record<string, Value>;
      for (const key of Object.keys(o)) this.setHeader(key, o[key]);
    }
    this.#statusCode = statusCode;
    this.#respond(false);
    return this;
  }

  #respond(endStream: boolean): void {
    const fields = this.#fields as Record<string, Value> & { ':status'?: number };
    fields[':status'] = this.#statusCode;
    // Core ends the stream itself for HEAD and for statuses without a body.
    this.stream.respond(fields as Record<string, string | number | string[]>, { endStream, sendDate: this.sendDate } as { endStream: boolean });
  }

  /** Whether body bytes may follow the head (HEAD, 204 and 304 have none; core ended the stream). */
  #bodyAllowed(): boolean {
    const s = this.#statusCode;
    return !(this.stream as { headRequest?: boolean }).headRequest && s !== 204 && s !== 304 && s !== 205;
  }

  write(chunk: string | Uint8Array, encoding?: BufferEncoding | Callback, cb?: Callback): boolean {
    if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }
    if (this.writableEnded || this.#closed) {
      const err = this.writableEnded ? codeError(new Error('write after end'), 'ERR_STREAM_WRITE_AFTER_END') : codeError(new Error('The stream has been destroyed'), 'ERR_HTTP2_INVALID_STREAM');
      if (cb) process.nextTick(cb, err);
      this.destroy(err);
      return false;
    }
    if (this.stream.destroyed) return false;
    if (!this.stream.headersSent) this.writeHead(this.#statusCode);
    if (!this.#bodyAllowed()) {
      if (cb) process.nextTick(cb);
      return true;
    }
    const ok = this.stream.write(chunk, encoding as BufferEncoding, cb);
    if (!ok && !this.#awaitingDrain) {
      this.#awaitingDrain = true;
      this.stream.once('drain', () => {
        this.#awaitingDrain = false;
        this.emit('drain');
      });
    }
    return ok;
  }

  end(chunk?: string | Uint8Array | Callback, encoding?: BufferEncoding | Callback, cb?: Callback): this {
    if (typeof chunk === 'function') {
      cb = chunk;
      chunk = undefined;
    } else if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }
    if (this.writableEnded || this.#closed) {
      if (cb) process.nextTick(cb);
      return this;
    }
    this.writableEnded = true;
    if (cb) this.once('finish', cb);
    const stream = this.stream;
    if (stream.destroyed) return this;
    const empty = chunk === undefined || chunk === null || (typeof chunk === 'string' ? chunk.length === 0 : chunk.byteLength === 0);
    if (!stream.headersSent) {
      if (empty || !this.#bodyAllowed()) {
        // The head is the whole answer: one HEADERS frame that ends the stream.
        this.#respond(true);
        return this;
      }
      this.#respond(false);
    }
    if (!this.#bodyAllowed() || stream.writableEnded) return this;
    if (empty) stream.end();
    else stream.end(chunk, encoding as BufferEncoding);
    return this;
  }

  destroy(err?: Error): this {
    if (!this.stream.destroyed) this.stream.destroy(err);
    return this;
  }

  /** The stream's writable side finished: every byte was handed to the session. */
  finished(): void {
    if (this.writableFinished) return;
    this.writableFinished = true;
    this.emit('finish');
  }

  /** 'close', once, when the stream closed (after 'finish', or without it when it was cut short). */
  notifyClose(aborted: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!aborted) this.finished();
    this.emit('close');
    this.req.notifyClose(aborted);
  }
}
