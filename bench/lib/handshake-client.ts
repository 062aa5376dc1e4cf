// Load generator of the handshake rows: a number of loops, each opening a new TLS connection per
// request (HTTP/1.1 with Connection: close, ALPN http/1.1), either with a full handshake every time or
// resuming the session (TLS 1.3 ticket) that the loop's previous connection received. The certificate
// is verified against the bench's CA, as a browser would.
//
//   node bench/lib/handshake-client.ts <https-url> <caFile> <loops> <full|resumed> <seconds>
//
// Prints the line wrk-report.lua prints (BENCH_RESULT {...}): requests (= connections = handshakes)
// completed within the time, bytes received, p50 / p99 per connection (connect to last byte), errors
// (a failed handshake or connection, a status other than 200), startup_cpu_us (its CPU before the first
// connection), and resumed: how many handshakes the server resumed.
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { runFor, type ClientCounts } from './client-result.ts';

const [url, caFile, loopsArg, mode, secondsArg] = process.argv.slice(2);
const loops = Number(loopsArg);
const seconds = Number(secondsArg);
if (!url || !caFile || !(loops > 0) || !(seconds > 0) || (mode !== 'full' && mode !== 'resumed')) {
  console.error('usage: handshake-client.ts <https-url> <caFile> <loops> <full|resumed> <seconds>');
  process.exit(2);
}
const target = new URL(url);
const ca = readFileSync(caFile);
const request = `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nConnection: close\r\n\r\n`;
const counts: ClientCounts = { requests: 0, bytes: 0, latenciesUs: [], errors: { connect: 0, read: 0, status: 0 } };
const { latenciesUs, errors } = counts;
let resumed = 0;
let running = true;
const sockets = new Set<tls.TLSSocket>();

function loop(): void {
  let session: Buffer | undefined;
  const once = () => {
    if (!running) return;
    const startedAt = process.hrtime.bigint();
    let head = '';
    let received = 0;
    let secure = false;
    const socket = tls.connect({ host: '127.0.0.1', port: Number(target.port), servername: target.hostname, ca, ALPNProtocols: ['http/1.1'], session: mode === 'resumed' ? session : undefined });
    sockets.add(socket);
    // TLS 1.3 sends tickets after the handshake; the last one received is offered next time.
    socket.on('session', (s: Buffer) => (session = s));
    socket.once('secureConnect', () => {
      secure = true;
      if (socket.isSessionReused()) resumed++;
      socket.write(request);
    });
    socket.on('data', (d: Buffer) => {
      received += d.length;
      if (head.length < 16) head += d.toString('latin1', 0, Math.min(d.length, 16));
    });
    socket.once('error', () => {
      if (running) (secure ? errors.read++ : errors.connect++);
    });
    socket.once('close', () => {
      sockets.delete(socket);
      if (!running) return;
      if (secure) {
        counts.requests++;
        counts.bytes += received;
        latenciesUs.push(Number(process.hrtime.bigint() - startedAt) / 1000);
        if (!head.startsWith('HTTP/1.1 200')) errors.status++;
      }
      once();
    });
  };
  once();
}

runFor(
  seconds,
  counts,
  () => {
    for (let k = 0; k < loops; k++) loop();
  },
  () => {
    running = false;
    for (const s of sockets) s.destroy();
  },
  () => ({ resumed }),
);
