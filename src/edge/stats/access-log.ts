// Opt-in access log lines: the NCSA combined format (readable by the usual log tools) plus zone, cache
// outcome and duration, with the client address truncated (IPv4 to /24, IPv6 to /48) so no line names a person.
//
// How the edge uses it, only when the access log is switched on: on `res.once('close')`,
//   stream.write(formatAccessLogLine({ time: startedAt, clientIp: ip, method: req.method, target: req.url,
//     httpVersion: req.httpVersion, status: res.statusCode, bytes, referer: req.headers.referer,
//     userAgent: req.headers['user-agent'], zone: zone.host, outcome, durationMs }) + '\n');
import { formatIp, parseIp } from '../limits/ip-match.ts';

export type AccessLogEntry = {
  /** When the request arrived, Unix milliseconds. */
  time: number;
  /** Full client address; only its truncated form is written. */
  clientIp: string;
  method: string;
  target: string;
  /** As Node reports it: '1.1', '1.0', '2.0'. */
  httpVersion: string;
  status: number;
  /** Body bytes sent. */
  bytes: number;
  referer?: string;
  userAgent?: string;
  zone: string;
  /** hit, stale, revalidated, miss, pass (see stats / X-Cache). */
  outcome: string;
  durationMs: number;
};

/**
 * The network a client address belongs to: IPv4 → its /24 (`203.0.113.0`), IPv6 → its /48
 * (`2001:db8:1::`); IPv4-mapped IPv6 counts as IPv4. Anything that is not an address becomes `-`, since
 * it is unknown what personal data it might hold.
 */
export function truncateIp(ip: string): string {
  const parsed = parseIp(ip);
  if (!parsed) return '-';
  if (parsed.family === 4) return formatIp({ family: 4, value: (parsed.value & 0xffffff00) >>> 0 });
  return formatIp({ family: 6, value: parsed.value & (((1n << 48n) - 1n) << 80n) });
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** `[10/Oct/2000:13:55:36 +0000]`, always UTC. */
function clfTime(ms: number): string {
  const d = new Date(ms);
  return `[${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000]`;
}

/**
 * As nginx does: `"`, `\`, control characters and anything outside printable ASCII become `\xHH`
 * (`\u{H…}` above U+00FF), so a request cannot forge a line break or a field boundary.
 * Unquoted fields also escape spaces.
 */
function escape(value: string, quoted: boolean): string {
  let out = '';
  for (const ch of value) {
    const c = ch.codePointAt(0)!;
    if (c < 0x20 || c >= 0x7f || ch === '"' || ch === '\\' || (!quoted && ch === ' ')) {
      out += c <= 0xff ? `\\x${c.toString(16).toUpperCase().padStart(2, '0')}` : `\\u{${c.toString(16).toUpperCase()}}`;
    } else {
      out += ch;
    }
  }
  return out;
}

const quoted = (v: string | undefined): string => `"${v === undefined || v === '' ? '-' : escape(v, true)}"`;
const bare = (v: string): string => (v === '' ? '-' : escape(v, false));
const num = (n: number): string => (Number.isFinite(n) && n >= 0 ? String(Math.round(n)) : '-');

/**
 * One line, no trailing newline:
 * `203.0.113.0 - - [01/Jan/2025:12:00:00 +0000] "GET /a.mp3 HTTP/1.1" 200 5120 "-" "curl/8" cdn.example.com hit 3`
 */
export function formatAccessLogLine(e: AccessLogEntry): string {
  const request = `${escape(e.method, true)} ${escape(e.target, true)} HTTP/${escape(e.httpVersion, true)}`;
  return [
    truncateIp(e.clientIp),
    '-',
    '-',
    clfTime(e.time),
    `"${request}"`,
    num(e.status),
    num(e.bytes),
    quoted(e.referer),
    quoted(e.userAgent),
    bare(e.zone),
    bare(e.outcome),
    num(e.durationMs),
  ].join(' ');
}
