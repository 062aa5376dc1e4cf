// Interim responses (103 Early Hints, 102) from the upstream, forwarded to the client whose request
// caused the upstream request.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UpstreamRequest } from '../upstream/upstream.ts';

/**
 * RFC 9110 §15.2: "A proxy MUST forward 1xx responses unless the proxy itself requested the generation
 * of the 1xx response" and "a server MUST NOT send a 1xx response to an HTTP/1.0 client". Not
 * forwarded: 100 (the edge meets Expect itself and does not forward it, so a 100 is not the client's),
 * 101 (no protocol switch through the edge), anything once the final head is out (a background
 * refresh, a coalesced fill whose leader was answered). Interim responses are never stored: a HIT has
 * none. Only the fill's leader gets them; waiters that join the fill get its final response.
 */
export function interimForwarder(req: IncomingMessage, res: ServerResponse): UpstreamRequest['onInterim'] {
  if (req.httpVersion === '1.0') return undefined;
  return (status, headers) => {
    if (status === 100 || status === 101 || res.headersSent || res.writableEnded || res.destroyed) return;
    // Node ≥ 24.18 writes any 1xx; an older Node 24 forwards none.
    if (typeof res.writeInformation !== 'function') return;
    try {
      res.writeInformation(status, headers);
    } catch {
      // A field Node will not write (invalid characters): the hint is dropped, the response goes on.
    }
  };
}
