// The listener page in a real browser, as a broadcast: two listeners who open it seconds apart hear
// the same item at the same position (the second joins with a Range request into the file), skipping
// leaves the broadcast for this listener only and "Back to live" returns to it, an item that cannot
// be played is reported and the next one plays, and touch screens get no keyboard hints.
//
// The server's clock is injected (an hour behind the browser's, so the page must correct for skew, and
// moved forward instead of sleeping). Tests wait on the pages' state, never on event timing.
// Page code is written as functions over `globalThis` (the tests are type-checked without the DOM
// library), never as strings: the page's content security policy forbids eval.
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ingest } from '../src/media/ingest.ts';
import type { MediaItem, Metadata } from '../src/media/library.ts';
import type { NowPlaying } from '../src/web/client/station-types.ts';
import { BROWSER_SUITE_TIMEOUT_MS, BROWSER_TEST_TIMEOUT_MS } from './helpers/browser.ts';
import { makeWav } from './helpers/origin.ts';
import { browserForSuite, startWebOrigin, VIEWPORTS, watchErrors } from './helpers/web.ts';

type G = any;
const SKEW_MS = -3_600_000;

type Media = { url: string; range: string | undefined; status: number; contentRange: string | undefined };

/** A web origin whose station clock is the browser's minus an hour, plus what the test moves it by. */
async function stationOrigin(t: { after(fn: () => Promise<void>): void }) {
  const clock = { shift: SKEW_MS };
  const w = await startWebOrigin({ now: () => Date.now() + clock.shift });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-listener-'));
  t.after(async () => {
    await w.close();
    await rm(dir, { recursive: true, force: true });
  });
  const addFile = async (name: string, bytes: Buffer, metadata: Metadata): Promise<MediaItem> => {
    const file = path.join(dir, name);
    await writeFile(file, bytes);
    return ingest(w.library, { source: createReadStream(file), originalName: name, metadata });
  };
  const now = async (): Promise<NowPlaying> => (await (await fetch(`${w.url}/api/now?upcoming=40`)).json()) as NowPlaying;
  return { w, clock, addFile, now, serverNow: () => Date.now() + clock.shift };
}

function watchMedia(page: Page): Media[] {
  const seen: Media[] = [];
  page.on('request', (r) => {
    if (r.url().includes('/media/') && r.resourceType() === 'media') seen.push({ url: r.url(), range: r.headers()['range'], status: 0, contentRange: undefined });
  });
  page.on('response', (r) => {
    const m = [...seen].reverse().find((s) => s.url === r.url() && s.status === 0 && r.request().resourceType() === 'media');
    if (m) {
      m.status = r.status();
      m.contentRange = r.headers()['content-range'];
    }
  });
  return seen;
}

/** The page's state at one instant: where its audio is, on the browser's clock. */
function sample(page: Page) {
  return page.evaluate(() => {
    const g = globalThis as G;
    const a = g.document.querySelector('.audio');
    return {
      at: g.performance.timeOrigin + g.performance.now(),
      pos: a.currentTime as number,
      paused: a.paused as boolean,
      src: a.currentSrc as string,
      seq: g.document.querySelector('.deck').dataset.seq as string,
      title: g.document.querySelector('.track-title').textContent as string,
      mode: g.document.body.dataset.mode as string,
      state: g.document.querySelector('.on-air').dataset.state as string,
    };
  });
}

/** Waits until the page plays (not paused, position moving) the item `seq` in the given mode. */
async function playing(page: Page, seq: number, mode: 'live' | 'local', minPos = 0.3): Promise<void> {
  await page.waitForFunction(
    ([s, m, p]: [string, string, number]) => {
      const g = globalThis as G;
      const a = g.document.querySelector('.audio');
      return g.document.querySelector('.deck').dataset.seq === s && g.document.body.dataset.mode === m && !a.paused && !a.seeking && a.readyState >= 3 && a.currentTime > p;
    },
    [String(seq), mode, minPos] as [string, string, number],
  );
}

async function openListener(browser: Browser, url: string, opts: Parameters<Browser['newContext']>[0] = { viewport: VIEWPORTS.desktop }): Promise<{ ctx: BrowserContext; page: Page; media: Media[]; errors: string[] }> {
  const ctx = await browser.newContext(opts);
  const page = await ctx.newPage();
  const media = watchMedia(page);
  const errors = watchErrors(page);
  await page.goto(`${url}/`);
  await page.waitForSelector('.play:not([disabled])');
  return { ctx, page, media, errors };
}

