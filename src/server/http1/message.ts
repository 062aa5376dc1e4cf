// The request and response objects of the plain listener's own connection handling (serve.ts): the
// parts of node:http's IncomingMessage and ServerResponse that request handlers use, with the same
// behaviour — field validation and errors, Date, Connection / Keep-Alive, Content-Length for a body
// given to end() before the head, chunked framing otherwise, no body for HEAD / 204 / 304 / 1xx,
// 'drain', 'finish' and 'close' at the same moments, and enough of a writable stream for
// stream.pipeline. A request here never has a body (head.ts leaves those to node:http).
import { EventEmitter } from 'node:events';
import { STATUS_CODES } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { RequestHead } from './head.ts';
import { BodilessRequest } from '../bodiless-request.ts';
import { writePair } from './pair-write.ts';

/** What a response needs from its connection. */
export type ResponseOwner = {
  readonly socket: Socket;
  /** Advertised in Keep-Alive: timeout=<s>. */
  readonly keepAliveSeconds: number;
  /** The response wrote its last byte (or gave up): the next request may go. */
  ended(res: Http1Response, last: boolean): void;
  /** The response emitted 'close'. */
  released(res: Http1Response): void;
};

export class Http1Request extends BodilessRequest {
  readonly method: string;
  readonly url: string;
  readonly httpVersion: string;
  readonly httpVersionMajor = 1;
  readonly httpVersionMinor: number;
  readonly headers: Record<string, string>;
  readonly rawHeaders: string[];
  readonly socket: Socket;

  constructor(head: RequestHead, socket: Socket) {
    super(socket);
    this.method = head.method;
    this.url = head.url;
    this.httpVersionMinor = head.minor;
    this.httpVersion = head.minor === 1 ? '1.1' : '1.0';
    this.headers = head.headers;
    this.rawHeaders = head.rawHeaders;
    this.socket = socket;
  }
}

type Value = string | number | readonly string[];
type Fields = Record<string, [string, Value]>;
type Callback = (err?: Error | null) => void;

const CONN_CLOSE = /(?:^|\W)close(?:$|\W)/i;
const TE_CHUNKED = /(?:^|\W)chunked(?:$|\W)/i;
const TOKEN = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/;
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const CRLF = '\r\n';
const LAST_CHUNK = '0\r\n\r\n';
/** Bodies up to this size go out in one buffer with the head. */
const JOIN_MAX = 16 * 1024;
/** The reused space for those (a longer head and body get a buffer of their own). */
const JOIN_SPACE = 32 * 1024;

function codeError<T extends Error>(err: T, code: string): T {
  return Object.assign(err, { code });
}

function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !TOKEN.test(name)) throw codeError(new TypeError(`Header name must be a valid HTTP token ["${String(name)}"]`), 'ERR_INVALID_HTTP_TOKEN');
}

function checkValue(name: string, value: unknown): void {
  if (value === undefined) throw codeError(new TypeError(`Invalid value "undefined" for header "${name}"`), 'ERR_HTTP_INVALID_HEADER_VALUE');
  if (Array.isArray(value)) {
    for (const v of value) checkValue(name, v);
    return;
  }
  if (BAD_VALUE.test(String(value))) throw codeError(new TypeError(`Invalid character in header content ["${name}"]`), 'ERR_INVALID_CHAR');
}

/** A flat field list is name, value, name, value ... */
function checkPairs(list: readonly unknown[]): void {
  if (list.length % 2 !== 0) throw codeError(new TypeError('The argument \'headers\' is invalid'), 'ERR_INVALID_ARG_VALUE');
}

function headersSent(action: string): Error {
  return codeError(new Error(`Cannot ${action} headers after they are sent to the client`), 'ERR_HTTP_HEADERS_SENT');
}

/**
 * res.writeHead(statusCode, [...shared, ...tail]) for any response: the plain listener's own with the
 * shared list's head lines made once (Http1Response.writeHeadShared), others (node:http's, HTTP/2)
 * with the joined list. `shared` is a list many answers use and nobody changes.
 */
export function writeHeadShared(res: ServerResponse, statusCode: number, shared: readonly string[], tail: readonly string[]): void {
  if (res instanceof Http1Response) res.writeHeadShared(statusCode, shared, tail);
  else res.writeHead(statusCode, shared.concat(tail));
}

