// Chromium plays and seeks a song through the edge's https listener over HTTP/2, from an https page on
// another origin: the test certificates are trusted by their public keys
// (--ignore-certificate-errors-spki-list), the names resolve to 127.0.0.1 (--host-resolver-rules), and
// the edge's own records say which protocol each media request used.
import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { BROWSER_TEST_TIMEOUT_MS, launchBrowser, playAndSeekFar, recordMediaResponses } from './helpers/browser.ts';
import { ZONE, startHarness } from './helpers/edge-harness.ts';
import { makeWav } from './helpers/origin.ts';
import { makeCa, makeLeaf, tempDir } from './helpers/tls.ts';

const PAGE_HOST = 'radio.example.test';

/** What --ignore-certificate-errors-spki-list takes: base64 of the SHA-256 of the certificate's SubjectPublicKeyInfo. */
function spkiHash(certPem: Buffer): string {
  const der = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

test('Chromium plays and seeks a song through the https edge over HTTP/2, from an https page', { timeout: BROWSER_TEST_TIMEOUT_MS }, async (t) => {
  const ca = await makeCa();
  const dir = await tempDir();
  const edgeCert = await makeLeaf(ca, [ZONE], path.join(dir, 'cdn'));
  const pageCert = await makeLeaf(ca, [PAGE_HOST], path.join(dir, 'page'));
  const h = await startHarness({ httpsPort: 0, onLog: () => {} }, { tls: { cert: edgeCert.certFile, key: edgeCert.keyFile }, corsOrigins: ['*'] });
  t.after(() => h.close());
  const seconds = 300;
  const wav = makeWav(seconds, { sampleRate: 44100, channels: 1 }); // ~26 MiB: a far seek needs a Range request
  h.origin.route('/media/long.wav', { headers: { 'content-type': 'audio/wav', 'cache-control': 'public, max-age=3600', etag: '"long-1"' }, body: wav });
  const mediaUrl = `https://${ZONE}:${h.edge.httpsPort}/media/long.wav`;

  const page = https.createServer({ cert: pageCert.cert, key: pageCert.key }, (req, res) => {
    if (req.url !== '/') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`<!doctype html><title>player</title>\n<audio id="a" crossorigin="anonymous" preload="metadata" src="${mediaUrl}"></audio>`);
  });
  await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => {
    page.closeAllConnections();
    page.close(() => resolve());
  }));
  const pageUrl = `https://${PAGE_HOST}:${(page.address() as AddressInfo).port}/`;

  const browser = await launchBrowser(undefined, [
    `--host-resolver-rules=MAP ${ZONE} 127.0.0.1, MAP ${PAGE_HOST} 127.0.0.1`,
    `--ignore-certificate-errors-spki-list=${spkiHash(edgeCert.cert)},${spkiHash(pageCert.cert)}`,
  ]);
  t.after(() => browser.close());
  const tab = await browser.newPage();
  const seen = await recordMediaResponses(tab, mediaUrl);
  await tab.goto(pageUrl);
  assert.equal(await tab.evaluate('window.isSecureContext'), true, 'the page is https');

  await playAndSeekFar(tab, seen, seconds, wav.length);

  const media = h.events.filter((e) => e.target === '/media/long.wav');
  assert.ok(media.length >= 2, `the edge answered the media requests (${media.length})`);
  assert.ok(media.every((e) => e.httpVersion === '2.0'), `every media request came over HTTP/2: ${media.map((e) => e.httpVersion).join(', ')}`);
  assert.equal(h.origin.count('/media/long.wav'), 1, 'one fill; ranges and the seek were served by the edge');
  const totals = await h.totals();
  assert.equal(totals.requestsByProtocol['http1-tls'] ?? 0, 0);
  assert.ok((totals.requestsByProtocol.h2 ?? 0) >= media.length);
});
