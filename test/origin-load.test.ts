// Resource behaviour of the origin under a real load: a client that goes away mid-body releases its
// file handle (open descriptors return to their baseline), and 1000 concurrent range requests on a
// large file are answered correctly without buffering whole files (memory grows by a bounded amount).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { writeFile, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startTestOrigin, request, openFdCount, waitFor, wavOfSize } from './helpers/origin.ts';

const MiB = 1024 * 1024;

async function largeFile(t: { after(fn: () => Promise<void>): void }, bytes: number): Promise<{ file: string; data: Buffer }> {
  const data = wavOfSize(bytes);
  // Not all zeros, so a wrong slice cannot compare equal by accident.
  for (let i = 44; i < data.length; i += 4093) data[i] = i & 0xff;
  const file = path.join(os.tmpdir(), `mediacdn-load-${process.pid}-${bytes}.wav`);
  await writeFile(file, data);
  t.after(() => unlink(file).catch(() => {}));
  return { file, data };
}

test('a client that goes away mid-body releases its file handle', async (t) => {
  const o = await startTestOrigin();
  t.after(() => o.close());
  const { file } = await largeFile(t, 16 * MiB);
  const item = await o.addPath(file);
  const url = new URL(`${o.url}/media/${item.fileName}`);
  // The first request opens the origin's cached descriptor for this file (its open_file_cache);
  // the baseline is taken after it, so only what each request opens is counted.
  assert.equal((await request(url.href, { method: 'HEAD' })).status, 200);
  const baseline = await waitFor(async () => {
    const a = await openFdCount();
    await new Promise((r) => setTimeout(r, 50));
    return a === (await openFdCount()) ? a : undefined;
  });
  for (let i = 0; i < 5; i++) {
    const during = await new Promise<number>((resolve, reject) => {
      const req = http.get({ host: url.hostname, port: url.port, path: url.pathname, agent: false, headers: i % 2 ? { range: 'bytes=1000-' } : {} }, (res) => {
        res.once('data', async () => {
          res.pause();
          const n = await openFdCount();
          req.destroy();
          resolve(n);
        });
      });
      req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)));
    });
    assert.ok(during > baseline, `descriptors are in use during the transfer (${during} > ${baseline})`);
    await waitFor(async () => ((await openFdCount()) <= baseline ? true : undefined));
  }
  assert.equal(await openFdCount(), baseline);
  assert.equal(o.origin.cacheStats().openFiles, 1);
});

test('1000 concurrent range requests on a 32 MiB file: all correct, memory stays bounded', async (t) => {
  const o = await startTestOrigin();
  t.after(() => o.close());
  const { file, data } = await largeFile(t, 32 * MiB);
  const item = await o.addPath(file);
  const url = new URL(`${o.url}/media/${item.fileName}`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1000 });
  t.after(() => agent.destroy());
  global.gc?.();
  const rssBefore = process.memoryUsage.rss();
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), 10);
  t.after(() => clearInterval(sampler));
  const ranges = Array.from({ length: 1000 }, (_, i) => {
    const len = i % 2 === 0 ? 64 * 1024 : 1 * MiB; // one positioned read, or a stream
    const start = (i * 7919 * 4096) % (data.length - len);
    return [start, start + len - 1] as const;
  });
  const results = await Promise.all(
    ranges.map(
      ([start, end]) =>
        new Promise<{ status: number; ok: boolean }>((resolve, reject) => {
          http
            .get({ host: url.hostname, port: url.port, path: url.pathname, agent, headers: { range: `bytes=${start}-${end}` } }, (res) => {
              // Compare as the bytes arrive and keep none of them: the client must not be what grows.
              let at = start;
              let ok = res.headers['content-range'] === `bytes ${start}-${end}/${data.length}`;
              res.on('data', (c: Buffer) => {
                if (ok && !c.equals(data.subarray(at, at + c.length))) ok = false;
                at += c.length;
              });
              res.on('end', () => resolve({ status: res.statusCode as number, ok: ok && at === end + 1 }));
              res.on('error', reject);
            })
            .on('error', reject);
        }),
    ),
  );
  clearInterval(sampler);
  assert.deepEqual(new Set(results.map((r) => r.status)), new Set([206]));
  assert.equal(results.filter((r) => !r.ok).length, 0, 'every body is the requested slice');
  const grown = (rssPeak - rssBefore) / MiB;
  // 1000 × (64 KiB or 1 MiB) is 544 MiB of bodies; whole-file buffering would be 32 GiB. Streaming with
  // backpressure keeps at most a chunk or one small read per response in memory (plus sockets).
  assert.ok(grown < 400, `RSS grew by ${grown.toFixed(0)} MiB`);
  t.diagnostic(`RSS grew by ${grown.toFixed(0)} MiB (peak ${(rssPeak / MiB).toFixed(0)} MiB)`);
});
