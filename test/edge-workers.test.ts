// `mediacdn edge --workers 2` as a real process: two workers behind one primary over one disk tier.
// A request on a new connection goes to the next worker (the primary hands connections out in turn),
// and every response names its worker in X-Edge-Worker, so each test can put requests on both.
// Proved here: concurrent misses through both workers make one origin fetch, and the other worker's
// clients get the body while it arrives (and see it cut when the origin cuts it); what one worker stored
// is a HIT from the other; a purge is answered once both applied it; statistics are the whole edge's;
// a client's rate limit is counted once; a killed worker is replaced.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI } from './helpers/cli.ts';
import { ADMIN_TOKEN, ZONE } from './helpers/edge-harness.ts';
import { startCountingOrigin } from './helpers/counting-origin.ts';
import type { CountingOrigin } from './helpers/counting-origin.ts';
import { childrenOf, memorySettings, SERVING } from './helpers/proc.ts';

const LIMITED = 'limited.example.com';

type Answer = { status: number; worker: string; cache: string; body: string };

/** One request on its own connection (so that consecutive requests go to different workers). */
function get(base: string, host: string, target: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${target}`, { method, agent: false, headers: { host, connection: 'close', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, worker: String(res.headers['x-edge-worker'] ?? ''), cache: String(res.headers['x-cache'] ?? ''), body: text }));
    });
    req.on('error', reject);
    // A connection the primary handed to a worker at the moment it was killed is never answered.
    req.setTimeout(5000, () => req.destroy(new Error('no answer')));
    req.end(body);
  });
}

/** Requests until one is answered by a worker other than `not` (new connections rotate over the workers). */
async function fromOther(base: string, host: string, target: string, not: string): Promise<Answer> {
  for (let i = 0; i < 50; i++) {
    const a = await get(base, host, target);
    if (a.worker !== not) return a;
  }
  throw new Error(`no answer from a worker other than ${not}`);
}

/** A response read as it arrives: its fields at once, then the bytes so far and its end (or its cut). */
type Streaming = { worker: string; cache: string; status: number; received: () => number; done: Promise<{ body: Buffer; complete: boolean }> };

function stream(base: string, host: string, target: string): Promise<Streaming> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${target}`, { agent: false, headers: { host, connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      let n = 0;
      res.on('data', (d: Buffer) => {
        chunks.push(d);
        n += d.length;
      });
      const done = new Promise<{ body: Buffer; complete: boolean }>((settle) => {
        res.once('end', () => settle({ body: Buffer.concat(chunks), complete: res.complete }));
        res.once('error', () => settle({ body: Buffer.concat(chunks), complete: false }));
        res.once('aborted', () => settle({ body: Buffer.concat(chunks), complete: false }));
      });
      resolve({ worker: String(res.headers['x-edge-worker'] ?? ''), cache: String(res.headers['x-cache'] ?? ''), status: res.statusCode ?? 0, received: () => n, done });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Waits (on events, not a clock) until `ready()` holds. */
async function until(ready: () => boolean): Promise<void> {
  while (!ready()) await new Promise((r) => setImmediate(r));
}

describe('mediacdn edge --workers 2', () => {
  let origin: CountingOrigin;
  let data: string;
  let child: ReturnType<typeof spawn>;
  let base = '';
  let output = '';
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

  before(async () => {
    origin = await startCountingOrigin();
    data = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-edge-workers-'));
    const config = path.join(data, 'mediacdn.config.json');
    await writeFile(
      config,
      JSON.stringify({
        edge: {
          zones: [
            { host: ZONE, origin: origin.url },
            // A burst of 4 and a refill far slower than the test: the fifth request of a client is refused.
            { host: LIMITED, origin: origin.url, rateLimit: { requestsPerSecond: 0.001, burst: 4 } },
          ],
        },
      }),
    );
    child = spawn(process.execPath, [CLI, '--config', config, 'edge', '--port', '0', '--host', '127.0.0.1', '--workers', '2'], {
      env: { ...process.env, MEDIACDN_DATA: data, MEDIACDN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
    base = await new Promise<string>((resolve, reject) => {
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        output += d;
        const m = /edge listening on (http:\/\/\S+) \(2 workers\)/.exec(output);
        if (m && output.includes('cache:')) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`edge exited (${code}): ${output}`)));
    });
  });

  after(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await origin.close();
    await rm(data, { recursive: true, force: true });
  });

  it('concurrent misses through both workers make one origin fetch', async () => {
    // The origin holds its answer until every client request was sent, so the misses overlap.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    origin.route('/media/one.mp3', (_req, res) => {
      void held.then(() => {
        res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'audio/mpeg', 'content-length': '11' });
        res.end('one fill\r\n!');
      });
    });
    const answers = Array.from({ length: 8 }, () => get(base, ZONE, '/media/one.mp3'));
    while (origin.count('/media/one.mp3') === 0) await new Promise((r) => setImmediate(r));
    release();
    const all = await Promise.all(answers);
    assert.deepEqual(new Set(all.map((a) => a.status)), new Set([200]));
    assert.ok(all.every((a) => a.body === 'one fill\r\n!'));
    assert.deepEqual(new Set(all.map((a) => a.worker)), new Set(['1', '2']), 'both workers answered');
    assert.equal(origin.count('/media/one.mp3'), 1, 'one origin fetch for the machine');
  });

  it('a fill in progress in one worker streams to the other worker\'s clients as it arrives', async () => {
    const half = Buffer.alloc(300_000, 'a');
    const rest = Buffer.alloc(300_000, 'b');
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    origin.route('/media/long.mp3', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'audio/mpeg', 'content-length': String(half.length + rest.length) });
      res.write(half);
      void finished.then(() => res.end(rest));
    });
    const first = await stream(base, ZONE, '/media/long.mp3');
    await until(() => first.received() >= half.length);
    // New connections take turns over the workers: open until one lands on the other worker.
    const opened: Streaming[] = [];
    let other: Streaming | undefined;
    while (!other) {
      const s = await stream(base, ZONE, '/media/long.mp3');
      opened.push(s);
      if (s.worker !== first.worker) other = s;
    }
    assert.equal(other.status, 200);
    assert.equal(other.cache, 'MISS', 'served from the fill, not from the cache');
    // The origin has not sent the rest yet, and the other worker's client already has the first half.
    await until(() => other.received() >= half.length);
    assert.equal(origin.count('/media/long.mp3'), 1);
    finish();
    const whole = Buffer.concat([half, rest]);
    for (const s of [first, ...opened]) {
      const got = await s.done;
      assert.ok(got.complete);
      assert.ok(got.body.equals(whole));
    }
    assert.equal(origin.count('/media/long.mp3'), 1, 'one origin fetch for the machine');
    // The clients have every byte a moment before the fill is committed to the disk tier: until then
    // a request joins the fill (MISS) instead of fetching again. Then the other worker hits.
    let later = await fromOther(base, ZONE, '/media/long.mp3', first.worker);
    for (let i = 0; i < 200 && later.cache !== 'HIT'; i++) later = await fromOther(base, ZONE, '/media/long.mp3', first.worker);
    assert.equal(later.cache, 'HIT');
    assert.equal(origin.count('/media/long.mp3'), 1, 'still one origin fetch for the machine');
  });

  it('a shared fill the origin cuts short ends short in the other worker too, and the next request fetches again', async () => {
    const half = Buffer.alloc(200_000, 'c');
    let cut!: () => void;
    const cutting = new Promise<void>((resolve) => (cut = resolve));
    origin.route('/media/cut.mp3', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'audio/mpeg', 'content-length': String(half.length * 2) });
      res.write(half);
      void cutting.then(() => res.destroy());
    });
    const first = await stream(base, ZONE, '/media/cut.mp3');
    await until(() => first.received() >= half.length);
    const opened: Streaming[] = [];
    while (!opened.some((s) => s.worker !== first.worker)) opened.push(await stream(base, ZONE, '/media/cut.mp3'));
    const other = opened.find((s) => s.worker !== first.worker)!;
    await until(() => other.received() >= half.length);
    cut();
    for (const s of [first, ...opened]) {
      const got = await s.done;
      assert.equal(got.complete, false, 'a body that ended short is not complete');
      assert.ok(got.body.length < half.length * 2);
    }
    origin.route('/media/cut.mp3', { headers: { 'cache-control': 'max-age=600', 'content-type': 'audio/mpeg' }, body: 'whole now' });
    const again = await get(base, ZONE, '/media/cut.mp3');
    assert.equal(again.body, 'whole now');
    assert.equal(origin.count('/media/cut.mp3'), 2);
  });

  it('an object stored through one worker is a HIT from the other', async () => {
    origin.route('/media/two.mp3', { headers: { 'cache-control': 'max-age=600', 'content-type': 'audio/mpeg' }, body: 'stored once' });
    const first = await get(base, ZONE, '/media/two.mp3');
    assert.equal(first.cache, 'MISS');
    const other = await fromOther(base, ZONE, '/media/two.mp3', first.worker);
    assert.equal(other.cache, 'HIT');
    assert.equal(other.body, 'stored once');
    assert.equal(origin.count('/media/two.mp3'), 1);
  });

  it('a purge is answered once both workers applied it', async () => {
    origin.route('/media/three.mp3', { headers: { 'cache-control': 'max-age=600', 'content-type': 'audio/mpeg' }, body: 'version 1' });
    const first = await get(base, ZONE, '/media/three.mp3');
    // Now in both workers' memory tiers (and on disk).
    assert.equal((await fromOther(base, ZONE, '/media/three.mp3', first.worker)).cache, 'HIT');
    assert.equal((await fromOther(base, ZONE, '/media/three.mp3', first.worker === '1' ? '2' : '1')).cache, 'HIT');
    origin.route('/media/three.mp3', { headers: { 'cache-control': 'max-age=600', 'content-type': 'audio/mpeg' }, body: 'version 2' });
    const purged = await get(base, ZONE, '/_mediacdn/purge', { ...auth, 'content-type': 'application/json' }, 'POST', JSON.stringify({ url: `http://${ZONE}/media/three.mp3` }));
    assert.equal(purged.status, 200, purged.body);
    assert.ok((JSON.parse(purged.body) as { removed: number }).removed >= 1);
    // Whichever worker answers next, none serves version 1.
    const a = await get(base, ZONE, '/media/three.mp3');
    const b = await fromOther(base, ZONE, '/media/three.mp3', a.worker);
    assert.equal(a.body, 'version 2');
    assert.equal(b.body, 'version 2');
    assert.equal(origin.count('/media/three.mp3'), 2);
  });

  it('every kind of answer names the worker that gave it, exactly once', async () => {
    origin.route('/media/five.mp3', { headers: { 'cache-control': 'max-age=600', 'content-type': 'audio/mpeg', etag: '"f5"' }, body: 'five bytes' });
    origin.route('/media/post', (_req, res) => res.writeHead(201, { 'content-type': 'text/plain' }).end('made'));
    const rawWorkerFields: string[][] = [];
    const cases: Array<[string, () => Promise<Answer>, number]> = [
      ['miss', () => get(base, ZONE, '/media/five.mp3'), 200],
      ['hit', () => get(base, ZONE, '/media/five.mp3'), 200],
      ['range', () => get(base, ZONE, '/media/five.mp3', { range: 'bytes=0-3' }), 206],
      ['304', () => get(base, ZONE, '/media/five.mp3', { 'if-none-match': '"f5"' }), 304],
      ['416', () => get(base, ZONE, '/media/five.mp3', { range: 'bytes=100-' }), 416],
      ['POST passed to the origin', () => get(base, ZONE, '/media/post', { 'content-type': 'text/plain' }, 'POST', 'x'), 201],
      ['unknown zone', () => get(base, 'nowhere.example', '/media/five.mp3'), 404],
      ['control endpoint', () => get(base, ZONE, '/_mediacdn/health'), 200],
    ];
    for (const [name, ask, status] of cases) {
      const a = await ask();
      assert.equal(a.status, status, name);
      assert.match(a.worker, /^[12]$/, `${name}: X-Edge-Worker`);
    }
    // One field, not two (the field list and setHeader must not both add it).
    await new Promise<void>((resolve, reject) => {
      const req = http.request(`${base}/media/five.mp3`, { agent: false, headers: { host: ZONE, connection: 'close' } }, (res) => {
        const names = res.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
        rawWorkerFields.push(names.filter((n) => n === 'x-edge-worker'));
        res.resume().on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
    assert.deepEqual(rawWorkerFields, [['x-edge-worker']]);
  });

  it('statistics are those of the whole edge, whichever worker answers', async () => {
    origin.route('/media/four.mp3', { headers: { 'cache-control': 'max-age=600' }, body: 'counted' });
    type Stats = { zones: Record<string, { totals: { requests: number } }> };
    const before = JSON.parse((await get(base, ZONE, '/_mediacdn/stats', auth)).body) as Stats;
    const workers = new Set<string>();
    for (let i = 0; i < 6; i++) workers.add((await get(base, ZONE, '/media/four.mp3')).worker);
    assert.deepEqual(workers, new Set(['1', '2']));
    // Asked twice, so that each worker answers once.
    const one = await get(base, ZONE, '/_mediacdn/stats', auth);
    const two = await get(base, ZONE, '/_mediacdn/stats', auth);
    assert.notEqual(one.worker, two.worker);
    for (const s of [one, two]) {
      const after = JSON.parse(s.body) as Stats;
      assert.equal(after.zones[ZONE].totals.requests - (before.zones[ZONE]?.totals.requests ?? 0), 6);
    }
    const metrics = await get(base, ZONE, '/_mediacdn/metrics', auth);
    assert.match(metrics.body, /edge_requests_total\{zone="cdn\.example\.com",status_class="2xx"\} \d+/);
    // The memory of every process: the primary and both workers, each worker with its own memory tier.
    for (const p of ['primary', 'worker-1', 'worker-2']) assert.match(metrics.body, new RegExp(`\nedge_process_resident_memory_bytes\\{process="${p}"\\} [1-9]\\d*\n`));
    const { processes } = JSON.parse(one.body) as { processes: Array<{ role: string; worker?: number; pid: number; memoryTierEntries: number }> };
    assert.deepEqual(processes.map((p) => [p.role, p.worker]), [['primary', undefined], ['worker', 1], ['worker', 2]]);
    assert.equal(processes[0].pid, child.pid);
    assert.deepEqual(new Set(processes.slice(1).map((p) => p.pid)), new Set(childrenOf(child.pid!)));
    assert.ok(processes.slice(1).every((p) => p.memoryTierEntries >= 1), 'each worker keeps four.mp3 in its own memory tier');
    // Every process runs with a small young generation and the malloc settings: the workers forked
    // with them, the primary (the process started) re-executed with them.
    for (const p of processes) assert.deepEqual(memorySettings(p.pid), SERVING, p.role === 'worker' ? `worker ${p.worker}` : 'the primary');
  });

  it('a client\'s rate limit is counted once across the workers', async () => {
    origin.route('/media/five.mp3', { headers: { 'cache-control': 'max-age=600' }, body: 'limited' });
    const answers: Answer[] = [];
    for (let i = 0; i < 8; i++) answers.push(await get(base, LIMITED, '/media/five.mp3'));
    assert.deepEqual(new Set(answers.map((a) => a.worker)), new Set(['1', '2']));
    assert.equal(answers.filter((a) => a.status === 200).length, 4, 'the burst of 4, not 4 per worker');
    assert.equal(answers.filter((a) => a.status === 429).length, 4);
  });

  it('a worker that dies is replaced', async () => {
    const workers = childrenOf(child.pid!);
    assert.equal(workers.length, 2, `two workers: ${workers.join(', ')}`);
    process.kill(workers[0], 'SIGKILL');
    // Until the new one listens, the other worker answers; then both do again. A new worker takes a
    // second or more to start on a busy machine: the bound is the test's, not a guess of that time.
    const seen = new Set<string>();
    for (let i = 0; i < 20_000 && seen.size < 2; i++) {
      const a = await get(base, ZONE, '/_mediacdn/health').catch(() => undefined);
      if (a?.status === 200) seen.add(a.worker);
      if (seen.size < 2) await new Promise((r) => setImmediate(r));
    }
    assert.deepEqual(seen, new Set(['1', '2']));
    const now = childrenOf(child.pid!);
    assert.equal(now.length, 2);
    assert.ok(!now.includes(workers[0]));
    assert.match(output, /edge: worker \d+ was killed by SIGKILL; starting another/);
  });

  it('stops on SIGTERM with its statistics saved', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    const saved = JSON.parse(readFileSync(path.join(data, 'cache', 'stats.json'), 'utf8')) as { zones: Record<string, { totals: { requests: number } }> };
    assert.ok(saved.zones[ZONE].totals.requests >= 20);
  });
});

describe('mediacdn edge --workers 2 with a purge log', () => {
  it('catches up once before either worker answers from the disk tier', async () => {
    const origin = await startCountingOrigin();
    const data = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-edge-workers-log-'));
    // The origin's purge log (GET /api/purges?after=N), here a list the test extends.
    const log: { seq: number; target: { url: string } }[] = [];
    origin.route('/api/purges', (req, res) => {
      const after = Number(new URL(req.url ?? '', 'http://x').searchParams.get('after'));
      const page = { purges: log.filter((e) => e.seq > after), last: log.at(-1)?.seq ?? 0, reset: false, more: false };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(page));
    });
    let version = 1;
    origin.route('/media/six.mp3', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'audio/mpeg' });
      res.end(`version ${version}`);
    });
    const config = path.join(data, 'mediacdn.config.json');
    await writeFile(config, JSON.stringify({ edge: { purgeLogUrl: `${origin.url}/api/purges`, zones: [{ host: ZONE, origin: origin.url }] } }));
    const start = async (): Promise<{ base: string; stop: () => Promise<void> }> => {
      const proc = spawn(process.execPath, [CLI, '--config', config, 'edge', '--port', '0', '--host', '127.0.0.1', '--workers', '2'], {
        env: { ...process.env, MEDIACDN_DATA: data, MEDIACDN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      proc.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
      const base = await new Promise<string>((resolve, reject) => {
        proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
          out += d;
          const m = /edge listening on (http:\/\/\S+)/.exec(out);
          if (m && out.includes('cache:')) resolve(m[1]);
        });
        proc.once('exit', (code) => reject(new Error(`edge exited (${code}): ${out}`)));
      });
      return {
        base,
        stop: async () => {
          const exited = new Promise((resolve) => proc.once('exit', resolve));
          proc.kill('SIGTERM');
          await exited;
        },
      };
    };
    try {
      const first = await start();
      const a = await get(first.base, ZONE, '/media/six.mp3');
      assert.equal(a.body, 'version 1');
      assert.equal((await fromOther(first.base, ZONE, '/media/six.mp3', a.worker)).cache, 'HIT');
      await first.stop();
      // Purged while the edge was down; the disk tier still holds version 1.
      version = 2;
      log.push({ seq: 1, target: { url: `http://${ZONE}/media/six.mp3` } });
      const second = await start();
      const b = await get(second.base, ZONE, '/media/six.mp3');
      const c = await fromOther(second.base, ZONE, '/media/six.mp3', b.worker);
      assert.equal(b.body, 'version 2');
      assert.equal(c.body, 'version 2');
      assert.equal(origin.count('/media/six.mp3'), 2);
      await second.stop();
    } finally {
      await origin.close();
      await rm(data, { recursive: true, force: true });
    }
  });
});
