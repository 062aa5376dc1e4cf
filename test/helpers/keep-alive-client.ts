// A client on one keep-alive connection that sends raw request heads and reads whole responses, as
// bytes (for tests that compare two servers' answers byte for byte).
import net from 'node:net';

/**
 * One keep-alive connection that reads whole responses: a head, then a body framed by Content-Length,
 * chunks, or the end of the connection; none for HEAD, 1xx, 204 and 304.
 */
export class KeepAliveClient {
  readonly #port: number;
  #socket: net.Socket | undefined;
  #buf = Buffer.alloc(0);
  #ended = false;
  #wake: (() => void) | undefined;

  constructor(port: number) {
    this.#port = port;
  }

  async exchange(text: string, method: string): Promise<string> {
    if (this.#socket === undefined) {
      const socket = net.connect(this.#port, '127.0.0.1');
      socket.on('data', (c: Buffer) => {
        this.#buf = Buffer.concat([this.#buf, c]);
        this.#wake?.();
      });
      socket.on('close', () => {
        this.#ended = true;
        this.#wake?.();
      });
      socket.on('error', () => {});
      this.#socket = socket;
      this.#buf = Buffer.alloc(0);
      this.#ended = false;
    }
    this.#socket.write(text);
    const at = await this.#until(() => this.#buf.indexOf('\r\n\r\n'));
    const headText = this.#buf.subarray(0, at).toString('latin1');
    const status = Number(headText.slice(9, 12));
    const length = /\r\ncontent-length: *(\d+)/i.exec(headText);
    const chunked = /\r\ntransfer-encoding: *chunked/i.test(headText);
    let end: number;
    if (method === 'HEAD' || status === 304 || status === 204 || status < 200) end = at + 4;
    else if (length) end = at + 4 + Number(length[1]);
    else if (chunked) end = (await this.#until(() => this.#buf.indexOf('\r\n0\r\n\r\n', at))) + 7;
    else end = await this.#until(() => (this.#ended ? this.#buf.length : -1));
    await this.#until(() => (this.#buf.length >= end ? end : this.#ended ? this.#buf.length : -1));
    const whole = this.#buf.subarray(0, end);
    this.#buf = this.#buf.subarray(end);
    // A connection the answer closes (or that ended): the next request opens a new one.
    if (this.#ended || /\r\nconnection: *close/i.test(headText)) this.close();
    return normalise(whole);
  }

  async #until(found: () => number): Promise<number> {
    for (;;) {
      const at = found();
      if (at >= 0) return at;
      if (this.#ended) throw new Error(`connection closed mid-response: ${JSON.stringify(this.#buf.toString('latin1').slice(0, 200))}`);
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }

  close(): void {
    this.#socket?.destroy();
    this.#socket = undefined;
  }
}

/** Without the wall-clock Date line, and with a multipart boundary (random per answer) named BOUNDARY. */
export function normalise(raw: Buffer): string {
  const at = raw.indexOf('\r\n\r\n');
  const headLines = raw.subarray(0, at).toString('latin1').split('\r\n').filter((l) => !/^date:/i.test(l));
  const text = `${headLines.join('\r\n')}${raw.subarray(at).toString('latin1')}`;
  const boundary = /boundary=([0-9a-f]+)/.exec(text)?.[1];
  return boundary === undefined ? text : text.replaceAll(boundary, 'BOUNDARY');
}
