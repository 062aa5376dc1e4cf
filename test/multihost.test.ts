// The CDN on several hosts: each host a network namespace on one bridged network (test/helpers/netns.ts),
// every server started with the real CLI (`mediacdn origin | edge | dns`) and a config file of its own
// that shares one `fleet` and `dns` section:
//
//   origin 10.0.0.10 ── shield 10.0.0.20 ──┬── edge-eu 10.1.0.10 (Frankfurt) ── client-eu 10.1.0.100
//   dns    10.0.0.53 (health checks) ──────┴── edge-us 10.2.0.10 (New York) ── client-us 10.2.0.100
//
// Shows: each client's query (EDNS Client Subnet of its region) is answered with its region's edge; the
// song plays through that edge with ranges (curl, and Chromium resolving through mediacdn dns); cutting edge-eu's cable moves its clients to edge-us once the
// health checks notice, and back when it returns; a purge issued while edge-eu is cut off is reported
// pending for it and applied (from the origin's purge log) when it returns, before it serves the song.
//
// Where a client is: a MaxMind database written by the test (dns.geoipDatabase) places 10.1/16 in Paris
// and 10.2/16 in Chicago, and the DNS server picks the nearest edge by great-circle distance, as it
// does with a real GeoIP database on the internet. A CIDR route would name the edge directly and
// skip the distance; geoip-lite's built-in database knows no private blocks, so it is switched off.
//
// Each namespace has its own ports, so the servers use their ordinary ones (53, 80, 4000, 8081). The
// origin uses SQLite in both CI passes: PostgreSQL listens in the machine's own namespace, which these
// hosts cannot reach.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CHROMIUM, launchBrowser } from './helpers/browser.ts';
import { CLI, runCli } from './helpers/cli.ts';
import { dig, rdata, type DigResult } from './helpers/dns.ts';
import { FIXTURES } from './helpers/library.ts';
import { writeMmdb } from './helpers/mmdb.ts';
import { Lab, netnsUnavailable, type Host, type HostProcess } from './helpers/netns.ts';
import { waitFor } from './helpers/origin.ts';

const ZONE = 'cdn.radio.test';
const TOKEN = 'multihost-admin-token-0123456789';
/** Short, so that failover is quick; the check's timeout (three quarters of it) is long, for a busy machine. */
const HEALTH_INTERVAL_MS = 2000;
/** How often edges poll the purge log. */
const PURGE_LOG_INTERVAL_MS = 1000;
/** Deadlines for things that take a few health intervals on an idle machine; generous, for a busy one. */
const SETTLE_MS = 90_000;

const IP = {
  origin: '10.0.0.10',
  shield: '10.0.0.20',
  dns: '10.0.0.53',
  edgeEu: '10.1.0.10',
  clientEu: '10.1.0.100',
  edgeUs: '10.2.0.10',
  clientUs: '10.2.0.100',
} as const;
const ECS_EU = '10.1.0.0/24';
const ECS_US = '10.2.0.0/24';

const fleet = [
  { name: 'shield', role: 'shield', control: `http://${IP.shield}:8081` },
  { name: 'edge-eu', addresses: [IP.edgeEu], location: { lat: 50.1, lon: 8.7 }, control: `http://${IP.edgeEu}:8081` },
  { name: 'edge-us', addresses: [IP.edgeUs], location: { lat: 40.7, lon: -74.0 }, control: `http://${IP.edgeUs}:8081` },
];

type Reply = { status: number; headers: Record<string, string>; body: Buffer };

