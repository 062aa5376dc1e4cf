// IPv4 / IPv6 addresses and CIDR blocks: parsing, canonical text, and a matcher for block lists and
// trusted-proxy lists (a few thousand entries; a lookup costs one Set probe per distinct prefix length).
//
// How the edge uses it: at config load, `createIpMatcher(zone.blockList)` (it throws InvalidIpEntryError
// naming the bad entry) and `createIpMatcher(edge.trustedProxies)`; per request,
// `if (blocked(clientIp(...))) → 403`. Config schemas can validate one entry with `parseCidr(s) !== undefined`.
//
// Why not node:net BlockList: it does match IPv4 rules against IPv4-mapped IPv6 addresses correctly, but
// it treats IPv4 as part of the IPv6 space the other way round too (`::/0` or `::/64` match every IPv4
// client, so "trust ::/0" would trust the whole IPv4 Internet), it silently answers false for addresses
// with a zone id (`fe80::1%eth0`), and its errors do not name the list entry. We keep two spaces:
// IPv4 clients (and `::ffff:a.b.c.d`) match IPv4 rules and mapped rules `::ffff:0:0/96` and longer;
// IPv6 rules shorter than /96 never match IPv4 clients.
import { MediaCdnError, EXIT } from '../../errors.ts';

export type IpAddress = { family: 4; value: number } | { family: 6; value: bigint };
export type Cidr = { family: 4; network: number; prefix: number } | { family: 6; network: bigint; prefix: number };
/** True when the address is inside one of the list's blocks; false for text that is not an address. */
export type IpMatcher = (ip: string) => boolean;

/** A block list or trusted-proxy list entry that is not an address or CIDR block. */
export class InvalidIpEntryError extends MediaCdnError {
  readonly entry: string;
  readonly index: number;
  constructor(entry: string, index: number) {
    super('ip_list_invalid', `IP list entry ${index} ${JSON.stringify(entry)} is not an IPv4/IPv6 address or CIDR block (e.g. 203.0.113.0/24, 2001:db8::/32).`, {
      status: 500,
      exitCode: EXIT.usage,
    });
    this.entry = entry;
    this.index = index;
  }
}

const MAPPED_PREFIX = 0xffffn << 32n;
const V6_ALL = (1n << 128n) - 1n;

/** Dotted quad, decimal only: a leading zero (octal in inet_aton) is rejected as ambiguous, as node:net does. */
function parseV4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value;
}

