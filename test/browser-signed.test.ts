// The listener page through a zone that serves signed links only and refuses other sites' pages:
// `mediacdn up` publishes signed links, the page sends its origin as Referer, and Chromium plays and
// seeks through the edge; the same file without a signature, or from another page, is refused.
import assert from 'node:assert/strict';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page, Response } from 'playwright-core';
import { BROWSER_SUITE_TIMEOUT_MS, BROWSER_TEST_TIMEOUT_MS, launchBrowser, playInPageAndSeek, servePage } from './helpers/browser.ts';
import { makeWav } from './helpers/origin.ts';
import { startUp, SYSTEM_TOKEN, type RunningUp } from './helpers/system.ts';

const KEY = 'browser-test-signing-key-0123456789abcdef';
// Page code: the test files are type-checked without the DOM library.
type G = any;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

type Seen = { url: string; status: number; range: string | undefined };

function watchMedia(page: Page, seen: Seen[]): void {
  page.on('response', (r: Response) => {
    if (r.url().includes('/media/')) seen.push({ url: r.url(), status: r.status(), range: r.request().headers()['range'] });
  });
}

describe('signed links and hotlink protection in a real browser', { timeout: BROWSER_SUITE_TIMEOUT_MS }, () => {
  let browser: Browser;
  let sys: RunningUp;
  let configDir: string;
  before(async () => {
    const originPort = await freePort();
    configDir = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-signed-'));
    const config = path.join(configDir, 'mediacdn.config.json');
    await writeFile(config, JSON.stringify({ edge: { zones: [{ host: 'localhost', origin: `http://127.0.0.1:${originPort}`, signedUrls: { keys: [KEY] }, allowedReferrers: ['localhost'] }] } }));
    // One after the other: a browser that cannot start must not leave a started system behind for
    // after() to miss (the test process would wait for it).
    browser = await launchBrowser();
    sys = await startUp(['--origin-port', String(originPort), '--config', config]);
  });
  after(async () => {
    await browser?.close();
    await sys?.cleanup();
    await rm(configDir, { recursive: true, force: true });
  });

  it('the listener page plays and seeks signed links through the edge', { timeout: BROWSER_TEST_TIMEOUT_MS }, async (t) => {
    const wav = makeWav(120, { sampleRate: 22050, channels: 1 });
    const up = await fetch(`${sys.originUrl}/api/media?kind=song&title=Signed%20Tone&name=signed.wav`, { method: 'POST', headers: { authorization: `Bearer ${SYSTEM_TOKEN}`, 'content-type': 'audio/wav' }, body: new Uint8Array(wav) });
    assert.equal(up.status, 201);
    const item = (await up.json()) as { url: string };
    assert.match(item.url, /^http:\/\/localhost:\d+\/media\/[a-z]{20}\.wav\?expires=\d+&token=[A-Za-z0-9_-]{43}$/);

    const ctx = await browser.newContext();
    t.after(() => ctx.close());
    const page = await ctx.newPage();
    const seen: Seen[] = [];
    watchMedia(page, seen);
    await page.goto(`${sys.originUrl}/`);
    await page.waitForSelector('.play:not([disabled])');
    await page.click('.play');
    await page.waitForFunction(() => (globalThis as G).document.querySelector('.audio').currentTime > 0.3, undefined, { timeout: 20_000 });
    // The long song, played and sought from the listener page's origin (its Referer).
    await playInPageAndSeek(page, item.url, 100);
    assert.ok(seen.length >= 2, JSON.stringify(seen));
    for (const s of seen) {
      assert.ok([200, 206].includes(s.status), JSON.stringify(s));
      assert.match(s.url, /[?&]token=/);
    }
    assert.ok(seen.some((s) => s.status === 206 && s.url === item.url && Number(/^bytes=(\d+)-/.exec(s.range ?? '')?.[1]) > wav.length / 2), JSON.stringify(seen));
  });

  it('the same file without its signature, or linked from another site, is refused with a JSON reason', { timeout: BROWSER_TEST_TIMEOUT_MS }, async (t) => {
    const playlist = (await (await fetch(`${sys.originUrl}/api/playlist`)).json()) as { songs: Array<{ url: string }> };
    const signed = playlist.songs[0].url;
    const unsigned = await fetch(signed.split('?')[0], { headers: { referer: `${sys.originUrl}/` } });
    assert.equal(unsigned.status, 403);
    assert.equal(((await unsigned.json()) as { code: string }).code, 'signature_missing');

    // Another site's page (127.0.0.1 is not localhost) embedding the signed link.
    const other = await servePage(`<!doctype html><audio id="a" preload="auto" src="${signed}"></audio>`);
    t.after(() => other.close());
    const ctx = await browser.newContext();
    t.after(() => ctx.close());
    const page = await ctx.newPage();
    // The browser's request carries the other page's origin as Referer; the 403 itself is hidden from
    // the page (Chromium's opaque-response blocking turns it into a network error), so the audio fails.
    const request = page.waitForRequest((r) => r.url().includes('/media/'), { timeout: 20_000 });
    await page.goto(other.url);
    await page.evaluate(() => (globalThis as G).document.getElementById('a').play().catch(() => {}));
    const referer = (await request).headers()['referer'];
    assert.match(referer ?? '', /^http:\/\/127\.0\.0\.1:\d+\/$/);
    await page.waitForFunction(() => (globalThis as G).document.getElementById('a').error !== null, undefined, { timeout: 20_000 });
    const asked = await fetch(signed, { headers: { referer: referer! } });
    assert.equal(asked.status, 403);
    assert.equal(((await asked.json()) as { code: string }).code, 'referrer_not_allowed');
  });
});
