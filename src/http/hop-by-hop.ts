// Removes connection-specific header fields before a message is forwarded (RFC 9110 §7.6.1).

import { joinFieldLines, splitList } from './types.ts';
import type { Headers } from './types.ts';

/**
 * Always connection-specific: the RFC 9110 §7.6.1 list plus the legacy Keep-Alive, Proxy-Connection
 * (RFC 9112 §9.6 / Appendix C.2.2), TE / Trailer / Transfer-Encoding / Upgrade (message framing and
 * protocol switching of one hop) and the proxy authentication pair, which belong to one hop too.
 */
export const HOP_BY_HOP_FIELDS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
]);

/**
 * Returns a new header map without hop-by-hop fields; the input is not modified.
 * RFC 9110 §7.6.1: "Intermediaries MUST parse a received Connection header field before a message is
 * forwarded and, for each connection-option in this field, remove any header or trailer field(s) from
 * the message with the same name as the connection-option, and then remove the Connection header field
 * itself (or replace it with the intermediary's own control options for the forwarded message)."
 *
 * Beware: a client can name any field in Connection (e.g. `Connection: authorization`) to have it
 * removed. That is the RFC's rule; the edge must therefore add the headers it relies on (forwarding
 * headers, auth to the origin) AFTER calling this, never before.
 */
export function stripHopByHop(headers: Headers): Headers {
  const drop = new Set(HOP_BY_HOP_FIELDS);
  const connection = joinFieldLines(headers['connection']);
  if (connection !== undefined) for (const option of splitList(connection)) drop.add(option.toLowerCase());
  const out: Headers = {};
  for (const [name, value] of Object.entries(headers)) {
    if (drop.has(name.toLowerCase()) || value === undefined) continue;
    // defineProperty so that a field literally named __proto__ stays data, not a prototype change.
    Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}
