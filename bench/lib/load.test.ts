// The bench's own instruments against real processes: the CPU time a pinned load generator is charged
// with, a server tree's CPU time, the radio client's counting, on servers that answer right and wrong, and the handshake client's.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLK_TCK, machineBusySec, readProcStat, runPinned, treeCpuSec } from './cpu.ts';
import { startProcess } from './proc.ts';
import { makeCa, makeLeaf } from '../../test/helpers/tls.ts';
import { missingTools, requireTools, TOOL_PACKAGES } from './tools.ts';
import { parseWrkReport } from './wrk.ts';
import { tempDirSync } from '../../test/helpers/temp.ts';

const RADIO_CLIENT = path.join(import.meta.dirname, 'radio-client.ts');
const HANDSHAKE_CLIENT = path.join(import.meta.dirname, 'handshake-client.ts');
/** Burns CPU until its own clock says `ms` of CPU were used, then prints that figure. */
const BURN = `const t = process.cpuUsage(); let x = 0; while ((process.cpuUsage(t).user + process.cpuUsage(t).system) < ${300} * 1000) x++; const u = process.cpuUsage(); console.log('SELF ' + (u.user + u.system) / 1e6);`;

describe('CPU time from /proc', () => {
  it('charges a pinned load generator with at least the CPU it used itself', async () => {
    const r = await runPinned({ cmd: process.execPath, args: ['-e', BURN], core: 0, timeoutMs: 60_000 });
    const self = Number(/SELF ([\d.]+)/.exec(r.stdout)?.[1]);
    assert.ok(self >= 0.3, `the child used ${self} s`);
    // /proc counts in ticks; the shell's figure also holds node's start-up, so it can only be larger.
    assert.ok(r.cpuSec >= self - 2 / CLK_TCK, `runPinned said ${r.cpuSec} s, the child ${self} s`);
    assert.ok(!r.stdout.includes('BENCH_CHILD_STAT'), 'the wrapper line is cut from stdout');
  });

  it('passes a failing generator on as an error', async () => {
    await assert.rejects(runPinned({ cmd: process.execPath, args: ['-e', 'process.exit(3)'], core: 0, timeoutMs: 60_000 }), /failed/);
  });

  it('reads a living process tree, and the machine', async () => {
    const p = await startProcess({ cmd: process.execPath, args: ['-e', `${BURN.replace("console.log('SELF ' + (u.user + u.system) / 1e6);", '')} console.log('burnt'); setInterval(() => {}, 1000);`], ready: /burnt/ });
    try {
      assert.equal(readProcStat(p.pid)?.pid, p.pid);
      assert.ok(treeCpuSec(p.pid) >= 0.3 - 2 / CLK_TCK);
      assert.ok(machineBusySec() > 0);
      assert.equal(readProcStat(2 ** 22 + 12345), undefined);
    } finally {
      await p.stop();
    }
  });
});

