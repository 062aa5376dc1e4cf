// The plain listener's own HTTP/1.1 connection handling. node:http spends more CPU per request than a
// cache hit costs us (its parser's callbacks, two streams per request, header processing): for small
// answers half of an edge's time. This takes the connections of a node:http server over and serves
// the requests head.ts takes — GET, HEAD and OPTIONS without a body, nearly all a cache sees — with the
// lighter objects of message.ts. The first request it does not take (a body, Expect, Upgrade, anything
// unusual or malformed, a head that did not arrive whole) hands the connection, with its unread bytes,
// to node:http for the rest of its life: its parser, limits, timeouts and error answers apply as before.
//
// One request at a time per connection: a pipelined request waits in the buffer until the answer
// before it was written, and the socket stops reading while much is buffered. Between requests a
// connection silent for node:http's keep-alive timeout (and its margin) is closed by the listener's
// idle sweep (IdleSweep below), not by a timer per socket: node refreshes a socket's timer on every
// read and every write, two timer-list moves per request.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Http2SecureServer } from 'node:http2';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { readHead } from './head.ts';
import type { RequestHead } from './head.ts';
import { Http1Request, Http1Response } from './message.ts';
import type { ResponseOwner } from './message.ts';

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export type Http1Front = {
  /** Connections served here now (not those handed to node:http). */
  readonly connections: number;
  /** Requests the listener's direct answer took (the edge's hit lane, the origin's media lane). */
  readonly directAnswers: number;
  /** Connections whose handle read into the shared buffer (directReads): every plain one on this Node. */
  readonly directReads: number;
  /** Ends every connection served here (node:http's closeAllConnections covers the others). */
  closeAll(): void;
  /** Ends the connections served here that answer nothing now; the others after their answer (closeIdleConnections). */
  closeIdle(): void;
};

/** Bytes of unread pipelined requests above which the socket stops reading until an answer is out. */
const PENDING_PAUSE = 64 * 1024;

/**
 * Serves `server`'s connections with `onRequest` until one needs node:http. Call once, before the
 * server accepts anything; `server`'s own 'request' listener is not called for requests served here.
 */
export function serveHttp1(server: Server | Http2SecureServer, onRequest: RequestListener, options: { maxHeaderBytes: number; answer?: DirectAnswer }): Http1Front {
  // A TLS server (HTTP/2 with HTTP/1.1 allowed) hands over connections once their handshake is done;
  // those that chose h2 by ALPN stay with it.
  const secure = server instanceof TlsServer;
  const event = secure ? 'secureConnection' : 'connection';
  const nodeListeners = server.listeners(event) as ((socket: Socket) => void)[];
  server.removeAllListeners(event);
  const live = new Set<Connection>();
  const front: Front = {
    idle: new IdleSweep(live),
    server,
    onRequest,
    maxHeaderBytes: options.maxHeaderBytes,
    answer: options.answer,
    directAnswers: 0,
    directReads: 0,
    live,
    secure,
    handOff(socket) {
      for (const listener of nodeListeners) listener.call(server, socket);
    },
  };
  server.on(event, (socket: Socket) => {
    const alpn = (socket as TLSSocket).alpnProtocol;
    if (secure && alpn !== false && alpn !== 'http/1.1') return front.handOff(socket);
    live.add(new Connection(socket, front));
  });
  return {
    get directAnswers() {
      return front.directAnswers;
    },
    get directReads() {
      return front.directReads;
    },
    get connections() {
      return live.size;
    },
    closeAll() {
      for (const c of live) c.socket.destroy();
    },
    closeIdle() {
      for (const c of live) c.closeWhenIdle();
    },
  };
}

/**
 * A listener's own answer to a request it can answer whole at once (the edge's hit lane, the origin's
 * media lane): given a keep-alive HTTP/1.1 GET and the connection, it either writes the complete
 * answer to the socket and returns true, or writes nothing and returns false, and the request goes to
 * the request listener. It may be called with a request to any path, on plain and TLS connections.
 * An answer that goes on after it returned (a long body sent as the socket's buffer empties) takes
 * `connection.hold()` first and calls what that returns once its last byte is written or it gave up.
 */
export type DirectAnswer = (head: RequestHead, socket: Socket, keepAliveSeconds: number, connection: AnswerHold) => boolean;

/** What a direct answer holds while it goes on after it returned. */
export type AnswerHold = {
  /**
   * Until the returned release is called (once is enough; later calls do nothing), the connection
   * answers no further request, and its idle limit does not run.
   */
  hold(): () => void;
};