test('multi-host: geo DNS by client subnet, a song through the nearest edge, failover when an edge is cut off', { timeout: 420_000 }, async (t) => {
  const unavailable = await netnsUnavailable();
  if (unavailable !== undefined) {
    t.skip(unavailable);
    return;
  }
  const started = Date.now();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mediacdn-multihost-'));
  const lab = await Lab.create();
  t.after(async () => {
    await lab.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const origin = await lab.addHost('origin', `${IP.origin}/8`);
  const shield = await lab.addHost('shield', `${IP.shield}/8`);
  const dnsHost = await lab.addHost('dns', `${IP.dns}/8`);
  const edgeEu = await lab.addHost('edge-eu', `${IP.edgeEu}/8`);
  const edgeUs = await lab.addHost('edge-us', `${IP.edgeUs}/8`);
  const clientEu = await lab.addHost('client-eu', `${IP.clientEu}/8`);
  const clientUs = await lab.addHost('client-us', `${IP.clientUs}/8`);

  const geoip = path.join(dir, 'clients.mmdb');
  writeMmdb(geoip, [
    { cidr: '10.1.0.0/16', record: { city: { names: { en: 'Paris' } }, location: { latitude: 48.86, longitude: 2.35, accuracy_radius: 20 } } },
    { cidr: '10.2.0.0/16', record: { city: { names: { en: 'Chicago' } }, location: { latitude: 41.88, longitude: -87.63, accuracy_radius: 20 } } },
  ]);
  const shared = {
    cdn: ZONE,
    fleet,
    dns: {
      port: 53,
      ttl: 1,
      builtinGeoip: false,
      geoipDatabase: geoip,
      healthIntervalMs: HEALTH_INTERVAL_MS,
      healthTimeoutMs: (HEALTH_INTERVAL_MS * 3) / 4,
      nameservers: [{ name: `ns1.${ZONE}`, addresses: [IP.dns] }],
    },
  };
  // Every edge and the shield catch up on the origin's purge log (polled every second) before they
  // answer from their cache after a failed poll.
  const edgeListener = {
    workers: 1,
    port: 80,
    host: '0.0.0.0',
    adminPort: 8081,
    adminHost: '0.0.0.0',
    purgeLogUrl: `http://${IP.origin}:4000/api/purges`,
    purgeLogIntervalMs: PURGE_LOG_INTERVAL_MS,
    purgeLogTimeoutMs: PURGE_LOG_INTERVAL_MS,
  };
  /** A host's working directory with its mediacdn.config.json (the shared fleet and DNS plus its own part). */
  const project = (name: string, own: Record<string, unknown>): string => {
    const cwd = path.join(dir, name);
    mkdirSync(cwd);
    writeFileSync(path.join(cwd, 'mediacdn.config.json'), JSON.stringify({ dataDir: path.join(cwd, 'data'), ...shared, ...own }, null, 2));
    return cwd;
  };
  const cwd = {
    origin: project('origin', { origin: { host: '0.0.0.0', port: 4000, workers: 1 } }),
    shield: project('shield', { edge: { ...edgeListener, zones: [{ host: ZONE, origin: `http://${IP.origin}:4000` }] } }),
    edge: (name: string) =>
      project(name, { edge: { ...edgeListener, zones: [{ host: ZONE, shield: `http://${IP.shield}`, shieldAdmin: `http://${IP.shield}:8081` }] } }),
    dns: project('dns', { edge: { zones: [{ host: ZONE, origin: `http://${IP.origin}:4000` }] } }),
  };
  const env: NodeJS.ProcessEnv = { ...process.env, MEDIACDN_TOKEN: TOKEN, LOG_LEVEL: 'warn' };
  delete env.DATABASE_URL;
  const mediacdn = (host: Host, dirOf: string, args: string[]): HostProcess =>
    lab.spawn(host, process.execPath, ['--disable-warning=ExperimentalWarning', CLI, ...args], { cwd: dirOf, env });

  // The library holds one song before the origin starts (the CLI on the machine, into the origin's folder).
  const added = await runCli(['add', path.join(FIXTURES, 'tone-3s.mp3'), '--song', '--title', 'Tone', '--json'], {
    cwd: cwd.origin,
    env: { DATABASE_URL: undefined },
  });
  assert.equal(added.code, 0, added.stderr);
  const song = JSON.parse(added.stdout) as { fileName: string; sha256: string; byteSize: number; url: string };
  const songUrl = new URL(song.url, 'http://x');
  assert.equal(songUrl.host, ZONE, 'links point at the CDN name');
  const songBytes = readFileSync(path.join(FIXTURES, 'tone-3s.mp3'));

  const servers = {
    origin: mediacdn(origin, cwd.origin, ['origin']),
    shield: mediacdn(shield, cwd.shield, ['edge']),
    edgeEu: mediacdn(edgeEu, cwd.edge('edge-eu'), ['edge']),
    edgeUs: mediacdn(edgeUs, cwd.edge('edge-us'), ['edge']),
  };
  await Promise.all([
    servers.origin.waitForOutput(/origin listening on/, SETTLE_MS),
    servers.shield.waitForOutput(/edge listening on/, SETTLE_MS),
    servers.edgeEu.waitForOutput(/edge listening on/, SETTLE_MS),
    servers.edgeUs.waitForOutput(/edge listening on/, SETTLE_MS),
  ]);
  // After the edges: its first health checks find them up (a check before would count against them).
  const dns = mediacdn(dnsHost, cwd.dns, ['dns']);
  await dns.waitForOutput(/edge edge-us: health/, SETTLE_MS);
  t.diagnostic(`7 hosts and 5 servers up after ${Date.now() - started} ms`);

  /** What the client's resolver would ask: the CDN name, with the client's subnet as EDNS Client Subnet. */
  const resolve = (client: Host, ecs?: string): Promise<DigResult> =>
    dig(53, [ZONE, 'A', '+time=5', '+tries=2', ...(ecs !== undefined ? [`+subnet=${ecs}`] : [])], { server: IP.dns, netns: client.ns });
  const answer = async (client: Host, ecs?: string): Promise<string[]> => rdata((await resolve(client, ecs)).answers);
  /** Polls the client's answer until it is `address` alone. */
  const waitForAnswer = (client: Host, ecs: string, address: string) =>
    waitFor(async () => {
      const got = await answer(client, ecs);
      return got.length === 1 && got[0] === address ? got : undefined;
    }, SETTLE_MS, 250);

  let fetches = 0;
  /** curl on the client, connecting to `address` for the CDN name (what the browser does after resolving it). */
  const fetchSong = async (client: Host, address: string, range?: string): Promise<Reply> => {
    const out = path.join(dir, `body-${++fetches}`);
    const r = await lab.exec(client, 'curl', [
      '-sS', '--max-time', '30', '--resolve', `${ZONE}:80:${address}`, '-D', '-', '-o', out,
      ...(range !== undefined ? ['-r', range] : []), `http://${ZONE}${songUrl.pathname}`,
    ]);
    if (r.code !== 0) throw new Error(`curl on ${client.name} via ${address}: exit ${r.code}: ${r.stderr.trim()}`);
    const lines = r.stdout.split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    return { status: Number(lines[0].split(' ')[1]), headers, body: readFileSync(out) };
  };
  /** The song as a player reads it: the first 4 KiB, then the rest; checked byte for byte. */
  const play = async (client: Host, address: string): Promise<Reply[]> => {
    const head = await fetchSong(client, address, '0-4095');
    assert.equal(head.status, 206);
    assert.equal(head.headers['content-range'], `bytes 0-4095/${song.byteSize}`);
    assert.equal(head.headers['content-type'], 'audio/mpeg');
    const rest = await fetchSong(client, address, '4096-');
    assert.equal(rest.status, 206);
    assert.equal(rest.headers['content-range'], `bytes 4096-${song.byteSize - 1}/${song.byteSize}`);
    const whole = Buffer.concat([head.body, rest.body]);
    assert.ok(whole.equals(songBytes), 'the ranges put together are the song');
    assert.equal(createHash('sha256').update(whole).digest('hex'), song.sha256);
    return [head, rest];
  };
  const shieldOutcomes = async (): Promise<Record<string, number>> => {
    const r = await lab.exec(origin, 'curl', ['-sS', '--max-time', '10', '-H', `authorization: Bearer ${TOKEN}`, `http://${IP.shield}:8081/_mediacdn/stats`]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { zones: Record<string, { totals: { outcomes: Record<string, number> } }> }).zones[ZONE].totals.outcomes;
  };

  await t.test('each client resolves the CDN name to the edge of its region', async () => {
    const eu = await resolve(clientEu, ECS_EU);
    assert.equal(eu.status, 'NOERROR');
    assert.ok(eu.flags.includes('aa'), 'authoritative');
    assert.deepEqual(rdata(eu.answers), [IP.edgeEu], `client-eu → edge-eu\n${eu.text}\n${dns.output()}`);
    assert.match(eu.clientSubnet ?? '', /^10\.1\.0\.0\/24\/\d+$/, 'the client subnet is echoed with a scope');
    const us = await resolve(clientUs, ECS_US);
    assert.deepEqual(rdata(us.answers), [IP.edgeUs], `client-us → edge-us\n${us.text}\n${dns.output()}`);
    // The subnet in the query decides, not the address it comes from (a resolver asks for its clients)…
    assert.deepEqual(await answer(clientEu, ECS_US), [IP.edgeUs], 'a query from Europe for a client in America');
    // …and without one, the address it comes from.
    assert.deepEqual(await answer(clientUs), [IP.edgeUs], 'no ECS: the source address');
    assert.deepEqual(await answer(clientEu), [IP.edgeEu], 'no ECS: the source address');
  });

  await t.test('the song plays through the edge each client resolved, filled once from the origin through the shield', async () => {
    const [eu] = await answer(clientEu, ECS_EU);
    const [first] = await play(clientEu, eu);
    assert.equal(first.headers['x-cache'], 'MISS', 'the first listener in Europe fills edge-eu');
    const again = await fetchSong(clientEu, eu);
    assert.equal(again.status, 200);
    assert.equal(again.headers['x-cache'], 'HIT', 'then edge-eu serves it from its cache');
    assert.ok(again.body.equals(songBytes));

    const [us] = await answer(clientUs, ECS_US);
    const [firstUs] = await play(clientUs, us);
    assert.equal(firstUs.headers['x-cache'], 'MISS', 'edge-us had not seen it');
    const outcomes = await shieldOutcomes();
    assert.equal(outcomes.miss, 1, 'the shield asked the origin once for both edges');
    assert.ok(outcomes.hit >= 1, 'and answered edge-us from its cache');
  });

  await t.test('Chromium on client-eu, whose resolver is mediacdn dns, plays the song from edge-eu', async () => {
    lab.useResolver(clientEu, IP.dns);
    const browser = await launchBrowser(lab.wrapper(clientEu, CHROMIUM, dir));
    try {
      const page = await browser.newPage();
      const served: Array<{ status: number; from: string | undefined; cache: string | undefined }> = [];
      page.on('response', async (res) => {
        if (!res.url().endsWith(songUrl.pathname)) return;
        served.push({ status: res.status(), from: (await res.serverAddr())?.ipAddress, cache: (await res.allHeaders())['x-cache'] });
      });
      // The link as the library publishes it (//cdn.radio.test/media/…), on a page of another origin.
      await page.setContent(`<!doctype html><audio id="a" crossorigin="anonymous" preload="auto" src="http:${song.url.replace(/^https?:/, '')}"></audio>`);
      const audio = `document.getElementById('a')`;
      await page.evaluate(`${audio}.play()`);
      await page.waitForFunction(`${audio}.currentTime > 0.25`, undefined, { timeout: SETTLE_MS });
      assert.ok(Math.abs(((await page.evaluate(`${audio}.duration`)) as number) - 3) < 0.5, 'the whole three seconds');
      assert.ok(served.length > 0, 'the song came over the network');
      for (const s of served) {
        assert.equal(s.from, IP.edgeEu, `served by edge-eu: ${JSON.stringify(served)}`);
        assert.ok([200, 206].includes(s.status));
      }
      assert.ok(served.some((s) => s.cache === 'HIT'), `from edge-eu's cache: ${JSON.stringify(served)}`);
    } finally {
      await browser.close();
    }
  });

  await t.test("cutting edge-eu's link moves its clients to edge-us; they come back when it returns", async () => {
    await lab.cut(edgeEu);
    const cut = await lab.exec(clientEu, 'curl', ['-sS', '--connect-timeout', '2', '-o', '/dev/null', `http://${IP.edgeEu}/`]);
    assert.notEqual(cut.code, 0, 'edge-eu is out of reach');
    await waitForAnswer(clientEu, ECS_EU, IP.edgeUs);
    await dns.waitForOutput(/dns: edge edge-eu is down/);
    assert.deepEqual(await answer(clientUs, ECS_US), [IP.edgeUs], 'client-us is not disturbed');
    const moved = await fetchSong(clientEu, IP.edgeUs);
    assert.equal(moved.status, 200);
    assert.equal(moved.headers['x-cache'], 'HIT', 'edge-us already holds the song');
    assert.ok(moved.body.equals(songBytes), 'the song still plays for client-eu, from edge-us');

    await lab.restore(edgeEu);
    await waitForAnswer(clientEu, ECS_EU, IP.edgeEu);
    await dns.waitForOutput(/dns: edge edge-eu is up again/);
    const back = await fetchSong(clientEu, IP.edgeEu);
    assert.equal(back.status, 200);
    assert.ok(back.body.equals(songBytes));
  });

  await t.test('a purge issued while edge-eu is cut off is applied when it returns, before it serves the song again', async () => {
    const hit = await fetchSong(clientEu, IP.edgeEu);
    assert.equal(hit.headers['x-cache'], 'HIT', 'edge-eu holds the song');
    const missed = (p: HostProcess) => (p.output().match(/cannot catch up on the purge log/g) ?? []).length;
    const before = missed(servers.edgeEu);
    await lab.cut(edgeEu);
    // The operator purges the song from the origin's machine: every fleet member is asked, shield first.
    const purge = await lab.exec(origin, process.execPath, [
      '--disable-warning=ExperimentalWarning', CLI, 'purge', `http://${ZONE}${songUrl.pathname}`, '--timeout', '1000', '--attempts', '2',
    ], { cwd: cwd.origin, env });
    assert.equal(purge.code, 1, `exit 1 while an edge is pending\n${purge.stdout}${purge.stderr}`);
    // Removed by the push, or a moment earlier by the member's own poll of the purge log (removed 0);
    // edge-us forwards the push to its shield too, which has purged already.
    assert.match(purge.stdout, /^shield: done, removed [01]$/m, purge.stdout);
    assert.match(purge.stdout, /^edge-us: done, removed [01] \(shield http:\/\/10\.0\.0\.20:8081: removed 0\)$/m, purge.stdout);
    assert.equal((await fetchSong(clientUs, IP.edgeUs)).headers['x-cache'], 'MISS', 'edge-us no longer holds the purged copy');
    assert.match(purge.stderr, /^edge-eu: pending \(unreachable: .*\(after 2 attempts\)\)$/m, purge.stderr);
    assert.match(purge.stdout, /^purge log: entry \d+$/m);
    assert.match(purge.stderr, /purge pending on 1 of 3 edges/);
    // edge-eu notices it cannot reach the log (its next poll fails), so it will catch up before answering.
    await waitFor(() => (missed(servers.edgeEu) > before ? true : undefined), SETTLE_MS, 100);

    await lab.restore(edgeEu);
    const back = await fetchSong(clientEu, IP.edgeEu);
    assert.equal(back.status, 200);
    assert.equal(back.headers['x-cache'], 'MISS', `the purge was applied before edge-eu answered: it fetched the song again\n${servers.edgeEu.output()}`);
    assert.ok(back.body.equals(songBytes));
    assert.match(servers.edgeEu.output(), /purge log reachable again, caught up to \d+/);
    const again = await fetchSong(clientEu, IP.edgeEu);
    assert.equal(again.headers['x-cache'], 'HIT', 'and caches it again');
  });

  t.diagnostic(`multi-host scenario took ${Date.now() - started} ms`);
});
