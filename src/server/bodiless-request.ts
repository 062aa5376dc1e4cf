// What the own HTTP/1.1 and HTTP/2 handling (http1/, http2/) give a handler as its request's body:
// nothing, read the way node's request objects read an empty one. They only take requests without a
// body; the others go to node's own objects.
import { EventEmitter } from 'node:events';

export class BodilessRequest extends EventEmitter {
  readonly complete = true;
  readonly readableLength = 0;
  aborted = false;
  destroyed = false;
  /** 'end' was emitted: the (empty) body was read to its end. */
  readableEnded = false;
  /** What destroy() ends: the connection (HTTP/1.1) or the stream (HTTP/2). */
  readonly #carrier: { destroy(err?: Error): unknown };
  #endScheduled = false;

  constructor(carrier: { destroy(err?: Error): unknown }) {
    super();
    this.#carrier = carrier;
  }

  /** No body: reading it (resume, a 'data' listener, iteration, pipe) ends at once. */
  resume(): this {
    if (!this.#endScheduled) {
      this.#endScheduled = true;
      process.nextTick(() => {
        this.readableEnded = true;
        this.emit('end');
      });
    }
    return this;
  }

  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    super.on(event, listener);
    if (event === 'data' || event === 'readable') this.resume();
    return this;
  }

  override once(event: string | symbol, listener: (...args: any[]) => void): this {
    super.once(event, listener);
    if (event === 'data' || event === 'readable') this.resume();
    return this;
  }

  read(): null {
    return null;
  }

  pipe<T extends NodeJS.WritableStream>(destination: T): T {
    destination.end();
    return destination;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {}

  /**
   * As node's request objects: destroying a request whose body was read to its end leaves the
   * connection (an HTTP client that read the body, as undici does when it forwards one, destroys it
   * after its end); before that, it ends the connection (HTTP/1.1) or the stream (HTTP/2).
   */
  destroy(err?: Error): this {
    if (!this.destroyed) {
      this.destroyed = true;
      if (!this.readableEnded) this.#carrier.destroy(err);
    }
    return this;
  }

  /** The exchange closed (the response finished, or the client went away first). */
  notifyClose(aborted: boolean): void {
    if (aborted) {
      this.aborted = true;
      this.emit('aborted');
    }
    this.destroyed = true;
    this.emit('close');
  }
}
