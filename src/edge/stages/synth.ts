// synth: answers a refusal or a failure with the edge's own response, in one place (status from the
// error, its text, no-store, X-Cache and Via, the refusal's own fields such as Retry-After).
import type { ServerResponse } from 'node:http';
import { MediaCdnError } from '../../errors.ts';
import { EdgeRefusal, ZoneAccessError, errorStatus } from '../errors.ts';
import { X_CACHE } from '../outcome.ts';
import type { Outcome } from '../outcome.ts';
import { VIA, appendList } from '../upstream/upstream.ts';
import { stampHeaders } from './context.ts';
import type { Stage } from './context.ts';

export const synth: Stage<'done'> = (ctx) => {
  const { res } = ctx;
  if (res.headersSent) {
    res.destroy(ctx.error instanceof Error ? ctx.error : undefined);
    return 'done';
  }
  stampHeaders(ctx);
  ctx.bytes += sendError(res, ctx.error, ctx.outcome, ctx.extra);
  return 'done';
};

/** Converts an error into the response, in one place; returns the body bytes written. */
export function sendError(res: ServerResponse, err: unknown, outcome: Outcome, extra?: Record<string, string>): number {
  const status = errorStatus(err);
  const message = err instanceof MediaCdnError ? err.message : 'Internal edge error.';
  const json = err instanceof ZoneAccessError;
  const body = json ? `${JSON.stringify({ code: err.code, message })}\n` : `${message}\n`;
  const length = Buffer.byteLength(body);
  const headers: Record<string, string> = {
    'content-type': json ? 'application/json' : 'text/plain; charset=utf-8',
    'content-length': String(length),
    'cache-control': 'no-store',
    'x-cache': X_CACHE[outcome],
    via: VIA,
    ...(err instanceof EdgeRefusal ? err.headers : {}),
  };
  res.writeHead(status, withExtra(headers, extra));
  res.end(body);
  return length;
}

/** Adds per-request fields (CORS) to response fields; Vary members are appended, not replaced. */
export function withExtra<T extends Record<string, string | string[]>>(headers: T, extra: Record<string, string> | undefined): T {
  if (!extra) return headers;
  const out: Record<string, string | string[]> = { ...headers };
  for (const [name, value] of Object.entries(extra)) {
    out[name] = name === 'vary' && out['vary'] !== undefined ? appendList(out['vary'], value) : value;
  }
  return out as T;
}

