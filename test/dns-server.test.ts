// `mediacdn dns` answering real `dig` queries on a random port: geo answers by EDNS Client Subnet
// (GeoIP from geoip-lite's real database), CIDR routes, negative answers, SOA / NS, truncation and the
// TCP retry, ANY, response rate limiting, and edges leaving and rejoining the answers as their health
// endpoints fail and recover.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../src/config/index.ts';
import { startDnsService, type DnsService } from '../src/dns/service.ts';
import { httpProbe } from '../src/dns/health.ts';
import { dig, rdata } from './helpers/dns.ts';
import { fakeTimers } from './helpers/fake-timers.ts';
import dnsPacket from 'dns-packet';
import { tempDirSync } from './helpers/temp.ts';

const ZONE = 'cdn.radio.example';

/** A stand-in for an edge's control listener: answers /_mediacdn/health, or is closed (refused). */
async function controlListener(): Promise<{ url: string; port: number; stop(): Promise<void>; start(): Promise<void> }> {
  const server = http.createServer((req, res) => res.writeHead(req.url === '/_mediacdn/health' ? 200 : 404).end('ok\n'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stop: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))),
    start: () => new Promise((r) => server.listen(port, '127.0.0.1', () => r())),
  };
}

function config(fleetControl: Record<string, string>, extra: Record<string, unknown> = {}) {
  const many = Array.from({ length: 40 }, (_, i) => `192.0.2.${i + 100}`);
  return loadConfig({
    env: {},
    cwd: tempDirSync('mediacdn-dns-'),
    flags: {
      edge: { zones: [{ host: ZONE, origin: 'http://127.0.0.1:9' }, { host: 'media.other.example', origin: 'http://127.0.0.1:9' }] },
      fleet: [
        { name: 'fra', addresses: ['192.0.2.10', '2001:db8::10'], location: { lat: 50.1, lon: 8.7 }, control: fleetControl.fra },
        { name: 'nyc', addresses: ['198.51.100.10', '2001:db8:1::10'], location: { lat: 40.7, lon: -74.0 }, control: fleetControl.nyc },
        { name: 'big', addresses: many, location: { lat: -33.9, lon: 151.2 }, control: fleetControl.big },
      ],
      dns: {
        routes: [
          { cidr: '10.1.0.0/16', edges: ['nyc'] },
          { cidr: '10.99.0.0/16', edges: ['big'] },
        ],
        default: ['fra'],
        nameservers: [
          { name: `ns1.${ZONE}`, addresses: ['192.0.2.53', '2001:db8::53'] },
          { name: 'ns2.dns-host.example', addresses: [] },
        ],
        soaEmail: 'noc@radio.example',
        ...extra,
      },
    },
  });
}

let service: DnsService;
let controls: Record<string, Awaited<ReturnType<typeof controlListener>>>;
const timers = fakeTimers();
const inflight = new Set<Promise<boolean>>();

/** Moves the injected clock and waits for the health checks it started (real HTTP requests). */
async function advance(ms: number) {
  await timers.advance(ms);
  while (inflight.size > 0) {
    await Promise.all([...inflight]);
    await timers.advance(0);
  }
}

before(async () => {
  controls = { fra: await controlListener(), nyc: await controlListener(), big: await controlListener() };
  service = await startDnsService({
    config: config(Object.fromEntries(Object.entries(controls).map(([k, v]) => [k, v.url]))),
    host: '127.0.0.1',
    port: 0,
    timers,
    probe: (url, timeoutMs) => {
      const p = httpProbe(url, timeoutMs);
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
      return p;
    },
  });
  await advance(0);
});

after(async () => {
  await service?.close();
  for (const c of Object.values(controls ?? {})) await c.stop().catch(() => {});
});

