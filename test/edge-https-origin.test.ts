// Origin over TLS, both ways: the origin serves https (origin.tls, reloaded when its files change), and
// an edge fetches from an https origin, verifying it against the system CAs or the zone's caFile —
// a certificate it cannot verify is a 502 that says why, never a silent fallback.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../src/config/index.ts';
import { startEdge } from '../src/edge/server.ts';
import { startOrigin } from '../src/origin/server.ts';
import type { EdgeHandle } from '../src/edge/server.ts';
import { startCountingOrigin } from './helpers/counting-origin.ts';
import { startTestOrigin } from './helpers/origin.ts';
import type { TestOrigin } from './helpers/origin.ts';
import { PLAIN_HTTP_400, handshake, makeCa, makeLeaf, negotiatedCipher, plainHttpTo, tempDir } from './helpers/tls.ts';
import type { Ca, Leaf } from './helpers/tls.ts';
import { request } from 'undici';

const ZONE = 'cdn.example.com';

async function get(url: string, host: string): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const res = await request(url, { headers: { host } });
  return { status: res.statusCode, body: await res.body.text(), headers: res.headers };
}

describe('origin over https, and an edge in front of it', () => {
  let ca: Ca;
  let otherCa: Ca;
  let dir: string;
  let leaf: Leaf;
  let o: TestOrigin;
  let fileName: string;
  const edges: EdgeHandle[] = [];
  const edge = async (zone: Record<string, unknown>) => {
    const e = await startEdge({ host: '127.0.0.1', port: 0, cacheDir: await tempDir('mediacdn-edge-'), statsFile: false, retries: 0, zones: [{ host: ZONE, origin: o.url, ...zone }] });
    edges.push(e);
    return e;
  };

  before(async () => {
    ca = await makeCa();
    otherCa = await makeCa('another test CA');
    dir = await tempDir();
    leaf = await makeLeaf(ca, ['localhost', '127.0.0.1'], path.join(dir, 'origin'));
    o = await startTestOrigin({ origin: { tls: { cert: leaf.certFile, key: leaf.keyFile } } });
    fileName = (await o.add('tone-3s.mp3')).fileName;
  });
  after(async () => {
    for (const e of edges) await e.close();
    await o.close();
  });

  it('serves https with the configured certificate', async () => {
    assert.match(o.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const body = await new Promise<string>((resolve, reject) => {
      https.get(`${o.url}/healthz`, { ca: ca.pem }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });
    assert.match(body, /"ok":true/);
    // The client's order of cipher suites decides (certificate.ts), as with nginx's defaults.
    const port = Number(new URL(o.url).port);
    assert.equal(await negotiatedCipher(port, 'localhost', ca.pem, 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384'), 'TLS_AES_128_GCM_SHA256');
    assert.equal(await negotiatedCipher(port, 'localhost', ca.pem, 'TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256'), 'TLS_AES_256_GCM_SHA384');
    // Plain HTTP to the https port is told so, not cut off.
    assert.match(await plainHttpTo(port, `GET /media/${fileName} HTTP/1.1\r\nHost: localhost\r\n\r\n`), PLAIN_HTTP_400);
  });

  it('an edge with the right caFile fetches and caches; with another CA, or the system CAs, it answers 502 saying why', async () => {
    const right = await edge({ caFile: ca.certFile });
    const ok = await get(`${right.url}/media/${fileName}`, ZONE);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['x-cache'], 'MISS');
    assert.equal((await get(`${right.url}/media/${fileName}`, ZONE)).headers['x-cache'], 'HIT');

    const wrong = await edge({ caFile: otherCa.certFile });
    const refused = await get(`${wrong.url}/media/${fileName}`, ZONE);
    assert.equal(refused.status, 502);
    assert.match(refused.body, /could not be reached over TLS: its certificate was not accepted: .*\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN)\)/);

    const system = await edge({});
    const alsoRefused = await get(`${system.url}/media/${fileName}`, ZONE);
    assert.equal(alsoRefused.status, 502, 'a test CA is not among the system CAs: never fetched unverified');
    assert.match(alsoRefused.body, /over TLS: its certificate was not accepted/);
  });

  it('takes a renewed origin certificate from its files; a bad one is kept out with a log line', async () => {
    const before = await handshake(o.origin.port, undefined, ca.pem, { host: '127.0.0.1', checkServerIdentity: () => undefined });
    assert.ok(before.ok);
    assert.equal(before.fingerprint, leaf.fingerprint);
    await writeFile(leaf.keyFile, 'garbage\n');
    await until(() => o.logs.some((l) => /kept the previous certificate.*holds no PEM private key/.test(String(l.msg))));
    const renewed = await makeLeaf(ca, ['localhost', '127.0.0.1'], path.join(dir, 'origin'));
    await until(() => o.logs.some((l) => String(l.msg).includes(`loaded the new certificate`) && String(l.msg).includes(renewed.fingerprint)));
    const now = await handshake(o.origin.port, undefined, ca.pem, { checkServerIdentity: () => undefined });
    assert.ok(now.ok);
    assert.equal(now.fingerprint, renewed.fingerprint);
    // The renewed context keeps the client's order of cipher suites.
    assert.equal(await negotiatedCipher(o.origin.port, 'localhost', ca.pem, 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384'), 'TLS_AES_128_GCM_SHA256');
  });

  it('a caFile that changes is used for new connections without a restart; one that holds no certificate is kept out with a log line', async () => {
    const caFile = path.join(dir, 'zone-ca.pem');
    await writeFile(caFile, otherCa.pem);
    const logs: string[] = [];
    const e = await startEdge({ host: '127.0.0.1', port: 0, cacheDir: await tempDir('mediacdn-edge-'), statsFile: false, retries: 0, onLog: (m) => logs.push(m), certificateSettleMs: 10, zones: [{ host: ZONE, origin: o.url, caFile }] });
    edges.push(e);
    const trust = e.caFiles.get(ZONE)!;
    assert.equal((await get(`${e.url}/media/${fileName}`, ZONE)).status, 502, 'the wrong CA: refused');
    // A broken file keeps the previous certificates (and says why, once).
    await writeFile(caFile, 'not a certificate\n');
    await trust.check();
    await trust.check();
    assert.equal(logs.filter((l) => /tls: zone cdn\.example\.com caFile: kept the previous CA certificates: .*zone-ca\.pem holds no PEM certificate/.test(l)).length, 1, logs.join('\n'));
    assert.equal((await get(`${e.url}/media/${fileName}`, ZONE)).status, 502, 'still the wrong CA');
    // The right CA: picked up from the file by the watch, no restart.
    await writeFile(caFile, ca.pem);
    await until(() => logs.some((l) => /tls: zone cdn\.example\.com caFile: loaded 1 CA certificate from .*zone-ca\.pem/.test(l)));
    const ok = await get(`${e.url}/media/${fileName}`, ZONE);
    assert.equal(ok.status, 200, ok.body);
  });

  it('refuses a caFile that is missing or holds no certificate, naming the option', async () => {
    const notPem = path.join(dir, 'ca-not.pem');
    await writeFile(notPem, 'nothing here\n');
    for (const [caFile, message] of [
      [path.join(dir, 'missing-ca.pem'), /^config edge\.zones\[0\]\.caFile: cannot read .*missing-ca\.pem: no such file$/],
      [notPem, /^config edge\.zones\[0\]\.caFile: .*ca-not\.pem holds no PEM certificate/],
    ] as const) {
      await assert.rejects(edge({ caFile }), (err: Error) => {
        assert.match(err.message, message);
        return true;
      });
    }
  });
});

/** Waits for a condition that a file watcher makes true (no fixed sleep; bounded by the test timeout). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 20));
}

describe('origin.tls files', () => {
  it('a missing or bad certificate stops the origin before it opens anything, naming origin.tls', async () => {
    const ca = await makeCa();
    const dir = await tempDir();
    const a = await makeLeaf(ca, ['localhost'], path.join(dir, 'a'));
    const b = await makeLeaf(ca, ['localhost'], path.join(dir, 'b'));
    for (const [tls, message] of [
      [{ cert: path.join(dir, 'none.pem'), key: a.keyFile }, /^config origin\.tls: cannot read .*none\.pem: no such file$/],
      [{ cert: a.certFile, key: b.keyFile }, /^config origin\.tls: the key in .*b\.key does not belong to the certificate in .*a\.pem$/],
    ] as const) {
      const config = loadConfig({ cwd: dir, env: { MEDIACDN_DATA: dir, MEDIACDN_TOKEN: 'origin-tls-test-token-0123456789' }, flags: { origin: { host: '127.0.0.1', port: 0, tls } } });
      await assert.rejects(startOrigin({ config }), (err: Error) => {
        assert.match(err.message, message);
        return true;
      });
    }
  });
});

describe('an edge behind an https shield', () => {
  it('fetches through the shield over TLS (SNI = the zone), verified with the zone caFile, and forwards purges to it over TLS', async () => {
    const ca = await makeCa();
    const dir = await tempDir();
    const cert = await makeLeaf(ca, [ZONE], path.join(dir, 'zone'));
    const origin = await startCountingOrigin();
    origin.route('/a.mp3', { headers: { 'cache-control': 'max-age=600', 'content-type': 'audio/mpeg' }, body: 'shielded bytes' });
    const token = 'shield-chain-admin-token-0123456789';
    const shield = await startEdge({
      host: '127.0.0.1', port: 0, httpsPort: 0, cacheDir: await tempDir('mediacdn-shield-'), statsFile: false, adminToken: token, onLog: () => {},
      zones: [{ host: ZONE, origin: origin.url, tls: { cert: cert.certFile, key: cert.keyFile } }],
    });
    const front = await startEdge({
      host: '127.0.0.1', port: 0, cacheDir: await tempDir('mediacdn-edge-'), statsFile: false, adminToken: token,
      zones: [{ host: ZONE, shield: `https://127.0.0.1:${shield.httpsPort}`, caFile: ca.certFile }],
    });
    try {
      const r = await get(`${front.url}/a.mp3`, ZONE);
      assert.equal(r.status, 200);
      assert.equal(r.body, 'shielded bytes');
      assert.deepEqual(shield.stats.snapshot().zones[ZONE]?.totals.requestsByProtocol, { 'http1-tls': 1 }, 'the shield was asked over TLS');
      const purge = await request(`${front.url}/_mediacdn/purge`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ url: `http://${ZONE}/a.mp3` }),
      });
      const answer = (await purge.body.json()) as { removed: number; shield?: { removed: number } };
      assert.equal(purge.statusCode, 200, JSON.stringify(answer));
      assert.equal(answer.removed, 1);
      assert.equal(answer.shield?.removed, 1, 'the purge reached the shield over https');
    } finally {
      await front.close();
      await shield.close();
      await origin.close();
    }
  });
});
