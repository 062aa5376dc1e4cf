// The dashboard explains itself, in a real browser: records whose file is missing or damaged are
// flagged (from the library check, contents verified on demand), and the edge charts share one time
// axis, with whole-number ticks for counts. (A failed backup verification's reason: browser-web.test.ts.)
import assert from 'node:assert/strict';
import { readFile, truncate, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { EdgeStats } from '../src/edge/stats/counting.ts';
import { BROWSER_SUITE_TIMEOUT_MS, BROWSER_TEST_TIMEOUT_MS } from './helpers/browser.ts';
import { browserForSuite, signIn, startWebOrigin, VIEWPORTS, watchErrors } from './helpers/web.ts';

type G = any;

describe('the dashboard explains itself', { timeout: BROWSER_SUITE_TIMEOUT_MS }, () => {
  const suite = browserForSuite();

  it('records whose file is missing or damaged are flagged; Verify contents finds a changed file', { timeout: BROWSER_TEST_TIMEOUT_MS }, async (t) => {
    const w = await startWebOrigin();
    t.after(() => w.close());
    const gone = await w.add('tone-3s.mp3', { kind: 'song', title: 'Gone Tone', artist: 'Lab' });
    const short = await w.add('tone-3s.ogg', { kind: 'song', title: 'Short Tone' });
    const changed = await w.add('blip-1s.wav', { kind: 'announcement', title: 'Changed Ident' });
    const fine = await w.add('loop.gif', { kind: 'background', title: 'Fine Loop' });

    const ctx = await suite.browser.newContext({ viewport: VIEWPORTS.desktop });
    t.after(() => ctx.close());
    const page = await ctx.newPage();
    const errors = watchErrors(page);
    await signIn(page, w.url);
    await page.waitForSelector('.lib-health.health-ok');
    assert.match(await page.textContent('.lib-health .status') ?? '', /^All 4 files present with their recorded size\.$/);
    assert.equal(await page.textContent('.lib-health .muted'), 'Contents not verified yet.');

    await unlink(path.join(w.tl.mediaDir, gone.fileName));
    await truncate(path.join(w.tl.mediaDir, short.fileName), 100);
    const bytes = await readFile(path.join(w.tl.mediaDir, changed.fileName));
    bytes[bytes.length - 1] ^= 0xff;
    await writeFile(path.join(w.tl.mediaDir, changed.fileName), bytes);

    // The next look (here a reload) checks sizes again: no file is read for that.
    const flagged = async () => page.locator('.lib-rows tr.is-broken').evaluateAll((rows: G[]) => rows.map((r) => [Number(r.dataset.id), r.querySelector('.flag').textContent]));
    await page.reload();
    await page.waitForSelector('.lib-health.health-bad');
    await page.waitForFunction(() => (globalThis as G).document.querySelectorAll('.lib-rows tr.is-broken').length === 2);
    assert.deepEqual((await flagged()).sort(), [[gone.id, 'File missing'], [short.id, 'Damaged: wrong size']].sort());
    assert.equal(await page.textContent('.lib-health .status'), '2 files missing or damaged');
    const items = await page.locator('.health-list li').allTextContents();
    assert.ok(items.includes(`Gone Tone — the file ${gone.fileName} is missing`), items.join(' | '));
    assert.ok(items.includes(`Short Tone — ${short.fileName} is 100 bytes, ${short.byteSize} were stored`), items.join(' | '));
    assert.equal(await page.locator(`.lib-rows tr[data-id="${changed.id}"].is-broken`).count(), 0, 'a changed content is not seen without reading the file');

    await page.click('.verify-contents');
    await page.waitForFunction(() => (globalThis as G).document.querySelectorAll('.lib-rows tr.is-broken').length === 3);
    assert.equal(await page.textContent(`.lib-rows tr[data-id="${changed.id}"] .flag`), 'Damaged: content changed');
    assert.ok((await page.locator('.health-list li').allTextContents()).includes(`Changed Ident — ${changed.fileName} no longer has the content that was stored (SHA-256 differs)`));
    assert.equal(await page.locator(`.lib-rows tr[data-id="${fine.id}"].is-broken`).count(), 0);
    assert.match(await page.textContent('.lib-health .muted') ?? '', /^Contents verified just now\.$/);
    await page.evaluate(() => (globalThis as G).scrollTo(0, 0));
    await page.screenshot({ path: path.join(suite.shots, 'dashboard-library-flags-desktop.png') });
    await page.setViewportSize(VIEWPORTS.phone);
    await page.screenshot({ path: path.join(suite.shots, 'dashboard-library-flags-phone.png') });
    assert.deepEqual(errors, []);
  });

  it('the four charts share one time axis, and the non-2xx chart counts in whole numbers', { timeout: BROWSER_TEST_TIMEOUT_MS }, async (t) => {
    // An hour of traffic with a single origin 503: the count axis must read 0, 1 (not 0.25, 0.5, …).
    let clock = Date.now() - 60 * 60_000;
    const stats = new EdgeStats({ now: () => clock });
    for (let m = 0; m < 60; m++) {
      clock += 60_000;
      stats.record('cdn.localhost', { kind: 'response', status: 200, outcome: m % 3 === 0 ? 'miss' : 'hit', bytes: 1_500_000 + m * 20_000 });
      if (m % 3 === 0) {
        stats.record('cdn.localhost', { kind: 'origin-response', status: m === 30 ? 503 : 200, ms: 5 + (m % 7) });
        stats.record('cdn.localhost', { kind: 'origin-bytes', bytes: 1_500_000 });
      }
    }
    const snapshot = stats.snapshot(clock);
    const w = await startWebOrigin({ edgeStats: () => snapshot, backups: () => [] });
    t.after(() => w.close());
    for (const [name, vp] of Object.entries(VIEWPORTS)) {
      const ctx = await suite.browser.newContext({ viewport: vp });
      const page = await ctx.newPage();
      const errors = watchErrors(page);
      await signIn(page, w.url);
      await page.waitForSelector('[data-chart=origin-non2xx] svg path.line', { state: 'attached' });
      await page.evaluate(() => new Promise((done) => (globalThis as G).requestAnimationFrame(() => (globalThis as G).requestAnimationFrame(done))));
      const axes = (await page.locator('.chart').evaluateAll((charts: G[]) => charts.map((c) => ({
        chart: c.dataset.chart,
        x: [...c.querySelectorAll('text.x-tick')].map((e: G) => [e.textContent, Math.round(e.getBoundingClientRect().left - c.querySelector('svg').getBoundingClientRect().left)]),
        y: [...c.querySelectorAll('text.y-tick')].map((e: G) => e.textContent),
        plotLeft: Number(c.querySelector('.grid line').getAttribute('x1')),
      })))) as Array<{ chart: string; x: Array<[string, number]>; y: string[]; plotLeft: number }>;
      assert.equal(axes.length, 4);
      assert.ok(axes[0].x.length >= 2, JSON.stringify(axes[0].x));
      for (const a of axes) {
        assert.deepEqual(a.x, axes[0].x, `${name}: ${a.chart}'s time axis differs from ${axes[0].chart}'s`);
        assert.equal(a.plotLeft, axes[0].plotLeft, `${name}: ${a.chart} starts its plot elsewhere`);
        // Labels on round clock minutes.
        for (const [label] of a.x) assert.match(label, /^\d\d:(00|05|10|15|20|25|30|35|40|45|50|55)$/);
      }
      const counts = axes.find((a) => a.chart === 'origin-non2xx')!;
      assert.deepEqual(counts.y, ['0', '1']);
      assert.equal(await page.textContent('.tile-bad .tile-value'), '1');
      await page.screenshot({ path: path.join(suite.shots, `dashboard-charts-${name}.png`), fullPage: true });
      assert.deepEqual(errors, []);
      await ctx.close();
    }
  });
});