/** RFC 4291 §2.2 text forms: eight groups, one `::`, and an optional dotted-quad tail. */
function parseV6(text: string): bigint | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (half: string): number[] | undefined => {
    if (half === '') return [];
    const out: number[] = [];
    const parts = half.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseV4(p);
        if (v4 === undefined) return undefined;
        out.push(Math.floor(v4 / 65536), v4 % 65536);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) {
        out.push(parseInt(p, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groupsOf(halves[0]);
  const tail = halves.length === 2 ? groupsOf(halves[1]) : [];
  if (!head || !tail) return undefined;
  // A dotted quad may only end the address.
  if (halves.length === 2 && halves[0].includes('.')) return undefined;
  const groups = halves.length === 2 ? head.length + tail.length : head.length;
  if (halves.length === 1 ? groups !== 8 : groups > 7) return undefined;
  const all = [...head, ...new Array<number>(8 - groups).fill(0), ...tail];
  let value = 0n;
  for (const g of all) value = (value << 16n) | BigInt(g);
  return value;
}

/**
 * An address in text form → its value; `undefined` when it is not one. A zone id (`fe80::1%eth0`) is
 * dropped; an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, `::ffff:102:304`) becomes the IPv4 address.
 */
export function parseIp(text: string): IpAddress | undefined {
  if (text.includes(':')) {
    const pct = text.indexOf('%');
    const bare = pct === -1 ? text : text.slice(0, pct);
    // A zone id is what node:net accepts there (letters, digits, '-', '.', ':'), never empty.
    if (pct !== -1 && !/^[0-9A-Za-z.:-]+$/.test(text.slice(pct + 1))) return undefined;
    const value = parseV6(bare);
    if (value === undefined) return undefined;
    if (value >> 32n === 0xffffn) return { family: 4, value: Number(value & 0xffffffffn) };
    return { family: 6, value };
  }
  const v4 = parseV4(text);
  return v4 === undefined ? undefined : { family: 4, value: v4 };
}

function v4Mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

function v6Mask(prefix: number): bigint {
  return prefix === 0 ? 0n : (V6_ALL >> BigInt(128 - prefix)) << BigInt(128 - prefix);
}

/**
 * `addr` or `addr/prefix` → the block (host bits are cleared, as nginx and BlockList do: `10.1.2.3/8`
 * is 10.0.0.0/8). A bare address is a host route (/32, /128). An IPv4-mapped block with a prefix of
 * 96 or more is the IPv4 block it maps (`::ffff:10.0.0.0/104` → 10.0.0.0/8).
 */
export function parseCidr(text: string): Cidr | undefined {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const addrText = slash === -1 ? trimmed : trimmed.slice(0, slash);
  let prefix: number | undefined;
  if (slash !== -1) {
    const p = trimmed.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    prefix = Number(p);
  }
  if (addrText.includes(':')) {
    if (addrText.includes('%')) return undefined; // a zone id has no place in a configured block
    const value = parseV6(addrText);
    if (value === undefined) return undefined;
    const p = prefix ?? 128;
    if (p > 128) return undefined;
    if (p >= 96 && (value & ~0xffffffffn) === MAPPED_PREFIX) {
      const p4 = p - 96;
      return { family: 4, network: (Number(value & 0xffffffffn) & v4Mask(p4)) >>> 0, prefix: p4 };
    }
    return { family: 6, network: value & v6Mask(p), prefix: p };
  }
  const value = parseV4(addrText);
  if (value === undefined) return undefined;
  const p = prefix ?? 32;
  if (p > 32) return undefined;
  return { family: 4, network: (value & v4Mask(p)) >>> 0, prefix: p };
}

function formatV4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/** RFC 5952 canonical text: lower case, no leading zeros, the longest run (≥ 2) of zero groups as `::`. */
function formatV6(value: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function formatIp(ip: IpAddress): string {
  return ip.family === 4 ? formatV4(ip.value) : formatV6(ip.value);
}

export function formatCidr(block: Cidr): string {
  return block.family === 4 ? `${formatV4(block.network)}/${block.prefix}` : `${formatV6(block.network)}/${block.prefix}`;
}

/** The canonical text of an address (mapped → IPv4, zone id dropped), or `undefined`. */
export function normaliseIp(text: string): string | undefined {
  const ip = parseIp(text);
  return ip && formatIp(ip);
}

/**
 * A matcher over a list of addresses and CIDR blocks. Blocks are grouped by prefix length in Sets of
 * network values, so a lookup is one Set probe per distinct prefix length in the list (usually a
 * handful), however many entries there are. Throws InvalidIpEntryError on the first bad entry.
 */
export function createIpMatcher(list: readonly string[]): IpMatcher {
  const v4 = new Map<number, Set<number>>();
  const v6 = new Map<number, Set<bigint>>();
  list.forEach((entry, index) => {
    const block = parseCidr(entry);
    if (!block) throw new InvalidIpEntryError(entry, index);
    if (block.family === 4) {
      let set = v4.get(block.prefix);
      if (!set) v4.set(block.prefix, (set = new Set()));
      set.add(block.network);
    } else {
      let set = v6.get(block.prefix);
      if (!set) v6.set(block.prefix, (set = new Set()));
      set.add(block.network);
    }
  });
  const v4Rules = [...v4].map(([prefix, set]) => ({ mask: v4Mask(prefix), set }));
  const v6Rules = [...v6].map(([prefix, set]) => ({ mask: v6Mask(prefix), set }));
  if (v4Rules.length === 0 && v6Rules.length === 0) return () => false;
  return (text: string): boolean => {
    const ip = parseIp(text);
    if (!ip) return false;
    if (ip.family === 4) {
      for (const r of v4Rules) if (r.set.has((ip.value & r.mask) >>> 0)) return true;
      return false;
    }
    for (const r of v6Rules) if (r.set.has(ip.value & r.mask)) return true;
    return false;
  };
}

/** The address with every bit past `prefix` cleared (the network of its /prefix block). */
export function maskIp(ip: IpAddress, prefix: number): IpAddress {
  return ip.family === 4 ? { family: 4, value: (ip.value & v4Mask(Math.min(prefix, 32))) >>> 0 } : { family: 6, value: ip.value & v6Mask(Math.min(prefix, 128)) };
}

/** Whether the address lies in the block (families must agree). */
export function cidrContains(block: Cidr, ip: IpAddress): boolean {
  if (block.family === 4) return ip.family === 4 && ((ip.value & v4Mask(block.prefix)) >>> 0) === block.network;
  return ip.family === 6 && (ip.value & v6Mask(block.prefix)) === block.network;
}
