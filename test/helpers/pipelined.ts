// Reads, from a paused socket that asked for a whole object and then a range of it (pipelined), both
// bodies: the tests of pooled read buffers use it to see that neither was overwritten while it waited.
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
