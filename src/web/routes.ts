// The web routes mounted into the origin: the listener page (/), the dashboard (/admin), the browser's
// files (/assets/…), the public playlist (GET /api/playlist) and what is on the air (GET /api/now).
// Everything else is left to the origin.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { planResponse } from '../http/representation.ts';
import type { Library } from '../media/library.ts';
import { createAssetStore, type Asset, type AssetStore } from './assets.ts';
import { InputError } from '../errors.ts';
import { createLibraryHealth } from './library-health.ts';
import { buildPlaylist } from './playlist.ts';
import { createFileStationStore, createMemoryStationStore, createStation, MAX_UPCOMING, type Station } from './station.ts';

export const ASSETS_PREFIX = '/assets/';
export const PLAYLIST_PATH = '/api/playlist';
export const NOW_PATH = '/api/now';
/** The paths under /api/ that these routes answer without the admin token. */
export const PUBLIC_API_PATHS = [PLAYLIST_PATH, NOW_PATH] as const;

/**
 * The dashboard's admin endpoints answered from this folder's modules, for the origin's `adminJson`:
 * GET /api/library-check (sizes now, contents as last verified) and /api/library-verify (hash every
 * file now). The contents result is kept in `dataDir`, shared by every worker.
 */
export function webAdminJson(opts: { library: Library; dataDir: string; sizesTtlMs?: number }): Record<string, () => Promise<unknown>> {
  const health = createLibraryHealth({ library: opts.library, stateFile: path.join(opts.dataDir, 'library-check.json'), sizesTtlMs: opts.sizesTtlMs });
  return { 'library-check': () => health.check(), 'library-verify': () => health.verify() };
}

export type WebRoutesOptions = {
  library: Library;
  /** Seconds browsers (and any proxy) may reuse the playlist; short, so new uploads show up soon. */
  playlistMaxAge?: number;
  /** For tests: a store over other folders. */
  assets?: AssetStore;
  /**
   * Folder of the station's committed items, shared by every process serving this library (e.g.
   * `$MEDIACDN_DATA/station`); absent: kept in this process's memory.
   */
  stationDir?: string;
  /** The station's clock (ms); injected in tests. */
  now?: () => number;
};

/** True when the request was answered; false leaves it to the next handler. Rejects on library errors. */
export type WebRoutes = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

const ALLOW = 'GET, HEAD';

/** Where media may come from: the page's own origin plus MEDIA_URL's origin (usually the edge). */
export function contentSecurityPolicy(mediaUrl: string): string {
  let media = '';
  try {
    const u = new URL(mediaUrl);
    if (u.protocol === 'http:' || u.protocol === 'https:') media = ` ${u.origin}`;
  } catch {
    // A relative MEDIA_URL is same-origin: 'self' covers it.
  }
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data: blob:${media}`,
    `media-src 'self' blob:${media}`,
    // The listener page asks MEDIA_URL why an item failed (a HEAD: 404 or not).
    `connect-src 'self'${media}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function send(req: IncomingMessage, res: ServerResponse, asset: Asset, extra: Record<string, string>): void {
  const plan = planResponse(req.method === 'HEAD' ? 'HEAD' : 'GET', req.headers, {
    size: asset.body.length,
    contentType: asset.contentType,
    etag: asset.etag,
  });
  res.writeHead(plan.status, { ...plan.headers, ...extra });
  if (plan.body.length === 0) {
    res.end();
    return;
  }
  res.end(Buffer.concat(plan.body.map((s) => (s.kind === 'text' ? Buffer.from(s.text, 'utf8') : asset.body.subarray(s.start, s.end + 1)))));
}

function notAllowed(res: ServerResponse): true {
  const body = JSON.stringify({ code: 'method_not_allowed', message: `use ${ALLOW}` });
  res.writeHead(405, { allow: ALLOW, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
  return true;
}

export function createWebRoutes(opts: WebRoutesOptions): WebRoutes {
  const lib = opts.library;
  const assets = opts.assets ?? createAssetStore();
  const playlistMaxAge = opts.playlistMaxAge ?? 10;
  // MEDIA_URL is read per request (cheaply: the policy is rebuilt only when it changed).
  let csp = { mediaUrl: '', value: '' };
  const pageHeaders = () => {
    if (csp.mediaUrl !== lib.mediaUrl) csp = { mediaUrl: lib.mediaUrl, value: contentSecurityPolicy(lib.mediaUrl) };
    return { 'cache-control': 'no-cache', 'content-security-policy': csp.value, 'x-content-type-options': 'nosniff', 'referrer-policy': 'strict-origin-when-cross-origin' };
  };
  // No build step means no content hashes in file names: browsers revalidate, and get 304s.
  const assetHeaders = { 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' };

  async function playlist(req: IncomingMessage, res: ServerResponse): Promise<true> {
    const body = Buffer.from(JSON.stringify(await buildPlaylist(lib)));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    send(req, res, { body, contentType: 'application/json; charset=utf-8', etag }, {
      'cache-control': `public, max-age=${playlistMaxAge}`,
      'x-content-type-options': 'nosniff',
    });
    return true;
  }

  const station: Station = createStation({
    library: lib,
    store: opts.stationDir === undefined ? createMemoryStationStore() : createFileStationStore(opts.stationDir),
    now: opts.now,
  });

  async function nowPlaying(req: IncomingMessage, res: ServerResponse, query: string): Promise<true> {
    const params = new URLSearchParams(query);
    const seen = new Set<string>();
    for (const k of params.keys()) {
      if (k !== 'upcoming' && k !== 'after') throw new InputError('unknown_field', `unknown parameter ${JSON.stringify(k.slice(0, 40))} (known: upcoming, after)`);
      if (seen.has(k)) throw new InputError('duplicate_field', `parameter ${k} given twice`);
      seen.add(k);
    }
    const int = (name: string, max: number): number | undefined => {
      const v = params.get(name);
      if (v === null) return undefined;
      if (!/^\d{1,15}$/.test(v) || Number(v) > max) throw new InputError('bad_parameter', `${name} must be a whole number from 0 to ${max}`);
      return Number(v);
    };
    const body = Buffer.from(JSON.stringify(await station.nowPlaying({ upcoming: int('upcoming', MAX_UPCOMING), after: int('after', Number.MAX_SAFE_INTEGER) })));
    // Never stored: the answer carries the server's clock, which the page uses to correct its own.
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(body.length), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }

  return function handleWeb(req, res) {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const pathname = q === -1 ? url : url.slice(0, q);
    let page: 'index' | 'admin' | undefined;
    let asset: Asset | undefined;
    if (pathname === '/' || pathname === '/index.html') page = 'index';
    else if (pathname === '/admin' || pathname === '/admin/') page = 'admin';
    else if (pathname.startsWith(ASSETS_PREFIX)) {
      // The raw, undecoded name: an encoded or dotted name is simply not in the set.
      asset = assets.get(pathname.slice(ASSETS_PREFIX.length));
      if (asset === undefined) return false;
    } else if (pathname !== PLAYLIST_PATH && pathname !== NOW_PATH) return false;

    if (req.method !== 'GET' && req.method !== 'HEAD') return notAllowed(res);
    if (page !== undefined) send(req, res, assets.page(page), pageHeaders());
    else if (asset !== undefined) send(req, res, asset, assetHeaders);
    else if (pathname === NOW_PATH) return nowPlaying(req, res, q === -1 ? '' : url.slice(q + 1));
    else return playlist(req, res);
    return true;
  };
}
