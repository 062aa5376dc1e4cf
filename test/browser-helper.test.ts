// A browser test fails with a clear error, and soon, when Chromium is missing, does not start or
// crashes under a page: it never hangs the test run (the runner itself has no time limit).
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { BROWSER_TEST_TIMEOUT_MS, BrowserUnavailableError, launchBrowser } from './helpers/browser.ts';

type G = any;

describe('browser tests fail clearly instead of hanging', { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  it('no Chromium at the configured path: a one-line error naming the path and the fix', async () => {
    await assert.rejects(launchBrowser('/nonexistent/chromium'), (err: Error) => {
      assert.ok(err instanceof BrowserUnavailableError);
      assert.equal(err.message, 'no Chromium at /nonexistent/chromium: install Debian\'s chromium (apt-get install -y chromium) or set CHROMIUM_PATH');
      return true;
    });
  });

  it('a Chromium that dies at start: an error saying it did not start', async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-fake-chromium-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const fake = path.join(dir, 'chromium');
    await writeFile(fake, '#!/bin/sh\necho "chromium: cannot open display" >&2\nexit 1\n');
    await chmod(fake, 0o755);
    await assert.rejects(launchBrowser(fake), (err: Error) => {
      assert.ok(err instanceof BrowserUnavailableError);
      assert.match(err.message, new RegExp(`^Chromium at ${fake.replace(/[.]/g, '\\.')} did not start: `));
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
  });

  it('a page that crashes makes a pending wait fail at once, not at its time limit', async (t) => {
    const browser = await launchBrowser();
    t.after(() => browser.close());
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.setContent('<title>never ready</title>');
    const started = Date.now();
    const waiting = page.waitForFunction(() => (globalThis as G).ready === true, undefined, { timeout: 60_000 });
    await page.goto('chrome://crash').catch(() => {});
    await assert.rejects(waiting, /crash|closed/i);
    assert.ok(Date.now() - started < 30_000, 'the wait ran to its time limit');
  });
});
