// Edge scenarios on the https listener: certificates chosen by SNI (unknown names refused during the
// handshake with TLS's unrecognized_name alert and a log line; plain HTTP answered 400), session
// resumption, the client's choice of cipher suite, renewal picked up from the files while a download
// over an older connection completes, a bad renewal kept out, HTTP/2 and HTTP/1.1 answering alike,
// redirectHttp and HSTS, and hostile TLS input.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { startEdge } from '../src/edge/server.ts';
import { ADMIN_TOKEN, ZONE, bytes, startHarness } from './helpers/edge-harness.ts';
import type { Harness } from './helpers/edge-harness.ts';
import { checkAsyncProperty } from './helpers/property.ts';
import { PLAIN_HTTP_400, connectH2, handshake, makeCa, makeLeaf, negotiatedCipher, plainHttpTo, requestH1, tempDir } from './helpers/tls.ts';
import type { Ca, Leaf, TlsReply } from './helpers/tls.ts';

const OTHER = 'media.example.org';
const BODY = bytes(300_000, 5);
const HEADERS = { 'cache-control': 'max-age=600', etag: '"t1"', 'content-type': 'audio/mpeg', 'last-modified': 'Sun, 01 Jun 2025 10:00:00 GMT' };

/** Resolves with the first log line that matches. */
function nextLine(lines: string[], waiters: Array<() => void>, pattern: RegExp): Promise<string> {
  return new Promise((resolve) => {
    const look = () => {
      const found = lines.find((l) => pattern.test(l));
      if (found === undefined) return false;
      resolve(found);
      return true;
    };
    if (look()) return;
    waiters.push(() => look());
  });
}