test('A and AAAA by EDNS Client Subnet from two regions, scope echoed', async () => {
  const berlin = await dig(service.port, [ZONE, 'A', '+subnet=81.169.145.0/24', '+norec']);
  assert.equal(berlin.status, 'NOERROR');
  assert.deepEqual(rdata(berlin.answers), ['192.0.2.10'], 'Berlin → fra');
  assert.equal(berlin.clientSubnet, '81.169.145.0/24/24', 'ECS echoed with a scope');
  assert.ok(berlin.flags.includes('aa'), 'authoritative');
  assert.ok(!berlin.flags.includes('ra'), 'never offers recursion');
  assert.match(berlin.answers[0], /^cdn\.radio\.example\. 30 IN A /, 'TTL 30 s');

  const us = await dig(service.port, [ZONE, 'A', '+subnet=8.8.8.0/24']);
  assert.deepEqual(rdata(us.answers), ['198.51.100.10'], 'United States → nyc');
  const us6 = await dig(service.port, [ZONE, 'AAAA', '+subnet=8.8.8.0/24']);
  assert.deepEqual(rdata(us6.answers), ['2001:db8:1::10'], 'AAAA of the same edge');
  const frankfurt6 = await dig(service.port, [ZONE, 'AAAA', '+subnet=2a00:1450:4001:800::/56']);
  assert.deepEqual(rdata(frankfurt6.answers), ['2001:db8::10'], 'IPv6 client subnet in Germany → fra');
  assert.equal(frankfurt6.clientSubnet, '2a00:1450:4001:800::/56/56');

  const mixed = await dig(service.port, ['CdN.RaDiO.eXaMpLe', 'A', '+subnet=8.8.8.0/24']);
  assert.deepEqual(rdata(mixed.answers), ['198.51.100.10'], 'names match whatever their case');
  assert.match(mixed.answers[0], /^CdN\.RaDiO\.eXaMpLe\. /, 'the answer keeps the case of the question (0x20)');

  const noEcs = await dig(service.port, [ZONE, 'A', '+subnet=0.0.0.0/0']);
  assert.deepEqual(rdata(noEcs.answers), ['192.0.2.10'], 'ECS /0: located by the resolver (127.0.0.1, unknown) → default set');
  assert.equal(noEcs.clientSubnet, '0.0.0.0/0/0');
  const other = await dig(service.port, ['media.other.example', 'A', '+subnet=81.169.145.0/24']);
  assert.deepEqual(rdata(other.answers), ['192.0.2.10'], 'every zone host is answered');
});

test('the CIDR table overrides GeoIP; the resolver address is used without ECS', async () => {
  const routed = await dig(service.port, [ZONE, 'A', '+subnet=10.1.2.0/24']);
  assert.deepEqual(rdata(routed.answers), ['198.51.100.10']);
  assert.equal(routed.clientSubnet, '10.1.2.0/24/24');
  const wide = await dig(service.port, [ZONE, 'A', '+subnet=10.1.0.0/16']);
  assert.equal(wide.clientSubnet, '10.1.0.0/16/16');
  const plain = await dig(service.port, [ZONE, 'A', '+noedns']);
  assert.deepEqual(rdata(plain.answers), ['192.0.2.10'], '127.0.0.1 has no location → default set');
  assert.equal(plain.clientSubnet, undefined);
});

test('NXDOMAIN, NODATA and REFUSED where due, with the SOA for negative caching', async () => {
  const nx = await dig(service.port, [`nope.${ZONE}`, 'A']);
  assert.equal(nx.status, 'NXDOMAIN');
  assert.ok(nx.flags.includes('aa'));
  assert.match(nx.authority[0] ?? '', new RegExp(`^${ZONE}\\. 3600 IN SOA ns1\\.${ZONE}\\. noc\\.radio\\.example\\. \\d+ 3600 600 604800 30$`));
  const mx = await dig(service.port, [ZONE, 'MX']);
  assert.equal(mx.status, 'NOERROR');
  assert.deepEqual(mx.answers, []);
  assert.match(mx.authority[0] ?? '', / IN SOA /);
  const nsHostMx = await dig(service.port, [`ns1.${ZONE}`, 'TXT']);
  assert.equal(nsHostMx.status, 'NOERROR', 'a name that exists with other types is NODATA');
  const outside = await dig(service.port, ['example.org', 'A']);
  assert.equal(outside.status, 'REFUSED');
  assert.ok(!outside.flags.includes('aa') && !outside.flags.includes('ra'));
  assert.deepEqual(outside.answers, []);
  const parent = await dig(service.port, ['radio.example', 'A']);
  assert.equal(parent.status, 'REFUSED', 'the parent zone is not ours');
  const chaos = await dig(service.port, ['version.bind', 'TXT', 'CH']);
  assert.equal(chaos.status, 'REFUSED', 'no version.bind');
  const axfr = await dig(service.port, [ZONE, 'AXFR']);
  assert.match(axfr.text, /Transfer failed|REFUSED/, 'no zone transfers');
});

