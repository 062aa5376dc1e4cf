// Client side of `POST /_mediacdn/purge`: asks the edges of a fleet to drop a URL, a URL prefix or a
// zone, and says for each edge whether it did. Pure HTTP (no origin, library or database imports), so
// the origin's delete hook and the CLI share it.
//
// Order: waves one after the other (shields, then the edges behind them, so that no edge refills from
// a shield that still holds the old copy), the edges of a wave in parallel. An edge that does not
// confirm is asked again with exponential backoff, a bounded number of times; one that still has not
// confirmed is reported pending with the reason, and catches up from the purge log when it can.
import { request } from 'undici';

export type PurgeTarget = { url: string } | { prefix: string } | { zone: string };

/** An edge to purge: its fleet name (or its URL when it is not in the fleet) and its control URL. */
export type PurgeDestination = { name: string; url: string };

export type EdgePurgeResult =
  | { edge: string; url: string; state: 'done'; removed: number; attempts: number; shield?: { url: string; removed: number }; note?: string }
  | { edge: string; url: string; state: 'pending'; reason: string; attempts: number; status?: number };

export type PurgeClientOptions = {
  /** The admin bearer token the edges accept. */
  token: string;
  /** Per attempt, for the whole exchange; default 5 s. */
  timeoutMs?: number;
  /** Attempts per edge, the first included; default 4. */
  attempts?: number;
  /** Wait before the second attempt, doubled for each further one up to maxBackoffMs; default 250 ms. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Injected for tests; default a timer. */
  sleep?: (ms: number) => Promise<void>;
};

const timer = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Purges `target` on every destination, wave after wave; never throws for an edge's failure. */
export async function purgeFleet(waves: readonly (readonly PurgeDestination[])[], target: PurgeTarget, opts: PurgeClientOptions): Promise<EdgePurgeResult[]> {
  const results: EdgePurgeResult[] = [];
  for (const wave of waves) results.push(...(await Promise.all(wave.map((d) => purgeWithRetries(d, target, opts)))));
  return results;
}

type Attempt = { ok: true; result: EdgePurgeResult } | { ok: false; retry: boolean; reason: string; status?: number };

async function purgeWithRetries(dest: PurgeDestination, target: PurgeTarget, opts: PurgeClientOptions): Promise<EdgePurgeResult> {
  const attempts = Math.max(1, opts.attempts ?? 4);
  const sleep = opts.sleep ?? timer;
  let delay = opts.backoffMs ?? 250;
  const url = dest.url.replace(/\/+$/, '');
  for (let n = 1; ; n++) {
    const a = await attemptOnce({ name: dest.name, url }, target, opts, n);
    if (a.ok) return a.result;
    if (!a.retry || n >= attempts) {
      return { edge: dest.name, url, state: 'pending', reason: n > 1 ? `${a.reason} (after ${n} attempts)` : a.reason, attempts: n, ...(a.status !== undefined ? { status: a.status } : {}) };
    }
    await sleep(delay);
    delay = Math.min(delay * 2, opts.maxBackoffMs ?? 4000);
  }
}

async function attemptOnce(dest: PurgeDestination, target: PurgeTarget, opts: PurgeClientOptions, n: number): Promise<Attempt> {
  const timeout = opts.timeoutMs ?? 5000;
  let status: number;
  let text: string;
  try {
    const res = await request(`${dest.url}/_mediacdn/purge`, {
      method: 'POST',
      headers: { authorization: `Bearer ${opts.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(target),
      headersTimeout: timeout,
      bodyTimeout: timeout,
      signal: AbortSignal.timeout(timeout),
    });
    status = res.statusCode;
    text = (await res.body.text()).trim();
  } catch (err) {
    return { ok: false, retry: true, reason: `unreachable: ${(err as Error).message}` };
  }
  if (status === 404 && text.startsWith('No pull zone is configured')) {
    // This edge does not serve the zone: it holds nothing to purge.
    return { ok: true, result: { edge: dest.name, url: dest.url, state: 'done', removed: 0, attempts: n, note: 'zone not served here' } };
  }
  if (status !== 200) {
    const retry = status >= 500 || status === 408 || status === 429;
    return { ok: false, retry, status, reason: `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}` };
  }
  let json: { removed?: unknown; shield?: { url: string; removed: number } };
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    return { ok: false, retry: false, status, reason: 'answer is not JSON' };
  }
  if (typeof json.removed !== 'number') return { ok: false, retry: false, status, reason: 'answer without a "removed" count' };
  const done: EdgePurgeResult = { edge: dest.name, url: dest.url, state: 'done', removed: json.removed, attempts: n };
  if (json.shield) done.shield = json.shield;
  return { ok: true, result: done };
}

/** One line for an edge's result, as `mediacdn purge` and `mediacdn rm` print it. */
export function describePurgeResult(r: EdgePurgeResult): string {
  if (r.state === 'pending') return `${r.edge}: pending (${r.reason})`;
  const extra = [r.shield ? `shield ${r.shield.url}: removed ${r.shield.removed}` : undefined, r.note].filter((x) => x !== undefined);
  return `${r.edge}: done, removed ${r.removed}${extra.length > 0 ? ` (${extra.join('; ')})` : ''}`;
}
