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

/** A stored entry failed its integrity check; callers drop it and refetch. */
export class CorruptEntryError extends MediaCdnError {
  constructor(message: string) {
    super('edge_corrupt_entry', message, { status: 500 });
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

/** `Cache-Control: only-if-cached` and nothing usable is stored (RFC 9111 §5.2.1.7). */
export class NotCachedError extends MediaCdnError {
  constructor() {
    super('edge_not_cached', 'Not in the cache (only-if-cached).', { status: 504 });
  }
}