test('SOA and NS at the apex, with glue for in-zone name servers', async () => {
  const soa = await dig(service.port, [ZONE, 'SOA']);
  assert.equal(soa.answers.length, 1);
  assert.match(soa.answers[0], new RegExp(`^${ZONE}\\. 3600 IN SOA ns1\\.${ZONE}\\. noc\\.radio\\.example\\. `));
  const ns = await dig(service.port, [ZONE, 'NS']);
  assert.deepEqual(rdata(ns.answers), [`ns1.${ZONE}.`, 'ns2.dns-host.example.']);
  assert.deepEqual(rdata(ns.additional), ['192.0.2.53', '2001:db8::53']);
  const glueA = await dig(service.port, [`ns1.${ZONE}`, 'A']);
  assert.deepEqual(rdata(glueA.answers), ['192.0.2.53']);
  const otherZone = await dig(service.port, ['media.other.example', 'SOA']);
  assert.match(otherZone.answers[0], /^media\.other\.example\. 3600 IN SOA ns1\.cdn\.radio\.example\. /, 'each zone has its own SOA');
});

test('an answer over 512 bytes without EDNS is truncated (TC) and dig retries over TCP', async () => {
  const udp = await dig(service.port, [ZONE, 'A', '+subnet=10.99.0.0/24', '+bufsize=512', '+ignore']);
  assert.ok(udp.flags.includes('tc'), 'TC set');
  assert.deepEqual(udp.answers, [], 'no partial answers');
  const retried = await dig(service.port, [ZONE, 'A', '+noedns']);
  assert.equal(retried.answers.length, 1, 'small answers fit');
  const big = await dig(service.port, [ZONE, 'A', '+subnet=10.99.0.0/24', '+bufsize=512']);
  assert.ok(big.retriedTcp, 'dig went on over TCP');
  assert.equal(big.answers.length, 40, 'the whole answer over TCP');
  const fits = await dig(service.port, [ZONE, 'A', '+subnet=10.99.0.0/24', '+bufsize=1232']);
  assert.equal(fits.retriedTcp, false, '40 records fit into a 1232-byte EDNS buffer');
  assert.equal(fits.answers.length, 40);
  const tcp = await dig(service.port, [ZONE, 'A', '+tcp', '+subnet=81.169.145.0/24', '+keepopen']);
  assert.deepEqual(rdata(tcp.answers), ['192.0.2.10'], 'TCP answers like UDP');
});

test('ANY is answered minimally (RFC 8482): one HINFO record', async () => {
  const any = await dig(service.port, [ZONE, 'ANY']);
  assert.equal(any.status, 'NOERROR');
  assert.deepEqual(any.answers, [`${ZONE}. 30 IN HINFO "RFC8482" ""`]);
  const anyTcp = await dig(service.port, [ZONE, 'ANY', '+tcp']);
  assert.equal(anyTcp.answers.length, 1, 'over TCP too');
  const anyMissing = await dig(service.port, [`x.${ZONE}`, 'ANY']);
  assert.equal(anyMissing.status, 'NXDOMAIN');
});

