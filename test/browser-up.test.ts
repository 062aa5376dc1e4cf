// The whole system as a user starts it (`mediacdn up` on free ports), driven by a real browser:
// the listener page plays through the edge (later requests are hits), a seek is answered 206 by the
// edge, the dashboard uploads, plays and deletes a file (the edge is purged), rejects a bad file, and
// draws the edge statistics of the traffic this test made. Screenshots go to $SCREENSHOT_DIR.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page, Response } from 'playwright-core';
import { BROWSER_SUITE_TIMEOUT_MS, BROWSER_TEST_TIMEOUT_MS, launchBrowser, playInPageAndSeek } from './helpers/browser.ts';
import { FIXTURES } from './helpers/library.ts';
import { makeWav } from './helpers/origin.ts';
import { startUp, SYSTEM_TOKEN, type RunningUp } from './helpers/system.ts';
import { screenshotDir, VIEWPORTS } from './helpers/web.ts';

type G = any;
const auth = { authorization: `Bearer ${SYSTEM_TOKEN}` };

type Seen = { url: string; status: number; xCache: string | undefined; range: string | undefined };

function watchMedia(page: Page, edgeUrl: string, seen: Seen[]): void {
  page.on('response', (r: Response) => {
    const url = r.url();
    if (!url.includes('/media/')) return;
    seen.push({ url, status: r.status(), xCache: r.headers()['x-cache'], range: r.request().headers()['range'] });
    assert.ok(url.startsWith(`${edgeUrl}/media/`), `${url} did not go through the edge ${edgeUrl}`);
  });
}

async function zoneTotals(sys: RunningUp): Promise<{ requests: number; outcomes: Record<string, number> }> {
  const snap = (await (await fetch(`${sys.originUrl}/api/edge-stats`, { headers: auth })).json()) as { zones: Record<string, { totals: { requests: number; outcomes: Record<string, number> } }> };
  return snap.zones['localhost']?.totals ?? { requests: 0, outcomes: { hit: 0 } };
}

