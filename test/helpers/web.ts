// A real origin with the web routes mounted, for the browser tests of the listener page and the
// dashboard: a throw-away library whose MEDIA_URL is the origin's own /media/, demo media, a browser.
import { createReadStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before } from 'node:test';
import pino from 'pino';
import type { Browser, Page } from 'playwright-core';
import { loadConfig } from '../../src/config/index.ts';
import { ingest } from '../../src/media/ingest.ts';
import type { Library, MediaItem, Metadata } from '../../src/media/library.ts';
import { startOrigin, type RunningOrigin } from '../../src/origin/server.ts';
import { createWebRoutes, PUBLIC_API_PATHS, webAdminJson } from '../../src/web/routes.ts';
import { launchBrowser } from './browser.ts';
import { FIXTURES, makeTestLibrary, type TestLibrary } from './library.ts';
import { tempDirSync } from './temp.ts';

export const WEB_TOKEN = 'web-test-admin-token-0123456789';

export type WebOrigin = {
  url: string;
  origin: RunningOrigin;
  library: Library;
  tl: TestLibrary;
  add(file: string, metadata?: Metadata): Promise<MediaItem>;
  close(): Promise<void>;
};

export type WebOriginOptions = {
  /** Answers GET /api/edge-stats (admin); absent: the origin's 404. */
  edgeStats?: () => unknown;
  /** Answers GET /api/backups (admin); absent: the origin's 404. */
  backups?: () => unknown;
  /** The station's clock (ms); default Date.now. */
  now?: () => number;
  /** The station's commit folder; default `station/` in the test library's folder (as `mediacdn origin` does). */
  stationDir?: string;
};

export async function startWebOrigin(opts: WebOriginOptions = {}): Promise<WebOrigin> {
  const tl = await makeTestLibrary();
  // MEDIA_URL is the origin's own /media/, known only once it listens on its port 0: read at use.
  let mediaUrl = 'http://127.0.0.1/media/';
  const library: Library = Object.freeze({
    db: tl.lib.db,
    storage: tl.lib.storage,
    keySource: tl.lib.keySource,
    now: tl.lib.now,
    get mediaUrl() {
      return mediaUrl;
    },
  });
  const config = loadConfig({
    cwd: tl.dir,
    env: { MEDIACDN_DATA: tl.dir, MEDIACDN_TOKEN: WEB_TOKEN, ...(tl.testDb.url ? { DATABASE_URL: tl.testDb.url } : {}) },
    flags: { logLevel: 'warn', origin: { host: '127.0.0.1', port: 0, shutdownGraceMs: 2000, workers: 1 } },
  });
  const web = createWebRoutes({ library, now: opts.now, stationDir: opts.stationDir ?? path.join(tl.dir, 'station') });
  // Sizes checked on every look, so a test sees a file it damaged at the next one.
  const adminJson: Record<string, () => Promise<unknown>> = webAdminJson({ library, dataDir: tl.dir, sizesTtlMs: 0 });
  if (opts.edgeStats) adminJson['edge-stats'] = async () => opts.edgeStats!();
  if (opts.backups) adminJson['backups'] = async () => opts.backups!();
  const origin = await startOrigin({ config, library, logger: pino({ level: 'warn' }), extraRoutes: web, publicApiPaths: PUBLIC_API_PATHS, adminJson });
  mediaUrl = `${origin.url}/media/`;

  return {
    url: origin.url,
    origin,
    library,
    tl,
    add: (file, metadata) => ingest(library, { source: createReadStream(path.join(FIXTURES, file)), originalName: file, metadata }),
    close: async () => {
      await origin.close();
      await tl.close();
    },
  };
}

/** $SCREENSHOT_DIR when set, else a fresh folder under the system's temp dir. */
export async function screenshotDir(): Promise<string> {
  const dir = process.env.SCREENSHOT_DIR;
  if (dir !== undefined && dir !== '') {
    await mkdir(dir, { recursive: true });
    return dir;
  }
  return tempDirSync('mediacdn-screenshots-');
}

export const VIEWPORTS = {
  phone: { width: 390, height: 844 },
  desktop: { width: 1366, height: 900 },
} as const;

/** Console errors and uncaught exceptions of a page, except failed loads the test causes on purpose. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  return errors;
}

/** For a describe block: a browser launched before its tests and closed after them, and the screenshot folder. */
export function browserForSuite(): { readonly browser: Browser; readonly shots: string } {
  const state = { browser: undefined as Browser | undefined, shots: '' };
  before(async () => {
    state.browser = await launchBrowser();
    state.shots = await screenshotDir();
  });
  after(() => state.browser?.close());
  return {
    get browser() {
      if (state.browser === undefined) throw new Error('the browser is not running (its launch failed)');
      return state.browser;
    },
    get shots() {
      return state.shots;
    },
  };
}

/** Opens the dashboard and signs in with the test token. */
export async function signIn(page: Page, url: string): Promise<void> {
  await page.goto(`${url}/admin`);
  await page.fill('input[name=token]', WEB_TOKEN);
  await page.click('.signin-form button[type=submit]');
  await page.waitForSelector('.app:not([hidden])');
}
