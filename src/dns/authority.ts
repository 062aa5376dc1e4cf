// The authoritative answer to one query, from memory: the zones are the CDN host names (edge.zones[].host),
// each its own apex with SOA and NS; A / AAAA at the apex come from the router (nearest healthy edges);
// in-zone name server names answer their addresses (glue); other names in a zone are NXDOMAIN, names
// outside every zone REFUSED (we are not a resolver). ANY is answered with one HINFO (RFC 8482).
import { isIP } from 'node:net';
import { parseIp } from '../edge/limits/ip-match.ts';
import type { FleetEdge } from '../config/fleet.ts';
import type { AddressFamily, ClientBlock, Router } from './routing.ts';
import {
  addressRecords,
  BADVERS_UPPER,
  CLASS_IN,
  concatSections,
  EMPTY,
  encodeRecord,
  parseQuery,
  RCODE,
  TYPE,
  writeResponse,
  type Query,
  type ResponseParts,
  type Section,
} from './wire.ts';

export type Nameserver = { name: string; addresses: readonly string[] };

export type AuthorityOptions = {
  /** Zone apexes: lower-case host names without trailing dot. */
  zones: readonly string[];
  nameservers: readonly Nameserver[];
  /** SOA RNAME as an e-mail address; default hostmaster@<apex>. */
  soaEmail: string | undefined;
  ttl: number;
  nsTtl: number;
  /** SOA serial (we never transfer zones; a number that grows with restarts suffices). */
  serial: number;
  router: Router;
  /** Largest UDP response whatever the client's EDNS size says. */
  udpMaxPayload: number;
};

export type Transport = 'udp' | 'tcp';

/** What happened, for statistics and the RRL (which counts every response). */
export type AnswerKind = 'answer' | 'nodata' | 'nxdomain' | 'refused' | 'formerr' | 'notimp' | 'badvers';

export type Answer = { response: Buffer; kind: AnswerKind };

type ZoneData = {
  apex: string;
  soa: Section;
  ns: Section;
  glue: Section;
  /** In-zone names with records other than the apex: name server host names. */
  hosts: Map<string, { a: Buffer[]; aaaa: Buffer[] }>;
  /** Names that exist only because something below them does (RFC 8020: NODATA, not NXDOMAIN). */
  emptyNonTerminals: Set<string>;
};

const SOA_TIMERS = { refresh: 3600, retry: 600, expire: 604_800 };

function addressBytes(text: string): Buffer {
  const ip = parseIp(text);
  if (!ip) throw new Error(`not an address: ${text}`);
  if (ip.family === 4) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(ip.value);
    return b;
  }
  const b = Buffer.alloc(16);
  b.writeBigUInt64BE(ip.value >> 64n, 0);
  b.writeBigUInt64BE(ip.value & 0xffffffffffffffffn, 8);
  return b;
}

function inZone(name: string, apex: string): boolean {
  return name === apex || name.endsWith(`.${apex}`);
}

function rnameOf(email: string): string {
  const at = email.lastIndexOf('@');
  return `${email.slice(0, at).replace(/\./g, '\\.')}.${email.slice(at + 1)}`;
}

function buildZone(apex: string, o: AuthorityOptions): ZoneData {
  const nameservers = o.nameservers.length > 0 ? o.nameservers : [{ name: `ns.${apex}`, addresses: [] }];
  const soa = encodeRecord(apex, o.nsTtl, {
    type: 'SOA',
    data: { mname: nameservers[0].name, rname: rnameOf(o.soaEmail ?? `hostmaster@${apex}`), serial: o.serial, ...SOA_TIMERS, minimum: o.ttl },
  });
  const ns = concatSections(nameservers.map((n) => encodeRecord(apex, o.nsTtl, { type: 'NS', data: n.name })));
  const hosts = new Map<string, { a: Buffer[]; aaaa: Buffer[] }>();
  const emptyNonTerminals = new Set<string>();
  const glue: Section[] = [];
  for (const n of nameservers) {
    if (!inZone(n.name, apex) || n.name === apex) continue;
    const entry = hosts.get(n.name) ?? { a: [], aaaa: [] };
    for (const addr of n.addresses) {
      (isIP(addr) === 4 ? entry.a : entry.aaaa).push(addressBytes(addr));
      glue.push(encodeRecord(n.name, o.nsTtl, { type: isIP(addr) === 4 ? 'A' : 'AAAA', data: addr }));
    }
    hosts.set(n.name, entry);
    for (let p = n.name.slice(n.name.indexOf('.') + 1); p !== apex && inZone(p, apex); p = p.slice(p.indexOf('.') + 1)) emptyNonTerminals.add(p);
  }
  return { apex, soa, ns, glue: concatSections(glue), hosts, emptyNonTerminals };
}

/** The client block for routing: the ECS subnet when sent (and not /0), else the source address. */
function clientBlock(q: Query, source: string): ClientBlock | undefined {
  const ecs = q.edns?.ecs;
  if (ecs && ecs.sourcePrefix > 0) {
    const ip =
      ecs.family === 1
        ? ({ family: 4, value: ecs.address.readUInt32BE(0) } as const)
        : ({ family: 6, value: (ecs.address.readBigUInt64BE(0) << 64n) | ecs.address.readBigUInt64BE(8) } as const);
    return { ip, bits: ecs.sourcePrefix };
  }
  const ip = parseIp(source);
  return ip ? { ip, bits: ip.family === 4 ? 32 : 128 } : undefined;
}

export type Authority = {
  /** Answers one query packet; undefined = send nothing. Never throws. */
  answer(packet: Buffer, source: string, transport: Transport): Answer | undefined;
};

