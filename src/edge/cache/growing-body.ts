// A response body that is still arriving: the fill appends chunks, any number of readers stream a byte
// range of it as soon as those bytes are there. A failed fill errors every reader; none waits forever.
import { Readable } from 'node:stream';
import { HEAD_ROOM_MIN_BODY, roomyBuffer } from '../../server/http1/message.ts';
import type { HeadRoom } from '../../server/http1/message.ts';

type State = { kind: 'open' } | { kind: 'complete' } | { kind: 'failed'; error: Error };

export class GrowingBody {
  /** Content-Length announced by upstream, if any. */
  readonly expectedLength: number | undefined;
  readonly #chunks: Buffer[] = [];
  /**
   * One buffer of the announced length, allocated up front when it is small enough: chunks are
   * copied into it as they arrive (and dropped while young), so a complete body is one buffer for
   * the tiers instead of the chunks plus a concatenated copy of them. A larger one has a head's room
   * in front (`#room`), so the memory tier keeps it as it is.
   */
  #whole: Buffer | undefined;
  #room: HeadRoom | undefined;
  /** Start offset of each chunk, for finding where a range begins. */
  readonly #starts: number[] = [];
  #length = 0;
  #state: State = { kind: 'open' };
  readonly #listeners = new Set<() => void>();
  readonly #done: Promise<void>;
  #resolveDone!: () => void;
  #rejectDone!: (e: Error) => void;

  constructor(expectedLength?: number, preallocateMax = 0) {
    this.expectedLength = expectedLength;
    if (expectedLength !== undefined && expectedLength > 0 && expectedLength <= preallocateMax) {
      if (expectedLength > HEAD_ROOM_MIN_BODY) ({ buffer: this.#whole, room: this.#room } = roomyBuffer(expectedLength));
      else this.#whole = Buffer.allocUnsafe(expectedLength);
    }
    this.#done = new Promise<void>((resolve, reject) => {
      this.#resolveDone = resolve;
      this.#rejectDone = reject;
    });
    this.#done.catch(() => {}); // observed through readers and whenComplete()
  }

  get length(): number {
    return this.#length;
  }

  get state(): State['kind'] {
    return this.#state.kind;
  }

  /** The chunks received so far (all of them once complete). */
  get chunks(): readonly Buffer[] {
    return this.#chunks;
  }

  push(chunk: Buffer): void {
    if (this.#state.kind !== 'open' || chunk.length === 0) return;
    const whole = this.#whole;
    if (whole !== undefined) {
      if (this.#length + chunk.length <= whole.length) {
        chunk.copy(whole, this.#length);
        chunk = whole.subarray(this.#length, this.#length + chunk.length);
      } else this.#whole = undefined; // more than announced: the fill fails on it; keep the chunks as they are
    }
    this.#starts.push(this.#length);
    this.#chunks.push(chunk);
    this.#length += chunk.length;
    this.#notify();
  }

  end(): void {
    if (this.#state.kind !== 'open') return;
    this.#state = { kind: 'complete' };
    this.#resolveDone();
    this.#notify();
  }

  fail(error: Error): void {
    if (this.#state.kind !== 'open') return;
    this.#state = { kind: 'failed', error };
    this.#rejectDone(error);
    this.#notify();
  }

  /** Resolves when the body is complete, rejects when the fill failed. */
  whenComplete(): Promise<void> {
    return this.#done;
  }

  /** The whole body as one buffer (only meaningful once complete). */
  concat(): Buffer {
    const parts = this.parts();
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, this.#length);
  }

  /** The body received so far for storing: one buffer when it filled its preallocation, else the chunks. */
  parts(): readonly Buffer[] {
    if (this.#whole !== undefined && this.#length === this.#whole.length) return [this.#whole];
    return this.#chunks;
  }

  /** The head room in front of the one buffer parts() gives, when it has one. */
  room(): HeadRoom | undefined {
    return this.#whole !== undefined && this.#length === this.#whole.length ? this.#room : undefined;
  }

  /**
   * Streams bytes start..end (inclusive; end Infinity = to the end, whatever the length turns out to
   * be). Destroying the reader (a client went away) only detaches it; the fill goes on.
   */
  reader(start = 0, end = Infinity): Readable {
    return new BodyReader(this, start, end);
  }

  /** Internal to readers: the chunk index holding byte `pos` (or chunks.length if not arrived). */
  chunkIndexAt(pos: number): number {
    let lo = 0;
    let hi = this.#starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.#starts[mid] + this.#chunks[mid].length <= pos) lo = mid + 1;
      else if (this.#starts[mid] > pos) hi = mid - 1;
      else return mid;
    }
    return this.#chunks.length;
  }

  chunkStart(i: number): number {
    return this.#starts[i];
  }

  failure(): Error | undefined {
    return this.#state.kind === 'failed' ? this.#state.error : undefined;
  }

  listen(fn: () => void): void {
    this.#listeners.add(fn);
  }

  unlisten(fn: () => void): void {
    this.#listeners.delete(fn);
  }

  #notify(): void {
    const fns = [...this.#listeners];
    this.#listeners.clear();
    for (const fn of fns) fn();
  }
}

class BodyReader extends Readable {
  readonly #body: GrowingBody;
  #pos: number;
  readonly #end: number;
  #idx = -1;
  #waiting = false;
  readonly #wake = () => {
    this.#waiting = false;
    this.#pump();
  };

  constructor(body: GrowingBody, start: number, end: number) {
    super({ highWaterMark: 256 * 1024 });
    this.#body = body;
    this.#pos = start;
    this.#end = end;
  }

  override _read(): void {
    this.#pump();
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.#body.unlisten(this.#wake);
    cb(err);
  }

  #pump(): void {
    if (this.destroyed) return;
    const body = this.#body;
    const chunks = body.chunks;
    while (this.#pos <= this.#end) {
      if (this.#idx < 0) this.#idx = body.chunkIndexAt(this.#pos);
      if (this.#idx < chunks.length) {
        const chunk = chunks[this.#idx];
        const from = this.#pos - body.chunkStart(this.#idx);
        const to = Math.min(chunk.length, this.#end - body.chunkStart(this.#idx) + 1);
        const piece = from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to);
        this.#pos += piece.length;
        this.#idx++;
        if (!this.push(piece)) return;
        continue;
      }
      if (body.state === 'failed') {
        this.destroy(body.failure());
        return;
      }
      if (body.state === 'complete') {
        if (this.#end !== Infinity) this.destroy(new Error('body ended before the requested range'));
        else this.push(null);
        return;
      }
      this.#idx = -1;
      if (!this.#waiting) {
        this.#waiting = true;
        body.listen(this.#wake);
      }
      return;
    }
    this.push(null);
  }
}
