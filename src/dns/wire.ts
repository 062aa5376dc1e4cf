// DNS wire format for an authoritative server: a strict reader of queries (header, the one question
// kept as raw bytes so the answer echoes it exactly, EDNS(0) with Client Subnet), and a writer of
// responses from pre-encoded records. Records other than A / AAAA and the OPT pseudo-record are
// encoded and the additional section decoded by dns-packet; the routing answers are ours.
import dnsPacket from 'dns-packet';

type DecodedRecord = { name: string; type: string; udpPayloadSize?: number; ednsVersion?: number; flags?: number; options?: { code: number; data: Buffer }[] };
/** dns-packet's codec of one resource record (exported at run time, missing from its type definitions). */
const rr = (dnsPacket as unknown as {
  answer: { encode(a: dnsPacket.Answer): Buffer; decode: ((buf: Buffer, offset: number) => DecodedRecord) & { bytes: number } };
}).answer;

export const TYPE = { A: 1, NS: 2, SOA: 6, HINFO: 13, AAAA: 28, OPT: 41, IXFR: 251, AXFR: 252, ANY: 255 } as const;
export const CLASS_IN = 1;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
/** Extended RCODE 16 (RFC 6891 §6.1.3): upper 8 bits 1 in the OPT TTL, lower 4 bits 0 in the header. */
export const BADVERS_UPPER = 1;
const ECS_OPTION = 8;

/** EDNS Client Subnet as sent (RFC 7871 §6): family 1 = IPv4, 2 = IPv6; `address` padded to full length. */
export type ClientSubnet = { family: 1 | 2; sourcePrefix: number; address: Buffer };

export type Edns = { udpPayloadSize: number; version: number; dnssecOk: boolean; ecs: ClientSubnet | undefined };

export type Query = {
  id: number;
  /** The header's second 16 bits as sent. */
  flags: number;
  /** Lower-case name without trailing dot; bytes other than letters, digits, '-' and '_' escaped as \DDD so that they never match a zone. */
  name: string;
  type: number;
  class: number;
  /** The question section's bytes exactly as sent (12 .. questionEnd). */
  question: Buffer;
  edns: Edns | undefined;
};

export type Parsed =
  | { kind: 'query'; query: Query }
  /** Answerable only with an error code: header (and question, when it was readable) are echoed. */
  | { kind: 'error'; rcode: number; id: number; flags: number; question: Buffer | undefined }
  /** Not answered at all: too short to carry an id, or a response (answering responses makes loops). */
  | { kind: 'drop' };

const QR = 0x8000;
const AA = 0x0400;
const TC = 0x0200;
const RD = 0x0100;
const CD = 0x0010;

