// The dashboard's fleet table in a real browser: one row per edge from /api/edge-stats `edges`, an
// edge that did not answer, and the fleet total.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { EdgeStats } from '../src/edge/stats/counting.ts';
import type { FleetStats } from '../src/cli/fleet-stats.ts';
import { launchBrowser } from './helpers/browser.ts';
import { screenshotDir, startWebOrigin, VIEWPORTS, WEB_TOKEN } from './helpers/web.ts';

test('the dashboard lists each fleet edge and the fleet total under the edge statistics', async (t) => {
  const stats = new EdgeStats({ now: () => Date.now() });
  for (let i = 0; i < 8; i++) stats.record('cdn.localhost', { kind: 'response', status: 200, outcome: i < 6 ? 'hit' : 'miss', bytes: 1000 });
  const row = { url: 'http://x', bytesFromOrigin: 0, originErrors: 0, responses5xx: 0 };
  const body: FleetStats = {
    ...stats.snapshot(),
    edges: [
      { ...row, name: 'fra', ok: true, requests: 6, hitRate: 5 / 6, bytesToClients: 6000 },
      { ...row, name: 'nyc', ok: true, requests: 2, hitRate: 0.5, bytesToClients: 2000, responses5xx: 1 },
      { ...row, name: 'sfo', ok: false, error: 'unreachable: connect ECONNREFUSED', requests: 0, hitRate: null, bytesToClients: 0 },
    ],
  };
  const w = await startWebOrigin({ edgeStats: () => body });
  t.after(() => w.close());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await (await browser.newContext({ viewport: VIEWPORTS.desktop })).newPage();
  await page.goto(`${w.url}/admin`);
  await page.fill('input[name=token]', WEB_TOKEN);
  await page.click('.signin-form button[type=submit]');
  await page.waitForSelector('.fleet-table tbody tr');
  assert.match((await page.textContent('.fleet-table caption')) ?? '', /2 of 3 edges answering/);
  const rows = await page.locator('.fleet-table tbody tr').allInnerTexts();
  assert.equal(rows.length, 3);
  assert.match(rows[0], /^fra\s+6\s+83\.3\s*%/);
  assert.match(rows[2], /^sfo\s+no answer: unreachable/);
  assert.match((await page.locator('.fleet-table tfoot tr').innerText()) ?? '', /^Fleet\s+8\s+75(\.0)?\s*%/);
  await page.locator('#stats').screenshot({ path: path.join(await screenshotDir(), 'dashboard-fleet.png') });
});
