// A small client for the origin's admin API, used by `mediacdn add|ls|rm --remote <url>`.
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { EXIT, MediaCdnError, type ExitCode } from '../errors.ts';
import type { MediaItem, Metadata } from '../media/library.ts';

export type OriginClient = {
  upload(file: string, o: { name: string; type?: string; ext?: string; metadata?: Metadata }): Promise<MediaItem>;
  list(o: { kind?: string; q?: string; limit?: number; offset?: number }): Promise<{ items: MediaItem[]; total: number }>;
  remove(ref: string, o: { force?: boolean }): Promise<MediaItem>;
};

function exitFor(status: number): ExitCode {
  if (status === 413 || status === 415) return EXIT.rejected;
  if (status === 400 || status === 404) return EXIT.input;
  if (status === 401) return EXIT.usage;
  return EXIT.failure;
}

export function createOriginClient(baseUrl: string, token: string | undefined): OriginClient {
  let base: URL;
  try {
    base = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new MediaCdnError('bad_remote', `--remote ${JSON.stringify(baseUrl)} is not an http(s) URL`, { exitCode: EXIT.usage });
  }
  if (token === undefined) {
    throw new MediaCdnError('token_required', 'no admin token: set MEDIACDN_TOKEN (the origin printed it on its first start)', { exitCode: EXIT.usage });
  }

  async function call<T>(method: string, path: string, query: Record<string, string | undefined>, init: { body?: Readable; type?: string } = {}): Promise<T> {
    const url = new URL(path, base);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v);
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(init.type ? { 'content-type': init.type } : {}) },
        body: init.body ? (Readable.toWeb(init.body) as ReadableStream) : undefined,
        ...(init.body ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch (err) {
      throw new MediaCdnError('remote_unreachable', `cannot reach ${base.origin}: ${(err as Error).cause ?? (err as Error).message}`, { cause: err });
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!res.ok) {
      const e = body as { code?: string; message?: string } | undefined;
      throw new MediaCdnError(e?.code ?? `http_${res.status}`, `${base.origin}: ${e?.message ?? `HTTP ${res.status}`}`, { status: res.status, exitCode: exitFor(res.status) });
    }
    return body as T;
  }

  return {
    upload(file, o) {
      const m = o.metadata;
      return call<MediaItem>(
        'POST',
        'api/media',
        {
          name: o.name,
          ext: o.ext,
          kind: m?.kind,
          title: m?.title,
          artist: m?.kind === 'song' ? (m.artist ?? undefined) : undefined,
          album: m?.kind === 'song' ? (m.album ?? undefined) : undefined,
        },
        { body: createReadStream(file), type: o.type ?? 'application/octet-stream' },
      );
    },
    list(o) {
      return call('GET', 'api/media', { kind: o.kind, q: o.q, limit: o.limit?.toString(), offset: o.offset?.toString() });
    },
    remove(ref, o) {
      return call('DELETE', `api/media/${encodeURIComponent(ref)}`, { force: o.force ? '1' : undefined });
    },
  };
}
