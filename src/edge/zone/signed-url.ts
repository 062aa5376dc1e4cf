// Signed links (a zone's `signedUrls`): what is signed, how a link carries it, and the check the
// edge makes. Pure apart from HMAC: the CLI (`mediacdn sign`) and the origin (links it publishes) sign
// with the same functions the edge verifies with.
//
// A signed link is the plain link plus query parameters, in this order: `expires` (Unix seconds),
// optionally `prefix` (the token covers every path that starts with it) and `ip` (the token is good
// only for that client address), and `token`, last:
//
//   token = base64url(HMAC-SHA256(key, message)), without padding
//   message = expires + scope                 scope: the link's path as sent (percent-encoded, no query),
//                                              or the `prefix` value when the link carries one
//           [+ "\nprefix"]                    when the link carries `prefix`
//           [+ "\nip=" + ip]                  when the link carries `ip` (the address as in the link)
//
// e.g. expires 1767225600, path /media/abc.mp3: message "1767225600/media/abc.mp3". With prefix /media/
// and ip 203.0.113.7: "1767225600/media/\nprefix\nip=203.0.113.7". Any of the zone's keys verifies (so
// a key can be rotated: add the new one first, sign with it, remove the old one later); the first signs.
// The four parameters never reach the cache key or the origin. Other query parameters are not signed.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { normaliseIp } from '../limits/ip-match.ts';

/** The query parameters of a signed link. */
const SIGNING_PARAMS: readonly string[] = ['expires', 'prefix', 'ip', 'token'];

type SignOptions = {
  key: string;
  /** Unix seconds after which the link is refused. */
  expires: number;
  /** The token covers every path starting with this ('/' first, printable ASCII, no spaces). */
  prefix?: string;
  /** The token is good only for this client address (IPv4 or IPv6). */
  ip?: string;
};

/** Why a request's signature was refused (the `code` of the 403). */
type SignatureRefusal = 'signature_missing' | 'signature_malformed' | 'signature_invalid' | 'signature_expired' | 'signature_scope' | 'signature_ip';

type SignatureCheck =
  | { kind: 'ok'; /** The target without the signing parameters. */ target: string }
  | { kind: 'refused'; code: SignatureRefusal; message: string };

const PREFIX = /^\/[\x21-\x7e]{0,1023}$/;
const EXPIRES = /^[0-9]{1,12}$/;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** The string a token signs (see the module comment). */
export function signedMessage(expires: string, scope: string, prefix: boolean, ip: string | undefined): string {
  return `${expires}${scope}${prefix ? '\nprefix' : ''}${ip !== undefined ? `\nip=${ip}` : ''}`;
}

function tokenOf(key: string, message: string): Buffer {
  return createHmac('sha256', key).update(message, 'utf8').digest();
}

/** A signed link for `url` (absolute, protocol-relative or a path with optional query). */
export function signUrl(url: string, opts: SignOptions): string {
  const hashAt = url.indexOf('#');
  const bare = hashAt < 0 ? url : url.slice(0, hashAt);
  const queryAt = bare.indexOf('?');
  const beforeQuery = queryAt < 0 ? bare : bare.slice(0, queryAt);
  const query = queryAt < 0 ? '' : bare.slice(queryAt + 1);
  const path = pathOf(beforeQuery);
  const expires = String(Math.floor(opts.expires));
  if (!EXPIRES.test(expires)) throw new RangeError(`expires must be whole Unix seconds, got ${opts.expires}`);
  if (opts.prefix !== undefined) {
    if (!PREFIX.test(opts.prefix)) throw new RangeError('the path prefix must start with "/" and hold printable characters only');
    if (!path.startsWith(opts.prefix)) throw new RangeError(`the path ${path} does not start with the prefix ${opts.prefix}`);
  }
  let ip: string | undefined;
  if (opts.ip !== undefined) {
    ip = normaliseIp(opts.ip);
    if (ip === undefined) throw new RangeError(`not an IP address: ${opts.ip}`);
  }
  const message = signedMessage(expires, opts.prefix ?? path, opts.prefix !== undefined, ip);
  const kept = query.split('&').filter((p) => p !== '' && !SIGNING_PARAMS.includes(paramName(p)));
  const params = [`expires=${expires}`];
  if (opts.prefix !== undefined) params.push(`prefix=${encodeURIComponent(opts.prefix)}`);
  if (ip !== undefined) params.push(`ip=${encodeURIComponent(ip)}`);
  params.push(`token=${tokenOf(opts.key, message).toString('base64url')}`);
  return `${beforeQuery}?${[...kept, ...params].join('&')}`;
}

/**
 * Checks the signing parameters of an origin-form request target against the zone's keys, the clock
 * (Unix ms) and the client's address; on success returns the target without them.
 */
