// The client address a request is accounted to (rate limits, block lists, stats, access log): the socket
// peer, or — only when that peer is a trusted proxy — the nearest untrusted hop in X-Forwarded-For.
//
// How the edge uses it: once per request,
//   const ip = clientIp(req.socket.remoteAddress, req.headers['x-forwarded-for'], trustedProxies);
// with `trustedProxies = createIpMatcher(config.trustedProxies)` built once (an empty list trusts nobody).
import { normaliseIp } from './ip-match.ts';
import type { IpMatcher } from './ip-match.ts';

/**
 * Each proxy appends the address it received the request from, so the header reads
 * "client, proxy1, proxy2" and only the entries our trusted proxies wrote (the rightmost ones) can be
 * believed; anything further left may have been sent by the client. We walk right to left from the
 * socket peer, skipping trusted hops, and stop at the first untrusted one.
 *
 * An entry that is not an address (garbage, `unknown`, an obfuscated identifier) stops the walk: the
 * hop that wrote it cannot be identified, so we answer with the last trusted address we know (the
 * proxy that passed the garbage on) rather than believe anything written further left. If every entry
 * is trusted, the leftmost one is the client. Ports (`1.2.3.4:80`, `[2001:db8::1]:80`) are accepted
 * and dropped, because some proxies append them.
 *
 * Returns a canonical address (IPv4-mapped IPv6 as IPv4, zone id dropped, RFC 5952 text), or the raw
 * socket address when it does not parse ('' when the socket has none, e.g. already destroyed).
 */
export function clientIp(socketAddress: string | undefined, xForwardedFor: string | string[] | undefined, isTrustedProxy: IpMatcher): string {
  if (socketAddress === undefined) return '';
  const peer = normaliseIp(socketAddress);
  if (peer === undefined) return socketAddress;
  if (xForwardedFor === undefined || !isTrustedProxy(peer)) return peer;
  // RFC 9110 §5.3: several field lines of one name combine in order, comma-separated.
  const joined = Array.isArray(xForwardedFor) ? xForwardedFor.join(',') : xForwardedFor;
  let current = peer;
  let end = joined.length;
  while (end > 0) {
    const comma = joined.lastIndexOf(',', end - 1);
    const element = joined.slice(comma + 1, end).trim();
    end = comma === -1 ? 0 : comma;
    // RFC 9110 §5.6.1.2: "a recipient MUST parse and ignore a reasonable number of empty list elements".
    if (element === '') continue;
    const hop = forwardedAddress(element);
    if (hop === undefined) return current;
    current = hop;
    if (!isTrustedProxy(hop)) return hop;
  }
  return current;
}

/** One X-Forwarded-For element → canonical address, or undefined. `[v6]`, `[v6]:port`, `v4:port` accepted. */
function forwardedAddress(element: string): string | undefined {
  if (element.startsWith('[')) {
    const close = element.indexOf(']');
    if (close === -1) return undefined;
    const rest = element.slice(close + 1);
    if (rest !== '' && !/^:[0-9]{1,5}$/.test(rest)) return undefined;
    return normaliseIp(element.slice(1, close));
  }
  const direct = normaliseIp(element);
  if (direct !== undefined) return direct;
  const portAt = element.lastIndexOf(':');
  // Only IPv4 can carry a bare `:port` (in IPv6 text the colon is ambiguous).
  if (portAt > 0 && /^:[0-9]{1,5}$/.test(element.slice(portAt)) && !element.slice(0, portAt).includes(':')) {
    return normaliseIp(element.slice(0, portAt));
  }
  return undefined;
}
