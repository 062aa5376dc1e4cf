// The web routes mounted into the origin: the listener page (/), the dashboard (/admin), the browser's
// files (/assets/…) and the public playlist (GET /api/playlist). Everything else is left to the origin.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { planResponse } from '../http/representation.ts';
import type { Library } from '../media/library.ts';
import { createAssetStore, type Asset, type AssetStore } from './assets.ts';
import { buildPlaylist } from './playlist.ts';

export const ASSETS_PREFIX = '/assets/';
export const PLAYLIST_PATH = '/api/playlist';

export type WebRoutesOptions = {
  library: Library;
  /** Seconds browsers (and any proxy) may reuse the playlist; short, so new uploads show up soon. */
  playlistMaxAge?: number;
  /** For tests: a store over other folders. */
  assets?: AssetStore;
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
    "connect-src 'self'",
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
    return { 'cache-control': 'no-cache', 'content-security-policy': csp.value, 'x-content-type-options': 'nosniff', 'referrer-policy': 'same-origin' };
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
    } else if (pathname !== PLAYLIST_PATH) return false;

    if (req.method !== 'GET' && req.method !== 'HEAD') return notAllowed(res);
    if (page !== undefined) send(req, res, assets.page(page), pageHeaders());
    else if (asset !== undefined) send(req, res, asset, assetHeaders);
    else return playlist(req, res);
    return true;
  };
}
