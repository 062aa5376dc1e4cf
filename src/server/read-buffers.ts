// Buffers for the slices the origin and the edge's disk tier read in one go (a player's 256 KiB
// range), used again once the response that sent one has finished. A new buffer per range is memory outside V8's heap, and
// hundreds of megabytes of it a second make V8 run full garbage collections over and over (measured:
// most of the origin's CPU on the radio workload went to marking and sweeping). Sizes are rounded up
// to a power of two, so any slice length finds a buffer of its class; what is kept is bounded.
export class ReadBuffers {
  readonly #free = new Map<number, Buffer[]>();
  readonly #maxFreeBytes: number;
  #freeBytes = 0;

  constructor(opts: { maxFreeBytes: number }) {
    this.#maxFreeBytes = opts.maxFreeBytes;
  }

  /** A buffer of at least `length` bytes (its contents are old bytes: read over them). */
  take(length: number): Buffer {
    const size = classOf(length);
    const buf = this.#free.get(size)?.pop();
    if (buf === undefined) return Buffer.allocUnsafeSlow(size);
    this.#freeBytes -= size;
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

  /** Bytes kept for reuse (tests). */
  get freeBytes(): number {
    return this.#freeBytes;
  }
}

/** The smallest power of two ≥ length (at least 4 KiB). */
function classOf(length: number): number {
  let size = 4096;
  while (size < length) size *= 2;
  return size;
}
