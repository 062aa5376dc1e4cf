// Client side of `POST /_mediacdn/purge`: asks a list of edges to drop a URL, a URL prefix or a zone.
// Pure HTTP (no origin, library or database imports), so the origin's delete hook and the CLI share it.
//
// Order: edges are asked one after another, in the order given. Each edge forwards a purge to its
// shield before purging itself (control.ts), so the shield is always cleared before the edges behind
// it whatever the order; listing the shield first as well costs one extra, empty purge.
import { request } from 'undici';

export type PurgeTarget = { url: string } | { prefix: string } | { zone: string };

type EdgePurgeResult =
  | { edge: string; ok: true; removed: number; shield?: { url: string; removed: number } }
  | { edge: string; ok: false; status: number | undefined; error: string };

export type PurgeClientOptions = {
  /** The admin bearer token the edges accept. */
  token: string;
  /** Per edge, for the whole exchange; default 10 s. */
  timeoutMs?: number;
};

/** Purges `target` on each edge (base URLs such as http://edge1:8080); never throws for an edge's failure. */
export async function purgeEdges(edges: readonly string[], target: PurgeTarget, opts: PurgeClientOptions): Promise<EdgePurgeResult[]> {
  const results: EdgePurgeResult[] = [];
  for (const edge of edges) results.push(await purgeOne(edge.replace(/\/+$/, ''), target, opts));
  return results;
}

/**
 * The origin's delete hook: `onMediaDeleted: (item) => purgeMedia(fileUrl(item))`. Purges the media URL
 * on every configured edge and reports failures to `onFailure` (a log line) instead of failing the delete.
 */
export function mediaPurger(opts: PurgeClientOptions & { edges: readonly string[]; onFailure?: (r: Extract<EdgePurgeResult, { ok: false }>) => void }) {
  return async (url: string): Promise<EdgePurgeResult[]> => {
    if (opts.edges.length === 0) return [];
    const results = await purgeEdges(opts.edges, { url }, opts);
    for (const r of results) if (!r.ok) opts.onFailure?.(r);
    return results;
  };
}

async function purgeOne(edge: string, target: PurgeTarget, opts: PurgeClientOptions): Promise<EdgePurgeResult> {
  const timeout = opts.timeoutMs ?? 10_000;
  try {
    const res = await request(`${edge}/_mediacdn/purge`, {
      method: 'POST',
      headers: { authorization: `Bearer ${opts.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(target),
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) return { edge, ok: false, status: res.statusCode, error: text.trim().slice(0, 300) || `HTTP ${res.statusCode}` };
    const json = JSON.parse(text) as { removed?: unknown; shield?: { url: string; removed: number } };
    if (typeof json.removed !== 'number') return { edge, ok: false, status: 200, error: 'answer without a "removed" count' };
    return json.shield ? { edge, ok: true, removed: json.removed, shield: json.shield } : { edge, ok: true, removed: json.removed };
  } catch (err) {
    return { edge, ok: false, status: undefined, error: (err as Error).message };
  }
}
