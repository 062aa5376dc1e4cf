import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import dnsPacket from 'dns-packet';
import { fleetSchema } from '../config/fleet-schema.ts';
import { createAuthority } from './authority.ts';
import { createRouter } from './routing.ts';

const edges = fleetSchema.parse([
  { name: 'fra', addresses: ['192.0.2.10', '2001:db8::10'], location: { lat: 50.1, lon: 8.7 }, control: 'http://10.0.0.2:8081' },
  { name: 'nyc', addresses: ['198.51.100.10'], location: { lat: 40.7, lon: -74.0 }, control: 'http://10.0.0.3:8081' },
]);

const authority = createAuthority({
  zones: ['cdn.radio.example', 'a.cdn.radio.example'],
  nameservers: [{ name: 'ns1.cdn.radio.example', addresses: ['192.0.2.53'] }],
  soaEmail: undefined,
  ttl: 30,
  nsTtl: 3600,
  serial: 1,
  udpMaxPayload: 1232,
  router: createRouter({
    edges,
    routes: [{ cidr: '10.0.0.0/8', edges: ['nyc'] }],
    defaultEdges: undefined,
    edgesPerAnswer: 1,
    locate: (ip) => (ip.startsWith('81.') ? { lat: 52.5, lon: 13.4 } : undefined),
    health: { isUp: () => true, generation: () => 0 },
  }),
});

const SEED = Number(process.env.FC_SEED ?? 0x14d45);

/** What every response must be, whatever the query was. */
function checkResponse(query: Buffer, response: Buffer | undefined, transport: 'udp' | 'tcp'): void {
  if (response === undefined) return;
  assert.ok(response.length >= 12);
  assert.equal(response.readUInt16BE(0), query.readUInt16BE(0), 'same id');
  const flags = response.readUInt16BE(2);
  assert.ok(flags & 0x8000, 'QR set');
  assert.equal(flags & 0x0080, 0, 'RA never set');
  if (transport === 'udp') assert.ok(response.length <= 1232, `UDP answer within our payload size (${response.length})`);
  const decoded = dnsPacket.decode(response);
  assert.ok(decoded.questions !== undefined && decoded.questions.length <= 1);
}

test('fuzz: random bytes never crash the handler; answers are well-formed or absent', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 700 }), fc.constantFrom('udp' as const, 'tcp' as const), (bytes, transport) => {
      const buf = Buffer.from(bytes);
      const a = authority.answer(buf, '81.169.145.7', transport);
      if (buf.length >= 12) checkResponse(buf, a?.response, transport);
      else assert.equal(a, undefined, 'too short to answer');
    }),
    { seed: SEED, numRuns: 3000, interruptAfterTimeLimit: 15_000 },
  );
});

const label = fc.stringMatching(/^[a-zA-Z0-9-]{1,12}$/);
const queryArb = fc.record({
  id: fc.integer({ min: 0, max: 0xffff }),
  name: fc.oneof(
    fc.constantFrom('cdn.radio.example', 'CDN.Radio.Example', 'ns1.cdn.radio.example', 'a.cdn.radio.example', 'x.y.cdn.radio.example', 'example.org', '.'),
    fc.array(label, { minLength: 1, maxLength: 6 }).map((ls) => `${ls.join('.')}.cdn.radio.example`),
  ),
  type: fc.constantFrom('A', 'AAAA', 'NS', 'SOA', 'ANY', 'MX', 'TXT', 'AXFR', 'HINFO'),
  klass: fc.constantFrom('IN', 'CH', 'ANY'),
  rd: fc.boolean(),
  edns: fc.option(
    fc.record({
      size: fc.integer({ min: 0, max: 65535 }),
      ecs: fc.option(fc.oneof(fc.tuple(fc.constant(1), fc.integer({ min: 0, max: 32 })), fc.tuple(fc.constant(2), fc.integer({ min: 0, max: 128 })))),
    }),
  ),
});

type GeneratedQuery = typeof queryArb extends fc.Arbitrary<infer T> ? T : never;