/** Two pages' positions at the same instant (each sample moved along at playback speed). */
async function positionsTogether(a: Page, b: Page): Promise<[number, number, Awaited<ReturnType<typeof sample>>, Awaited<ReturnType<typeof sample>>]> {
  const sa = await sample(a);
  const sb = await sample(b);
  const at = Math.max(sa.at, sb.at);
  return [sa.pos + (at - sa.at) / 1000, sb.pos + (at - sb.at) / 1000, sa, sb];
}

describe('the listener page is a broadcast', { timeout: BROWSER_SUITE_TIMEOUT_MS }, () => {
  const suite = browserForSuite();

  it('two listeners opened seconds apart play the same item within 1 s of each other and of the station; the second joins with a Range request', { timeout: BROWSER_TEST_TIMEOUT_MS }, async (t) => {
    const s = await stationOrigin(t);
    // Two-minute songs of ~5 MB: joining 40 s in is a seek far past what a first read brings in.
    const wav = makeWav(120, { sampleRate: 22050, channels: 1 });
    await s.addFile('Morning_Tone.wav', wav, { kind: 'song', title: 'Morning Tone', artist: 'The Test Signals', album: 'Calibration' });
    await s.addFile('Evening_Tone.wav', wav, { kind: 'song', title: 'Evening Tone', artist: 'The Test Signals' });
    await s.w.add('blip-1s.wav', { kind: 'announcement', title: 'Station ident' });
    const bg = await s.w.add('loop.gif', { kind: 'background', title: 'Pixel loop' });

    // The station went on the air 40 s ago (by its clock, not by waiting).
    const first = await s.now();
    s.clock.shift += 40_000;
    const onAir = first.current!;
    assert.equal(onAir.kind, 'song');

    const one = await openListener(suite.browser, s.w.url);
    t.after(() => one.ctx.close());
    assert.equal(await one.page.textContent('.track-title'), onAir.title);
    assert.equal(await one.page.getAttribute('.on-air', 'data-state'), 'ready');
    assert.match(await one.page.textContent('.up-next') ?? '', /^Up next at [\d:]+( [AP]M)?: (Morning|Evening) Tone — The Test Signals$/);
    // Nothing is downloaded before the listener presses play.
    assert.deepEqual(one.media, []);
    await one.page.click('.play');
    await playing(one.page, onAir.seq, 'live', 40);
    assert.equal(await one.page.getAttribute('.on-air', 'data-state'), 'live');
    assert.equal(await one.page.textContent('.on-air-label'), 'On air');
    await one.page.waitForFunction(() => (globalThis as G).document.querySelector('.backdrop-img.shown')?.naturalWidth > 0);
    assert.equal(await one.page.getAttribute('.backdrop-img.shown', 'src'), bg.url);

    // The second listener arrives once the first has played on for a while.
    await one.page.waitForFunction(() => (globalThis as G).document.querySelector('.audio').currentTime > 41.5);
    const two = await openListener(suite.browser, s.w.url, { viewport: VIEWPORTS.phone, hasTouch: true, isMobile: true });
    t.after(() => two.ctx.close());
    await two.page.click('.play');
    await playing(two.page, onAir.seq, 'live', 41.5);

    const [p1, p2, s1, s2] = await positionsTogether(one.page, two.page);
    assert.equal(s1.seq, s2.seq);
    assert.equal(s1.title, s2.title);
    assert.equal(s1.src, onAir.url);
    assert.equal(s2.src, onAir.url);
    assert.ok(Math.abs(p1 - p2) < 1, `positions ${p1.toFixed(2)} s and ${p2.toFixed(2)} s`);
    const station = (s.serverNow() - onAir.startsAt) / 1000;
    const [q1] = await positionsTogether(one.page, two.page);
    assert.ok(Math.abs(q1 - station) < 1, `page at ${q1.toFixed(2)} s, station at ${station.toFixed(2)} s`);

    // The second page's media requests are ranges, and one starts well into the file: a seek.
    assert.ok(two.media.length >= 1 && two.media[0].url === onAir.url, JSON.stringify(two.media));
    assert.match(two.media[0].range ?? '', /^bytes=\d+-/, `first media request: ${JSON.stringify(two.media[0])}`);
    const byteRate = 22050 * 2;
    const seek = two.media.find((m) => Number(/^bytes=(\d+)-/.exec(m.range ?? '')?.[1]) >= byteRate * 30);
    assert.ok(seek, `no Range request from 30 s into the file on: ${JSON.stringify(two.media)}`);
    assert.equal(seek.status, 206);
    assert.match(seek.contentRange ?? '', new RegExp(`^bytes \\d+-\\d+/${wav.length}$`));

    await one.page.screenshot({ path: path.join(suite.shots, 'listener-live-desktop.png') });
    await two.page.screenshot({ path: path.join(suite.shots, 'listener-live-phone.png') });
    assert.deepEqual([...one.errors, ...two.errors], []);
  });

  it('skipping plays the next one for this listener only; the page says it is not live, and Back to live rejoins the station', { timeout: BROWSER_TEST_TIMEOUT_MS }, async (t) => {
    const s = await stationOrigin(t);
    // Two-minute songs: the test's steps fit in the item on the air even on a slow machine.
    const wav = makeWav(120, { sampleRate: 8000, channels: 1 });
    await s.addFile('First.wav', wav, { kind: 'song', title: 'First Tone', artist: 'Lab' });
    await s.addFile('Second.wav', wav, { kind: 'song', title: 'Second Tone', artist: 'Lab' });
    await s.addFile('Third.wav', wav, { kind: 'song', title: 'Third Tone', artist: 'Lab' });
    const start = await s.now();
    s.clock.shift += 4000;
    const live = start.current!;
    const next = start.upcoming[0];

    const a = await openListener(suite.browser, s.w.url);
    t.after(() => a.ctx.close());
    const b = await openListener(suite.browser, s.w.url);
    t.after(() => b.ctx.close());
    await a.page.click('.play');
    await b.page.click('.play');
    await playing(a.page, live.seq, 'live', 4);
    await playing(b.page, live.seq, 'live', 4);
    assert.equal(await b.page.isHidden('.golive'), true);

    // N (or the skip button) on page b: the next item from its start, not live; the station and page a go on.
    await b.page.evaluate(() => (globalThis as G).document.activeElement?.blur());
    const skippedAt = Date.now();
    await b.page.keyboard.press('n');
    await playing(b.page, next.seq, 'local', 0.2);
    assert.equal(await b.page.textContent('.track-title'), next.title);
    const fromStart = await sample(b.page);
    assert.ok(fromStart.pos <= (fromStart.at - skippedAt) / 1000 + 0.5, `the skipped-to item plays from its start: at ${fromStart.pos.toFixed(2)} s`);
    assert.equal(await b.page.getAttribute('.on-air', 'data-state'), 'local');
    assert.equal(await b.page.textContent('.on-air-label'), 'Not live');
    assert.equal(await b.page.isVisible('.golive'), true);
    assert.match(await b.page.textContent('.up-next') ?? '', /^Next: /);
    const after = await s.now();
    assert.equal(after.current!.seq, live.seq, 'a skip changed the station');
    const sa = await sample(a.page);
    assert.equal(sa.seq, String(live.seq));
    assert.equal(sa.mode, 'live');
    await b.page.screenshot({ path: path.join(suite.shots, 'listener-not-live-desktop.png') });

    // Space pauses and resumes locally; Back to live joins the station where it is.
    await b.page.keyboard.press(' ');
    await b.page.waitForFunction(() => (globalThis as G).document.querySelector('.on-air').dataset.state === 'paused');
    assert.equal(await b.page.textContent('.on-air-label'), 'Paused · not live');
    await b.page.click('.golive');
    await playing(b.page, live.seq, 'live', 4);
    assert.equal(await b.page.isHidden('.golive'), true);
    const [pa, pb] = await positionsTogether(a.page, b.page);
    assert.ok(Math.abs(pa - pb) < 1, `after Back to live: ${pa.toFixed(2)} s and ${pb.toFixed(2)} s`);

    // Pausing live and resuming rejoins the station where it is by then, as page a plays on.
    await b.page.keyboard.press(' ');
    await b.page.waitForFunction(() => (globalThis as G).document.querySelector('.on-air').dataset.state === 'ready');
    const pausedAt = (await sample(b.page)).pos;
    await a.page.waitForFunction((p: number) => (globalThis as G).document.querySelector('.audio').currentTime > p + 2.5, pausedAt);
    await b.page.keyboard.press(' ');
    await playing(b.page, live.seq, 'live', pausedAt + 2);
    const [qa, qb] = await positionsTogether(a.page, b.page);
    assert.ok(Math.abs(qa - qb) < 1, `after resuming: ${qa.toFixed(2)} s and ${qb.toFixed(2)} s (paused at ${pausedAt.toFixed(2)} s)`);
    assert.deepEqual([...a.errors, ...b.errors], []);
  });

  it('an item that cannot be played (file gone: 404; damaged: cannot be decoded) is reported and the next one plays', { timeout: BROWSER_TEST_TIMEOUT_MS }, async (t) => {
    const s = await stationOrigin(t);
    // A minute each: the broken item is still on the air when a slow machine has opened the page.
    const wav = makeWav(60, { sampleRate: 8000, channels: 1 });
    const gone = await s.addFile('Gone.wav', wav, { kind: 'song', title: 'Gone Tone' });
    const damaged = await s.addFile('Damaged.wav', wav, { kind: 'song', title: 'Damaged Tone' });
    await s.addFile('Good.wav', wav, { kind: 'song', title: 'Good Tone' });
    // Before anything asked for them: one file removed, one overwritten with zeros (same size).
    await unlink(path.join(s.w.tl.mediaDir, gone.fileName));
    await writeFile(path.join(s.w.tl.mediaDir, damaged.fileName), Buffer.alloc(wav.length));

    // Move the station's clock to where the two broken items play back to back.
    const plan = await s.now();
    const order = [plan.current!, ...plan.upcoming];
    const i = order.findIndex((x, k) => k + 1 < order.length && [gone.id, damaged.id].includes(x.id) && [gone.id, damaged.id].includes(order[k + 1].id));
    assert.ok(i >= 0, `no two broken items in a row in ${order.map((x) => x.title).join(', ')}`);
    s.clock.shift += order[i].startsAt + 1000 - s.serverNow();
    const good = order.slice(i + 2).find((x) => x.title === 'Good Tone')!;

    const p = await openListener(suite.browser, s.w.url);
    t.after(() => p.ctx.close());
    assert.equal(await p.page.textContent('.track-title'), order[i].title);
    await p.page.evaluate(() => {
      const g = globalThis as G;
      g.notices = [] as string[];
      new g.MutationObserver(() => {
        const n = g.document.querySelector('.notice');
        if (!n.hidden && g.notices.at(-1) !== n.textContent) g.notices.push(n.textContent);
      }).observe(g.document.querySelector('.notice'), { childList: true, characterData: true, subtree: true, attributes: true });
    });
    await p.page.click('.play');
    await playing(p.page, good.seq, 'local', 0.3);
    const notices = (await p.page.evaluate(() => (globalThis as G).notices)) as string[];
    const byTitle = (title: string) => notices.find((n) => n.startsWith(`“${title}” could not be played`));
    assert.match(byTitle('Gone Tone') ?? '', /the file is no longer on the server \(HTTP 404\)\. Playing the next one\.$/, notices.join(' | '));
    assert.match(byTitle('Damaged Tone') ?? '', /the browser could not decode the file\. Playing the next one\.$/, notices.join(' | '));
    assert.equal(await p.page.isVisible('.notice'), true, 'the last failure stays on screen while the next item plays');
    assert.equal(await p.page.isVisible('.golive'), true);
    await p.page.screenshot({ path: path.join(suite.shots, 'listener-item-failed-desktop.png') });
  });

  it('when nothing on the station can be played the page says Off air, and keeps saying it', { timeout: BROWSER_TEST_TIMEOUT_MS }, async (t) => {
    const s = await stationOrigin(t);
    const wav = makeWav(60, { sampleRate: 8000, channels: 1 });
    const gone = await s.addFile('Gone.wav', wav, { kind: 'song', title: 'Gone Tone' });
    await unlink(path.join(s.w.tl.mediaDir, gone.fileName));
    const p = await openListener(suite.browser, s.w.url);
    t.after(() => p.ctx.close());
    await p.page.click('.play');
    await p.page.waitForFunction(() => (globalThis as G).document.querySelector('.on-air').dataset.state === 'error', undefined, { timeout: 20_000 });
    assert.equal(await p.page.textContent('.on-air-label'), 'Off air');
    assert.match((await p.page.textContent('.notice')) ?? '', /Nothing else on this station could be played either/);
    // Whatever renders the page again (a pause event) leaves it off the air.
    await p.page.evaluate(() => (globalThis as G).document.querySelector('audio').dispatchEvent(new Event('pause')));
    assert.equal(await p.page.textContent('.on-air-label'), 'Off air');
    assert.equal(await p.page.getAttribute('.on-air', 'data-state'), 'error');
  });

  it('keyboard hints show with a mouse and keyboard, not on a touch screen', { timeout: BROWSER_TEST_TIMEOUT_MS }, async (t) => {
    const s = await stationOrigin(t);
    await s.w.add('tone-3s.mp3', { kind: 'song', title: 'Tone' });
    const desk = await openListener(suite.browser, s.w.url);
    t.after(() => desk.ctx.close());
    assert.equal(await desk.page.isVisible('.keys-hint'), true);
    const touch = await openListener(suite.browser, s.w.url, { viewport: VIEWPORTS.phone, hasTouch: true, isMobile: true });
    t.after(() => touch.ctx.close());
    assert.equal(await touch.page.isHidden('.keys-hint'), true);
    await touch.page.screenshot({ path: path.join(suite.shots, 'listener-touch-phone.png') });
  });
});