test('health: a dead edge leaves the answers within two intervals, returns on its own; all down → all', async () => {
  const berlin = () => dig(service.port, [ZONE, 'A', '+subnet=81.169.145.0/24']).then((r) => rdata(r.answers));
  assert.deepEqual(await berlin(), ['192.0.2.10']);
  await controls.fra.stop();
  await advance(5000);
  assert.deepEqual(await berlin(), ['192.0.2.10'], 'one failed check is not enough');
  await advance(4999);
  assert.deepEqual(await berlin(), ['198.51.100.10'], 'within two intervals Berlin goes to the next nearest healthy edge');
  assert.equal(service.health.isUp('fra'), false);
  await controls.fra.start();
  await advance(5000 * 2);
  assert.deepEqual(await berlin(), ['192.0.2.10'], 'back after two good checks');

  await Promise.all(Object.values(controls).map((c) => c.stop()));
  await advance(5000 * 2);
  assert.deepEqual(Object.keys(controls).map((n) => service.health.isUp(n)), [false, false, false]);
  assert.deepEqual(await berlin(), ['192.0.2.10', '198.51.100.10', ...Array.from({ length: 40 }, (_, i) => `192.0.2.${i + 100}`)].sort(), 'all down → answer with all of them');
  await Promise.all(Object.values(controls).map((c) => c.start()));
  await advance(5000 * 2);
  assert.deepEqual(await berlin(), ['192.0.2.10']);
});

test('malformed packets get FORMERR or nothing, and the server keeps answering', async () => {
  const socket = dgram.createSocket('udp4');
  const replies: Buffer[] = [];
  socket.on('message', (m) => replies.push(m));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  const send = (b: Buffer) => new Promise<void>((r) => socket.send(b, service.port, '127.0.0.1', () => r()));
  const valid = dnsPacket.encode({ type: 'query', id: 7, questions: [{ type: 'A', name: ZONE }] });
  await send(Buffer.alloc(0));
  await send(Buffer.from([1, 2, 3]));
  await send(valid.subarray(0, valid.length - 3)); // truncated question
  const two = Buffer.from(valid);
  two.writeUInt16BE(2, 4); // QDCOUNT 2 with one question
  await send(two);
  const response = Buffer.from(valid);
  response.writeUInt16BE(0x8000, 2); // a response: never answered
  await send(response);
  await new Promise((r) => setTimeout(r, 200));
  const rcodes = replies.map((m) => m.readUInt16BE(2) & 0xf);
  assert.deepEqual(rcodes, [1, 1], 'FORMERR for the truncated question and for QDCOUNT 2; silence for the rest');
  const still = await dig(service.port, [ZONE, 'A', '+subnet=81.169.145.0/24']);
  assert.deepEqual(rdata(still.answers), ['192.0.2.10']);
  socket.close();
});

test('response rate limiting per /24: over the limit most answers are dropped, every second one slips out truncated; TCP is not limited', async () => {
  const limited = await startDnsService({
    config: config({ fra: 'http://127.0.0.1:9', nyc: 'http://127.0.0.1:9', big: 'http://127.0.0.1:9' }, { rateLimit: { responsesPerSecond: 5, slip: 2 } }),
    host: '127.0.0.1',
    port: 0,
    timers: fakeTimers(),
    locate: () => undefined,
  });
  const socket = dgram.createSocket('udp4');
  try {
    const replies: Buffer[] = [];
    socket.on('message', (m) => replies.push(m));
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
    for (let id = 0; id < 50; id++) {
      const q = dnsPacket.encode({ type: 'query', id, questions: [{ type: 'A', name: ZONE }] });
      await new Promise<void>((r) => socket.send(q, limited.port, '127.0.0.1', () => r()));
    }
    await new Promise((r) => setTimeout(r, 300));
    const full = replies.filter((m) => (m.readUInt16BE(2) & 0x0200) === 0 && m.readUInt16BE(6) > 0);
    const slipped = replies.filter((m) => (m.readUInt16BE(2) & 0x0200) !== 0 && m.readUInt16BE(6) === 0);
    assert.ok(full.length >= 5 && full.length <= 7, `about one second's worth of full answers (${full.length})`);
    assert.ok(slipped.length >= 20, `about half of the rest slip out truncated (${slipped.length})`);
    assert.equal(full.length + slipped.length, replies.length, 'nothing else');
    assert.ok(replies.length < 35, `the rest are dropped (${50 - replies.length} dropped)`);
    assert.ok(limited.counters.rrlDropped > 0 && limited.counters.rrlSlipped > 0);
    const viaUdp = await dig(limited.port, [ZONE, 'A']);
    assert.ok(viaUdp.status === 'none' || viaUdp.retriedTcp || viaUdp.answers.length === 1, 'dig gets a slip and retries over TCP, or nothing');
    const tcp = await dig(limited.port, [ZONE, 'A', '+tcp']);
    assert.deepEqual(rdata(tcp.answers), ['192.0.2.10'], 'TCP is answered: a spoofed source cannot complete a handshake');
  } finally {
    socket.close();
    await limited.close();
  }
});

