// JSON responses of the origin's API, and the one place where errors become `{code, message}`.
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { MediaCdnError, isOutOfSpace } from '../errors.ts';
import { InvalidHttpArgumentError } from '../http/types.ts';

export function sendJson(res: ServerResponse, status: number, value: unknown, extra: Record<string, string> = {}): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(body.length),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...extra,
  });
  res.end(body);
}

/** An API error that is not a library error: 401, 404 route, 405, 411, 415 for the request itself. */
export class HttpError extends MediaCdnError {
  readonly headers: Record<string, string>;
  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(code, message, { status });
    this.headers = headers;
  }
}

/**
 * Errors with a code and a status (MediaCdnError and its subclasses) keep them; a full disk is 507;
 * anything else is a bug or an outage: 500 with a generic message, logged with its stack. A 5xx is
 * always logged.
 */
export function sendError(res: ServerResponse, err: unknown, logger: Logger, context: Record<string, unknown> = {}): void {
  let status = 500;
  let code = 'internal_error';
  let message = 'internal error';
  let headers: Record<string, string> = {};
  if (err instanceof MediaCdnError) {
    status = err.status;
    code = err.code;
    message = err.message;
    if (err instanceof HttpError) headers = err.headers;
  } else if (err instanceof InvalidHttpArgumentError) {
    code = err.code;
  } else if (isOutOfSpace(err)) {
    status = 507;
    code = 'storage_full';
    message = 'no space left on the server';
  }
  if (status >= 500) logger.error({ err, ...context }, `request failed: ${code}`);
  else logger.debug({ code, status, ...context }, message);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { code, message }, headers);
}