/** Reads the question name (no compression: there is nothing before it to point at). */
function readName(buf: Buffer, start: number): { name: string; end: number } | undefined {
  let off = start;
  const labels: string[] = [];
  let total = 0;
  for (;;) {
    if (off >= buf.length) return undefined;
    const len = buf[off++];
    if (len === 0) break;
    if ((len & 0xc0) !== 0) return undefined;
    if (off + len > buf.length) return undefined;
    total += len + 1;
    if (total > 254) return undefined;
    let label = '';
    for (let i = off; i < off + len; i++) {
      let c = buf[i];
      if (c >= 0x41 && c <= 0x5a) c += 0x20;
      label += (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f ? String.fromCharCode(c) : `\\${String(c).padStart(3, '0')}`;
    }
    labels.push(label);
    off += len;
  }
  return { name: labels.join('.'), end: off };
}

function parseEcs(data: Buffer): ClientSubnet | undefined {
  if (data.length < 4) return undefined;
  const family = data.readUInt16BE(0);
  const source = data[2];
  const scope = data[3];
  const width = family === 1 ? 4 : family === 2 ? 16 : 0;
  if (width === 0 || source > width * 8 || scope !== 0) return undefined;
  const addrLen = Math.ceil(source / 8);
  if (data.length !== 4 + addrLen) return undefined;
  const address = Buffer.alloc(width);
  data.copy(address, 0, 4, 4 + addrLen);
  // RFC 7871 §6: bits past the source prefix MUST be zero.
  if (source % 8 !== 0 && (address[addrLen - 1] & (0xff >> (source % 8))) !== 0) return undefined;
  return { family: family as 1 | 2, sourcePrefix: source, address };
}

/** Parses one query; never throws. */
export function parseQuery(buf: Buffer): Parsed {
  if (buf.length < 12) return { kind: 'drop' };
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  if (flags & QR) return { kind: 'drop' };
  const opcode = (flags >> 11) & 0xf;
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  const ns = buf.readUInt16BE(8);
  const ar = buf.readUInt16BE(10);
  if (opcode !== 0) return { kind: 'error', rcode: RCODE.NOTIMP, id, flags, question: undefined };
  if (qd !== 1) return { kind: 'error', rcode: RCODE.FORMERR, id, flags, question: undefined };
  const name = readName(buf, 12);
  if (!name || name.end + 4 > buf.length) return { kind: 'error', rcode: RCODE.FORMERR, id, flags, question: undefined };
  const qend = name.end + 4;
  const question = buf.subarray(12, qend);
  const type = buf.readUInt16BE(name.end);
  const klass = buf.readUInt16BE(name.end + 2);
  const formerr = { kind: 'error', rcode: RCODE.FORMERR, id, flags, question } as const;
  let edns: Edns | undefined;
  let off = qend;
  try {
    for (let i = 0; i < an + ns + ar; i++) {
      const rec = rr.decode(buf, off);
      off += rr.decode.bytes;
      if (off > buf.length) return formerr;
      if (rec.type !== 'OPT') continue;
      // RFC 6891 §6.1.1: one OPT, in the additional section, owned by the root.
      if (i < an + ns || edns !== undefined || rec.name !== '.') return formerr;
      let ecs: ClientSubnet | undefined;
      for (const o of rec.options ?? []) {
        if (o.code !== ECS_OPTION) continue;
        if (ecs !== undefined) return formerr;
        ecs = parseEcs(o.data);
        if (ecs === undefined) return formerr;
      }
      edns = { udpPayloadSize: rec.udpPayloadSize ?? 512, version: rec.ednsVersion ?? 0, dnssecOk: ((rec.flags ?? 0) & 0x8000) !== 0, ecs };
    }
  } catch {
    return formerr;
  }
  return { kind: 'query', query: { id, flags, name: name.name, type, class: klass, question, edns } };
}

/** Records already in wire form, with their count. */
export type Section = { count: number; bytes: Buffer };
export const EMPTY: Section = { count: 0, bytes: Buffer.alloc(0) };

export function concatSections(parts: readonly Section[]): Section {
  return { count: parts.reduce((n, p) => n + p.count, 0), bytes: Buffer.concat(parts.map((p) => p.bytes)) };
}

/** A / AAAA records owned by the question's name (a pointer to offset 12, so the client's spelling is kept). */
export function addressRecords(type: typeof TYPE.A | typeof TYPE.AAAA, addresses: readonly Buffer[], ttl: number): Section {
  const size = type === TYPE.A ? 4 : 16;
  const out = Buffer.alloc(addresses.length * (12 + size));
  let off = 0;
  for (const a of addresses) {
    out.writeUInt16BE(0xc00c, off);
    out.writeUInt16BE(type, off + 2);
    out.writeUInt16BE(CLASS_IN, off + 4);
    out.writeUInt32BE(ttl, off + 6);
    out.writeUInt16BE(size, off + 10);
    a.copy(out, off + 12);
    off += 12 + size;
  }
  return { count: addresses.length, bytes: out };
}

type RecordData =
  | { type: 'SOA'; data: { mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number } }
  | { type: 'NS'; data: string }
  | { type: 'A' | 'AAAA'; data: string }
  | { type: 'HINFO'; data: { cpu: string; os: string } };

/** One record in wire form (owner name written out, no compression). */
export function encodeRecord(owner: string, ttl: number, rec: RecordData): Section {
  return { count: 1, bytes: rr.encode({ name: owner, ttl, class: 'IN', ...rec } as dnsPacket.Answer) };
}

export type ResponseParts = {
  query: { id: number; flags: number; question: Buffer | undefined };
  rcode: number;
  authoritative: boolean;
  answer?: Section;
  authority?: Section;
  additional?: Section;
  /** Present when the query had EDNS: our OPT record goes into the additional section. */
  opt?: { udpPayloadSize: number; dnssecOk: boolean; upperRcode?: number; ecs?: { subnet: ClientSubnet; scope: number } };
};

function encodeOpt(opt: NonNullable<ResponseParts['opt']>): Buffer {
  let rdata = Buffer.alloc(0);
  if (opt.ecs) {
    const { subnet, scope } = opt.ecs;
    const addrLen = Math.ceil(subnet.sourcePrefix / 8);
    rdata = Buffer.alloc(8 + addrLen);
    rdata.writeUInt16BE(ECS_OPTION, 0);
    rdata.writeUInt16BE(4 + addrLen, 2);
    rdata.writeUInt16BE(subnet.family, 4);
    rdata[6] = subnet.sourcePrefix;
    rdata[7] = Math.min(scope, subnet.family === 1 ? 32 : 128);
    subnet.address.copy(rdata, 8, 0, addrLen);
  }
  const out = Buffer.alloc(11 + rdata.length);
  out[0] = 0; // root owner
  out.writeUInt16BE(TYPE.OPT, 1);
  out.writeUInt16BE(opt.udpPayloadSize, 3);
  out[5] = opt.upperRcode ?? 0;
  out[6] = 0; // version 0
  out.writeUInt16BE(opt.dnssecOk ? 0x8000 : 0, 7);
  out.writeUInt16BE(rdata.length, 9);
  rdata.copy(out, 11);
  return out;
}

/**
 * The response, or its truncated form (TC set, only the question and OPT) when it would exceed
 * `maxSize`: the client then asks again over TCP (RFC 1035 §4.2.1, RFC 7766).
 */
export function writeResponse(p: ResponseParts, maxSize: number): Buffer {
  const question = p.query.question ?? Buffer.alloc(0);
  const opt = p.opt ? encodeOpt(p.opt) : undefined;
  const answer = p.answer ?? EMPTY;
  const authority = p.authority ?? EMPTY;
  const additional = p.additional ?? EMPTY;
  const full = 12 + question.length + answer.bytes.length + authority.bytes.length + additional.bytes.length + (opt?.length ?? 0);
  const truncated = full > maxSize;
  const parts = truncated ? [question] : [question, answer.bytes, authority.bytes, additional.bytes];
  if (opt) parts.push(opt);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(p.query.id, 0);
  // RFC 1035 §4.1.1: RD is copied; RA is never set (no recursion here); CD copied (RFC 6840 §5.9).
  const flags = QR | (p.query.flags & (0x7800 | RD | CD)) | (p.authoritative ? AA : 0) | (truncated ? TC : 0) | (p.rcode & 0xf);
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(p.query.question ? 1 : 0, 4);
  header.writeUInt16BE(truncated ? 0 : answer.count, 6);
  header.writeUInt16BE(truncated ? 0 : authority.count, 8);
  header.writeUInt16BE((truncated ? 0 : additional.count) + (opt ? 1 : 0), 10);
  return Buffer.concat([header, ...parts]);
}

/** The smallest answer to a rate-limited client (the RRL "slip"): header and question, TC set, nothing else. */
export function slipResponse(response: Buffer): Buffer {
  const qd = response.readUInt16BE(4);
  let end = 12;
  if (qd === 1) {
    while (end < response.length && response[end] !== 0) end += response[end] + 1;
    end += 5;
  }
  const out = Buffer.from(response.subarray(0, Math.min(end, response.length)));
  out.writeUInt16BE(out.readUInt16BE(2) | TC, 2);
  out.writeUInt16BE(0, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(0, 10);
  return out;
}
