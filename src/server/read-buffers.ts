// Buffers for the slices the origin and the edge's disk tier read in one go (a player's 256 KiB
// range), used again once the response that sent one has finished. A new buffer per range is memory outside V8's heap, and
// hundreds of megabytes of it a second make V8 run full garbage collections over and over (measured:
// most of the origin's CPU on the radio workload went to marking and sweeping). Sizes are rounded up
// to a power of two, so any slice length finds a buffer of its class. How many are out at once follows
// the number of clients whose sockets have not taken their answer yet (measured: 500 radio listeners
// kept more than 128 ranges of 256 KiB waiting, and a pool of 32 MiB then allocated every other
// buffer, 225–229 against 136–159 µs CPU per range with 256 MiB). So the pool keeps up to 256 MiB
// free, and what stayed unused from one trim to the next (every 30 s by default) is let go: it holds
// what the busiest moment of the last period needed, and returns a burst's memory once it is over.
import type { FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';

export class ReadBuffers {
  readonly #free = new Map<number, Buffer[]>();
  /** Per size class, the fewest buffers that were free at any moment since the last trim. */
  readonly #idle = new Map<number, number>();
  readonly #maxFreeBytes: number;
  #freeBytes = 0;

  /**
   * `maxFreeBytes`: most bytes kept free (default 256 MiB); `trimEveryMs`: how often buffers unused
   * since the previous trim are let go (0: never; default 30 s).
   */
  constructor(opts: { maxFreeBytes?: number; trimEveryMs?: number } = {}) {
    this.#maxFreeBytes = opts.maxFreeBytes ?? 256 * 1024 * 1024;
    const every = opts.trimEveryMs ?? 30_000;
    if (every > 0) {
      // The timer holds the pool weakly: a pool nobody uses any more is collected and its timer stops.
      const pool = new WeakRef(this);
      const timer = setInterval(() => {
        const p = pool.deref();
        if (p === undefined) clearInterval(timer);
        else p.trim();
      }, every);
      timer.unref();
    }
  }

  /** A buffer of at least `length` bytes (its contents are old bytes: read over them). */
  take(length: number): Buffer {
    const size = classOf(length);
    const list = this.#free.get(size);
    const buf = list?.pop();
    if (buf === undefined) return Buffer.allocUnsafeSlow(size);
    this.#freeBytes -= size;
    if (list!.length < (this.#idle.get(size) ?? 0)) this.#idle.set(size, list!.length);
    return buf;
  }

  /** Gives back a buffer from take(), once nothing reads it any more. */
  give(buf: Buffer): void {
    const size = buf.length;
    if (size !== classOf(size) || this.#freeBytes + size > this.#maxFreeBytes) return;
    let list = this.#free.get(size);
    if (list === undefined) this.#free.set(size, (list = []));
    list.push(buf);
    this.#freeBytes += size;
  }

  /**
   * Lets go of the buffers that were free the whole time since the previous trim (per size class, the
   * fewest that were free at any moment); returns the bytes let go.
   */
  trim(): number {
    let released = 0;
    for (const [size, list] of this.#free) {
      const idle = Math.min(this.#idle.get(size) ?? 0, list.length);
      list.splice(0, idle); // the oldest: the ones at the bottom of the stack were not taken
      released += idle * size;
      this.#idle.set(size, list.length);
    }
    this.#freeBytes -= released;
    return released;
  }

  /** Bytes kept for reuse (tests). */
  get freeBytes(): number {
    return this.#freeBytes;
  }
}

/**
 * The process's pool: the origin's one-go slices and streamed pieces and the edge's disk-tier reads
 * (one edge worker, or an origin and an edge in one process) draw on the same free buffers, under one
 * bound and one trim timer.
 */
export const readBuffers = new ReadBuffers();

/** The smallest power of two ≥ length (at least 4 KiB). */
function classOf(length: number): number {
  let size = 4096;
  while (size < length) size *= 2;
  return size;
}

/** Reads exactly `length` bytes at `start` into `out`; a file that ends early is an error. */
async function readExactly(handle: FileHandle, start: number, length: number, out: Buffer): Promise<Buffer> {
  let off = 0;
  while (off < length) {
    const { bytesRead } = await handle.read(out, off, length - off, start + off);
    if (bytesRead === 0) throw new Error(`the file ends at byte ${start + off}, before ${start + length}`);
    off += bytesRead;
  }
  return out.length === length ? out : out.subarray(0, length);
}

/**
 * Reads exactly `length` bytes at `start` into a buffer taken from `pool`: the bytes, and the buffer to
 * give back once nothing reads them. On a failed read the buffer is given back and the error thrown.
 */
export async function readPooled(handle: FileHandle, start: number, length: number, pool: ReadBuffers): Promise<{ bytes: Buffer; pooled: Buffer }> {
  const pooled = pool.take(length);
  try {
    return { bytes: await readExactly(handle, start, length, pooled), pooled };
  } catch (err) {
    pool.give(pooled);
    throw err;
  }
}

/** Resolves true on 'drain', false when the response closes first. */
export function drained(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/**
 * Writes bytes start..end of a file to a response in pieces of `pieceBytes` read into pooled buffers,
 * each given back once the socket (HTTP/1.x) or the HTTP/2 session (after its socket write) took it:
 * the write's callback, never after a failed write. Waits for 'drain' when the client is slower than
 * the disk. Resolves false when the response went away; a read error is thrown (the response is left
 * to the caller).
 */
export async function streamSlice(res: ServerResponse, handle: FileHandle, start: number, end: number, pool: ReadBuffers, pieceBytes: number, onPiece?: (bytes: number) => void): Promise<boolean> {
  for (let pos = start; pos <= end; ) {
    const length = Math.min(pieceBytes, end - pos + 1);
    const { bytes: piece, pooled } = await readPooled(handle, pos, length, pool);
    if (res.destroyed) {
      pool.give(pooled);
      return false;
    }
    onPiece?.(length);
    pos += length;
    const more = res.write(piece, (err) => {
      if (!err) pool.give(pooled);
    });
    if (!more && !(await drained(res))) return false;
  }
  return true;
}