describe('mediacdn up in a real browser', { timeout: BROWSER_SUITE_TIMEOUT_MS }, () => {
  let browser: Browser;
  let sys: RunningUp;
  let shots: string;
  before(async () => {
    // One after the other: a browser that cannot start must not leave a started system behind for
    // after() to miss (the test process would wait for it).
    [browser, shots] = await Promise.all([launchBrowser(), screenshotDir()]);
    sys = await startUp();
  });
  after(async () => {
    await browser?.close();
    await sys?.cleanup();
  });

  it('prints its URLs, links media through the edge and starts with demo content', async () => {
    assert.match(sys.output(), /added 5 demo items/);
    assert.equal(sys.mediaUrl, `${sys.edgeUrl}/media/`);
    const playlist = (await (await fetch(`${sys.originUrl}/api/playlist`)).json()) as { songs: Array<{ url: string; title: string }>; announcements: unknown[]; backgrounds: unknown[] };
    assert.equal(playlist.songs.length, 3);
    assert.equal(playlist.announcements.length, 1);
    assert.equal(playlist.backgrounds.length, 1);
    for (const s of playlist.songs) assert.ok(s.url.startsWith(sys.mediaUrl) && s.title.startsWith('Demo: '), s.url);
  });

  it('the listener page plays from the edge, and a second listener is served from its cache', { timeout: BROWSER_TEST_TIMEOUT_MS }, async (t) => {
    const before = await zoneTotals(sys);
    const seen: Seen[] = [];
    const listen = async (ctx: BrowserContext) => {
      const page = await ctx.newPage();
      watchMedia(page, sys.edgeUrl, seen);
      await page.goto(`${sys.originUrl}/`);
      await page.waitForSelector('.play:not([disabled])');
      // The audio's response event can reach the test after the page reports it playing: wait for it.
      const audioResponse = page.waitForResponse((r) => r.url().startsWith(`${sys.edgeUrl}/media/`) && r.request().resourceType() === 'media', { timeout: 20_000 });
      await page.click('.play');
      await page.waitForFunction(() => (globalThis as G).document.querySelector('.audio').currentTime > 0.3, undefined, { timeout: 20_000 });
      await audioResponse;
      await page.waitForFunction(() => (globalThis as G).document.querySelector('.backdrop-img.shown')?.naturalWidth > 0);
      return page;
    };
    const first = await browser.newContext({ viewport: VIEWPORTS.desktop });
    t.after(() => first.close());
    const page = await listen(first);
    for (const [name, vp] of Object.entries(VIEWPORTS)) {
      await page.setViewportSize(vp);
      await page.screenshot({ path: path.join(shots, `up-listener-${name}.png`) });
    }
    // A second listener (own browser cache) plays the same background and songs: hits at the edge.
    const second = await browser.newContext({ viewport: VIEWPORTS.phone });
    t.after(() => second.close());
    await listen(second);

    assert.ok(seen.length >= 4, JSON.stringify(seen));
    for (const s of seen) assert.ok([200, 206].includes(s.status), JSON.stringify(s));
    assert.ok(seen.some((s) => s.xCache === 'HIT'), `no hit among ${JSON.stringify(seen)}`);
    const totals = await zoneTotals(sys);
    // Both listeners follow the station from item to item; a short demo item heard again comes from
    // the browser's own cache, so the edge sees each file at least once, not every response.
    const files = new Set(seen.map((s) => s.url)).size;
    assert.ok(totals.requests - before.requests >= files, `edge counted ${totals.requests - before.requests} for ${files} files`);
    assert.ok(totals.outcomes.hit > before.outcomes.hit);
  });

  it('a seek far into a long song makes the browser send a Range request that the edge answers 206', { timeout: BROWSER_TEST_TIMEOUT_MS }, async (t) => {
    const wav = makeWav(300, { sampleRate: 22050, channels: 1 });
    const up = await fetch(`${sys.originUrl}/api/media?kind=song&title=Long%20Tone&name=long.wav`, { method: 'POST', headers: { ...auth, 'content-type': 'audio/wav' }, body: new Uint8Array(wav) });
    assert.equal(up.status, 201);
    const item = (await up.json()) as { url: string };
    assert.ok(item.url.startsWith(sys.mediaUrl));
    const ctx = await browser.newContext();
    t.after(() => ctx.close());
    const page = await ctx.newPage();
    const seen: Seen[] = [];
    watchMedia(page, sys.edgeUrl, seen);
    await page.goto(`${sys.originUrl}/`);
    await playInPageAndSeek(page, item.url, 280);
    const seeks = seen.filter((s) => s.url === item.url && s.status === 206 && s.range !== undefined && !/^bytes=0-/.test(s.range));
    assert.ok(seeks.length >= 1, `no mid-file range request: ${JSON.stringify(seen)}`);
    assert.ok(seeks.every((s) => s.xCache === 'HIT' || s.xCache === 'MISS'), JSON.stringify(seeks));
  });

  it('the dashboard uploads, plays and deletes a file (purged from the edge), rejects a bad one, and charts the traffic', { timeout: BROWSER_TEST_TIMEOUT_MS }, async (t) => {
    const ctx = await browser.newContext({ viewport: VIEWPORTS.desktop });
    t.after(() => ctx.close());
    const page = await ctx.newPage();
    await page.goto(`${sys.originUrl}/admin`);
    await page.fill('input[name=token]', SYSTEM_TOKEN);
    await page.click('.signin-form button[type=submit]');
    await page.waitForSelector('.app:not([hidden])');
    await page.waitForSelector('.lib-rows tr');

    const wav = makeWav(12, { sampleRate: 44100, channels: 2 });
    await page.setInputFiles('.file-input', { name: 'Upload_Check.wav', mimeType: 'audio/wav', buffer: wav });
    await page.waitForSelector('.queue-item.is-ready');
    await page.evaluate(() => {
      const g = globalThis as G;
      g.progress = [] as string[];
      new g.MutationObserver(() => {
        const v = g.document.querySelector('.queue-item .bar')?.getAttribute('aria-valuenow');
        if (v) g.progress.push(v);
      }).observe(g.document.querySelector('.queue'), { subtree: true, attributes: true, childList: true });
    });
    await page.click('.upload-all');
    await page.waitForSelector('.queue-item.is-done', { timeout: 20_000 });
    const progress = (await page.evaluate(() => (globalThis as G).progress)) as string[];
    assert.equal(progress.at(-1), '100', progress.join(','));
    await page.waitForFunction(() => (globalThis as G).document.querySelector('.lib-rows tr .title')?.textContent === 'Upload Check');
    const row = page.locator('.lib-rows tr').first();
    const id = Number(await row.getAttribute('data-id'));
    await row.locator('[data-action=preview]').click();
    await page.waitForFunction(() => (globalThis as G).document.querySelector('.preview-audio').currentTime > 0.3, undefined, { timeout: 20_000 });
    const src = (await page.getAttribute('.preview-audio', 'src')) as string;
    assert.ok(src.startsWith(sys.mediaUrl), src);
    const cached = await fetch(src);
    await cached.arrayBuffer();
    assert.equal(cached.headers.get('x-cache'), 'HIT', 'the preview filled the edge');

    // A file that is not what it says: refused, with the reason shown.
    const bogus = await readFile(path.join(FIXTURES, 'not-audio.mp3'));
    await page.setInputFiles('.file-input', { name: 'not-audio.mp3', mimeType: 'audio/mpeg', buffer: bogus });
    await page.waitForSelector('.queue-item.is-ready');
    await page.click('.upload-all');
    await page.waitForSelector('.queue-item.is-failed [role=alert]');
    assert.match((await page.textContent('.queue-item.is-failed .queue-status')) ?? '', /content does not match type audio\/mpeg/);

    await row.locator('[data-action=delete]').click();
    await page.waitForSelector('.delete-dialog[open]');
    await page.click('.delete-dialog button[type=submit]');
    await page.waitForFunction((gone: number) => (globalThis as G).document.querySelector(`.lib-rows tr[data-id="${gone}"]`) === null, id);
    // The origin purged the edge: the next request for the deleted file is not served from cache.
    let status = 0;
    for (let i = 0; i < 50 && status !== 404; i++) {
      const r = await fetch(src);
      await r.arrayBuffer();
      status = r.status;
      if (status !== 404) await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(status, 404, 'deleted media is gone from the edge');

    // The charts and tiles show the traffic of this test (figures from the edge's own statistics).
    const totals = await zoneTotals(sys);
    await page.reload();
    await page.waitForSelector('.app:not([hidden])');
    // One minute of traffic draws each series as a single marked point.
    await page.waitForSelector('.chart svg path.line', { state: 'attached' });
    assert.equal(await page.locator('.chart').count(), 4);
    const tiles = Object.fromEntries(
      await page.locator('.tile').evaluateAll((els: G[]) => els.map((e) => [e.querySelector('.tile-label').textContent, e.querySelector('.tile-value').textContent])),
    ) as Record<string, string>;
    assert.ok(Number(tiles['Requests']) >= totals.requests, `tiles ${JSON.stringify(tiles)} vs ${totals.requests}`);
    assert.notEqual(tiles['Hit rate'], '0.0 %');
    for (const [name, vp] of Object.entries(VIEWPORTS)) {
      await page.setViewportSize(vp);
      await page.evaluate(() => new Promise((done) => (globalThis as G).requestAnimationFrame(() => (globalThis as G).requestAnimationFrame(done))));
      await page.screenshot({ path: path.join(shots, `up-dashboard-${name}.png`), fullPage: true });
    }
  });

  it('Ctrl-C stops everything cleanly', async () => {
    assert.equal(await sys.stop(), 0);
    await assert.rejects(fetch(`${sys.originUrl}/healthz`));
    await assert.rejects(fetch(`${sys.edgeUrl}/`));
  });
});