describe('edge: https listener', () => {
  let h: Harness;
  let ca: Ca;
  let zoneCert: Leaf;
  let otherCert: Leaf;
  let dir: string;
  const lines: string[] = [];
  let waiters: Array<() => boolean | void> = [];
  const logLine = (m: string) => {
    lines.push(m);
    waiters = waiters.filter((w) => w() !== true);
  };
  const waitFor = (pattern: RegExp) => nextLine(lines, waiters as Array<() => void>, pattern);

  before(async () => {
    ca = await makeCa();
    dir = await tempDir();
    zoneCert = await makeLeaf(ca, [ZONE], path.join(dir, 'cdn'));
    otherCert = await makeLeaf(ca, [OTHER], path.join(dir, 'other'));
    h = await startHarness({ httpsPort: 0, onLog: logLine, certificateSettleMs: 20, certificatePollMs: 0, tlsHandshakeTimeoutMs: 1_000 }, {
      tls: { cert: zoneCert.certFile, key: zoneCert.keyFile },
      hsts: 31_536_000,
    });
    await h.restart({
      zones: [
        { host: ZONE, origin: h.origin.url, tls: { cert: zoneCert.certFile, key: zoneCert.keyFile }, hsts: 31_536_000 },
        { host: OTHER, origin: h.origin.url, tls: { cert: otherCert.certFile, key: otherCert.keyFile }, redirectHttp: true },
        { host: 'plain.example.net', origin: h.origin.url },
      ],
    });
    h.origin.route('/song.mp3', { headers: HEADERS, body: BODY, validate: true });
  });
  after(() => h.close());

  it('presents each zone its own certificate (SNI), over TLS 1.2+ with h2 offered by ALPN', async () => {
    const a = await handshake(h.edge.httpsPort!, ZONE, ca.pem);
    const b = await handshake(h.edge.httpsPort!, OTHER, ca.pem);
    assert.ok(a.ok && b.ok);
    assert.equal(a.fingerprint, zoneCert.fingerprint);
    assert.equal(b.fingerprint, otherCert.fingerprint);
    assert.equal(a.alpn, 'h2');
    const old = await handshake(h.edge.httpsPort!, ZONE, ca.pem, { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' });
    assert.equal(old.ok, false, 'TLS 1.1 is refused');
  });

  it('refuses at the handshake a name without a certificate, and a handshake without SNI, saying so in the log', async () => {
    const unknown = await handshake(h.edge.httpsPort!, 'nobody.example.com', ca.pem);
    assert.ok(!unknown.ok);
    // TLS's own answer for it (RFC 6066 §3), which clients show as such: not a connection reset.
    assert.equal((unknown.error as NodeJS.ErrnoException).code, 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME', unknown.error.message);
    assert.match(await waitFor(/nobody\.example\.com/), /^tls: refused a handshake from 127\.0\.0\.0 for "nobody\.example\.com": no zone with a certificate/);
    const noCert = await handshake(h.edge.httpsPort!, 'plain.example.net', ca.pem);
    assert.equal(noCert.ok, false, 'a zone without tls has no certificate on the https listener');
    const noSni = await handshake(h.edge.httpsPort!, undefined, ca.pem, { checkServerIdentity: () => undefined });
    assert.equal(noSni.ok, false);
    await waitFor(/without a server name \(SNI\)/);
  });

  it('resumes sessions', async () => {
    const first = await handshake(h.edge.httpsPort!, ZONE, ca.pem);
    assert.ok(first.ok && first.session);
    const second = await handshake(h.edge.httpsPort!, ZONE, ca.pem, { session: first.session });
    assert.ok(second.ok);
    assert.equal(second.reused, true);
  });

  it('lets the client\'s order of cipher suites decide, over TLS 1.3 and 1.2 (as nginx does by default)', async () => {
    const port = h.edge.httpsPort!;
    assert.equal(await negotiatedCipher(port, ZONE, ca.pem, 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384'), 'TLS_AES_128_GCM_SHA256');
    assert.equal(await negotiatedCipher(port, ZONE, ca.pem, 'TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256'), 'TLS_AES_256_GCM_SHA384');
    const tls12 = { maxVersion: 'TLSv1.2' } as const;
    assert.equal(await negotiatedCipher(port, ZONE, ca.pem, 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384', tls12), 'ECDHE-ECDSA-AES128-GCM-SHA256');
    assert.equal(await negotiatedCipher(port, ZONE, ca.pem, 'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256', tls12), 'ECDHE-ECDSA-AES256-GCM-SHA384');
  });

  it('answers HTTP/2 and HTTP/1.1 alike: full, range, 304, 416 (fields apart from the protocol\'s own)', async () => {
    const h2 = connectH2(h.edge.httpsPort!, ZONE, ca.pem);
    try {
      const cases: Array<[string, Record<string, string>, number]> = [
        ['full (miss, then hit)', {}, 200],
        ['full', {}, 200],
        ['range', { range: 'bytes=1000-2999' }, 206],
        ['several ranges', { range: 'bytes=0-9,100-109' }, 206],
        ['304', { 'if-none-match': '"t1"' }, 304],
        ['416', { range: 'bytes=900000-' }, 416],
        ['HEAD', {}, 200],
      ];
      for (const [name, headers, status] of cases) {
        const method = name === 'HEAD' ? 'HEAD' : 'GET';
        // The first request fills the cache (over HTTP/2); after it both are hits from the same entry.
        const two = await h2.request('/song.mp3', headers, method);
        const one = await requestH1(h.edge.httpsPort!, ZONE, ca.pem, '/song.mp3', headers, method);
        assert.equal(two.status, status, name);
        assert.equal(one.status, status, name);
        if (name !== 'full (miss, then hit)') assert.deepEqual(comparable(two), comparable(one), name);
        assert.equal(withoutBoundary(two, two.body.toString('latin1')), withoutBoundary(one, one.body.toString('latin1')), `${name}: same body`);
        if (status === 200 && method === 'GET') assert.ok(two.body.equals(BODY));
        if (name === 'range') assert.ok(two.body.equals(BODY.subarray(1000, 3000)));
        assert.equal(two.headers['strict-transport-security'], 'max-age=31536000', `${name}: HSTS over h2`);
        assert.equal(one.headers['strict-transport-security'], 'max-age=31536000', `${name}: HSTS over https/1.1`);
      }
    } finally {
      h2.session.close();
    }
    assert.equal(h.origin.count('/song.mp3'), 1, 'one fill served both protocols');
    const plain = await h.get('/song.mp3');
    assert.equal(plain.headers['strict-transport-security'], undefined, 'no HSTS over plain http (RFC 6797 §7.2)');
    const t = await h.totals();
    assert.equal(t.requestsByProtocol.h2, 7);
    assert.equal(t.requestsByProtocol['http1-tls'], 7);
    assert.equal(t.requestsByProtocol.http1, 1);
    // Body bytes are counted once per protocol: 2 full bodies, 2000 + 2 × (multipart) ... equal on both.
    const byProtocol = new Map<string, number>();
    for (const e of h.events.filter((e) => e.target === '/song.mp3')) byProtocol.set(e.httpVersion, (byProtocol.get(e.httpVersion) ?? 0) + e.bytes);
    assert.equal(byProtocol.get('2.0'), byProtocol.get('1.1')! - BODY.length, 'the same bytes over h2 as over https/1.1 (plus the plain GET)');
    const metrics = h.edge.stats.toPrometheus();
    assert.match(metrics, new RegExp(`edge_requests_by_protocol_total\\{zone="${ZONE.replace(/\./g, '\\.')}",protocol="h2"\\} 7`));
  });

  it('sends HSTS once on every answer of the zone over TLS: relayed, refused (synth) and stored', async () => {
    const h2 = connectH2(h.edge.httpsPort!, ZONE, ca.pem);
    try {
      const answers = [
        ['relayed POST', await h2.request('/upload', { 'content-type': 'text/plain' }, 'POST', 'x')],
        ['504 only-if-cached (synth)', await h2.request('/never-stored.mp3', { 'cache-control': 'only-if-cached' })],
        ['stored', await h2.request('/song.mp3')],
        ['relayed POST over https/1.1', await requestH1(h.edge.httpsPort!, ZONE, ca.pem, '/upload', { 'content-type': 'text/plain', 'content-length': '0' }, 'POST')],
      ] as const;
      for (const [name, r] of answers) assert.equal(r.headers['strict-transport-security'], 'max-age=31536000', name);
      assert.equal(answers[1][1].status, 504);
    } finally {
      h2.session.close();
    }
  });

  it('refuses an HTTP/2 request whose Host names another zone than its :authority (RFC 9113 §8.3.1), on either HTTP/2 path', async () => {
    const h2 = connectH2(h.edge.httpsPort!, ZONE, ca.pem);
    try {
      const asked = h.origin.count('/song.mp3');
      for (const r of [await h2.request('/song.mp3', { host: OTHER }), await h2.request('/upload', { host: OTHER, 'content-type': 'text/plain' }, 'POST', 'x')]) {
        assert.equal(r.status, 400);
        assert.match(r.body.toString(), /Host field names another host than the request's :authority/);
      }
      assert.equal(h.origin.count('/song.mp3'), asked, 'nothing asked of the origin');
      // The same host in other letters, with a port, is the same entity.
      const same = await h2.request('/song.mp3', { host: `${ZONE.toUpperCase()}:443` });
      assert.equal(same.status, 200);
      assert.ok(same.body.equals(BODY));
    } finally {
      h2.session.close();
    }
  });

  it('redirects plain http to https for a zone with redirectHttp (301 for GET, 308 otherwise); others are served', async () => {
    const get = await h.send('GET', '/song.mp3?x=1', { host: OTHER });
    assert.equal(get.status, 301);
    assert.equal(get.headers.location, `https://${OTHER}:${h.edge.httpsPort}/song.mp3?x=1`);
    const post = await h.send('POST', '/upload', { host: OTHER }, 'x');
    assert.equal(post.status, 308);
    const served = await requestH1(h.edge.httpsPort!, OTHER, ca.pem, '/song.mp3');
    assert.equal(served.status, 200);
    assert.equal(served.headers['strict-transport-security'], undefined, 'no hsts configured for this zone');
    assert.equal((await h.get('/song.mp3')).status, 200, 'a zone without redirectHttp is served over http');
    const twoHosts = await plainHttpTo(h.edge.port, `GET /song.mp3 HTTP/1.1\r\nHost: ${OTHER}\r\nHost: ${ZONE}\r\nConnection: close\r\n\r\n`);
    assert.match(twoHosts, /^HTTP\/1\.1 400 [^]*\r\n\r\nThe request has more than one Host field\.\n$/, 'refused, not redirected');
  });

  it('takes a renewed certificate from its files without a restart, while a download over an older connection completes', async () => {
    const big = bytes(8 * 1024 * 1024, 3);
    h.origin.route('/big.bin', (_req, res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(big.length), 'cache-control': 'max-age=600' });
      res.end(big);
    });
    const h2 = connectH2(h.edge.httpsPort!, ZONE, ca.pem);
    try {
      // Start the download and stop reading after its first bytes: it stays open across the renewal.
      const stream = h2.session.request({ ':path': '/big.bin', ':authority': ZONE });
      const chunks: Buffer[] = [];
      const [first] = (await once(stream, 'data')) as [Buffer];
      chunks.push(first);
      stream.pause();
      const renewed = await makeLeaf(ca, [ZONE], path.join(dir, 'cdn'));
      await waitFor(new RegExp(`loaded the new certificate.*${renewed.fingerprint}`));
      const now = await handshake(h.edge.httpsPort!, ZONE, ca.pem);
      assert.ok(now.ok);
      assert.equal(now.fingerprint, renewed.fingerprint, 'new connections get the renewed certificate');
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.resume();
      await once(stream, 'end');
      assert.ok(Buffer.concat(chunks).equals(big), 'the download over the old connection completed intact');
      zoneCert = renewed;
    } finally {
      h2.session.close();
    }
  });

  it('keeps the previous certificate when the new files do not load, and says why', async () => {
    await writeFile(zoneCert.certFile, 'not a certificate\n');
    assert.match(await waitFor(/kept the previous certificate.*holds no PEM certificate/), new RegExp(zoneCert.fingerprint));
    await writeFile(zoneCert.certFile, otherCert.cert); // the other zone's certificate with this zone's key
    assert.match(await waitFor(/kept the previous certificate.*does not belong to the certificate/), /cdn\.key/);
    const still = await handshake(h.edge.httpsPort!, ZONE, ca.pem);
    assert.ok(still.ok);
    assert.equal(still.fingerprint, zoneCert.fingerprint);
    await writeFile(zoneCert.certFile, zoneCert.cert);
  });

  it('answers plain HTTP sent to the https port with a 400 that says so', async () => {
    assert.match(await plainHttpTo(h.edge.httpsPort!, `GET /song.mp3 HTTP/1.1\r\nHost: ${ZONE}\r\n\r\n`), PLAIN_HTTP_400);
    assert.match(await plainHttpTo(h.edge.httpsPort!, `CONNECT ${ZONE}:443 HTTP/1.1\r\n\r\n`), PLAIN_HTTP_400);
    // Clients gone before those answers are written (a reset right after the request or the
    // ClientHello) cost the listener nothing.
    const gone: Promise<void>[] = [];
    for (let i = 0; i < 40; i++) {
      const plain = net.connect(h.edge.httpsPort!, '127.0.0.1');
      plain.on('error', () => {});
      plain.write(i % 2 ? 'CONNECT cdn.example:443 HTTP/1.1\r\n\r\n' : 'POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n' + 'x'.repeat(60_000));
      plain.once('connect', () => setImmediate(() => plain.resetAndDestroy()));
      const hello = tls.connect({ host: '127.0.0.1', port: h.edge.httpsPort!, servername: `gone-${i}.example`, ca: ca.pem });
      hello.on('error', () => {});
      hello.once('connect', () => setImmediate(() => hello.destroy()));
      gone.push(closed(plain), closed(hello));
    }
    await Promise.all(gone);
    assert.equal((await requestH1(h.edge.httpsPort!, ZONE, ca.pem, '/song.mp3')).status, 200, 'the listener still serves');
  });

  it('survives hostile TLS input: garbage bytes, a handshake that never completes, random ClientHello-like bytes', async () => {
    const port = h.edge.httpsPort!;
    const garbage = net.connect(port, '127.0.0.1');
    garbage.on('error', () => {});
    garbage.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await closed(garbage);
    // A ClientHello cut short, then silence: the handshake timeout ends it.
    const stalled = net.connect(port, '127.0.0.1');
    stalled.on('error', () => {});
    stalled.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
    await checkAsyncProperty(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 600 }), fc.boolean(), async (data, tlsRecord) => {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => {});
        await once(s, 'connect');
        s.end(tlsRecord ? Buffer.concat([Buffer.from([0x16, 0x03, 0x01, data.length >> 8, data.length & 0xff]), data]) : data);
        await closed(s);
      }),
      { numRuns: 60, timeLimitMs: 10_000 },
    );
    await closed(stalled);
    const ok = await requestH1(port, ZONE, ca.pem, '/song.mp3');
    assert.equal(ok.status, 200, 'the listener still serves');
  });

  it('logs at most 20 refused handshakes a minute, then says how many it left out', async () => {
    h.clock.advance(61); // a fresh minute on the edge's clock
    const from = lines.length;
    for (let i = 0; i < 25; i++) assert.equal((await handshake(h.edge.httpsPort!, `flood-${i}.example`, ca.pem)).ok, false);
    await waitFor(/flood-19\.example/);
    h.clock.advance(61);
    assert.equal((await handshake(h.edge.httpsPort!, 'after.example', ca.pem)).ok, false);
    await waitFor(/after\.example/);
    const logged = lines.slice(from);
    assert.equal(logged.filter((l) => /flood-\d+\.example/.test(l)).length, 20);
    assert.ok(logged.includes('tls: 5 more refused handshakes in the last minute not logged'), logged.join('\n'));
  });
});

/**
 * Resolves when the socket closed, whatever the reason (once() would reject on its 'error'). It reads
 * what arrives: a socket nobody reads never sees the server's end.
 */
function closed(socket: net.Socket): Promise<void> {
  socket.resume();
  return new Promise((resolve) => (socket.closed ? resolve() : socket.once('close', () => resolve())));
}

/** Response fields the two protocols must agree on: all but date and the connection's own. */
function comparable(r: TlsReply): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r.headers)) {
    if (['date', 'connection', 'keep-alive', 'transfer-encoding', 'age'].includes(k)) continue;
    out[k] = typeof v === 'string' ? withoutBoundary(r, v) : v;
  }
  return out;
}

