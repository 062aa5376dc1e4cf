// The dashboard (and the empty listener page) in a real browser (Debian's chromium through
// playwright-core), served by a real origin: a file is uploaded with progress, plays, is edited and
// deleted, a rejected file shows the server's reason, the edge charts and the backups list render, and
// empty libraries read as such. The listener page's broadcast is in browser-listener.test.ts.
// Screenshots at phone and desktop widths go to $SCREENSHOT_DIR (or a fresh folder under the temp dir).
//
// Page code is written as functions over `globalThis` (the tests are type-checked without the DOM
// library), and never as strings: the pages' content security policy forbids eval.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { EdgeStats } from '../src/edge/stats/counting.ts';
import { BROWSER_SUITE_TIMEOUT_MS, BROWSER_TEST_TIMEOUT_MS } from './helpers/browser.ts';
import { FIXTURES } from './helpers/library.ts';
import { makeWav } from './helpers/origin.ts';
import { browserForSuite, signIn, startWebOrigin, VIEWPORTS, WEB_TOKEN, watchErrors } from './helpers/web.ts';

type G = any;

describe('listener page and dashboard in a browser', { timeout: BROWSER_SUITE_TIMEOUT_MS }, () => {
  const suite = browserForSuite();

  it('the dashboard uploads with progress, plays, edits and deletes a file, and shows why a file was refused', { timeout: BROWSER_TEST_TIMEOUT_MS }, async (t) => {
    const w = await startWebOrigin();
    t.after(() => w.close());
    await w.add('blip-1s.wav', { kind: 'announcement', title: 'Station ident' });
    const ctx = await suite.browser.newContext({ viewport: VIEWPORTS.desktop });
    t.after(() => ctx.close());
    const page = await ctx.newPage();
    const errors = watchErrors(page);

    // A wrong token is refused with a message; the right one opens the dashboard.
    await page.goto(`${w.url}/admin`);
    await page.fill('input[name=token]', 'not-the-token-0123456789');
    await page.click('.signin-form button[type=submit]');
    await page.waitForSelector('.signin .form-error:not([hidden])');
    assert.equal(await page.textContent('.signin .form-error'), 'That token was not accepted.');
    await signIn(page, w.url);
    await page.waitForSelector('.lib-rows tr');
    assert.equal(await page.textContent('.lib-rows tr .title'), 'Station ident');

    // Upload through the picker: a 4 MB WAV, so the request body takes more than one progress event.
    const wav = makeWav(24, { sampleRate: 44100, channels: 2 });
    await page.setInputFiles('.file-input', { name: 'Long_Tone.wav', mimeType: 'audio/wav', buffer: wav });
    await page.waitForSelector('.queue-item.is-ready');
    assert.equal(await page.inputValue('.queue-item input[name=title]'), 'Long Tone');
    assert.equal(await page.inputValue('.queue-item select[name=kind]'), 'song');
    await page.fill('.queue-item input[name=artist]', 'Lab Bench');
    // Record what the progress bar and the status line show while the upload runs.
    await page.evaluate(() => {
      const g = globalThis as G;
      g.seen = { values: [] as string[], states: [] as string[], texts: [] as string[] };
      new g.MutationObserver(() => {
        const item = g.document.querySelector('.queue-item');
        const bar = item?.querySelector('.bar');
        if (bar) g.seen.values.push(bar.getAttribute('aria-valuenow'));
        g.seen.states.push(item?.className);
        g.seen.texts.push(item?.querySelector('.queue-status')?.textContent);
      }).observe(g.document.querySelector('.queue'), { subtree: true, childList: true, attributes: true, characterData: true });
    });
    await page.click('.upload-all');
    await page.waitForSelector('.queue-item.is-done', { timeout: 20_000 });
    const seen = (await page.evaluate(() => (globalThis as G).seen)) as { values: string[]; states: string[]; texts: string[] };
    assert.ok(seen.states.includes('queue-item is-uploading'), seen.states.join(' | '));
    assert.ok(seen.texts.some((x) => /^Uploading… \d+ %/.test(x ?? '')), seen.texts.join(' | '));
    assert.equal(seen.values.at(-1), '100');
    assert.equal(await page.textContent('.queue-item .queue-status'), 'Added to the library.');

    // It appears in the list, first (newest), with its details, and plays in the preview bar.
    await page.waitForFunction(() => (globalThis as G).document.querySelector('.lib-rows tr .title')?.textContent === 'Long Tone');
    const row = page.locator('.lib-rows tr').first();
    assert.equal(await row.locator('.sub').textContent(), 'Lab Bench');
    assert.equal(await row.locator('.badge').textContent(), 'Song');
    assert.equal(await row.locator('td.num').first().textContent(), '0:24');
    const id = Number(await row.getAttribute('data-id'));
    await row.locator('[data-action=preview]').click();
    await page.waitForFunction(() => (globalThis as G).document.querySelector('.preview-audio').currentTime > 0.3, undefined, { timeout: 20_000 });
    assert.equal(await page.textContent('.preview-label strong'), 'Long Tone');
    assert.match(await page.getAttribute('.preview-audio', 'src') ?? '', new RegExp(`^${w.library.mediaUrl}[a-z]{20}\\.wav$`));

    // Edit in the dialog.
    await row.locator('[data-action=edit]').click();
    await page.waitForSelector('.edit-dialog[open]');
    await page.fill('.edit-form input[name=title]', 'Renamed Tone');
    await page.fill('.edit-form input[name=album]', 'Bench Tests');
    await page.click('.edit-form button[type=submit]');
    await page.waitForSelector('.edit-dialog', { state: 'hidden' });
    await page.waitForFunction(() => (globalThis as G).document.querySelector('.lib-rows tr .title')?.textContent === 'Renamed Tone');
    const viaApi = (await (await fetch(`${w.url}/api/media/${id}`, { headers: { authorization: `Bearer ${WEB_TOKEN}` } })).json()) as { title: string; artist: string; album: string };
    assert.deepEqual([viaApi.title, viaApi.artist, viaApi.album], ['Renamed Tone', 'Lab Bench', 'Bench Tests']);

    // A file that is not what it says, dropped on the zone: refused, with the server's reason.
    const bogus = [...(await readFile(path.join(FIXTURES, 'not-audio.mp3')))];
    const direct = await fetch(`${w.url}/api/media?kind=song&title=x&name=not-audio.mp3`, { method: 'POST', headers: { authorization: `Bearer ${WEB_TOKEN}`, 'content-type': 'audio/mpeg' }, body: new Uint8Array(bogus) });
    const refusal = (await direct.json()) as { code: string; message: string };
    assert.ok(direct.status >= 400 && direct.status < 500, `${direct.status} ${JSON.stringify(refusal)}`);
    await page.evaluate((bytes: number[]) => {
      const g = globalThis as G;
      const dt = new g.DataTransfer();
      dt.items.add(new g.File([new g.Uint8Array(bytes)], 'not-audio.mp3', { type: 'audio/mpeg' }));
      g.document.querySelector('.dropzone').dispatchEvent(new g.DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, bogus);
    await page.waitForSelector('.queue-item.is-ready');
    await page.click('.upload-all');
    await page.waitForSelector('.queue-item.is-failed [role=alert]');
    const shown = (await page.textContent('.queue-item.is-failed .queue-status')) as string;
    assert.ok(shown.includes(refusal.message), `shown: ${shown}; API: ${refusal.message}`);
    assert.equal(await page.locator('.lib-rows tr').count(), 2, 'the refused file is not in the list');

    // Delete, after confirming.
    await row.locator('[data-action=delete]').click();
    await page.waitForSelector('.delete-dialog[open]');
    assert.match(await page.textContent('.delete-text') ?? '', /^“Renamed Tone” \(song, /);
    await page.click('.delete-dialog button[type=submit]');
    await page.waitForFunction((gone: number) => (globalThis as G).document.querySelector(`.lib-rows tr[data-id="${gone}"]`) === null, id);
    assert.equal(await page.locator('.lib-rows tr').count(), 1);
    assert.equal(await page.isHidden('.preview-bar'), true, 'the preview of a deleted file stops');
    const after = await fetch(`${w.url}/api/media/${id}`, { headers: { authorization: `Bearer ${WEB_TOKEN}` } });
    assert.equal(after.status, 404);

    // Search and the kind filter narrow the list; no match is an empty state.
    await page.fill('.lib-q', 'nothing like this');
    await page.waitForSelector('.lib-empty:not([hidden])');
    assert.equal(await page.textContent('.lib-empty .empty-title'), 'Nothing matches');
    await page.fill('.lib-q', '');
    await page.selectOption('.lib-kind', 'announcement');
    await page.waitForSelector('.lib-rows tr');
    assert.equal(await page.textContent('.lib-rows tr .title'), 'Station ident');
    assert.deepEqual(errors, []);
  });

  it('the dashboard draws the edge statistics and lists backups; screenshots', { timeout: BROWSER_TEST_TIMEOUT_MS }, async (t) => {
    // Real EdgeStats figures: 50 minutes of traffic with misses, hits and a few origin 503s.
    let clock = Date.now() - 50 * 60_000;
    const stats = new EdgeStats({ now: () => clock });
    for (let m = 0; m < 50; m++) {
      clock += 60_000;
      for (let i = 0; i < 6 + (m % 5) * 3; i++) {
        const miss = i % 4 === 0;
        stats.record('cdn.localhost', { kind: 'response', status: 200, outcome: miss ? 'miss' : 'hit', bytes: 200_000 + m * 3000 });
        if (miss) {
          stats.record('cdn.localhost', { kind: 'origin-response', status: m % 13 === 0 ? 503 : 200, ms: 4 + (i % 5) * 3 + (m % 4) });
          stats.record('cdn.localhost', { kind: 'origin-bytes', bytes: 200_000 });
        }
      }
    }
    const snapshot = stats.snapshot(clock);
    const day = 86_400_000;
    const w = await startWebOrigin({
      edgeStats: () => snapshot,
      backups: () => [
        { id: '20250102T030000Z', createdAt: new Date(Date.now() - day / 2).toISOString(), sizeBytes: 52_400_000, files: 41, rows: 122, lastVerified: { at: new Date(Date.now() - 3_600_000).toISOString(), ok: true } },
        { id: '20250101T030000Z', createdAt: new Date(Date.now() - day * 1.5).toISOString(), sizeBytes: 51_100_000, files: 40, rows: 118, lastVerified: { at: new Date(Date.now() - day).toISOString(), ok: false, message: 'media file changed' } },
        { id: '20241231T030000Z', createdAt: new Date(Date.now() - day * 2.5).toISOString(), sizeBytes: 50_300_000, files: 40, rows: 117, lastVerified: null },
      ],
    });
    t.after(() => w.close());
    await w.add('tone-3s.mp3', { kind: 'song', title: 'Morning Tone', artist: 'The Test Signals', album: 'Calibration' });
    await w.add('tone-3s.ogg', { kind: 'song', title: 'Evening Tone', artist: 'The Test Signals' });
    await w.add('blip-1s.wav', { kind: 'announcement', title: 'Station ident' });
    await w.add('loop.gif', { kind: 'background', title: 'Pixel loop' });
    await w.add('loop.png', { kind: 'background', title: 'Sunset still' });

    for (const [name, vp] of Object.entries(VIEWPORTS)) {
      const ctx = await suite.browser.newContext({ viewport: vp });
      const page = await ctx.newPage();
      const errors = watchErrors(page);
      await signIn(page, w.url);
      await page.waitForSelector('.chart svg path.line');
      await page.waitForSelector('.backups-table tbody tr');
      await page.waitForSelector('.lib-rows tr');
      assert.equal(await page.locator('.chart').count(), 4);
      assert.deepEqual(await page.locator('.chart-title').allTextContents(), ['Cache hit rate', 'Bandwidth', 'Origin response time', 'Origin non-2xx and errors']);
      for (const chart of ['hit-rate', 'bandwidth', 'origin-time', 'origin-non2xx']) {
        assert.ok((await page.locator(`[data-chart=${chart}] path.line`).count()) >= 1, chart);
      }
      const tiles = Object.fromEntries(
        await page.locator('.tile').evaluateAll((els: G[]) => els.map((e) => [e.querySelector('.tile-label').textContent, e.querySelector('.tile-value').textContent])),
      ) as Record<string, string>;
      const totals = snapshot.zones['cdn.localhost'].totals;
      assert.equal(tiles['Requests'], String(totals.requests));
      assert.equal(tiles['Hit rate'], `${((totals.hitRate as number) * 100).toFixed(1)} %`);
      assert.equal(tiles['Origin non-2xx'], String(Object.values(totals.originNon2xx).reduce((a, b) => a + b, 0)));
      assert.match(await page.textContent('.zone-name') ?? '', /^Zone cdn\.localhost · last 1 h/);
      const verified = await page.locator('.backups-table tbody tr').evaluateAll((rows: G[]) => rows.map((r) => r.lastElementChild.querySelector('.status, .badge').textContent));
      assert.deepEqual(verified.map((v: string) => v.replace(/ \d+ \w+ ago$/, '')), ['Verified', 'Failed', 'Not verified']);
      // A failed verification says why, on the page.
      assert.equal(await page.textContent('.backups-table tr[data-id="20250101T030000Z"] .verify-reason'), 'media file changed');
      assert.equal(await page.isVisible('.backups-table tr[data-id="20250101T030000Z"] .verify-reason'), true);

      // The 24 h view keeps the same figures (all the traffic is in the last hour).
      await page.click('.segmented button[data-range="1440"]');
      assert.match(await page.textContent('.zone-name') ?? '', /last 24 h/);
      await page.click('.segmented button[data-range="60"]');
      await page.evaluate(() => (globalThis as G).scrollTo(0, 0)); // the sticky bar belongs at the top of the picture
      // Two frames: the charts' resize observer has redrawn them at their final width.
      await page.evaluate(() => new Promise((done) => (globalThis as G).requestAnimationFrame(() => (globalThis as G).requestAnimationFrame(done))));
      await page.screenshot({ path: path.join(suite.shots, `dashboard-${name}.png`), fullPage: true });
      assert.deepEqual(errors, []);
      await ctx.close();
    }
  });

  it('empty library and missing endpoints read as empty states, not errors', { timeout: BROWSER_TEST_TIMEOUT_MS }, async (t) => {
    const w = await startWebOrigin(); // the origin alone: no /api/edge-stats, no /api/backups
    t.after(() => w.close());
    const ctx = await suite.browser.newContext({ viewport: VIEWPORTS.phone });
    t.after(() => ctx.close());
    const page = await ctx.newPage();
    const errors = watchErrors(page);
    await page.goto(`${w.url}/`);
    await page.waitForFunction(() => (globalThis as G).document.querySelector('.track-title').textContent === 'Nothing on air yet');
    assert.equal(await page.getAttribute('.track-artist a', 'href'), '/admin');
    assert.equal(await page.isDisabled('.play'), true);
    await page.screenshot({ path: path.join(suite.shots, 'listener-empty-phone.png') });

    await signIn(page, w.url);
    await page.waitForSelector('.lib-empty:not([hidden]) .empty-title');
    assert.equal(await page.textContent('.lib-empty .empty-title'), 'The library is empty');
    await page.waitForSelector('#stats .empty-title');
    assert.equal(await page.textContent('#stats .empty-title'), 'Edge statistics are not available');
    await page.waitForSelector('#backups .empty-title');
    assert.equal(await page.textContent('#backups .empty-title'), 'Backups are not available here');
    await page.screenshot({ path: path.join(suite.shots, 'dashboard-empty-phone.png'), fullPage: true });

    // Signing out forgets the token.
    await page.click('.signout');
    await page.waitForSelector('.signin:not([hidden])');
    await page.reload();
    await page.waitForSelector('.signin:not([hidden])');
    assert.deepEqual(errors, []);
  });
});
