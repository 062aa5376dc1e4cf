// A tiny writer of MaxMind DB files (format 2.0, IPv4 tree, 24-bit records) for tests: a few networks
// with city-style records, so `dns.geoipDatabase` is read through mmdb-lib like a real GeoLite2 file.
// Spec: MaxMind DB File Format Specification 2.0 (search tree, data section separator, data types).
import { writeFileSync } from 'node:fs';

type Value = string | number | { [k: string]: Value } | Value[];

function control(type: number, size: number): Buffer {
  if (size >= 29) throw new Error('test writer: sizes up to 28 only');
  return type <= 7 ? Buffer.from([(type << 5) | size]) : Buffer.from([size, type - 7]);
}

function encode(v: Value): Buffer {
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    return Buffer.concat([control(2, b.length), b]);
  }
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 0 && v < 2 ** 32) {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(v);
      return Buffer.concat([control(6, 4), b]); // uint32
    }
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v);
    return Buffer.concat([control(3, 8), b]); // double
  }
  if (Array.isArray(v)) return Buffer.concat([control(11, v.length), ...v.map(encode)]);
  const entries = Object.entries(v);
  return Buffer.concat([control(7, entries.length), ...entries.flatMap(([k, x]) => [encode(k), encode(x)])]);
}

/** Writes `file` holding each IPv4 `cidr` → `record`. */
export function writeMmdb(file: string, networks: ReadonlyArray<{ cidr: string; record: Value }>): void {
  type Slot = { node: number } | { data: number } | undefined;
  const nodes: [Slot, Slot][] = [[undefined, undefined]];
  const data: Buffer[] = [];
  let dataSize = 0;
  for (const { cidr, record } of networks) {
    const [addr, bitsText] = cidr.split('/');
    const bits = Number(bitsText);
    const value = addr.split('.').reduce((a, o) => a * 256 + Number(o), 0);
    const bytes = encode(record);
    const offset = dataSize;
    data.push(bytes);
    dataSize += bytes.length;
    let node = 0;
    for (let i = 0; i < bits; i++) {
      const bit = Math.floor(value / 2 ** (31 - i)) % 2;
      if (i === bits - 1) {
        nodes[node][bit] = { data: offset };
        break;
      }
      const next = nodes[node][bit];
      if (next && 'node' in next) {
        node = next.node;
      } else {
        nodes.push([undefined, undefined]);
        nodes[node][bit] = { node: nodes.length - 1 };
        node = nodes.length - 1;
      }
    }
  }
  const count = nodes.length;
  const tree = Buffer.alloc(count * 6);
  nodes.forEach((slots, i) => {
    slots.forEach((s, side) => {
      const v = s === undefined ? count : 'node' in s ? s.node : count + 16 + s.data;
      tree.writeUIntBE(v, i * 6 + side * 3, 3);
    });
  });
  const metadata = encode({
    node_count: count,
    record_size: 24,
    ip_version: 4,
    database_type: 'mediacdn-test-City',
    languages: ['en'],
    binary_format_major_version: 2,
    binary_format_minor_version: 0,
    build_epoch: 1_700_000_000,
    description: { en: 'test networks' },
  });
  writeFileSync(file, Buffer.concat([tree, Buffer.alloc(16), ...data, Buffer.from('\xab\xcd\xefMaxMind.com', 'latin1'), metadata]));
}