/** Multipart boundaries are random per response: replaced by a fixed word before comparing. */
function withoutBoundary(r: TlsReply, text: string): string {
  const m = /boundary=([^;\s]+)/.exec(String(r.headers['content-type'] ?? ''));
  return m ? text.split(m[1]).join('BOUNDARY') : text;
}

describe('edge: https certificate files', () => {
  it('refuses to start on a missing file, a file that is not PEM, or a key of another certificate, naming the option', async () => {
    const ca = await makeCa();
    const dir = await tempDir();
    const a = await makeLeaf(ca, [ZONE], path.join(dir, 'a'));
    const b = await makeLeaf(ca, [ZONE], path.join(dir, 'b'));
    const notPem = path.join(dir, 'not.pem');
    await writeFile(notPem, 'hello\n');
    const cases: Array<[{ cert: string; key: string }, RegExp]> = [
      [{ cert: path.join(dir, 'missing.pem'), key: a.keyFile }, /^config edge\.zones\[1\]\.tls: cannot read .*missing\.pem: no such file$/],
      [{ cert: notPem, key: a.keyFile }, /^config edge\.zones\[1\]\.tls: .*not\.pem holds no PEM certificate/],
      [{ cert: a.certFile, key: notPem }, /^config edge\.zones\[1\]\.tls: .*not\.pem holds no PEM private key/],
      [{ cert: a.certFile, key: b.keyFile }, /^config edge\.zones\[1\]\.tls: the key in .*b\.key does not belong to the certificate in .*a\.pem$/],
    ];
    for (const [tls, message] of cases) {
      await assert.rejects(
        startEdge({ host: '127.0.0.1', port: 0, httpsPort: 0, cacheDir: dir, statsFile: false, zones: [{ host: 'ok.example', origin: 'http://127.0.0.1:9' }, { host: ZONE, origin: 'http://127.0.0.1:9', tls }] }),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, 'config_invalid');
          assert.match(err.message, message);
          return true;
        },
      );
    }
  });
});