/** Date: as node:http writes it, computed once a second. */
let dateText: string | undefined;
function httpDate(): string {
  if (dateText === undefined) {
    const d = new Date();
    dateText = d.toUTCString();
    setTimeout(() => (dateText = undefined), 1000 - d.getMilliseconds()).unref();
  }
  return dateText;
}

/**
 * The head being built and what its fields decided (node:http's _storeHeader state): the response
 * takes the decisions over once every field is in (#take).
 */
type HeadState = {
  text: string;
  connection: boolean;
  contentLength: boolean;
  te: boolean;
  date: boolean;
  trailer: boolean;
  /** A Connection field said close / something else. */
  close: boolean;
  keepAlive: boolean;
  /** Transfer-Encoding said chunked. */
  chunked: boolean;
  /** The last Content-Length field's value. */
  length: number | undefined;
  /** A Keep-Alive field of the caller's (then none of ours). */
  keepAliveField: boolean;
};

function headState(text: string): HeadState {
  return { text, connection: false, contentLength: false, te: false, date: false, trailer: false, close: false, keepAlive: false, chunked: false, length: undefined, keepAliveField: false };
}

/** A field's line added to the head, and what it decides (node:http's _storeHeader, per field). */
function addField(state: HeadState, name: string, value: Value, validate: boolean): void {
  if (validate) checkName(name);
  if (Array.isArray(value)) {
    if (value.length >= 2 && name.length === 6 && name.toLowerCase() === 'cookie') value = value.join('; ');
    else {
      for (const v of value as readonly string[]) addField(state, name, v, validate);
      return;
    }
  }
  if (validate) checkValue(name, value);
  state.text += `${name}: ${value}\r\n`;
  // Only these lengths can name a field that changes framing: date 4, trailer 7, connection and
  // keep-alive 10, content-length 14, transfer-encoding 17 (no lower-casing for the others).
  const length = name.length;
  if (length !== 4 && length !== 7 && length !== 10 && length !== 14 && length !== 17) return;
  switch (name.toLowerCase()) {
    case 'connection':
      state.connection = true;
      if (CONN_CLOSE.test(String(value))) state.close = true;
      else state.keepAlive = true;
      break;
    case 'transfer-encoding':
      state.te = true;
      if (TE_CHUNKED.test(String(value))) state.chunked = true;
      break;
    case 'content-length':
      state.contentLength = true;
      state.length = +value;
      break;
    case 'date':
      state.date = true;
      break;
    case 'trailer':
      state.trailer = true;
      break;
    case 'keep-alive':
      state.keepAliveField = true;
      break;
  }
}

/**
 * A field list that many answers share (a memoised plan) as its checked head lines and what its
 * fields decide, made once per list object (writeHeadShared).
 */
const SHARED_HEADS = new WeakMap<readonly string[], Readonly<HeadState>>();

/** The checked head lines of a shared list (of even length) and what they decide, made on first use. */
function preparedHead(shared: readonly string[]): Readonly<HeadState> {
  let prepared = SHARED_HEADS.get(shared);
  if (prepared === undefined) {
    prepared = headState('');
    for (let n = 0; n < shared.length; n += 2) addField(prepared, shared[n], shared[n + 1], true);
    SHARED_HEADS.set(shared, Object.freeze(prepared));
  }
  return prepared;
}

const PLAIN_STATUS_LINES: Record<number, string> = { 200: 'HTTP/1.1 200 OK\r\n', 206: 'HTTP/1.1 206 Partial Content\r\n', 304: 'HTTP/1.1 304 Not Modified\r\n' };

/**
 * The head an Http1Response writes for writeHeadShared(statusCode, shared, tail) as the answer to a
 * keep-alive HTTP/1.1 GET, for the plain case only: a 200 or 206 with Content-Length, or a 304, from a
 * shared list (checked once, as there) and a tail of our own names and values (not checked again) that
 * set no Connection, Keep-Alive, Transfer-Encoding or Trailer. Undefined for any other case. The
 * edge's hit lane writes its answers with it, without request and response objects.
 */
