// Load generator of the radio row: many listeners, each on its own keep-alive connection, each reading
// one file from start to end in sequential ranges (listener k starts at range k, as listeners who
// tuned in at different moments, and wraps around at the end), one request at a time. Every socket
// reads into one shared 512 KiB buffer (net `onread`), so the client spends little per byte: wrk reads
// 8 KiB per read() and would measure itself on 256 KiB bodies.
//
//   node bench/lib/radio-client.ts <url> <listeners> <rangeBytes> <fileBytes> <seconds>
//
// Prints the line wrk-report.lua prints (BENCH_RESULT {...}): requests and bytes (headers and bodies)
// completed within the time, p50 / p99 per range, and errors (a status other than 206, a wrong length,
// a failed connection); and startup_cpu_us, the CPU it used before the first request.
import net from 'node:net';
import { runFor, type ClientCounts } from './client-result.ts';

const [url, listenersArg, rangeArg, fileArg, secondsArg] = process.argv.slice(2);
const target = new URL(url ?? '');
const listeners = Number(listenersArg);
const rangeBytes = Number(rangeArg);
const fileBytes = Number(fileArg);
const seconds = Number(secondsArg);
if (![listeners, rangeBytes, fileBytes, seconds].every((n) => Number.isFinite(n) && n > 0)) {
  console.error('usage: radio-client.ts <url> <listeners> <rangeBytes> <fileBytes> <seconds>');
  process.exit(2);
}
const ranges = Math.ceil(fileBytes / rangeBytes);
const shared = Buffer.allocUnsafe(512 * 1024);
const counts: ClientCounts = { requests: 0, bytes: 0, latenciesUs: [], errors: { connect: 0, read: 0, status: 0 } };
const { latenciesUs, errors } = counts;
let running = true;
const sockets = new Set<net.Socket>();

function listen(k: number): void {
  let next = k % ranges;
  let head = '';
  let inHead = true;
  let bodyLeft = 0;
  let expected = 0;
  let statusOk = false;
  let sentAt = 0n;
  const ask = (socket: net.Socket) => {
    if (!running) return;
    const start = next * rangeBytes;
    const end = Math.min(fileBytes, start + rangeBytes) - 1;
    expected = end - start + 1;
    next = (next + 1) % ranges;
    inHead = true;
    head = '';
    sentAt = process.hrtime.bigint();
    socket.write(`GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nRange: bytes=${start}-${end}\r\n\r\n`);
  };
  const finish = (socket: net.Socket) => {
    counts.requests++;
    latenciesUs.push(Number(process.hrtime.bigint() - sentAt) / 1000);
    if (!statusOk) errors.status++;
    ask(socket);
  };
  const socket = net.connect({
    host: target.hostname,
    port: Number(target.port),
    onread: {
      buffer: shared,
      callback(nread: number, buf: Buffer): boolean {
        if (!running) return false;
        counts.bytes += nread;
        let at = 0;
        if (inHead) {
          // Only the start of a read can hold the header: never decode a body as text.
          const before = head.length;
          const take = Math.min(nread, 16 * 1024);
          head += buf.toString('latin1', 0, take);
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) {
            if (take < nread || head.length > 64 * 1024) socket.destroy(new Error('header too long'));
            return true;
          }
          const lengthMatch = /\r\ncontent-length:\s*(\d+)/i.exec(head.slice(0, end));
          if (!lengthMatch) {
            socket.destroy(new Error('no Content-Length'));
            return false;
          }
          bodyLeft = Number(lengthMatch[1]);
          statusOk = head.startsWith('HTTP/1.1 206') && bodyLeft === expected;
          at = end + 4 - before;
          inHead = false;
        }
        bodyLeft -= nread - at;
        if (bodyLeft < 0) {
          socket.destroy(new Error('more bytes than Content-Length'));
          return false;
        }
        if (bodyLeft === 0) finish(socket);
        return true;
      },
    },
  });
  sockets.add(socket);
  socket.setNoDelay(true);
  socket.on('connect', () => ask(socket));
  socket.on('error', () => {
    if (running) (socket.bytesRead === 0 ? errors.connect++ : errors.read++);
  });
  socket.on('close', () => sockets.delete(socket));
}

runFor(
  seconds,
  counts,
  () => {
    for (let k = 0; k < listeners; k++) listen(k);
  },
  () => {
    running = false;
    for (const s of sockets) s.destroy();
  },
);
