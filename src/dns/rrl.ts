// Response rate limiting for UDP (after BIND / nsd / Knot RRL): a token bucket per client subnet
// (/24, /56 by default), refilled at `responsesPerSecond` with one second's burst. Over the limit,
// every `slip`-th response still goes out truncated (TC, no records) so a real client behind a
// spoofed flood can retry over TCP; the rest are dropped, so we are useless as a reflector.
import { formatIp, maskIp, parseIp } from '../edge/limits/ip-match.ts';

export type RrlVerdict = 'send' | 'slip' | 'drop';

export type RrlOptions = {
  responsesPerSecond: number;
  slip: number;
  ipv4PrefixLength: number;
  ipv6PrefixLength: number;
  now?: () => number;
  /** Subnets tracked at once; the table starts over beyond (an attacker cannot grow our memory). */
  maxEntries?: number;
};

export type Rrl = { check(address: string): RrlVerdict };

export function createRrl(o: RrlOptions): Rrl {
  if (o.responsesPerSecond === 0) return { check: () => 'send' };
  const now = o.now ?? (() => performance.now());
  const max = o.maxEntries ?? 200_000;
  const buckets = new Map<string, { tokens: number; at: number; limited: number }>();
  return {
    check(address) {
      const ip = parseIp(address);
      const key = ip ? formatIp(maskIp(ip, ip.family === 4 ? o.ipv4PrefixLength : o.ipv6PrefixLength)) : address;
      const t = now();
      let b = buckets.get(key);
      if (!b) {
        if (buckets.size >= max) buckets.clear();
        b = { tokens: o.responsesPerSecond, at: t, limited: 0 };
        buckets.set(key, b);
      } else {
        b.tokens = Math.min(o.responsesPerSecond, b.tokens + ((t - b.at) / 1000) * o.responsesPerSecond);
        b.at = t;
      }
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return 'send';
      }
      b.limited++;
      return o.slip > 0 && b.limited % o.slip === 0 ? 'slip' : 'drop';
    },
  };
}