export function plainHead(statusCode: number, shared: readonly string[], tail: readonly string[], keepAliveSeconds: number): string | undefined {
  const statusLine = PLAIN_STATUS_LINES[statusCode];
  if (statusLine === undefined || shared.length % 2 !== 0 || tail.length % 2 !== 0) return undefined;
  const prepared = preparedHead(shared);
  const state = { ...prepared, text: statusLine + prepared.text };
  for (let n = 0; n < tail.length; n += 2) addField(state, tail[n], tail[n + 1], false);
  if (state.connection || state.te || state.trailer || state.keepAliveField || (statusCode !== 304 && !state.contentLength)) return undefined;
  let text = state.text;
  if (!state.date) text += `Date: ${httpDate()}\r\n`;
  return `${text}Connection: keep-alive\r\nKeep-Alive: timeout=${keepAliveSeconds}\r\n\r\n`;
}

/** A plain head's bytes and what they were made for (HeadBytesCache). */
type HeadBytes = { n: number; a: number; b: number; keepAlive: number; date: string; bytes: Buffer };

/**
 * Plain heads (plainHead) as bytes, kept per key object (a shared field list) and reused while the
 * caller's numbers (an Age, a range's ends), the keep-alive time and the Date second are the same: a
 * lane's head is then made once a second per object and shape, not per answer, and written without
 * converting a string. One head per key: another set of numbers replaces it.
 */
export class HeadBytesCache {
  readonly #slots = new WeakMap<object, HeadBytes>();

  get(key: object, n: number, a: number, b: number, keepAlive: number): Buffer | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined || slot.n !== n || slot.a !== a || slot.b !== b || slot.keepAlive !== keepAlive || slot.date !== httpDate()) return undefined;
    return slot.bytes;
  }

  /** Keeps `text`, made by plainHead now (this second's Date), for these numbers. */
  set(key: object, n: number, a: number, b: number, keepAlive: number, text: string): Buffer {
    const bytes = Buffer.from(text, 'latin1');
    this.#slots.set(key, { n, a, b, keepAlive, date: httpDate(), bytes });
    return bytes;
  }
}

/** Where a RangeHeads template leaves a value open: a character no checked field value holds. */
const HOLE = '\u0000';

/** The most digits a number of a head has (2^53 has 16). */
const MAX_DIGITS = 16;

/** A 206 head's template, in the bytes its heads are written into (RangeHeads). */
type RangeTemplate = {
  rest: readonly string[];
  aged: boolean;
  keepAlive: number;
  date: string;
  /** The heads' bytes: the part up to Content-Range's first number written once, the rest per answer. */
  bytes: Buffer;
  fixed: number;
  /** What follows Content-Range's value, Content-Length's, and Age's (when aged). */
  afterRange: Buffer;
  afterLength: Buffer;
  afterAge: Buffer;
  /** The last head (a view of `bytes`) and its numbers. */
  head: Buffer;
  start: number;
  end: number;
  size: number;
  age: number;
};

/** Writes the digits of a non-negative integer at `at`; returns where they end. */
function writeDigits(buf: Buffer, at: number, n: number): number {
  let end = at + 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) end++;
  let i = end;
  let x = n;
  do {
    buf[--i] = 48 + (x % 10);
    x = Math.floor(x / 10);
  } while (x > 0);
  return end;
}

/**
 * Plain 206 heads whose answers differ in their range (and Age): plainHead(206, shared,
 * [content-range, content-length, age?, ...rest]) made once a second per key object with those
 * values left open, and each answer's numbers written into its bytes, instead of a head built and
 * converted per answer (listeners reading a file in consecutive ranges ask for a new range each
 * time, and the strings of a head made per answer were a third of what the origin allocated per
 * answer). The last head is kept for a repeat of its numbers.
 *
 * The bytes are a key's own and are rewritten by its next get: a caller that does not write them
 * at once (a write that waits in a socket's queue) copies them.
 */
export class RangeHeads {
  readonly #slots = new WeakMap<object, RangeTemplate>();

