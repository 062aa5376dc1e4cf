// Paired runs: two servers loaded at the same time, their CPU per request compared within one run. The
// arithmetic on made-up runs, and the instrument on two real servers, one of which burns CPU per request.
import assert from 'node:assert/strict';
import os from 'node:os';
import { describe, it } from 'node:test';
import { SERVER_CORE } from './cpu.ts';
import type { Server } from './library.ts';
import { pairedTable } from './http-report.ts';
import { startProcess } from './proc.ts';
import { measurePair, pairRow, type Measured, type PairMeasured } from './rounds.ts';

/** A run as measure() reports one, with the fields pairRow reads. */
function run(cpuPer10k: number, errors = 0): Measured {
  return { cpuPer10k, errors } as Measured;
}

function pair(ours: number, base: number, serverCores = 1, errors = 0): PairMeasured {
  return { ours: run(ours, errors), base: run(base), cpuRatio: ours / base, serverCores, clientCores: 0.8 };
}

describe('paired rows', () => {
  it('take the median ratio of their rounds, and say when the server core was not full or answers failed', () => {
    const r = pairRow([pair(3, 2), pair(1, 1), pair(12, 10)]);
    assert.ok(r);
    assert.equal(r.cpuRatio, 1.2);
    assert.deepEqual(r.ratios, [1, 1.2, 1.5]);
    assert.equal(r.serverCoreFull, true);
    assert.equal(pairRow([pair(1, 1), pair(2, 1)])?.cpuRatio, 1.5, 'an even count: the mean of the middle two');
    assert.equal(pairRow([pair(1, 1), pair(1, 1, 0.5)])?.serverCoreFull, false);
    assert.deepEqual([pairRow([pair(1, 1, 1, 3)])?.oursErrors, pairRow([pair(1, 1, 1, 3)])?.baseErrors], [3, 0]);
    assert.equal(pairRow([]), undefined);
    assert.equal(pairRow([pair(3, 2), pair(1, 1), pair(12, 10)])?.oursCost, 3, 'our own cost: the median of ours');
  });

  it('say when our own CPU per request beside a baseline moved from what it was beside the first one', () => {
    const ours = { name: 'our edge' } as Server;
    const nginx = { name: 'nginx' } as Server;
    const varnish = { name: 'Varnish' } as Server;
    const ceiling = { name: 'ceiling' } as Server;
    const runs = new Map<Server, PairMeasured[]>([
      [nginx, [pair(1, 1), pair(1, 1), pair(1.2, 1)]],
      [varnish, [pair(2, 3), pair(2.4, 3), pair(1.9, 3)]],
      [ceiling, [pair(1.1, 2)]],
    ]);
    const table = pairedTable([{ name: 'radio' }], ours, [{ label: 'nginx', server: nginx }, { label: 'Varnish', server: varnish }, { label: 'ceiling', server: ceiling }], (_t, b) => pairRow(runs.get(b) ?? []));
    assert.match(table, /\| radio \| 1\.00× \(rounds 0\.83–1\.00\) \| 1\.50× \(rounds 1\.25–1\.58\), ours 2\.00× its CPU per request beside nginx \| 1\.82× \|/);
  });

  it('are shown as our requests per CPU-second over the baseline\'s, with the rounds\' range', () => {
    const ours = { name: 'our edge' } as Server;
    const nginx = { name: 'nginx' } as Server;
    const ceiling = { name: 'ceiling' } as Server;
    const rows = new Map<string, Map<Server, PairMeasured[]>>([
      ['GET 4 KiB', new Map([[nginx, [pair(2, 1), pair(2.5, 1), pair(4, 2)]], [ceiling, [pair(2.5, 2.5, 0.6)]]])],
      ['GET 64 KiB', new Map([[nginx, [pair(1, 2, 1, 1)]]])],
      ['not run', new Map()],
    ]);
    const tests = [...rows.keys()].map((name) => ({ name }));
    const table = pairedTable(tests, ours, [{ label: 'nginx', server: nginx }, { label: 'ceiling', server: ceiling }], (t, b) => pairRow(rows.get(t.name)?.get(b) ?? []));
    const lines = table.split('\n');
    assert.match(lines[0], /\| test \| our edge \/ nginx \| our edge \/ ceiling \|/);
    assert.match(table, /\| GET 4 KiB \| 0\.50× \(rounds 0\.40–0\.50\) \| 1\.00×, server core not full \|/);
    assert.match(table, /\| GET 64 KiB \| 2\.00×, 1 errors \(ours\) \| – \|/);
    assert.doesNotMatch(table, /not run/);
  });
});

/** A node:http server that spends `burnUs` of CPU on every request before answering 4 KiB. */
async function burner(name: string, burnUs: number): Promise<Server> {
  const script = `
    const body = Buffer.alloc(4096, 1);
    const s = require('node:http').createServer((req, res) => {
      const t = process.cpuUsage();
      for (let u = t; u.user + u.system - t.user - t.system < ${burnUs}; ) u = process.cpuUsage();
      res.end(body);
    });
    s.listen(0, '127.0.0.1', () => console.log('listening on http://127.0.0.1:' + s.address().port));`;
  // Both on the bench's server core (core 0 on a one-core machine), as a paired run puts them.
  const core = String(Math.min(SERVER_CORE, os.availableParallelism() - 1));
  const p = await startProcess({ cmd: 'taskset', args: ['-c', core, process.execPath, '-e', script], ready: /listening on (http:\/\/\S+)/ });
  return { name, url: p.match[1], pid: p.pid, stop: p.stop };
}

describe('measurePair', () => {
  it('charges each of two servers loaded at once with its own CPU per request', async () => {
    const cheap = await burner('cheap', 0);
    const dear = await burner('dear', 300);
    try {
      const r = await measurePair(dear, { kind: 'wrk', url: `${dear.url}/` }, cheap, { kind: 'wrk', url: `${cheap.url}/` }, 2);
      assert.ok(r.ours.requests > 0 && r.base.requests > 0);
      assert.equal(r.ours.errors + r.base.errors, 0, JSON.stringify({ ours: r.ours, base: r.base }));
      // 0.3 ms of CPU per request against a bare answer: several times more, whatever the machine's speed.
      assert.ok(r.ours.cpuPer10k / 10 >= 0.3, `the dear server: ${r.ours.cpuPer10k / 10} ms per request`);
      assert.ok(r.cpuRatio > 3, `ratio ${r.cpuRatio}`);
      assert.ok(Math.abs(r.cpuRatio - r.ours.cpuPer10k / r.base.cpuPer10k) < 1e-9);
      assert.ok(r.serverCores > 0 && r.clientCores > 0);
    } finally {
      await cheap.stop();
      await dear.stop();
    }
  });
});