function encodeQuery(q: GeneratedQuery): Buffer {
  const additionals: dnsPacket.Answer[] = [];
  if (q.edns) {
    const options = q.edns.ecs ? [{ code: 'CLIENT_SUBNET', family: q.edns.ecs[0], sourcePrefixLength: q.edns.ecs[1], scopePrefixLength: 0, ip: q.edns.ecs[0] === 1 ? '81.169.145.0' : '2a00:1450::' }] : [];
    additionals.push({ type: 'OPT', name: '.', udpPayloadSize: q.edns.size, options } as unknown as dnsPacket.Answer);
  }
  return dnsPacket.encode({ type: 'query', id: q.id, flags: q.rd ? dnsPacket.RECURSION_DESIRED : 0, questions: [{ type: q.type as 'A', name: q.name, class: q.klass as 'IN' }], additionals });
}

test('fuzz: generated queries and their mutations (flipped bytes, cuts) never crash; valid ones are answered', () => {
  fc.assert(
    fc.property(
      queryArb,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      fc.option(fc.nat()),
      fc.constantFrom('udp' as const, 'tcp' as const),
      (q, flips, cut, transport) => {
        const original = encodeQuery(q);
        const intact = authority.answer(original, '192.0.2.1', transport);
        // ECS with host bits set past the prefix is FORMERR by design; everything else gets an answer.
        assert.ok(intact !== undefined, 'a well-formed query is always answered');
        checkResponse(original, intact.response, transport);
        const mutated = Buffer.from(original);
        for (const [at, value] of flips) mutated[at % mutated.length] = value;
        const bytes = cut === null ? mutated : mutated.subarray(0, cut % (mutated.length + 1));
        const a = authority.answer(bytes, '2001:db8::1', transport);
        if (bytes.length >= 12) checkResponse(bytes, a?.response, transport);
      },
    ),
    { seed: SEED, numRuns: 3000, interruptAfterTimeLimit: 15_000 },
  );
});

test('queries without EDNS get at most 512 bytes; TC when the answer does not fit', () => {
  const many = fleetSchema.parse([{ name: 'big', addresses: Array.from({ length: 60 }, (_, i) => `192.0.2.${i + 1}`), location: { lat: 0, lon: 0 }, control: 'http://x:1' }]);
  const big = createAuthority({
    zones: ['cdn.radio.example'],
    nameservers: [],
    soaEmail: undefined,
    ttl: 30,
    nsTtl: 3600,
    serial: 1,
    udpMaxPayload: 1232,
    router: createRouter({ edges: many, routes: [], defaultEdges: undefined, edgesPerAnswer: 1, locate: () => undefined, health: { isUp: () => true, generation: () => 0 } }),
  });
  const q = dnsPacket.encode({ type: 'query', id: 1, questions: [{ type: 'A', name: 'cdn.radio.example' }] });
  const udp = big.answer(q, '192.0.2.1', 'udp')!.response;
  assert.ok(udp.length <= 512);
  assert.ok(udp.readUInt16BE(2) & 0x0200, 'TC');
  assert.equal(udp.readUInt16BE(6), 0, 'no answers in a truncated response');
  const tcp = big.answer(q, '192.0.2.1', 'tcp')!.response;
  assert.equal(dnsPacket.decode(tcp).answers?.length, 60);
});

test('EDNS versions other than 0 get BADVERS; a second OPT or bad ECS gets FORMERR', () => {
  const base = { type: 'query' as const, id: 9, questions: [{ type: 'A' as const, name: 'cdn.radio.example' }] };
  const v1 = dnsPacket.encode({ ...base, additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, ednsVersion: 1 } as unknown as dnsPacket.Answer] });
  const bad = dnsPacket.decode(authority.answer(v1, '192.0.2.1', 'udp')!.response) as unknown as { additionals: { type: string; extendedRcode: number }[] };
  assert.equal(bad.additionals[0].type, 'OPT');
  assert.equal(bad.additionals[0].extendedRcode, 1, 'BADVERS (16) = extended 1, rcode 0');
  const opt = { type: 'OPT', name: '.', udpPayloadSize: 1232 } as unknown as dnsPacket.Answer;
  const twoOpts = dnsPacket.encode({ ...base, additionals: [opt, opt] });
  assert.equal(authority.answer(twoOpts, '192.0.2.1', 'udp')!.kind, 'formerr');
  const hostBits = dnsPacket.encode({ ...base, additionals: [{ ...opt, options: [{ code: 'CLIENT_SUBNET', family: 1, sourcePrefixLength: 20, scopePrefixLength: 0, ip: '81.169.255.0' }] } as unknown as dnsPacket.Answer] });
  assert.equal(authority.answer(hostBits, '192.0.2.1', 'udp')!.kind, 'formerr', 'address bits past the source prefix (RFC 7871 §6)');
});