/** An edge with an https listener and one zone whose certificate a fresh test CA signed. */
async function httpsHarness(over: Parameters<typeof startHarness>[0], zone: Parameters<typeof startHarness>[1] = {}): Promise<{ h: Harness; ca: Ca }> {
  const ca = await makeCa();
  const dir = await tempDir();
  const cert = await makeLeaf(ca, [ZONE], path.join(dir, 'cdn'));
  const h = await startHarness({ httpsPort: 0, onLog: () => {}, ...over }, { tls: { cert: cert.certFile, key: cert.keyFile }, ...zone });
  return { h, ca };
}

describe('edge: HTTP/2 keeps the request path\'s semantics', () => {
  let h: Harness;
  let ca: Ca;
  before(async () => {
    ({ h, ca } = await httpsHarness({ httpsIdleTimeoutMs: 2_000 }, { rateLimit: { requestsPerSecond: 1, burst: 40 } }));
  });
  after(() => h.close());

  it('a big cached body that the client reads slowly leaves the session open for other streams (a player seeking)', async () => {
    // A player opens the whole file, reads what it buffers and stops; its seek is a new stream on the
    // same connection. Written at once, a 24 MiB memory hit sat in the session and Node refused every
    // later stream (the browser saw net::ERR_HTTP2_PROTOCOL_ERROR on the seek).
    const size = 24 * 1024 * 1024;
    const body = bytes(size, 5);
    h.origin.route('/big.bin', { headers: { 'content-type': 'application/octet-stream', 'cache-control': 'max-age=600' }, body });
    assert.equal((await h.get('/big.bin')).body.length, size);
    const h2 = connectH2(h.edge.httpsPort!, ZONE, ca.pem);
    try {
      const whole = h2.session.request({ ':path': '/big.bin', ':authority': ZONE });
      await once(whole, 'response');
      whole.pause(); // reads nothing more: its window stays shut
      for (let i = 0; i < 3; i++) {
        const seek = await h2.request('/big.bin', { range: `bytes=${size - 1000 * (i + 1)}-` });
        assert.equal(seek.status, 206);
        assert.deepEqual(seek.body, body.subarray(size - 1000 * (i + 1)));
        assert.equal(seek.headers['x-cache'], 'HIT');
      }
      whole.close();
    } finally {
      h2.session.destroy();
    }
  });

  it('coalesces concurrent streams of one session into one fill, purges over h2, writes request bodies through', async () => {
    const body = bytes(200_000, 11);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    h.origin.route('/slow.bin', (_req, res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length), 'cache-control': 'max-age=600' });
      res.write(body.subarray(0, 1000));
      void released.then(() => res.end(body.subarray(1000)));
    });
    h.origin.route('/echo', (_req, res: ServerResponse, recorded) => {
      res.writeHead(201, { 'content-type': 'text/plain' });
      res.end(`got ${recorded.body.length} bytes`);
    });
    const h2 = connectH2(h.edge.httpsPort!, ZONE, ca.pem);
    try {
      const streams = Array.from({ length: 10 }, () => h2.session.request({ ':path': '/slow.bin', ':authority': ZONE }));
      const replies = streams.map((s) => {
        const chunks: Buffer[] = [];
        s.on('data', (c: Buffer) => chunks.push(c));
        return new Promise<Buffer>((resolve, reject) => {
          s.on('end', () => resolve(Buffer.concat(chunks)));
          s.on('error', reject);
        });
      });
      await Promise.all(streams.map((s) => once(s, 'response')));
      release();
      for (const r of await Promise.all(replies)) assert.ok(r.equals(body));
      assert.equal(h.origin.count('/slow.bin'), 1, 'ten streams, one fill');

      const purge = await h2.request('/_mediacdn/purge', { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, 'POST', JSON.stringify({ url: `https://${ZONE}/slow.bin` }));
      assert.equal(purge.status, 200, purge.body.toString());
      assert.equal(JSON.parse(purge.body.toString()).removed, 1);
      const again = await h2.request('/slow.bin');
      assert.equal(again.headers['x-cache'], 'MISS');

      const upload = bytes(300_000, 2);
      const echoed = await h2.request('/echo', { 'content-type': 'application/octet-stream' }, 'POST', upload);
      assert.equal(echoed.status, 201);
      assert.equal(echoed.body.toString(), `got ${upload.length} bytes`);
      assert.equal(h.origin.requests.find((r) => r.url === '/echo')?.headers['x-forwarded-proto'], 'https');
      assert.equal(h.origin.requests.find((r) => r.url === '/echo')?.headers[':method'], undefined, 'no pseudo-header field forwarded');
    } finally {
      h2.session.close();
    }
  });

  it('applies the zone\'s rate limit to HTTP/2 streams (429 with Retry-After)', async () => {
    h.origin.route('/tiny.txt', { headers: { 'cache-control': 'max-age=600' }, body: 'x' });
    const h2 = connectH2(h.edge.httpsPort!, ZONE, ca.pem);
    try {
      const statuses: number[] = [];
      let retryAfter: unknown;
      for (let i = 0; i < 60 && !statuses.includes(429); i++) {
        const r = await h2.request('/tiny.txt');
        statuses.push(r.status);
        if (r.status === 429) retryAfter = r.headers['retry-after'];
      }
      assert.ok(statuses.includes(429), `a 429 once the burst is spent: ${statuses.join(',')}`);
      assert.ok(Number(retryAfter) >= 1);
    } finally {
      h2.session.close();
    }
  });

  it('closes an HTTP/2 connection that opens no stream (one that never sends its preface, too)', async () => {
    const silent = tls.connect({ host: '127.0.0.1', port: h.edge.httpsPort!, servername: ZONE, ca: ca.pem, ALPNProtocols: ['h2'] });
    silent.on('error', () => {});
    await once(silent, 'secureConnect');
    assert.equal(silent.alpnProtocol, 'h2');
    await closed(silent);
    const idle = connectH2(h.edge.httpsPort!, ZONE, ca.pem);
    await once(idle.session, 'connect');
    await once(idle.session, 'close');
  });

  it('survives hostile HTTP/2: random bytes after the handshake, a huge header list', async () => {
    const port = h.edge.httpsPort!;
    await checkAsyncProperty(
      fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 400 }), fc.boolean(), async (data, preface) => {
        const s = tls.connect({ host: '127.0.0.1', port, servername: ZONE, ca: ca.pem, ALPNProtocols: ['h2'] });
        s.on('error', () => {});
        await once(s, 'secureConnect');
        s.end(Buffer.concat([preface ? Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n') : Buffer.alloc(0), data]));
        await closed(s);
      }),
      { numRuns: 40, timeLimitMs: 10_000 },
    );
    const h2 = connectH2(port, ZONE, ca.pem);
    try {
      const huge = await h2.request('/tiny.txt', { 'x-huge': 'a'.repeat(64 * 1024) }).catch((err: Error) => err);
      assert.ok(huge instanceof Error || huge.status === 431, `refused: ${huge instanceof Error ? huge.message : huge.status}`);
    } finally {
      h2.session.destroy();
    }
    const ok = await requestH1(port, ZONE, ca.pem, '/tiny.txt');
    assert.ok(ok.status === 200 || ok.status === 429, 'the listener still serves');
  });
});

