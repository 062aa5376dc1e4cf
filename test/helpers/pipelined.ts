// Reads, from a paused socket that asked for a whole object and then a range of it (pipelined), both
// bodies: the tests of pooled read buffers use it to see that neither was overwritten while it waited;
// and pipelined answers read late (the sendfile tests).
import net from 'node:net';
import type { Socket } from 'node:net';

export function readWholeThenRange(socket: Socket, wholeBytes: number, rangeBytes: number): Promise<{ whole: Buffer; range: Buffer }> {
  const received: Buffer[] = [];
  return new Promise((resolve) => {
    let length = 0;
    socket.on('data', (c: Buffer) => {
      received.push(c);
      length += c.length;
      if (length < wholeBytes + rangeBytes) return;
      const all = Buffer.concat(received);
      const head = all.indexOf('HTTP/1.1 206', wholeBytes);
      const body = head < 0 ? -1 : all.indexOf('\r\n\r\n', head) + 4;
      if (body < 4 || all.length < body + rangeBytes) return;
      socket.destroy();
      const first = all.indexOf('\r\n\r\n') + 4;
      resolve({ whole: all.subarray(first, first + wholeBytes), range: all.subarray(body, body + rangeBytes) });
    });
    socket.resume();
  });
}

/**
 * Sends `text` (pipelined requests) on a new connection to 127.0.0.1:`port` and reads `count`
 * answers of a head and a Content-Length body, reading nothing until `go` resolves (so that the
 * server's answers fill the connection's buffers first).
 */
export async function pipelinedAnswers(port: number, text: string, count: number, go: () => Promise<unknown>): Promise<{ head: string; body: Buffer }[]> {
  const socket = net.connect(port, '127.0.0.1');
  socket.pause();
  socket.write(text);
  await go();
  let buf = Buffer.alloc(0);
  const answers: { head: string; body: Buffer }[] = [];
  await new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed after ${answers.length} answers`)));
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const at = buf.indexOf('\r\n\r\n');
        if (at < 0) break;
        const head = buf.subarray(0, at).toString('latin1');
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 'NaN');
        if (buf.length < at + 4 + length) break;
        answers.push({ head, body: Buffer.from(buf.subarray(at + 4, at + 4 + length)) });
        buf = buf.subarray(at + 4 + length);
      }
      if (answers.length === count) {
        socket.removeAllListeners('close');
        socket.destroy();
        resolve();
      }
    });
    socket.resume();
  });
  return answers;
}
