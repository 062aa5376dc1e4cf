import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkProperty } from '../../test/helpers/property.ts';
import { boundBy, compare, comparisonCell, efficiency, fastest, isClientBound, isKernelThread, machineVerdict, parseCpuTotals, parseProcStat } from './measure.ts';
import { medianRun, type Measured } from './rounds.ts';
import { cpuController, HOLD_PERIOD_US, openCpuHold, quotaFor } from './cpu-hold.ts';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { parseWrkReport } from './wrk.ts';

/** A /proc/PID/stat line as the kernel writes it (52 fields), with the given name and times. */
function statLine(o: { pid?: number; comm: string; utime: number; stime: number; cutime?: number; cstime?: number }): string {
  const after = ['S', '1', '100', '100', '0', '-1', '4194304', '101', '0', '0', '0', String(o.utime), String(o.stime), String(o.cutime ?? 0), String(o.cstime ?? 0), '20', '0', '1', '0', '29390'];
  return `${o.pid ?? 4242} (${o.comm}) ${[...after, ...Array(32).fill('0')].join(' ')}\n`;
}

describe('parseProcStat', () => {
  const rows: { name: string; line: string; want: { pid: number; comm: string; utime: number; stime: number; cutime: number; cstime: number } }[] = [
    { name: 'a real line (cat)', line: '12456 (cat) R 12454 12454 7332 0 -1 4194304 101 0 0 0 7 3 2 1 20 0 1 0 29390 3133440 412 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0', want: { pid: 12456, comm: 'cat', utime: 7, stime: 3, cutime: 2, cstime: 1 } },
    { name: 'a name with spaces', line: statLine({ comm: 'Web Content', utime: 10, stime: 20 }), want: { pid: 4242, comm: 'Web Content', utime: 10, stime: 20, cutime: 0, cstime: 0 } },
    { name: 'a name with ") (" inside', line: statLine({ comm: 'a) (b) 9 9', utime: 5, stime: 6, cutime: 7, cstime: 8 }), want: { pid: 4242, comm: 'a) (b) 9 9', utime: 5, stime: 6, cutime: 7, cstime: 8 } },
    { name: 'an empty name', line: statLine({ comm: '', utime: 1, stime: 2 }), want: { pid: 4242, comm: '', utime: 1, stime: 2, cutime: 0, cstime: 0 } },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const s = parseProcStat(r.line);
      assert.deepEqual({ pid: s.pid, comm: s.comm, utime: s.utime, stime: s.stime, cutime: s.cutime, cstime: s.cstime }, r.want);
    });
  }

  for (const [name, line] of [
    ['empty', ''],
    ['no parentheses', '123 cat R 1 2 3'],
    ['no pid', '(cat) R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15'],
    ['too few fields', '123 (cat) R 1 2 3'],
    ['a field that is not a number', statLine({ comm: 'x', utime: 1, stime: 2 }).replace(' 1 2 0 0 20', ' x 2 0 0 20')],
    ['a state that is not a letter', statLine({ comm: 'x', utime: 1, stime: 2 }).replace(') S ', ') 7 ')],
    ['oversized garbage', 'x'.repeat(1 << 20)],
  ] as const) {
    it(`refuses ${name}`, () => assert.throws(() => parseProcStat(line), Error));
  }

  it('reads back any name and times it is given (generated)', () => {
    checkProperty(
      fc.property(fc.string({ maxLength: 16 }), fc.nat(), fc.nat(), fc.nat(), fc.nat(), (comm, utime, stime, cutime, cstime) => {
        const s = parseProcStat(statLine({ comm, utime, stime, cutime, cstime }));
        assert.deepEqual([s.comm, s.utime, s.stime, s.cutime, s.cstime], [comm, utime, stime, cutime, cstime]);
      }),
      { numRuns: 200 },
    );
  });

  it('throws only Errors on arbitrary text (generated)', () => {
    checkProperty(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        try {
          parseProcStat(text);
        } catch (err) {
          assert.ok(err instanceof Error);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('parseCpuTotals', () => {
  it('counts user, nice, system and steal as busy; idle, iowait, irq and softirq as not', () => {
    assert.deepEqual(parseCpuTotals('cpu  100 1 50 1000 7 2 3 4 0 0\ncpu0 50 0 25 500 3 1 1 2 0 0\nintr 1'), { busy: 155, total: 1167 });
  });
  it('tells kernel threads by kthreadd (pid 2) as their parent', () => {
    assert.equal(isKernelThread({ pid: 2, ppid: 0 }), true);
    assert.equal(isKernelThread({ pid: 15, ppid: 2 }), true);
    assert.equal(isKernelThread({ pid: 1, ppid: 0 }), false);
    assert.equal(isKernelThread({ pid: 300, ppid: 1 }), false);
  });
  it('reads an old kernel line with four fields', () => assert.deepEqual(parseCpuTotals('cpu 1 2 3 4\n'), { busy: 6, total: 10 }));
  it('refuses a file without a cpu line', () => assert.throws(() => parseCpuTotals('cpu0 1 2 3 4\n'), /no "cpu" line/));
  it('refuses a malformed cpu line', () => assert.throws(() => parseCpuTotals('cpu 1 x 3 4\n'), /malformed/));
});

describe('efficiency', () => {
  it('gives CPU-seconds per 10,000 requests and per 10^9 bytes', () => {
    assert.deepEqual(efficiency({ cpuSec: 2, requests: 40_000, bytes: 4e9 }), { per10k: 0.5, perGB: 0.5 });
  });
  it('says NaN, not Infinity, when nothing was served', () => {
    const e = efficiency({ cpuSec: 1, requests: 0, bytes: 0 });
    assert.ok(Number.isNaN(e.per10k) && Number.isNaN(e.perGB));
  });
});

describe('the client-bound rule', () => {
  for (const [cpu, wall, bound] of [
    [9, 10, true],
    [8.99, 10, false],
    [10, 10, true],
    [0, 10, false],
    [1, 0, false],
  ] as const) {
    it(`${cpu} CPU-s over ${wall} s is ${bound ? '' : 'not '}client-bound`, () => assert.equal(isClientBound(cpu, wall), bound));
  }

  const base = { rps: 1000, cpuPer10k: 1, clientBound: false, serverShare: 0.97 };
  it('states a req/s ratio when neither run is client-bound', () => {
    assert.deepEqual(compare({ rps: 1500, cpuPer10k: 0.5, clientBound: false, serverShare: 0.95 }, base), { kind: 'ratio', ratio: 1.5, win: true, saturated: true });
    assert.equal(comparisonCell(compare({ rps: 900, cpuPer10k: 1, clientBound: false, serverShare: 0.9 }, base)), '0.90×');
  });
  it('says so when a server did not have its core full (latency, or other processes)', () => {
    assert.equal(comparisonCell(compare({ rps: 900, cpuPer10k: 1, clientBound: false, serverShare: 0.6 }, base)), '0.90× (not saturated)');
    assert.equal(comparisonCell(compare(base, { ...base, serverShare: 0.89 })), '1.00× (not saturated)');
  });
  it('compares CPU per request, not req/s, when either run is client-bound', () => {
    assert.deepEqual(compare({ rps: 2500, cpuPer10k: 1.3, clientBound: false, serverShare: 1 }, { ...base, clientBound: true }), { kind: 'client-bound', cpuRatio: 1.3 });
    assert.equal(comparisonCell(compare({ rps: 2500, cpuPer10k: 1.3, clientBound: true, serverShare: 0.5 }, base)), 'client-bound (CPU per request 1.30×)');
    assert.equal(comparisonCell({ kind: 'client-bound', cpuRatio: Number.NaN }), 'client-bound (CPU per request n/a)');
  });
  it('never states a win from a client-bound pair, whatever the numbers (generated)', () => {
    const fig = fc.record({ rps: fc.double({ min: 1, max: 1e6, noNaN: true }), cpuPer10k: fc.double({ min: 0.001, max: 100, noNaN: true }), clientBound: fc.boolean(), serverShare: fc.double({ min: 0, max: 1.2, noNaN: true }) });
    checkProperty(
      fc.property(fig, fig, (a, b) => {
        const c = compare(a, b);
        if (a.clientBound || b.clientBound) assert.equal(c.kind, 'client-bound');
        else assert.ok(c.kind === 'ratio' && c.win === a.rps > b.rps);
        assert.ok(!comparisonCell(c).includes('client-bound') || c.kind === 'client-bound');
      }),
      { numRuns: 300 },
    );
  });
});

describe('boundBy', () => {
  it('says what limited a run', () => {
    assert.equal(boundBy({ clientBound: true, serverShare: 1 }), 'client');
    assert.equal(boundBy({ clientBound: false, serverShare: 0.9 }), 'server');
    assert.equal(boundBy({ clientBound: false, serverShare: 0.89 }), 'neither');
  });
  it('counts a server held to a share of a core as the limit when it used that share', () => {
    assert.equal(boundBy({ clientBound: false, serverShare: 0.24, cpuLimit: 0.25 }), 'server');
    assert.equal(boundBy({ clientBound: false, serverShare: 0.2, cpuLimit: 0.25 }), 'neither');
    assert.equal(boundBy({ clientBound: true, serverShare: 0.25, cpuLimit: 0.25 }), 'client');
    assert.equal(comparisonCell(compare({ rps: 900, cpuPer10k: 1, clientBound: false, serverShare: 0.24, cpuLimit: 0.25 }, { rps: 1000, cpuPer10k: 1, clientBound: false, serverShare: 0.25, cpuLimit: 0.25 })), '0.90×');
  });
});

describe('CPU holds', () => {
  it('turns a share of a core into a quota per period', () => {
    assert.equal(quotaFor(0.25), 5000);
    assert.equal(quotaFor(1), HOLD_PERIOD_US);
    assert.equal(quotaFor(0.01), 1000); // the kernel's smallest quota
    for (const bad of [0, -0.5, 1.5, Number.NaN]) assert.throws(() => quotaFor(bad), /share of one core/);
  });
  it('finds the cpu controller in /proc/mounts, v1 before v2', () => {
    const v1 = 'tmpfs /sys/fs/cgroup tmpfs rw 0 0\ncgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0';
    assert.deepEqual(cpuController(v1), { version: 1, root: '/sys/fs/cgroup/cpu' });
    assert.deepEqual(cpuController('cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,cpu,cpuacct 0 0'), { version: 1, root: '/sys/fs/cgroup/cpu,cpuacct' });
    assert.deepEqual(cpuController('cgroup2 /sys/fs/cgroup cgroup2 rw,nsdelegate 0 0'), { version: 2, root: '/sys/fs/cgroup' });
    assert.equal(cpuController('cgroup /sys/fs/cgroup/cpuacct cgroup rw,cpuacct 0 0\nproc /proc proc rw 0 0'), undefined);
    assert.equal(cpuController(''), undefined);
  });
  it('moves a process into a held group and back out, or says why it cannot here', async () => {
    const hold = openCpuHold(0.3, `mediacdn-test-${process.pid}`);
    const ctl = cpuController(readFileSync('/proc/mounts', 'utf8'));
    if (hold instanceof Error) {
      // Only without a cpu controller or without root may a machine lack holds.
      assert.ok(ctl === undefined || process.getuid?.() !== 0, `a root process with a cpu controller got: ${hold.message}`);
      assert.match(hold.message, /cgroup|cpu controller/);
      return;
    }
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await once(child, 'spawn');
      const pid = child.pid as number;
      const group = () => readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => (ctl?.version === 2 ? l.startsWith('0::') : /:(\w+,)*cpu(,\w+)*:/.test(l)));
      hold.enter(pid);
      assert.match(group() ?? '', new RegExp(`/mediacdn-test-${process.pid}$`));
      hold.leave(pid);
      assert.match(group() ?? '', /:\/$/);
    } finally {
      child.kill();
      await once(child, 'exit').catch(() => {});
      hold.close();
    }
    assert.equal(existsSync(`${ctl?.root}/mediacdn-test-${process.pid}`), false);
  });
});

describe('fastest', () => {
  it('picks the highest req/s', () => assert.equal(fastest([{ rps: 1, n: 'a' }, { rps: 3, n: 'b' }, { rps: 2, n: 'c' }]).n, 'b'));
  it('refuses an empty list', () => assert.throws(() => fastest([]), /nothing/));
});

describe('machineVerdict', () => {
  it('is quiet with a low load average and little other CPU', () => assert.deepEqual(machineVerdict({ cores: 2, load1AtStart: 0.3, otherCores: [0.05, 0.1] }), { busy: false, reasons: [] }));
  it('is busy when the load average at the start is high', () => {
    const v = machineVerdict({ cores: 2, load1AtStart: 3.4, otherCores: [0] });
    assert.equal(v.busy, true);
    assert.match(v.reasons[0], /load average 3\.40/);
  });
  it('is busy when other processes used the machine during the runs', () => {
    const v = machineVerdict({ cores: 2, load1AtStart: 0, otherCores: [0.1, 0.9] });
    assert.equal(v.busy, true);
    assert.match(v.reasons[0], /0\.50 cores on average .*max 0\.90/);
  });
});

describe('medianRun', () => {
  const run = (rps: number, clientBound = false) => ({ rps, clientBound }) as Measured;
  it('takes the run with the median req/s, client-bound if any round was', () => {
    const m = medianRun([run(3), run(1, true), run(2)]);
    assert.equal(m?.rps, 2);
    assert.equal(m?.clientBound, true);
    assert.deepEqual([m?.clientBoundRounds, m?.rounds], [1, 3]);
  });
  it('takes the lower middle of an even count, and nothing of nothing', () => {
    assert.equal(medianRun([run(4), run(1), run(3), run(2)])?.rps, 2);
    assert.equal(medianRun([]), undefined);
  });
});

describe('parseWrkReport', () => {
  it('reads the line wrk-report.lua prints', () => {
    const out = 'Running 1s test\nBENCH_RESULT {"requests":2000,"bytes":8000000,"duration_us":2000000,"connect_errors":0,"read_errors":1,"write_errors":0,"status_errors":2,"timeouts":0,"p50_us":1500,"p99_us":9000}\n';
    assert.deepEqual(parseWrkReport(out), { requests: 2000, bytes: 8e6, seconds: 2, rps: 1000, mbps: 4, errors: 3, p50Ms: 1.5, p99Ms: 9 });
  });
  it('refuses output without the line', () => assert.throws(() => parseWrkReport('unable to connect\n'), /no result line/));
});

describe('residentNow', () => {
  it('reads this process: anonymous and file pages make up its resident set, and a new buffer shows', async () => {
    const { residentNow } = await import('./proc.ts');
    const before = residentNow(process.pid);
    assert.ok(before.rss > 0 && before.anon > 0 && before.file > 0);
    // RssShmem is the third part; it is small for node.
    assert.ok(Math.abs(before.rss - before.anon - before.file) < 0.1 * before.rss, JSON.stringify(before));
    const held = Buffer.alloc(64 * 1024 * 1024, 1);
    const after = residentNow(process.pid);
    assert.ok(after.anon - before.anon > 48 * 1024 * 1024, `${after.anon - before.anon} bytes more for a 64 MiB buffer`);
    assert.equal(held[held.length - 1], 1);
  });

  it('is all zero for a process that is gone', async () => {
    const { residentNow } = await import('./proc.ts');
    assert.deepEqual(residentNow(2 ** 22 + 12345), { rss: 0, anon: 0, file: 0 });
  });
});