describe('edge: HTTP/2 from the disk tier', () => {
  let h: Harness;
  let ca: Ca;
  before(async () => {
    // No memory tier: every hit is read from the disk tier.
    ({ h, ca } = await httpsHarness({ memoryCacheBytes: 0 }));
  });
  after(() => h.close());

  it('a body the client does not read holds back no other stream; whole bodies and ranges either side of 1 MiB are exact', async () => {
    const size = 6 * 1024 * 1024;
    const body = bytes(size, 7);
    h.origin.route('/disk.bin', { headers: { 'content-type': 'application/octet-stream', 'cache-control': 'max-age=600' }, body });
    assert.equal((await h.get('/disk.bin')).body.length, size);
    const h2 = connectH2(h.edge.httpsPort!, ZONE, ca.pem);
    try {
      const stalled = Array.from({ length: 4 }, () => h2.session.request({ ':path': '/disk.bin', ':authority': ZONE }));
      await Promise.all(stalled.map((s) => once(s, 'response')));
      for (const s of stalled) s.pause();
      const cases: [number, number][] = [[0, 999], [10, 10 + 1024 * 1024 - 1], [5000, 5000 + 1024 * 1024], [size - 3 * 1024 * 1024, size - 1]];
      for (const [start, end] of cases) {
        const r = await h2.request('/disk.bin', { range: `bytes=${start}-${end}` });
        assert.equal(r.status, 206);
        assert.equal(r.headers['x-cache'], 'HIT');
        assert.ok(r.body.equals(body.subarray(start, end + 1)), `${start}-${end}`);
      }
      const whole = await h2.request('/disk.bin');
      assert.ok(whole.body.equals(body));
      for (const s of stalled) s.close();
    } finally {
      h2.session.destroy();
    }
    assert.equal(h.origin.count('/disk.bin'), 1);
  });

  it('a piece read into a pooled buffer keeps its bytes while it waits for a stalled stream\'s window', async () => {
    // Every file read over HTTP/2 goes into a pooled buffer, given back once the session took it. Two
    // streams stop reading after their first bytes: their next pieces wait in the session. Meanwhile
    // other streams and HTTP/1.1 clients read ranges into pooled buffers of the same size; when the
    // stalled streams read on, each must get its own bytes.
    const size = 3 * 1024 * 1024;
    const body = bytes(size, 17);
    h.origin.route('/pooled.bin', { headers: { 'content-type': 'application/octet-stream', 'cache-control': 'max-age=600' }, body });
    assert.equal((await h.get('/pooled.bin')).body.length, size);
    const stalledSession = connectH2(h.edge.httpsPort!, ZONE, ca.pem);
    const busy = connectH2(h.edge.httpsPort!, ZONE, ca.pem);
    try {
      const targets: Array<[string, Record<string, string>, Buffer]> = [
        ['whole', {}, body],
        ['range', { range: 'bytes=100000-900000' }, body.subarray(100_000, 900_001)],
      ];
      const stalled = targets.map(([, headers, expected]) => {
        const stream = stalledSession.session.request({ ':path': '/pooled.bin', ':authority': ZONE, ...headers });
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        return { stream, chunks, expected };
      });
      await Promise.all(stalled.map(({ stream }) => once(stream, 'data')));
      for (const { stream } of stalled) stream.pause();
      for (let round = 0; round < 4; round++) {
        await Promise.all(
          Array.from({ length: 12 }, async (_, i) => {
            const start = ((round * 12 + i) * 104_729) % (size - 300_000);
            const length = [40_000, 65_536, 250_000][i % 3];
            const range = `bytes=${start}-${start + length - 1}`;
            const r = i % 4 === 3 ? await h.get('/pooled.bin', { range }) : await busy.request('/pooled.bin', { range });
            assert.equal(r.status, 206);
            assert.ok(r.body.equals(body.subarray(start, start + length)), range);
          }),
        );
      }
      for (const { stream, chunks, expected } of stalled) {
        const ended = once(stream, 'end');
        stream.resume();
        await ended;
        assert.ok(Buffer.concat(chunks).equals(expected), 'the stalled stream got its own bytes');
      }
    } finally {
      stalledSession.session.destroy();
      busy.session.destroy();
    }
  });
});