type Front = {
  server: Server | Http2SecureServer;
  onRequest: RequestListener;
  maxHeaderBytes: number;
  answer: DirectAnswer | undefined;
  directAnswers: number;
  directReads: number;
  live: Set<Connection>;
  idle: IdleSweep;
  /** TLS connections: their handle is the TLS layer's, read through the stream (see directReads). */
  secure: boolean;
  handOff(socket: Socket): void;
};

/** The longest step between two looks at the connections: a silent one is closed at most this late. */
const SWEEP_MAX_MS = 1000;

/**
 * Closes the connections that have been silent (no bytes read, nothing being answered or written)
 * for their idle limit, looking at each every `step` ms while any has a limit. A connection notes
 * the sweep's count when it reads (one store per request); the sweep notes it for a connection it
 * finds busy. A connection is closed once more than limit + step has passed since the look whose
 * count it holds: its last activity came after that look, so it was silent at least its limit.
 */
class IdleSweep {
  /** Looks taken so far. */
  count = 0;
  readonly #live: Set<Connection>;
  #timer: NodeJS.Timeout | undefined;
  #step = SWEEP_MAX_MS;

  constructor(live: Set<Connection>) {
    this.#live = live;
  }

  /** A connection with this idle limit (ms) is live: look often enough for it. */
  watch(limitMs: number): void {
    const step = Math.max(5, Math.min(SWEEP_MAX_MS, Math.floor(limitMs / 8)));
    if (this.#timer !== undefined && step >= this.#step) return;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#step = step;
    this.#timer = setInterval(() => this.#look(), step).unref();
  }

  #look(): void {
    const count = ++this.count;
    if (this.#live.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      this.#step = SWEEP_MAX_MS;
      return;
    }
    for (const c of this.#live) c.idleLook(count, this.#step);
  }
}

class Connection implements ResponseOwner, AnswerHold {
  readonly socket: Socket;
  readonly keepAliveSeconds: number;
  readonly #front: Front;
  /** Received bytes not read as a request yet. */
  #pending: Buffer | undefined;
  /** The answer being written; the next request waits for it. */
  #current: Http1Response | undefined;
  /** A direct answer that goes on after it returned (AnswerHold); the next request waits for it too. */
  #held = false;
  /**
   * Answers not closed yet (an ended one waits for its last write): the connection's end closes them.
   * Seldom more than one: a list, which unlike a set makes no new table as answers come and go.
   */
  readonly #open: Http1Response[] = [];
  /** No more requests on this connection (the client asked, or half-closed). */
  #closing = false;
  #reading = false;
  #paused = false;
  #gone = false;
  /** Idle time (ms) after which a connection with nothing to answer is closed; 0: never. */
  readonly #idleLimit: number;
  /** The idle sweep's count when this connection was last seen active. */
  #seen: number;
  /** The socket's read state, whose read-ahead tick is skipped while the connection is ours (readAheadFlag). */
  readonly #readState: ReadAheadFlag | undefined;
  /** Whether the handle reads into the shared buffer and hands the bytes to #onBytes (directReads). */
  readonly #direct: boolean;