  /** The head for bytes start..end of `size` (age -1: no Age field), or undefined when it is not a plain head. */
  get(key: object, shared: readonly string[], rest: readonly string[], start: number, end: number, size: number, age: number, keepAlive: number): Buffer | undefined {
    const date = httpDate();
    const aged = age >= 0;
    let slot = this.#slots.get(key);
    if (slot === undefined || slot.date !== date || slot.keepAlive !== keepAlive || slot.rest !== rest || slot.aged !== aged) {
      const tail = aged ? ['content-range', HOLE, 'content-length', HOLE, 'age', HOLE, ...rest] : ['content-range', HOLE, 'content-length', HOLE, ...rest];
      const text = plainHead(206, shared, tail, keepAlive);
      const parts = text?.split(HOLE);
      if (parts === undefined || parts.length !== (aged ? 4 : 3)) return undefined;
      const latin1 = (t: string | undefined) => Buffer.from(t ?? '', 'latin1');
      const first = latin1(`${parts[0]}bytes `);
      const afterRange = latin1(parts[1]);
      const afterLength = latin1(parts[2]);
      const afterAge = latin1(parts[3]);
      const bytes = Buffer.alloc(first.length + 5 * MAX_DIGITS + 2 + afterRange.length + afterLength.length + afterAge.length);
      bytes.set(first, 0);
      slot = { rest, aged, keepAlive, date, bytes, fixed: first.length, afterRange, afterLength, afterAge, head: bytes.subarray(0, 0), start: -1, end: -1, size: -1, age: -1 };
      this.#slots.set(key, slot);
    } else if (slot.start === start && slot.end === end && slot.size === size && slot.age === age) return slot.head;
    const bytes = slot.bytes;
    let at = writeDigits(bytes, slot.fixed, start);
    bytes[at++] = 0x2d; // -
    at = writeDigits(bytes, at, end);
    bytes[at++] = 0x2f; // /
    at = writeDigits(bytes, at, size);
    bytes.set(slot.afterRange, at);
    at = writeDigits(bytes, at + slot.afterRange.length, end - start + 1);
    bytes.set(slot.afterLength, at);
    at += slot.afterLength.length;
    if (aged) {
      at = writeDigits(bytes, at, age);
      bytes.set(slot.afterAge, at);
      at += slot.afterAge.length;
    }
    // Heads of as many digits as the last one's are the same view.
    if (slot.head.length !== at) slot.head = bytes.subarray(0, at);
    slot.start = start;
    slot.end = end;
    slot.size = size;
    slot.age = age;
    return slot.head;
  }
}

/**
 * Where a small answer is joined: reused while every write of it completes at once (the kernel took
 * the bytes), replaced when one waits in a socket's queue (which then keeps the old one). A fresh
 * buffer per answer would be an ArrayBuffer outside the heap per answer: at tens of thousands a
 * second their external bytes make V8 run full collections, more often the larger the young
 * generation has grown (after range load, say).
 */
let joinSpace = Buffer.allocUnsafeSlow(JOIN_SPACE);

/**
 * A head and, unless undefined, a body of known length, as the connection's next bytes: a small
 * body in one buffer with the head (cheaper than a writev), a larger one after it in one writev
 * (pair-write.ts). `done` is called once the last byte is out (with an error if it cannot be). Returns
 * socket.write's answer (false: wait for 'drain').
 */
export function writeAnswer(socket: Socket, head: string | Buffer, data: Uint8Array | undefined, done: Callback | undefined): boolean {
  if (data === undefined) return typeof head === 'string' ? socket.write(head, 'latin1', done) : socket.write(head, done);
  if (data.byteLength <= JOIN_MAX) {
    const size = head.length + data.byteLength;
    if (size > JOIN_SPACE) {
      const joined = Buffer.allocUnsafe(size);
      if (typeof head === 'string') joined.write(head, 0, 'latin1');
      else joined.set(head, 0);
      joined.set(data, head.length);
      return socket.write(joined, done);
    }
    const space = joinSpace;
    if (typeof head === 'string') space.write(head, 0, 'latin1');
    else space.set(head, 0);
    space.set(data, head.length);
    const ok = socket.write(space.subarray(0, size), done);
    // Not all taken at once (or queued behind other bytes): the queued write holds this space, and
    // later answers use a new one.
    if (socket.writableLength > 0) joinSpace = Buffer.allocUnsafeSlow(JOIN_SPACE);
    return ok;
  }
  return writePair(socket, head, data, done);
}

const NOTHING = Buffer.alloc(0);

/**
 * The `bytes` in front of a body, in the body's own memory (`memory`, the body starting at offset
 * `at`), that a response head may be written into, so head and body leave in one write of one
 * buffer: a corked pair is a writev, which costs more. While a write that holds them waits in a
 * socket's queue (`held` counts those), answers use a corked pair.
 */
