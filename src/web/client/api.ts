// The dashboard's client for the origin's admin API: bearer token kept in session (or local) storage,
// JSON in and out, `{code, message}` errors as ApiError, uploads through XMLHttpRequest for progress.

/** The wire shape of a media record (GET /api/media); mirrors MediaItem in src/media/library.ts. */
export type MediaItem = {
  id: number;
  fileName: string;
  contentType: string;
  byteSize: number;
  sha256: string;
  createdAt: string;
  durationMs: number | null;
  width: number | null;
  height: number | null;
  url: string;
  kind: 'song' | 'announcement' | 'background' | null;
  title: string | null;
  artist: string | null;
  album: string | null;
};

export type MediaKind = NonNullable<MediaItem['kind']>;
export type MediaList = { items: MediaItem[]; total: number };
export type MetadataPatch = { kind?: MediaKind; title?: string; artist?: string | null; album?: string | null };
export type UploadMetadata = { kind: MediaKind; title: string; artist?: string; album?: string };

export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

const TOKEN_KEY = 'mediacdn.adminToken';

export function storedToken(): string | undefined {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? localStorage.getItem(TOKEN_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export function storeToken(token: string, remember: boolean): void {
  forgetToken();
  (remember ? localStorage : sessionStorage).setItem(TOKEN_KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(TOKEN_KEY);
}

/** Fired on `window` when the API answers 401: the page asks for the token again. */
export const UNAUTHORIZED_EVENT = 'mediacdn:unauthorized';

function errorFrom(status: number, body: unknown, fallback: string): ApiError {
  if (typeof body === 'object' && body !== null && 'code' in body && 'message' in body) {
    const b = body as { code: unknown; message: unknown };
    return new ApiError(status, String(b.code), String(b.message));
  }
  return new ApiError(status, status === 0 ? 'network_error' : `http_${status}`, fallback);
}

function authHeaders(token: string | undefined): Record<string, string> {
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}

/** An API call; `token` overrides the stored one (used to check a token before storing it). */
export async function api<T>(method: string, path: string, opts: { json?: unknown; token?: string; signal?: AbortSignal } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...authHeaders(opts.token ?? storedToken()) };
  if (opts.json !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: opts.json === undefined ? undefined : JSON.stringify(opts.json), signal: opts.signal });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'network_error', 'The server could not be reached.');
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    if (res.status === 401 && opts.token === undefined) window.dispatchEvent(new Event(UNAUTHORIZED_EVENT));
    throw errorFrom(res.status, body, `${method} ${path} failed with HTTP ${res.status}`);
  }
  return body as T;
}

export function listMedia(params: { kind?: string; q?: string; limit: number; offset: number }, signal?: AbortSignal): Promise<MediaList> {
  const qs = new URLSearchParams();
  if (params.kind) qs.set('kind', params.kind);
  if (params.q) qs.set('q', params.q);
  qs.set('limit', String(params.limit));
  qs.set('offset', String(params.offset));
  return api<MediaList>('GET', `/api/media?${qs}`, { signal });
}

export function updateMedia(id: number, patch: MetadataPatch): Promise<MediaItem> {
  return api<MediaItem>('PATCH', `/api/media/${id}`, { json: patch });
}

/** force=1: the song / announcement / background record goes with the file. */
export function deleteMedia(id: number): Promise<MediaItem> {
  return api<MediaItem>('DELETE', `/api/media/${id}?force=1`);
}

export type Upload = { promise: Promise<MediaItem>; abort(): void };

/**
 * Sends the file as the raw request body with its own Content-Type and the metadata in the query
 * (fetch has no upload progress; XMLHttpRequest's upload.onprogress does).
 */
export function uploadMedia(file: File, meta: UploadMetadata, onProgress: (sent: number, total: number) => void): Upload {
  const xhr = new XMLHttpRequest();
  const qs = new URLSearchParams({ kind: meta.kind, title: meta.title, name: file.name });
  if (meta.kind === 'song' && meta.artist) qs.set('artist', meta.artist);
  if (meta.kind === 'song' && meta.album) qs.set('album', meta.album);
  const promise = new Promise<MediaItem>((resolve, reject) => {
    xhr.open('POST', `/api/media?${qs}`);
    const token = storedToken();
    if (token !== undefined) xhr.setRequestHeader('authorization', `Bearer ${token}`);
    xhr.setRequestHeader('content-type', file.type || 'application/octet-stream');
    xhr.setRequestHeader('accept', 'application/json');
    xhr.upload.onprogress = (ev) => onProgress(ev.loaded, ev.lengthComputable ? ev.total : file.size);
    xhr.onload = () => {
      let body: unknown;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = undefined;
      }
      if (xhr.status === 201 || xhr.status === 200) return resolve(body as MediaItem);
      if (xhr.status === 401) window.dispatchEvent(new Event(UNAUTHORIZED_EVENT));
      reject(errorFrom(xhr.status, body, `upload failed with HTTP ${xhr.status}`));
    };
    // A server that refuses early (413) may close the connection mid-body: the browser reports an error.
    xhr.onerror = () => reject(new ApiError(0, 'network_error', 'The upload was interrupted (the server closed the connection or could not be reached).'));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', 'Upload cancelled.'));
    xhr.send(file);
  });
  return { promise, abort: () => xhr.abort() };
}

export type BackupEntry = {
  id: string;
  createdAt: string;
  sizeBytes: number;
  files: number;
  rows: number;
  lastVerified: { at: string; ok: boolean; message?: string } | null;
};