export function checkSignature(target: string, keys: readonly string[], nowMs: number, clientIp: string): SignatureCheck {
  const queryAt = target.indexOf('?');
  const path = queryAt < 0 ? target : target.slice(0, queryAt);
  const pieces = queryAt < 0 ? [] : target.slice(queryAt + 1).split('&');
  const found = new Map<string, string>();
  const kept: string[] = [];
  for (const p of pieces) {
    if (p === '') continue;
    const name = paramName(p);
    if (!SIGNING_PARAMS.includes(name)) {
      kept.push(p);
      continue;
    }
    if (found.has(name)) return refused('signature_malformed', `The link carries "${name}" more than once.`);
    const eq = p.indexOf('=');
    found.set(name, eq < 0 ? '' : p.slice(eq + 1));
  }
  const expires = found.get('expires');
  const token = found.get('token');
  if (expires === undefined || token === undefined) return refused('signature_missing', 'This zone serves signed links only: "expires" and "token" are required.');
  if (!EXPIRES.test(expires)) return refused('signature_malformed', '"expires" must be Unix seconds.');
  if (!TOKEN.test(token)) return refused('signature_malformed', '"token" must be 43 base64url characters.');
  const prefix = decoded(found.get('prefix'));
  const ipParam = decoded(found.get('ip'));
  if (prefix === null || ipParam === null) return refused('signature_malformed', '"prefix" or "ip" is not percent-encoded correctly.');
  if (prefix !== undefined && !PREFIX.test(prefix)) return refused('signature_malformed', '"prefix" must start with "/" and hold printable characters only.');
  const ip = ipParam === undefined ? undefined : normaliseIp(ipParam);
  if (ipParam !== undefined && ip === undefined) return refused('signature_malformed', '"ip" is not an IP address.');
  const message = signedMessage(expires, prefix ?? path, prefix !== undefined, ipParam);
  const given = Buffer.from(token, 'base64url');
  if (!keys.some((key) => timingSafeEqual(tokenOf(key, message), given))) return refused('signature_invalid', 'The link\'s token does not match (altered link or unknown key).');
  if (Number(expires) * 1000 <= nowMs) return refused('signature_expired', 'The link has expired.');
  // A prefix token covers the paths under it; dot segments could climb out of it at the origin.
  if (prefix !== undefined && (!path.startsWith(prefix) || hasDotSegment(path))) return refused('signature_scope', 'The path is outside the prefix the link was signed for.');
  if (ip !== undefined && normaliseIp(clientIp) !== ip) return refused('signature_ip', 'The link was signed for another client address.');
  return { kind: 'ok', target: kept.length === 0 ? path : `${path}?${kept.join('&')}` };
}

function refused(code: SignatureRefusal, message: string): SignatureCheck {
  return { kind: 'refused', code, message };
}

function paramName(piece: string): string {
  const eq = piece.indexOf('=');
  return eq < 0 ? piece : piece.slice(0, eq);
}

/** undefined: absent; null: not valid percent-encoding. */
function decoded(v: string | undefined): string | undefined | null {
  if (v === undefined) return undefined;
  try {
    return decodeURIComponent(v);
  } catch {
    return null;
  }
}

/** "." or ".." as a path segment, also percent-encoded. */
function hasDotSegment(path: string): boolean {
  return path.split('/').some((s) => /^(\.|%2e){1,2}$/i.test(s));
}

/** The path of an absolute, protocol-relative or origin-form URL, as written (percent-encoding kept). */
function pathOf(beforeQuery: string): string {
  const m = /^(?:[a-z][a-z0-9+.-]*:)?\/\/[^/]*(\/.*)?$/i.exec(beforeQuery);
  if (m) return m[1] ?? '/';
  if (beforeQuery.startsWith('/')) return beforeQuery;
  throw new RangeError(`not a URL or absolute path: ${beforeQuery}`);
}

/** Signs links published by the origin when their host is a zone with signed links (else undefined). */
export function linkSigner(
  mediaUrl: string,
  zones: ReadonlyArray<{ host: string; signedUrls?: { keys: readonly string[]; linkTtlSeconds: number } }>,
  now: () => number,
): ((url: string) => string) | undefined {
  let host: string;
  try {
    host = new URL(mediaUrl, 'http://localhost').hostname.toLowerCase();
  } catch {
    return undefined;
  }
  const zone = zones.find((z) => z.host === host && z.signedUrls !== undefined);
  if (!zone?.signedUrls) return undefined;
  const { keys, linkTtlSeconds } = zone.signedUrls;
  // Expiry rounded up to a window of the TTL: the same link for a while (browser caches keep working)
  // and never less than the TTL left.
  return (url) => signUrl(url, { key: keys[0], expires: (Math.floor(now() / 1000 / linkTtlSeconds) + 2) * linkTtlSeconds });
}