describe('radio client', () => {
  const FILE = 1024 * 1024;
  const RANGE = 64 * 1024;
  let dir: string;
  let ceiling: Awaited<ReturnType<typeof startProcess>>;
  let wrong: http.Server;
  let wrongUrl: string;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-radio-'));
    await writeFile(path.join(dir, 'a.wav'), Buffer.alloc(FILE, 7));
    ceiling = await startProcess({ cmd: process.execPath, args: [path.join(import.meta.dirname, '../servers/memory-ceiling.ts'), dir], ready: /listening on (http:\/\/\S+)/ });
    // Answers 200 with the whole file to every other request, and no Content-Length to the rest.
    let n = 0;
    wrong = http.createServer((_req, res) => {
      if (n++ % 2 === 0) res.writeHead(200, { 'content-length': String(FILE) }).end(Buffer.alloc(FILE));
      else {
        res.write('chunked');
        res.end();
      }
    });
    await new Promise<void>((r) => wrong.listen(0, '127.0.0.1', r));
    wrongUrl = `http://127.0.0.1:${(wrong.address() as AddressInfo).port}/x`;
  });
  after(async () => {
    await ceiling.stop();
    wrong.closeAllConnections();
    await new Promise((r) => wrong.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  const radio = async (url: string, listeners: number) => {
    const { stdout } = await runPinned({ cmd: process.execPath, args: [RADIO_CLIENT, url, String(listeners), String(RANGE), String(FILE), '1'], core: 0, timeoutMs: 60_000 });
    return parseWrkReport(stdout);
  };

  it('counts whole ranges, headers and bodies, without errors from a server that answers right', async () => {
    const r = await radio(`${ceiling.match[1]}/media/a.wav`, 4);
    assert.ok(r.requests > 0);
    assert.equal(r.errors, 0);
    assert.ok(r.bytes >= r.requests * RANGE, `${r.bytes} bytes for ${r.requests} ranges`);
    assert.ok(r.p99Ms >= r.p50Ms && r.p50Ms > 0);
  });

  it('counts a 200 as an error and survives answers it cannot read', async () => {
    const r = await radio(wrongUrl, 4);
    assert.ok(r.errors > 0);
  });

  it('exits with a usage line on bad arguments', async () => {
    await assert.rejects(runPinned({ cmd: process.execPath, args: [RADIO_CLIENT, 'http://127.0.0.1:9/x', 'many'], core: 0, timeoutMs: 60_000 }), /usage/);
  });
});

describe('handshake client', () => {
  let dir: string;
  let ceiling: Awaited<ReturnType<typeof startProcess>>;
  let caFile: string;
  let otherCaFile: string;
  let base: string;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-handshake-'));
    await writeFile(path.join(dir, 'a.wav'), Buffer.alloc(4096, 7));
    const ca = await makeCa('handshake test CA', dir);
    const leaf = await makeLeaf(ca, ['localhost'], path.join(dir, 'localhost'));
    caFile = ca.certFile;
    otherCaFile = (await makeCa('another CA', tempDirSync('mediacdn-handshake-ca-'))).certFile;
    // The https ceiling (node:http2's secure server, HTTP/1.1 by ALPN), as the TLS bench runs it.
    ceiling = await startProcess({ cmd: process.execPath, args: [path.join(import.meta.dirname, '../servers/memory-ceiling.ts'), dir, leaf.certFile, leaf.keyFile], ready: /listening on (https:\/\/\S+)/ });
    base = ceiling.match[1].replace('127.0.0.1', 'localhost');
  });
  after(async () => {
    await ceiling.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const handshakes = async (url: string, ca: string, mode: string) => {
    const { stdout } = await runPinned({ cmd: process.execPath, args: [HANDSHAKE_CLIENT, url, ca, '2', mode, '1'], core: 0, timeoutMs: 60_000 });
    const line = stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT ')) ?? '';
    return { ...parseWrkReport(stdout), resumed: (JSON.parse(line.slice('BENCH_RESULT '.length)) as { resumed: number }).resumed };
  };

  it('opens a connection per request with a full handshake each time', async () => {
    const r = await handshakes(`${base}/media/a.wav`, caFile, 'full');
    assert.ok(r.requests > 0);
    assert.equal(r.errors, 0);
    assert.equal(r.resumed, 0);
    assert.ok(r.bytes >= r.requests * 4096, `${r.bytes} bytes for ${r.requests} requests`);
  });

  it('resumes the session its previous connection received', async () => {
    const r = await handshakes(`${base}/media/a.wav`, caFile, 'resumed');
    assert.ok(r.requests > 2);
    assert.equal(r.errors, 0);
    // Each loop's first connection has no session to offer.
    assert.ok(r.resumed >= r.requests - 2 && r.resumed > 0, `${r.resumed} of ${r.requests} resumed`);
  });

  it('counts a status other than 200, and a certificate it cannot verify, as errors', async () => {
    const missing = await handshakes(`${base}/media/none.wav`, caFile, 'full');
    assert.ok(missing.requests > 0 && missing.errors === missing.requests);
    const unverified = await handshakes(`${base}/media/a.wav`, otherCaFile, 'full');
    assert.equal(unverified.requests, 0);
    assert.ok(unverified.errors > 0);
  });

  it('exits with a usage line on bad arguments', async () => {
    await assert.rejects(runPinned({ cmd: process.execPath, args: [HANDSHAKE_CLIENT, `${base}/x`, caFile, '2', 'half', '1'], core: 0, timeoutMs: 60_000 }), /usage/);
  });
});

describe('tools', () => {
  it('names every missing program, the sections that need it and the Debian packages', () => {
    assert.deepEqual(missingTools(['sh', 'no-such-program-mediacdn']), ['no-such-program-mediacdn']);
    assert.doesNotThrow(() => requireTools({ a: ['sh'] }));
    assert.equal(TOOL_PACKAGES.h2load, 'nghttp2-client', 'the tls section names the package that brings h2load');
    assert.throws(
      () => requireTools({ origin: ['sh', 'no-such-program-mediacdn'], edge: ['no-such-program-mediacdn', 'no-such-varnishd'] }),
      /not installed here: no-such-program-mediacdn \(for origin, edge\), no-such-varnishd \(for edge\)\. On Debian: apt-get install -y no-such-program-mediacdn no-such-varnishd/,
    );
  });
});