test('TCP: connections over the limit are closed at once; an idle connection is closed after the idle timeout', async () => {
  const net = await import('node:net');
  const limited = await startDnsService({
    config: config({ fra: 'http://127.0.0.1:9', nyc: 'http://127.0.0.1:9', big: 'http://127.0.0.1:9' }, { tcpMaxConnections: 2, tcpIdleTimeoutMs: 300 }),
    host: '127.0.0.1',
    port: 0,
    timers: fakeTimers(),
    locate: () => undefined,
  });
  const open = () =>
    new Promise<import('node:net').Socket>((resolve, reject) => {
      const s = net.connect(limited.port, '127.0.0.1', () => resolve(s));
      s.on('error', reject);
    });
  const closed = (s: import('node:net').Socket) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));
  try {
    const a = await open();
    const b = await open();
    const c = await open();
    c.on('error', () => {});
    await closed(c); // the third is over the limit
    assert.equal(limited.counters.tcpRefused, 1);
    // a slow client that never completes a query is cut off; a and b both idle out
    a.write(Buffer.from([0, 40, 1])); // announces 40 bytes, sends 1
    await Promise.all([closed(a), closed(b)]);
    const after = await dig(limited.port, [ZONE, 'A', '+tcp']);
    assert.deepEqual(rdata(after.answers), ['192.0.2.10'], 'slots are free again');
  } finally {
    await limited.close();
  }
});

test('TCP: pipelined queries in one write and a query split across writes are all answered in order', async () => {
  const net = await import('node:net');
  const frame = (id: number, name: string) => {
    const q = dnsPacket.encode({ type: 'query', id, questions: [{ type: 'A', name }] });
    const f = Buffer.alloc(2 + q.length);
    f.writeUInt16BE(q.length, 0);
    q.copy(f, 2);
    return f;
  };
  const socket = net.connect(service.port, '127.0.0.1');
  await new Promise<void>((r) => socket.once('connect', () => r()));
  let got = Buffer.alloc(0);
  const answers = new Promise<Buffer[]>((resolve) => {
    socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      const out: Buffer[] = [];
      let off = 0;
      while (off + 2 <= got.length && off + 2 + got.readUInt16BE(off) <= got.length) {
        out.push(got.subarray(off + 2, off + 2 + got.readUInt16BE(off)));
        off += 2 + got.readUInt16BE(off);
      }
      if (out.length === 3) resolve(out);
    });
  });
  socket.write(Buffer.concat([frame(1, ZONE), frame(2, `nope.${ZONE}`)]));
  const third = frame(3, 'example.org');
  socket.write(third.subarray(0, 5));
  await new Promise((r) => setTimeout(r, 50));
  socket.write(third.subarray(5));
  const [a, b, c] = await answers;
  socket.destroy();
  assert.deepEqual([a, b, c].map((m) => [m.readUInt16BE(0), m.readUInt16BE(2) & 0xf]), [[1, 0], [2, 3], [3, 5]], 'ids in order: NOERROR, NXDOMAIN, REFUSED');
});
