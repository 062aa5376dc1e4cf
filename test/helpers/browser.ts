// Debian's chromium driven by playwright-core, and a tiny server for the test page, on its own origin
// (another port) so that media requests from the page are cross-origin and need CORS. A browser that is
// missing, does not start or crashes fails the test with a clear error instead of hanging it.
import { accessSync, constants } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Time limits for browser tests: the runner has none of its own (--test-timeout is not set). */
export const BROWSER_TEST_TIMEOUT_MS = 120_000;
export const BROWSER_SUITE_TIMEOUT_MS = 600_000;
/** How long Chromium may take to start, and how long any single page action or wait may take. */
const LAUNCH_TIMEOUT_MS = 30_000;
const ACTION_TIMEOUT_MS = 30_000;

export class BrowserUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BrowserUnavailableError';
  }
}

/** Starts Chromium; `extraArgs` adds command-line switches (e.g. a host resolver rule, a trusted test certificate). */
export async function launchBrowser(executablePath = CHROMIUM, extraArgs: readonly string[] = []): Promise<Browser> {
  try {
    accessSync(executablePath, constants.X_OK);
  } catch {
    throw new BrowserUnavailableError(`no Chromium at ${executablePath}: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`);
  }
  let browser: Browser;
  try {
    browser = await chromium.launch({
      executablePath,
      timeout: LAUNCH_TIMEOUT_MS,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required', ...extraArgs],
    });
  } catch (err) {
    const first = String((err as Error).message).split('\n')[0];
    throw new BrowserUnavailableError(`Chromium at ${executablePath} did not start: ${first}`, { cause: err });
  }
  // Every page waits at most this long for anything; a crashed page makes its waits fail at once.
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (...args) => {
    const ctx = await newContext(...args);
    ctx.setDefaultTimeout(ACTION_TIMEOUT_MS);
    ctx.on('page', (page) => page.on('crash', () => console.error(`browser page crashed: ${page.url()}`)));
    return ctx;
  };
  return browser;
}

/** Serves one HTML page at / on 127.0.0.1:0. */
export async function servePage(html: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

export type MediaResponse = { status: number; range: string | undefined; contentRange: string | undefined; cors: string | undefined };

/**
 * Records every response to `mediaUrl` that `page` gets: status, the Range asked for, Content-Range, CORS.
 * Call it before the page loads: it also holds the page's downloads to 2 MB/s (Chromium's own network
 * throttling), ten times what the tests' audio plays at, so that the browser cannot have fetched the
 * whole file over loopback before a far seek, which then needs no request of its own.
 */
export async function recordMediaResponses(page: Page, mediaUrl: string): Promise<MediaResponse[]> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: 2_000_000, uploadThroughput: -1 });
  const seen: MediaResponse[] = [];
  page.on('response', async (res) => {
    if (!res.url().startsWith(mediaUrl)) return;
    const req = await res.request().allHeaders();
    const h = await res.allHeaders();
    seen.push({ status: res.status(), range: req['range'], contentRange: h['content-range'], cors: h['access-control-allow-origin'] });
  });
  return seen;
}

/**
 * Plays the page's <audio id="a"> (of `seconds` length, `size` bytes), seeks to 20 s before its end and
 * checks that the far part came with a Range request answered 206.
 */
export async function playAndSeekFar(page: Page, seen: readonly MediaResponse[], seconds: number, size: number): Promise<void> {
  // Page code as strings: the test files are type-checked without the DOM library.
  const audio = `document.getElementById('a')`;
  await page.evaluate(`${audio}.play()`);
  await page.waitForFunction(`${audio}.currentTime > 0.25`, undefined, { timeout: 20_000 });
  const duration = (await page.evaluate(`${audio}.duration`)) as number;
  assert.ok(Math.abs(duration - seconds) < 1, `duration ${duration}`);

  const target = seconds - 20;
  await page.evaluate(`${audio}.currentTime = ${target}`);
  await page.waitForFunction(`!${audio}.seeking && ${audio}.currentTime > ${target + 0.25}`, undefined, { timeout: 20_000 });

  const farStart = Math.floor((size * (target - 5)) / seconds);
  const far = seen.find((s) => s.status === 206 && s.range !== undefined && Number(/^bytes=(\d+)-/.exec(s.range)?.[1]) >= farStart);
  assert.ok(far, `a Range request from byte ${farStart} on, answered 206; saw ${JSON.stringify(seen)}`);
  assert.match(far.contentRange ?? '', new RegExp(`^bytes \\d+-\\d+/${size}$`));
}

/**
 * Plays `src` in a new Audio element of the page (whose origin is the request's Referer), then seeks
 * to `seconds` and waits until it plays from there: the seek is a Range request for a later part.
 */
export async function playInPageAndSeek(page: Page, src: string, seconds: number): Promise<void> {
  type G = any;
  await page.evaluate(async (url: string) => {
    const g = globalThis as G;
    const a = new g.Audio(url);
    g.longAudio = a;
    await a.play();
  }, src);
  await page.waitForFunction(() => (globalThis as G).longAudio.currentTime > 0.2, undefined, { timeout: 20_000 });
  await page.evaluate((to: number) => ((globalThis as G).longAudio.currentTime = to), seconds);
  await page.waitForFunction((to: number) => (globalThis as G).longAudio.currentTime > to + 0.2, seconds, { timeout: 20_000 });
}
