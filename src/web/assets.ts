// The browser's files, with no build step: TypeScript under client/ is served as JavaScript by stripping
// its types at request time (node:module stripTypeScriptTypes), once per file, kept in memory.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import path from 'node:path';

export const CLIENT_DIR = path.join(import.meta.dirname, 'client');
export const PAGES_DIR = path.join(import.meta.dirname, 'pages');

/** A flat name with a known extension: nothing that could leave the folder (no '/', '\', '..', '%'). */
const ASSET_NAME_RE = /^[a-z0-9][a-z0-9-]{0,63}\.(ts|css|svg)$/;

const CONTENT_TYPES: Record<string, string> = {
  ts: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  html: 'text/html; charset=utf-8',
};

export type Asset = { body: Buffer; contentType: string; etag: string };

export function isAssetName(name: string): boolean {
  return ASSET_NAME_RE.test(name) && !name.endsWith('.test.ts');
}

function makeAsset(body: Buffer, ext: string): Asset {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return { body, contentType: CONTENT_TYPES[ext], etag };
}

/**
 * Type stripping replaces annotations with spaces, so line and column numbers in the browser's
 * stack traces match the .ts source without a source map.
 */
export function toJavaScript(tsSource: string): string {
  return withoutNotice(STRIP_NOTICE, () => stripTypeScriptTypes(tsSource, { mode: 'strip' }));
}

/**
 * Node 24 marks stripTypeScriptTypes experimental and says so once per process on stderr, which put an
 * ExperimentalWarning line into the output of `up` and `origin` at the first page view. The Node
 * version is pinned and the test suite checks what stripping gives, so that one notice is dropped;
 * every other warning is printed as before.
 */
const STRIP_NOTICE = 'stripTypeScriptTypes is an experimental feature';

function withoutNotice<T>(prefix: string, fn: () => T): T {
  const emit = process.emitWarning;
  process.emitWarning = function (this: NodeJS.Process, warning: string | Error, ...rest: unknown[]): void {
    if ((typeof warning === 'string' ? warning : warning.message).startsWith(prefix)) return;
    (emit as (w: string | Error, ...r: unknown[]) => void).call(this, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    return fn();
  } finally {
    process.emitWarning = emit;
  }
}

export type AssetStore = {
  /** The asset named `name` under /assets/, or undefined when there is no such file. */
  get(name: string): Asset | undefined;
  page(name: 'index' | 'admin'): Asset;
  names(): string[];
};

/**
 * The set of names is fixed when the store is made (a readdir of client/), so a request for any other
 * name never touches the disk. Contents are read and converted on first use and then kept.
 */
export function createAssetStore(opts: { clientDir?: string; pagesDir?: string } = {}): AssetStore {
  const clientDir = opts.clientDir ?? CLIENT_DIR;
  const pagesDir = opts.pagesDir ?? PAGES_DIR;
  const known = new Set(readdirSync(clientDir).filter(isAssetName));
  const cache = new Map<string, Asset>();
  return {
    get(name) {
      if (!known.has(name)) return undefined;
      let a = cache.get(name);
      if (a === undefined) {
        const ext = name.slice(name.lastIndexOf('.') + 1);
        const raw = readFileSync(path.join(clientDir, name));
        a = makeAsset(ext === 'ts' ? Buffer.from(toJavaScript(raw.toString('utf8'))) : raw, ext);
        cache.set(name, a);
      }
      return a;
    },
    page(name) {
      const key = `page:${name}`;
      let a = cache.get(key);
      if (a === undefined) {
        a = makeAsset(readFileSync(path.join(pagesDir, `${name}.html`)), 'html');
        cache.set(key, a);
      }
      return a;
    },
    names: () => [...known].sort(),
  };
}
