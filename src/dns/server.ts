// `mediacdn dns` listeners: UDP and TCP on one port. UDP answers pass the response rate limiter;
// TCP (RFC 7766 framing, pipelined queries) has an idle timeout, a connection limit and drops clients
// that do not read their answers. A packet can never crash the process: the authority never throws,
// and anything unexpected is counted and dropped.
import dgram from 'node:dgram';
import net from 'node:net';
import type { Authority, AnswerKind } from './authority.ts';
import type { Rrl } from './rrl.ts';
import { slipResponse } from './wire.ts';

export type DnsListenOptions = {
  authority: Authority;
  rrl: Rrl;
  host: string;
  /** 0 = a free port (the same for UDP and TCP). */
  port: number;
  tcpIdleTimeoutMs: number;
  tcpMaxConnections: number;
};

export type DnsCounters = Record<AnswerKind | 'dropped' | 'rrlSlipped' | 'rrlDropped' | 'tcpRefused' | 'internalErrors', number>;

export type DnsListener = {
  port: number;
  counters: DnsCounters;
  close(): Promise<void>;
};

/** Largest amount of unread answers a TCP client may leave with us before it is dropped. */
const TCP_MAX_PENDING_BYTES = 256 * 1024;

export async function listenDns(o: DnsListenOptions): Promise<DnsListener> {
  const counters: DnsCounters = { answer: 0, nodata: 0, nxdomain: 0, refused: 0, formerr: 0, notimp: 0, badvers: 0, dropped: 0, rrlSlipped: 0, rrlDropped: 0, tcpRefused: 0, internalErrors: 0 };
  const answer = (packet: Buffer, source: string, transport: 'udp' | 'tcp') => {
    try {
      const a = o.authority.answer(packet, source, transport);
      if (a) counters[a.kind]++;
      else counters.dropped++;
      return a?.response;
    } catch {
      counters.internalErrors++;
      return undefined;
    }
  };

  const family = net.isIPv6(o.host) ? 'udp6' : 'udp4';
  for (let attempt = 0; ; attempt++) {
    const udp = dgram.createSocket({ type: family, reuseAddr: false });
    udp.on('message', (msg, rinfo) => {
      const response = answer(msg, rinfo.address, 'udp');
      if (!response) return;
      const verdict = o.rrl.check(rinfo.address);
      if (verdict === 'drop') {
        counters.rrlDropped++;
        return;
      }
      if (verdict === 'slip') counters.rrlSlipped++;
      udp.send(verdict === 'slip' ? slipResponse(response) : response, rinfo.port, rinfo.address, () => {});
    });
    udp.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(o.port, o.host, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    const port = udp.address().port;
    const sockets = new Set<net.Socket>();
    const tcp = net.createServer((socket) => {
      if (sockets.size >= o.tcpMaxConnections) {
        counters.tcpRefused++;
        socket.destroy();
        return;
      }
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      serveTcp(socket, o.tcpIdleTimeoutMs, answer);
    });
    tcp.maxConnections = o.tcpMaxConnections * 2;
    const tcpError = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      tcp.once('error', resolve);
      tcp.listen({ port, host: o.host, exclusive: true }, () => {
        tcp.off('error', resolve);
        resolve(undefined);
      });
    });
    if (tcpError) {
      udp.close();
      // Port 0: the UDP port we got may be taken for TCP; try another.
      if (o.port === 0 && tcpError.code === 'EADDRINUSE' && attempt < 10) continue;
      throw tcpError;
    }
    tcp.on('error', () => {});
    return {
      port,
      counters,
      close: async () => {
        for (const s of sockets) s.destroy();
        await Promise.all([new Promise<void>((r) => udp.close(() => r())), new Promise<void>((r) => tcp.close(() => r()))]);
      },
    };
  }
}

function serveTcp(socket: net.Socket, idleMs: number, answer: (packet: Buffer, source: string, transport: 'tcp') => Buffer | undefined): void {
  const source = socket.remoteAddress ?? '';
  let pending: Buffer = Buffer.alloc(0);
  let idle = setTimeout(() => socket.destroy(), idleMs);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 2) {
      const len = pending.readUInt16BE(0);
      if (len === 0) {
        socket.destroy();
        return;
      }
      if (pending.length < 2 + len) break;
      const packet = pending.subarray(2, 2 + len);
      pending = pending.subarray(2 + len);
      clearTimeout(idle);
      idle = setTimeout(() => socket.destroy(), idleMs);
      const response = answer(packet, source, 'tcp');
      if (!response) continue;
      const frame = Buffer.alloc(2 + response.length);
      frame.writeUInt16BE(response.length, 0);
      response.copy(frame, 2);
      socket.write(frame);
      if (socket.writableLength > TCP_MAX_PENDING_BYTES) {
        socket.destroy();
        return;
      }
    }
  });
  socket.on('error', () => {});
  socket.on('close', () => clearTimeout(idle));
}