export function createAuthority(o: AuthorityOptions): Authority {
  // Longest apex first, so a zone nested in another owns its names.
  const zones = [...new Set(o.zones)].sort((a, b) => b.length - a.length).map((apex) => buildZone(apex, o));
  const hinfo = new Map(zones.map((z) => [z.apex, encodeRecord(z.apex, o.ttl, { type: 'HINFO', data: { cpu: 'RFC8482', os: '' } })]));
  const addressSets = new Map<string, Section>();

  /** A / AAAA records of a set of edges, encoded once per set and family. */
  function edgeRecords(edges: readonly FleetEdge[], family: AddressFamily): Section {
    const key = `${family}|${edges.map((e) => e.name).join(',')}`;
    let s = addressSets.get(key);
    if (!s) {
      const addrs = edges.flatMap((e) => e.addresses.filter((a) => isIP(a) === family)).map(addressBytes);
      s = addressRecords(family === 4 ? TYPE.A : TYPE.AAAA, addrs, o.ttl);
      if (addressSets.size > 10_000) addressSets.clear();
      addressSets.set(key, s);
    }
    return s;
  }

  function respond(q: Query, transport: Transport, kind: AnswerKind, parts: Omit<ResponseParts, 'query' | 'opt'>, scope = 0): Answer {
    const edns = q.edns;
    const max = transport === 'tcp' ? 65_535 : edns ? Math.min(Math.max(edns.udpPayloadSize, 512), o.udpMaxPayload) : 512;
    // RFC 7871 §7.2.1: an answer to a /0 source covers everyone (scope 0).
    const ecs = edns?.ecs ? { subnet: edns.ecs, scope: edns.ecs.sourcePrefix === 0 ? 0 : scope } : undefined;
    const opt = edns ? { udpPayloadSize: o.udpMaxPayload, dnssecOk: edns.dnssecOk, ecs } : undefined;
    return { kind, response: writeResponse({ ...parts, query: q, opt }, max) };
  }

  function answerQuery(q: Query, source: string, transport: Transport): Answer {
    if (q.edns && q.edns.version !== 0) {
      // RFC 6891 §6.1.3: BADVERS, with an OPT of the version we do speak; no ECS echo.
      return { kind: 'badvers', response: writeResponse({ query: q, rcode: 0, authoritative: false, opt: { udpPayloadSize: o.udpMaxPayload, dnssecOk: false, upperRcode: BADVERS_UPPER } }, 512) };
    }
    const zone = q.class === CLASS_IN ? zones.find((z) => inZone(q.name, z.apex)) : undefined;
    if (!zone || q.type === TYPE.AXFR || q.type === TYPE.IXFR) return respond(q, transport, 'refused', { rcode: RCODE.REFUSED, authoritative: false });
    const nodata = () => respond(q, transport, 'nodata', { rcode: RCODE.NOERROR, authoritative: true, authority: zone.soa });
    if (q.name === zone.apex) {
      switch (q.type) {
        case TYPE.A:
        case TYPE.AAAA: {
          const family: AddressFamily = q.type === TYPE.A ? 4 : 6;
          const client = clientBlock(q, source);
          if (!client) return nodata();
          const sel = o.router.select(client, family);
          if (sel.edges.length === 0) return respond(q, transport, 'nodata', { rcode: RCODE.NOERROR, authoritative: true, authority: zone.soa }, sel.scope);
          return respond(q, transport, 'answer', { rcode: RCODE.NOERROR, authoritative: true, answer: edgeRecords(sel.edges, family) }, sel.scope);
        }
        case TYPE.SOA:
          return respond(q, transport, 'answer', { rcode: RCODE.NOERROR, authoritative: true, answer: zone.soa });
        case TYPE.NS:
          return respond(q, transport, 'answer', { rcode: RCODE.NOERROR, authoritative: true, answer: zone.ns, additional: zone.glue });
        case TYPE.ANY:
          return respond(q, transport, 'answer', { rcode: RCODE.NOERROR, authoritative: true, answer: hinfo.get(zone.apex)! });
        default:
          return nodata();
      }
    }
    const host = zone.hosts.get(q.name);
    if (host) {
      if (q.type === TYPE.A && host.a.length > 0) return respond(q, transport, 'answer', { rcode: RCODE.NOERROR, authoritative: true, answer: addressRecords(TYPE.A, host.a, o.nsTtl) });
      if (q.type === TYPE.AAAA && host.aaaa.length > 0) return respond(q, transport, 'answer', { rcode: RCODE.NOERROR, authoritative: true, answer: addressRecords(TYPE.AAAA, host.aaaa, o.nsTtl) });
      if (q.type === TYPE.ANY) return respond(q, transport, 'answer', { rcode: RCODE.NOERROR, authoritative: true, answer: encodeRecord(q.name, o.ttl, { type: 'HINFO', data: { cpu: 'RFC8482', os: '' } }) });
      return nodata();
    }
    if (zone.emptyNonTerminals.has(q.name)) return nodata();
    return respond(q, transport, 'nxdomain', { rcode: RCODE.NXDOMAIN, authoritative: true, authority: zone.soa });
  }

  return {
    answer(packet, source, transport) {
      const parsed = parseQuery(packet);
      if (parsed.kind === 'drop') return undefined;
      if (parsed.kind === 'error') {
        const kind: AnswerKind = parsed.rcode === RCODE.NOTIMP ? 'notimp' : 'formerr';
        return { kind, response: writeResponse({ query: parsed, rcode: parsed.rcode, authoritative: false, answer: EMPTY }, 512) };
      }
      return answerQuery(parsed.query, source, transport);
    },
  };
}
