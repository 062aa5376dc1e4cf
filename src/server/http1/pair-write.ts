// A response head and its body as one writev through the socket's own stream, without corking.
//
// A corked pair (cork, write, write, uncork) reaches the kernel as the same writev, but on the way
// the stream buffers both writes, builds the list and a callback for them and unwinds it: for a
// 64 KiB range answered from memory, 10–12 % of our CPU per answer against one write of one buffer
// (a node:net server pinned to one core with a CPU quota, wrk beside it). Here the stream sees one
// write — the body, so its length, 'drain' and callbacks stay true (the head's few hundred bytes are
// not counted) — and the socket's _write, called at once by a stream that is not writing, sends the
// head in front of it in the same writev.
//
// Only a socket whose stream would hand the write to _write at once (nothing being written, not
// corked, open, no error) takes this way; others get the corked pair, so the head can never be
// separated from its body.
import { Socket } from 'node:net';

type Callback = (err?: Error | null) => void;
type WriteFn = (this: Socket, chunk: Buffer, encoding: BufferEncoding, cb: Callback) => void;
type Chunks = { chunk: string | Buffer; encoding: BufferEncoding | 'buffer' }[] & { allBuffers?: boolean };
/** The parts of node:stream's state and node:net's socket this relies on (Node 24). */
type StreamState = { writing: boolean; corked: number; errored: unknown; constructed: boolean; length: number };
type Internals = { _writableState?: StreamState; _write: WriteFn; _writev?: (chunks: Chunks, cb: Callback) => void };

const socketWrite = Socket.prototype._write as unknown as WriteFn;
const socketWritev = (Socket.prototype as unknown as Internals)._writev;
/** Whether this Node's sockets have what the paired write needs. */
const usable = typeof socketWrite === 'function' && typeof socketWritev === 'function';

/** The pair being written: set only for the duration of one socket.write. */
let pendingHead: string | Buffer | undefined;
let pendingBody: Buffer | undefined;

function pairedWrite(this: Socket, chunk: Buffer, encoding: BufferEncoding, cb: Callback): void {
  const head = pendingHead;
  if (head === undefined || pendingBody !== chunk) {
    socketWrite.call(this, chunk, encoding, cb);
    return;
  }
  pendingHead = pendingBody = undefined;
  const chunks: Chunks = [
    { chunk: head, encoding: 'latin1' },
    { chunk, encoding: 'buffer' },
  ];
  chunks.allBuffers = typeof head !== 'string';
  (this as unknown as Internals)._writev!(chunks, cb);
}

/**
 * `head` then `body` as the socket's next bytes, in one writev; `done` once they are out (or cannot
 * be). Returns socket.write's answer (false: wait for 'drain').
 */
export function writePair(socket: Socket, head: string | Buffer, body: Uint8Array, done: Callback | undefined): boolean {
  const s = socket as unknown as Internals;
  const state = s._writableState;
  const buffer = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (
    !usable ||
    state === undefined ||
    state.writing ||
    state.corked !== 0 ||
    state.length !== 0 ||
    state.errored != null ||
    !state.constructed ||
    !socket.writable ||
    (s._write !== socketWrite && s._write !== pairedWrite)
  ) {
    socket.cork();
    if (typeof head === 'string') socket.write(head, 'latin1');
    else socket.write(head);
    const ok = socket.write(buffer, done);
    socket.uncork();
    return ok;
  }
  if (s._write !== pairedWrite) s._write = pairedWrite;
  pendingHead = head;
  pendingBody = buffer;
  let ok: boolean;
  try {
    ok = socket.write(buffer, done);
  } finally {
    const missed = pendingHead !== undefined;
    pendingHead = pendingBody = undefined;
    // The stream kept the body for later after all: it would leave without its head, so the
    // connection ends instead of sending a broken answer.
    if (missed) socket.destroy(new Error('a response body was queued without its head'));
  }
  return ok;
}
