// Edge failures as Error subclasses with a stable `code` and an HTTP `status`; server.ts turns them
// into responses in one place (sendError). Expected protocol outcomes (304, 206, 416) are not errors.
import { MediaCdnError } from '../errors.ts';

export class UnknownZoneError extends MediaCdnError {
  constructor(host: string) {
    super('edge_unknown_zone', `No pull zone is configured for host "${host}" on this edge.`, { status: 404 });
  }
}

/** The origin refused, reset or could not be reached, and nothing usable is cached. */
export class OriginUnreachableError extends MediaCdnError {
  constructor(origin: string, cause?: unknown) {
    super('edge_origin_unreachable', `The origin ${origin} could not be reached.`, { status: 502, cause });
  }
}

/** An https upstream whose certificate was not accepted, or whose TLS handshake failed. */
export class OriginTlsError extends MediaCdnError {
  constructor(origin: string, reason: string, cause?: unknown) {
    super('edge_origin_tls', `The origin ${origin} could not be reached over TLS: ${reason}.`, { status: 502, cause });
  }
}

/** Connect, first-byte or body-idle timeout, or a coalesced waiter that waited too long. */
export class OriginTimeoutError extends MediaCdnError {
  constructor(origin: string, what: string, cause?: unknown) {
    super('edge_origin_timeout', `The origin ${origin} timed out (${what}).`, { status: 504, cause });
  }
}

/** The origin broke the protocol: body shorter than Content-Length, bad framing. */
export class OriginProtocolError extends MediaCdnError {
  constructor(origin: string, message: string, cause?: unknown) {
    super('edge_origin_protocol', `The origin ${origin} sent a broken response: ${message}`, { status: 502, cause });
  }
}

/**
 * RFC 6585 §5: 431 "the server is unwilling to process the request because its header fields are too
 * large". Answered by the edge when the head it would forward (the client's fields plus its own) is
 * larger than the upstream accepts: the upstream never gets a request it would refuse because of us.
 */
export class RequestHeadTooLargeError extends MediaCdnError {
  constructor(bytes: number, limit: number) {
    super('edge_request_header_too_large', `The request's header fields are too large to forward (${bytes} bytes with the edge's forwarding fields; the origin accepts under ${limit}).`, { status: 431 });
  }
}

/** A client's request body sent no byte for the idle timeout (RFC 9110 §15.5.9 408 Request Timeout). */
export class RequestBodyTimeoutError extends MediaCdnError {
  constructor(idleMs: number) {
    super('edge_body_timeout', `No byte of the request body arrived for ${idleMs} ms.`, { status: 408 });
  }
}

export function errorStatus(err: unknown): number {
  return err instanceof MediaCdnError ? err.status : 500;
}

/** A request target the edge cannot map to a path (e.g. `*`, or an absolute URL that does not parse). */
export class BadTargetError extends MediaCdnError {
  constructor(target: string) {
    super('edge_bad_target', `Cannot serve request target ${JSON.stringify(target.slice(0, 200))}.`, { status: 400 });
  }
}

/**
 * RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1 request
 * message that lacks a Host header field and to any request message that contains more than one Host
 * header field line or a Host header field with an invalid field value." (A missing Host node:http
 * answers itself.) Two Host lines are how a request asks one thing of a cache and another of what is
 * behind it.
 */
export class BadHostError extends MediaCdnError {
  constructor(reason: 'several' | 'invalid' | 'conflict', host = '') {
    super(
      'edge_bad_host',
      reason === 'several'
        ? 'The request has more than one Host field.'
        : reason === 'conflict'
          ? 'The Host field names another host than the request\'s :authority.'
          : `The Host field ${JSON.stringify(host.slice(0, 200))} is not a host name with an optional port.`,
      { status: 400 },
    );
  }
}

/** `Cache-Control: only-if-cached` and nothing usable is stored (RFC 9111 §5.2.1.7). */
export class NotCachedError extends MediaCdnError {
  constructor() {
    super('edge_not_cached', 'Not in the cache (only-if-cached).', { status: 504 });
  }
}

/** An edge refusal that carries response fields of its own (Retry-After, WWW-Authenticate). */
export class EdgeRefusal extends MediaCdnError {
  readonly headers: Readonly<Record<string, string>>;
  constructor(code: string, message: string, status: number, headers: Record<string, string> = {}) {
    super(code, message, { status });
    this.headers = headers;
  }
}

/** The client address is on a block list (edge-wide or the zone's). */
export class BlockedClientError extends EdgeRefusal {
  constructor() {
    super('edge_client_blocked', 'Requests from this address are not accepted.', 403);
  }
}

/** RFC 6585 §4: "The 429 status code indicates that the user has sent too many requests in a given amount of time". */
export class RateLimitedError extends EdgeRefusal {
  constructor(retryAfterSeconds: number, what: string) {
    super('edge_rate_limited', `Too many ${what} from this address; retry in ${retryAfterSeconds} s.`, 429, { 'retry-after': String(retryAfterSeconds) });
  }
}

/** Control endpoints: missing or wrong bearer token. RFC 6750 §3 asks for WWW-Authenticate: Bearer. */
export class AdminAuthError extends EdgeRefusal {
  constructor(configured: boolean) {
    super(
      configured ? 'edge_unauthorized' : 'edge_admin_disabled',
      configured ? 'This endpoint needs the admin token (Authorization: Bearer <token>).' : 'Control endpoints are disabled: the edge has no admin token.',
      configured ? 401 : 403,
      configured ? { 'www-authenticate': 'Bearer realm="mediacdn"' } : {},
    );
  }
}

/** A control request the edge cannot act on (bad purge body, unknown endpoint or method). */
export class ControlRequestError extends EdgeRefusal {
  constructor(message: string, status = 400, headers: Record<string, string> = {}) {
    super(status === 404 ? 'edge_control_not_found' : status === 405 ? 'edge_method_not_allowed' : 'edge_bad_control_request', message, status, headers);
  }
}

/** A forwarded purge did not reach the shield: this edge keeps its copies so it does not refill stale ones. */
export class ShieldPurgeError extends MediaCdnError {
  constructor(shield: string, detail: string, cause?: unknown) {
    super('edge_shield_purge_failed', `Purge not applied: the shield ${shield} did not confirm it (${detail}).`, { status: 502, cause });
  }
}

/**
 * A zone's access rule refused the request (signed links, hotlink protection): 403 with a JSON
 * `{code, message}` body, so a player or another program can tell why.
 */
export class ZoneAccessError extends EdgeRefusal {
  constructor(code: string, message: string) {
    super(code, message, 403);
  }
}

/** With several workers: the primary, which holds what they share, did not answer in time. */
export class PrimaryTimeoutError extends MediaCdnError {
  constructor(what: string, ms: number) {
    super('edge_primary_timeout', `The edge's primary process did not answer (${what}) within ${ms} ms.`, { status: 503 });
  }
}