export type HeadRoom = { readonly memory: ArrayBufferLike; readonly at: number; readonly bytes: number; held: number };

/** Room kept in front of a body: more than the heads we write. */
export const HEAD_ROOM = 1024;
/** Bodies up to this size are joined with their head (writeAnswer); larger ones are worth the room. */
export const HEAD_ROOM_MIN_BODY = JOIN_MAX;

/** A new buffer of `size` bytes (not zeroed: the caller fills it) with a head's room in front of it. */
export function roomyBuffer(size: number): { buffer: Buffer; room: HeadRoom } {
  const all = Buffer.allocUnsafeSlow(HEAD_ROOM + size);
  return { buffer: all.subarray(HEAD_ROOM, HEAD_ROOM + size), room: { memory: all.buffer, at: all.byteOffset + HEAD_ROOM, bytes: HEAD_ROOM, held: 0 } };
}

/** Whether `buffer` starts where `room` says (made by roomyBuffer or withHeadRoom). */
export function hasRoom(buffer: Uint8Array, room: HeadRoom | undefined): room is HeadRoom {
  return room !== undefined && buffer.buffer === room.memory && buffer.byteOffset === room.at;
}

/** The body's parts in one new buffer with a head's room in front of it. */
export function withHeadRoom(parts: readonly Uint8Array[], size: number): { buffer: Buffer; room: HeadRoom } {
  const roomy = roomyBuffer(size);
  let at = 0;
  for (const part of parts) {
    roomy.buffer.set(part, at);
    at += part.length;
  }
  return roomy;
}

/**
 * A lane's answer: writeAnswer, or, for a body larger than the joined ones that starts where `room`
 * says (the first byte of a buffer made by withHeadRoom) while no queued write holds the room, the
 * head written into the room and both sent as one buffer. `done`, for a caller that only needs to
 * know when the answer is out, runs before this returns when the kernel took every byte at once
 * (nearly always), else once the last byte is out or cannot be sent (with the error): a write
 * callback would cost a tick and its objects per answer.
 */
export function writeLaneAnswer(socket: Socket, head: Buffer, body: Buffer | undefined, room: HeadRoom | undefined, done: Callback | undefined): boolean {
  let holding: HeadRoom | undefined;
  let ok: boolean;
  if (room !== undefined && body !== undefined && room.held === 0 && body.buffer === room.memory && body.byteOffset === room.at && head.length <= room.bytes && body.length > HEAD_ROOM_MIN_BODY) {
    const whole = Buffer.from(room.memory, room.at - head.length, head.length + body.length);
    whole.set(head, 0);
    ok = socket.write(whole);
    holding = room;
  } else ok = writeAnswer(socket, head, body, undefined);
  if (done === undefined && holding === undefined) return ok;
  if (socket.writableLength === 0 && !socket.destroyed && socket.errored === null) {
    done?.();
    return ok;
  }
  // The queued write reads the room until it is out: later answers leave it alone until then. An
  // empty write's callback comes after those of the writes queued before it.
  if (holding !== undefined) holding.held++;
  socket.write(NOTHING, (err) => {
    if (holding !== undefined) holding.held--;
    done?.(err);
  });
  return ok;
}

export class Http1Response extends EventEmitter {
  statusCode = 200;
  statusMessage: string | undefined = undefined;
  sendDate = true;
  shouldKeepAlive: boolean;
  writableEnded = false;
  writableFinished = false;
  destroyed = false;
  readonly req: Http1Request;
  socket: Socket | null;
  readonly #owner: ResponseOwner;
  #fields: Fields | undefined;
  /** The head, once decided; written with the first body bytes (or on end). */
  #head: string | undefined;
  #headWritten = false;
  #hasBody: boolean;
  /** Close the connection after this response. */
  #last = false;
  #defaultKeepAlive = true;
  #contentLength: number | undefined;
  #needDrain = false;
  #closed = false;
  /** Chunked framing for this body (node:http's chunkedEncoding). */
  #chunked = false;
  /** HTTP/1.1, or an HTTP/1.0 client that accepts chunks (node:http's useChunkedEncodingByDefault). */
  readonly #chunkedByDefault: boolean;

  constructor(req: Http1Request, owner: ResponseOwner, keepAlive: boolean) {
    super();
    this.req = req;
    this.#owner = owner;
    this.socket = owner.socket;
    this.#hasBody = req.method !== 'HEAD';
    this.shouldKeepAlive = keepAlive;
    this.#chunkedByDefault = req.httpVersionMinor >= 1 || TE_CHUNKED.test(String(req.headers.te));
  }