  constructor(socket: Socket, front: Front) {
    this.socket = socket;
    this.#front = front;
    // node:http's keep-alive settings, read from the server as node:http reads them (an HTTP/2
    // server that allows HTTP/1.1 carries them as plain properties).
    const server = front.server as { keepAliveTimeout?: number; keepAliveTimeoutBuffer?: number };
    const keepAlive = server.keepAliveTimeout ?? 5000;
    this.keepAliveSeconds = Math.floor(keepAlive / 1000);
    this.#direct = !front.secure && directReads(socket, this.#onBytes);
    if (this.#direct) front.directReads++;
    for (const [event, listener] of this.#listeners) socket.on(event, listener);
    this.#readState = readAheadFlag(socket);
    this.#idleLimit = keepAlive > 0 ? keepAlive + (server.keepAliveTimeoutBuffer ?? 1000) : 0;
    this.#seen = front.idle.count;
    if (this.#idleLimit > 0) front.idle.watch(this.#idleLimit);
  }

  /**
   * The idle sweep's look number `count`, `step` ms after the one before: a connection answering,
   * or with bytes still queued, is active now; one silent since before look `#seen` + 1 for more
   * than its limit is closed (node:http's keep-alive timeout; a slow reader of an answer is not
   * timed, as with node:http).
   */
  idleLook(count: number, step: number): void {
    if (this.#idleLimit === 0) return;
    if (this.#current !== undefined || this.#held || this.socket.writableLength > 0) this.#seen = count;
    else if ((count - this.#seen - 1) * step >= this.#idleLimit) this.socket.destroy();
  }

  /** The socket events this connection listens to while it is ours. */
  get #listeners(): [string, ((chunk: Buffer) => void) | (() => void)][] {
    return [
      // (Direct reads emit no 'data'; the listener keeps the stream flowing, so 'end' comes as before.)
      ['data', this.#direct ? ignore : this.#onData],
      ['end', this.#onEnd],
      ['close', this.#onClose],
      ['drain', this.#onDrain],
      ['error', ignore],
    ];
  }

  readonly #onData = (chunk: Buffer): void => {
    // (Checked by the stream right after this listener returns.)
    if (this.#readState !== undefined) this.#readState.readingMore = true;
    this.#seen = this.#front.idle.count;
    this.#pending = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk]);
    this.#next();
  };

  /**
   * Bytes the handle read into the shared buffer (directReads): read and answered at once like a
   * 'data' chunk; whatever is left over (a partial or pipelined request) is copied out before the
   * next read overwrites it. Once node:http has the connection, a copy goes to the stream for it.
   * False stops reading (a full stream, as push() says).
   */
  readonly #onBytes = (nread: number, shared: Buffer): boolean => {
    if (this.#gone) return this.socket.push(Buffer.from(shared.subarray(0, nread)));
    this.#onData(shared.subarray(0, nread));
    const left = this.#pending;
    if (left !== undefined && left.buffer === shared.buffer) this.#pending = Buffer.from(left);
    return true;
  };

  /** Reads and answers buffered requests while nothing is being written. */
  #next(): void {
    if (this.#reading) return;
    this.#reading = true;
    try {
      while (this.#pending !== undefined && this.#current === undefined && !this.#held && !this.#closing && !this.#gone) {
        const socket = this.socket;
        // Answers to pipelined requests still in the socket's buffer: read on once it drained.
        if (socket.writableLength > socket.writableHighWaterMark) return;
        const buf = this.#pending;
        const head = readHead(buf, 0, buf.length, this.#front.maxHeaderBytes);
        if (head.kind !== 'head') {
          // Not ours, or not whole: node:http reads it (and times a head that is slow to come).
          this.#handOff();
          return;
        }
        this.#pending = head.end === buf.length ? undefined : buf.subarray(head.end);
        if (head.method === 'GET' && head.keepAlive && head.minor === 1 && this.#answered(head)) continue;
        this.#serve(head);
      }
      if (this.#pending !== undefined && this.#pending.length > PENDING_PAUSE && (this.#current !== undefined || this.#held) && !this.#paused) {
        this.#paused = true;
        this.socket.pause();
      }
    } finally {
      this.#reading = false;
    }
  }

  /** Whether the listener's direct answer took the request (a failure of its own ends the connection). */
  #answered(head: RequestHead): boolean {
    const answer = this.#front.answer;
    if (answer === undefined) return false;
    try {
      if (!answer(head, this.socket, this.keepAliveSeconds, this)) return false;
      this.#front.directAnswers++;
      return true;
    } catch (err) {
      this.#closing = true;
      this.socket.destroy(err instanceof Error ? err : undefined);
      return true;
    }
  }

  #serve(head: RequestHead): void {
    const req = new Http1Request(head, this.socket);
    const res = new Http1Response(req, this, head.keepAlive);
    this.#current = res;
    this.#open.push(res);
    try {
      this.#front.onRequest(req as unknown as IncomingMessage, res as unknown as ServerResponse);
    } catch (err) {
      // The listener's own failure: the connection cannot be trusted any more.
      this.socket.destroy(err instanceof Error ? err : undefined);
    }
  }

  /** No further request: closed now if nothing is being answered, else once the answer is out. */
  closeWhenIdle(): void {
    this.#closing = true;
    if (this.#current === undefined && !this.#held) this.socket.end();
  }

  hold(): () => void {
    this.#held = true;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#held = false;
      this.#answerDone();
    };
  }

  released(res: Http1Response): void {
    const open = this.#open;
    const at = open.indexOf(res);
    if (at < 0) return;
    const last = open.pop()!;
    if (at < open.length) open[at] = last;
  }

  ended(res: Http1Response, last: boolean): void {
    if (this.#current !== res) return;
    this.#current = undefined;
    if (last) this.#closing = true;
    this.#answerDone();
  }

  /** An answer is out (or given up): close if asked to, else read on. */
  #answerDone(): void {
    if (this.#closing) {
      this.socket.end();
      return;
    }
    if (this.#paused) {
      this.#paused = false;
      this.socket.resume();
    }
    // The next pipelined request, outside the caller's end().
    if (this.#pending !== undefined && !this.#reading) process.nextTick(() => this.#next());
  }

  #handOff(): void {
    const socket = this.socket;
    this.#gone = true;
    this.#front.live.delete(this);
    for (const [event, listener] of this.#listeners) socket.off(event, listener);
    if (this.#readState !== undefined) this.#readState.readingMore = false;
    // (A copy: pending bytes may still be in the shared read buffer.)
    if (this.#pending !== undefined) socket.unshift(Buffer.from(this.#pending));
    this.#pending = undefined;
    // node:http would read the socket's handle directly, past the bytes given back above; it reads
    // through 'data' events when the handle was consumed already, as it has been (by our reads).
    const handle = (socket as unknown as { _handle?: { _consumed?: boolean } })._handle;
    if (handle) handle._consumed = true;
    this.#front.handOff(socket);
    // (Reading may have been paused for pipelined bytes.)
    if (socket.isPaused()) socket.resume();
  }

  /** The client sends no more: answer what is being answered, then close our side. */
  readonly #onEnd = (): void => this.closeWhenIdle();

  readonly #onClose = (): void => {
    this.#gone = true;
    this.#front.live.delete(this);
    this.#current = undefined;
    // (notifyClose takes each out of the list.)
    for (const res of this.#open.slice()) res.notifyClose(!res.writableFinished);
  };

  readonly #onDrain = (): void => {
    this.#current?.drained();
    if (this.#current === undefined && this.#pending !== undefined) this.#next();
  };
}

function ignore(): void {}

/** The buffer every plain connection served here reads into (directReads): 64 KiB, a socket read's size. */
let sharedRead: Buffer | undefined;
/** net.Socket's own keys for a caller's read buffer and its callback (`onread`); null: not found. */
let onreadKeys: { buffer: symbol; callback: symbol } | null | undefined;

/**
 * Has a plain socket's handle read into one shared buffer and give each read to `onBytes`, as
 * net.Socket does for a client socket made with the `onread` option: no memory allocated for each
 * read and no stream push and 'data' event per request (a read costs the origin's small answers
 * about a tenth of their CPU otherwise). The bytes are only valid during the call: `onBytes` copies
 * what it keeps. Node offers `onread` only when it creates the socket, so this sets the socket's
 * own fields for it; false (the socket reads as before) when this Node's sockets have none.
 */
function directReads(socket: Socket, onBytes: (nread: number, shared: Buffer) => boolean): boolean {
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: (buf: Uint8Array) => void } })._handle;
  if (typeof handle?.useUserBuffer !== 'function') return false;
  if (onreadKeys === undefined) {
    const keys = Object.getOwnPropertySymbols(socket);
    const buffer = keys.find((k) => k.description === 'kBuffer');
    const callback = keys.find((k) => k.description === 'kBufferCb');
    const gen = keys.find((k) => k.description === 'kBufferGen');
    onreadKeys = buffer && callback && gen ? { buffer, callback } : null;
  }
  if (onreadKeys === null) return false;
  const fields = socket as unknown as Record<symbol, unknown>;
  if (fields[onreadKeys.buffer] !== null || fields[onreadKeys.callback] !== null) return false;
  sharedRead ??= Buffer.allocUnsafeSlow(64 * 1024);
  fields[onreadKeys.buffer] = sharedRead;
  fields[onreadKeys.callback] = onBytes;
  handle.useUserBuffer(sharedRead);
  return true;
}

type ReadAheadFlag = { readingMore: boolean };

/**
 * A socket's flag that skips its stream's read-ahead tick, if it has one. After every chunk it emits,
 * a Readable queues a tick that calls read(0) to keep reading up to its high-water mark, unless its
 * `readingMore` flag says such a tick is queued already. For a socket the tick changes nothing: its
 * handle reads on its own until the stream's buffer is full, and resume() restarts a stopped read.
 * It costs a queued callback and a read(0) per request, so a connection that is ours sets the flag
 * as each chunk arrives (the stream looks at it after the 'data' listeners) and clears it when
 * node:http takes the connection over. (serve.test.ts: pipelined requests past the pause threshold
 * behind a slow answer, every one answered.)
 */
function readAheadFlag(socket: Socket): ReadAheadFlag | undefined {
  const state = (socket as unknown as { _readableState?: { readingMore?: unknown } })._readableState;
  return state !== undefined && typeof state.readingMore === 'boolean' ? (state as ReadAheadFlag) : undefined;
}
