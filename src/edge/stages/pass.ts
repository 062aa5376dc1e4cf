// pass: the request goes to the origin as it is (unsafe methods, hit-for-pass, a Range or conditional
// the origin should answer itself) and its answer is delivered unchanged (BYPASS). RFC 9111 §4: "A
// cache MUST write through requests with methods that are unsafe ... to the origin server". §4.4: "A
// cache MUST invalidate the target URI ... when it receives a non-error status code in response to an
// unsafe request method (including methods whose safety is unknown)" and "MAY invalidate ... the URIs
// in the Location and Content-Location response header fields (if present). However, a cache MUST NOT
// trigger an invalidation under these conditions if the origin ... of the URI to be invalidated
// differs from that of the target URI".
import type { IncomingMessage } from 'node:http';
import { firstValue } from '../../http/types.ts';
import type { UpstreamRequest } from '../upstream/upstream.ts';
import type { Stage } from './context.ts';
import { interimForwarder } from './interim.ts';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

export const pass: Stage<'deliver'> = async (ctx, edge): Promise<'deliver'> => {
  const { req, res, zone } = ctx;
  const method = ctx.method || 'GET';
  ctx.outcome = 'pass';
  const abort = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  const hasBody = method !== 'GET' && method !== 'HEAD';
  const forward: UpstreamRequest = {
    method,
    target: ctx.target,
    headers: req.headers,
    body: hasBody ? req : undefined,
    clientIp: ctx.clientIp,
    zoneHost: zone.host,
    signal: abort.signal,
    onInterim: interimForwarder(req, res),
  };
  zone.upstream.assertForwardable(forward);
  // RFC 9110 §10.1.1: a proxy receiving a 100-continue expectation "MUST ... either send an immediate
  // response with a final status code ... or begin forwarding the request toward the origin server".
  // Our upstream client cannot relay the origin's 100 (undici refuses Expect on HTTP/1.1), so the edge
  // invites the body itself, now that it forwards the request, and drops Expect from it (upstream.ts).
  // Refusals before this point (zone, limits, 431) are answered without inviting the body.
  if (hasBody && expectsContinue(req)) res.writeContinue();
  const up = await zone.upstream.request(forward);
  if (!SAFE.has(method) && up.status >= 200 && up.status < 400) {
    const base = new URL(ctx.target, `http://${zone.host}`);
    const targets = new Set([ctx.target]);
    for (const field of ['location', 'content-location']) {
      const v = firstValue(up.headers[field]);
      if (v === undefined) continue;
      try {
        const u = new URL(v, base);
        if (u.host === base.host && (u.protocol === 'http:' || u.protocol === 'https:')) targets.add(u.pathname + u.search);
      } catch {
        // not a URL: nothing to invalidate
      }
    }
    for (const target of targets) await edge.cache.purge({ kind: 'key', zone: zone.host, target });
  }
  ctx.answer = { kind: 'relay', response: up };
  return 'deliver';
};

/** An HTTP/1.1 request with `Expect: 100-continue` (§10.1.1: ignored in an HTTP/1.0 request). */
function expectsContinue(req: IncomingMessage): boolean {
  const expect = req.headers.expect;
  return expect !== undefined && expect.trim().toLowerCase() === '100-continue' && req.httpVersion !== '1.0';
}