  get headersSent(): boolean {
    return this.#head !== undefined;
  }

  get writable(): boolean {
    return !this.writableEnded && !this.destroyed;
  }

  get writableNeedDrain(): boolean {
    return this.#needDrain;
  }

  setHeader(name: string, value: Value): this {
    if (this.#head !== undefined) throw headersSent('set');
    checkName(name);
    checkValue(name, value);
    (this.#fields ??= Object.create(null) as Fields)[name.toLowerCase()] = [name, value];
    return this;
  }

  appendHeader(name: string, value: Value): this {
    if (this.#head !== undefined) throw headersSent('append');
    checkName(name);
    checkValue(name, value);
    const fields = (this.#fields ??= Object.create(null) as Fields);
    const key = name.toLowerCase();
    const had = fields[key];
    if (had === undefined) fields[key] = [name, value];
    else {
      const before = Array.isArray(had[1]) ? (had[1] as string[]) : [String(had[1])];
      fields[key] = [had[0], before.concat(value as string | string[])];
    }
    return this;
  }

  getHeader(name: string): Value | undefined {
    return this.#fields?.[name.toLowerCase()]?.[1];
  }

  removeHeader(name: string): void {
    if (this.#head !== undefined) throw headersSent('remove');
    if (this.#fields) delete this.#fields[name.toLowerCase()];
  }

  writeHead(statusCode: number, reason?: string | Record<string, Value> | readonly string[], obj?: Record<string, Value> | readonly string[]): this {
    if (this.#head !== undefined) throw headersSent('write');
    if (typeof reason !== 'string') obj ??= reason;
    const state = headState(this.#statusLine(statusCode, typeof reason === 'string' ? reason : undefined));
    if (this.#fields) {
      // Fields given here override those set before, keeping repeats among themselves (node:http).
      if (Array.isArray(obj)) {
        checkPairs(obj);
        for (let n = 0; n < obj.length; n += 2) this.removeHeader(obj[n]);
        for (let n = 0; n < obj.length; n += 2) if (obj[n]) this.appendHeader(obj[n], obj[n + 1]);
      } else if (obj) {
        const o = obj as Record<string, Value>;
        for (const k of Object.keys(o)) if (k) this.setHeader(k, o[k]);
      }
      for (const key in this.#fields) {
        const [name, value] = this.#fields[key];
        addField(state, name, value, false);
      }
    } else if (Array.isArray(obj)) {
      checkPairs(obj);
      for (let n = 0; n < obj.length; n += 2) addField(state, obj[n], obj[n + 1], true);
    } else if (obj) {
      const o = obj as Record<string, Value>;
      for (const key in o) if (Object.hasOwn(o, key)) addField(state, key, o[key], true);
    }
    this.#take(state);
    this.#finishHead(state);
    return this;
  }

  /**
   * writeHead(statusCode, [...shared, ...tail]), the same bytes and the same errors, for a `shared`
   * list that many answers use unchanged (a memoised plan; it must not change once given here): its
   * lines are checked and joined once per list object, so an answer checks and adds only `tail`.
   * With fields set before or a status message of the caller's, it is writeHead with the joined list.
   */
  writeHeadShared(statusCode: number, shared: readonly string[], tail: readonly string[]): this {
    if (this.#fields !== undefined || this.statusMessage !== undefined || this.#head !== undefined || shared.length % 2 !== 0) return this.writeHead(statusCode, shared.concat(tail));
    const statusLine = this.#statusLine(statusCode, undefined);
    const prepared = preparedHead(shared);
    const state = { ...prepared, text: statusLine + prepared.text };
    checkPairs(tail);
    for (let n = 0; n < tail.length; n += 2) addField(state, tail[n], tail[n + 1], true);
    this.#take(state);
    this.#finishHead(state);
    return this;
  }

  /** The status and its reason phrase taken, with node:http's checks and default phrase: the status line. */
  #statusLine(statusCode: number, reason: string | undefined): string {
    const given = statusCode;
    statusCode |= 0;
    if (statusCode < 100 || statusCode > 999) throw codeError(new RangeError(`Invalid status code: ${given}`), 'ERR_HTTP_INVALID_STATUS_CODE');
    if (reason !== undefined) this.statusMessage = reason;
    else this.statusMessage ||= STATUS_CODES[statusCode] || 'unknown';
    this.statusCode = statusCode;
    if (BAD_VALUE.test(this.statusMessage)) throw codeError(new TypeError('Invalid character in statusMessage'), 'ERR_INVALID_CHAR');
    if (statusCode === 204 || statusCode === 304 || (statusCode >= 100 && statusCode <= 199)) this.#hasBody = false;
    return `HTTP/1.1 ${statusCode} ${this.statusMessage}\r\n`;
  }

  /** What the fields decided, as node:http's _storeHeader takes it while it reads them. */
  #take(state: HeadState): void {
    if (state.close) this.#last = true;
    if (state.keepAlive) this.shouldKeepAlive = true;
    if (state.chunked) this.#chunked = true;
    if (state.length !== undefined) this.#contentLength = state.length;
    if (state.keepAliveField) this.#defaultKeepAlive = false;
  }

  /** node:http's _storeHeader after the fields: Date, Connection / Keep-Alive, framing. */
  #finishHead(state: HeadState): void {
    let text = state.text;
    if (this.sendDate && !state.date) text += `Date: ${httpDate()}\r\n`;
    if (this.#chunked && (this.statusCode === 204 || this.statusCode === 304)) {
      this.#chunked = false;
      this.shouldKeepAlive = false;
    }
    if (!state.connection) {
      const sendKeepAlive = this.shouldKeepAlive && (state.contentLength || this.#chunkedByDefault);
      if (sendKeepAlive) {
        text += 'Connection: keep-alive\r\n';
        if (this.#defaultKeepAlive) text += `Keep-Alive: timeout=${this.#owner.keepAliveSeconds}\r\n`;
      } else {
        this.#last = true;
        text += 'Connection: close\r\n';
      }
    }
    if (!state.contentLength && !state.te) {
      if (!this.#hasBody) this.#chunked = false;
      else if (!this.#chunkedByDefault) this.#last = true;
      else if (!state.trailer && this.#contentLength !== undefined) text += `Content-Length: ${this.#contentLength}\r\n`;
      else {
        text += 'Transfer-Encoding: chunked\r\n';
        this.#chunked = true;
      }
    }
    if (this.#chunked !== true && state.trailer) throw codeError(new Error('Trailers are invalid with this transfer encoding'), 'ERR_HTTP_TRAILER_INVALID');
    this.#head = text + CRLF;
  }

  /** A 1xx interim response before the final one (103 Early Hints, 100 Continue). */
  writeInformation(statusCode: number, headers?: Record<string, Value> | readonly string[] | null, cb?: Callback): boolean {
    if (this.#head !== undefined) throw headersSent('write');
    if (!Number.isInteger(statusCode) || statusCode < 100 || statusCode > 199) throw codeError(new RangeError(`The value of "statusCode" is out of range. It must be >= 100 && <= 199. Received ${statusCode}`), 'ERR_OUT_OF_RANGE');
    if (statusCode === 101) throw codeError(new RangeError(`Invalid status code: ${statusCode}`), 'ERR_HTTP_INVALID_STATUS_CODE');
    let head = `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] || 'unknown'}\r\n`;
    const add = (name: string, value: Value) => {
      checkName(name);
      checkValue(name, value);
      head += `${name}: ${String(value)}\r\n`;
    };
    if (Array.isArray(headers)) for (let i = 0; i < headers.length; i += 2) add(headers[i], headers[i + 1]);
    else if (headers) for (const key of Object.keys(headers)) add(key, (headers as Record<string, Value>)[key]);
    return this.#owner.socket.write(head + CRLF, 'latin1', cb);
  }

  write(chunk: string | Uint8Array, encoding?: BufferEncoding | Callback, cb?: Callback): boolean {
    if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }
    if (this.writableEnded) {
      const err = codeError(new Error('write after end'), 'ERR_STREAM_WRITE_AFTER_END');
      if (cb) process.nextTick(cb, err);
      return false;
    }
    if (this.destroyed) {
      if (cb) process.nextTick(cb, codeError(new Error('Cannot call write after a stream was destroyed'), 'ERR_STREAM_DESTROYED'));
      return false;
    }
    if (this.#head === undefined) this.writeHead(this.statusCode);
    return this.#body(chunk, encoding, cb, false);
  }

  end(chunk?: string | Uint8Array | Callback, encoding?: BufferEncoding | Callback, cb?: Callback): this {
    if (typeof chunk === 'function') {
      cb = chunk;
      chunk = undefined;
    } else if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }
    if (this.writableEnded) {
      if (cb) process.nextTick(cb);
      return this;
    }
    if (this.destroyed) {
      if (cb) process.nextTick(cb, codeError(new Error('Cannot call end after a stream was destroyed'), 'ERR_STREAM_DESTROYED'));
      return this;
    }
    if (this.#head === undefined) {
      // As node:http: a body given whole before the head gets its Content-Length.
      if (this.#fields?.['content-length'] === undefined) this.#contentLength = chunk === undefined ? 0 : typeof chunk === 'string' ? Buffer.byteLength(chunk, encoding as BufferEncoding | undefined) : chunk.byteLength;
      this.writeHead(this.statusCode);
    }
    this.writableEnded = true;
    if (cb) this.once('finish', cb);
    this.#body(chunk, encoding as BufferEncoding | undefined, undefined, true);
    return this;
  }

  destroy(err?: Error): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.#owner.socket.destroy(err);
    return this;
  }

  /**
   * Body bytes (framed when chunked), after the head if it is not out yet, in one corked write; the
   * last write of end() carries the finish.
   */
  #body(chunk: string | Uint8Array | undefined, encoding: BufferEncoding | undefined, cb: Callback | undefined, last: boolean): boolean {
    const socket = this.#owner.socket;
    const data = chunk === undefined || !this.#hasBody || (typeof chunk === 'string' ? chunk.length === 0 : chunk.byteLength === 0) ? undefined : chunk;
    const head = this.#headWritten ? undefined : this.#head;
    this.#headWritten = true;
    const done = last ? this.#onFinished : cb;
    const chunked = this.#chunked;
    let ok = true;
    if (data === undefined) {
      // (A HEAD answer framed as chunked by its own Transfer-Encoding has no last chunk either, as node:http.)
      if (last && chunked && this.#hasBody) ok = socket.write(head === undefined ? LAST_CHUNK : head + LAST_CHUNK, 'latin1', done);
      else if (head !== undefined) ok = socket.write(head, 'latin1', done);
      else if (last) ok = socket.write('', 'latin1', done);
      else if (done) process.nextTick(done);
    } else if (!chunked) {
      if (head !== undefined && typeof data !== 'string') ok = writeAnswer(socket, head, data, done);
      else if (head !== undefined) {
        socket.cork();
        socket.write(head, 'latin1');
        ok = socket.write(data, encoding as BufferEncoding, done);
        socket.uncork();
      } else ok = socket.write(data, encoding as BufferEncoding, done);
    } else {
      const length = typeof data === 'string' ? Buffer.byteLength(data, encoding) : data.byteLength;
      socket.cork();
      socket.write(`${head ?? ''}${length.toString(16)}\r\n`, 'latin1');
      socket.write(data, encoding as BufferEncoding);
      ok = socket.write(last ? `\r\n${LAST_CHUNK}` : CRLF, 'latin1', done);
      socket.uncork();
    }
    if (last) this.#owner.ended(this, this.#last || !this.shouldKeepAlive);
    else if (!ok) this.#needDrain = true;
    return ok;
  }

  readonly #onFinished = (err?: Error | null): void => {
    if (this.writableFinished) return;
    // The last bytes did not go out: the connection is gone (its 'close' may not reach us once the
    // connection was handed to node:http), so this is the response's abort.
    if (err) return this.notifyClose(true);
    this.writableFinished = true;
    this.emit('finish');
    // node:http emits 'close' a tick later; nothing here needs the gap.
    this.notifyClose(false);
  };

  /** The socket drained: a writer waiting for it may go on. */
  drained(): void {
    if (!this.#needDrain || this.writableEnded) return;
    this.#needDrain = false;
    this.emit('drain');
  }

  /** 'close', once: after 'finish', or when the connection went away first. */
  notifyClose(aborted: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    this.destroyed = true;
    if (aborted) this.req.aborted = true;
    this.#owner.released(this);
    this.emit('close');
    this.req.notifyClose(aborted);
  }
}
