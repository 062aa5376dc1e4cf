// Starting server processes for benches (waiting for a line that says they listen), stopping them,
// free ports, and peak memory (VmHWM) of a process and its children.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';

export type Started = { child: ChildProcess; pid: number; match: RegExpMatchArray; stop(): Promise<void>; output(): string };

export function startProcess(o: { cmd: string; args: string[]; env?: NodeJS.ProcessEnv; cwd?: string; ready: RegExp; timeoutMs?: number }): Promise<Started> {
  const child = spawn(o.cmd, o.args, { env: o.env ?? process.env, cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`${o.cmd} did not become ready in time:\n${out}`)), o.timeoutMs ?? 20_000);
    const fail = (err: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    };
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = out.match(o.ready);
      if (m) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stderr?.off('data', onData);
        // Keep draining so a chatty server never blocks on a full pipe.
        child.stdout?.resume();
        child.stderr?.resume();
        resolve({
          child,
          pid: child.pid as number,
          match: m,
          output: () => out,
          stop: () => stopProcess(child),
        });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => fail(new Error(`${o.cmd} exited with ${code} before it was ready:\n${out}`)));
    child.once('error', fail);
  });
}

/**
 * Starts a server that prints nothing when it is up (nginx, varnishd), pinned to `core`, and waits
 * until `port` answers HTTP; its output is kept for the error if it exits or does not come up.
 */
export async function spawnUntilAnswering(o: { cmd: string; args: string[]; core: number | string; port: number; timeoutMs: number }): Promise<ChildProcess> {
  const child = spawn('taskset', ['-c', String(o.core), o.cmd, ...o.args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${o.cmd} exited with ${child.exitCode}: ${out}`);
    if (await fetch(`http://127.0.0.1:${o.port}/`).then(() => true, () => false)) return child;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${o.cmd} did not start: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function childrenOf(pid: number): number[] {
  try {
    const tasks = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return tasks === '' ? [] : tasks.split(/\s+/).map(Number);
  } catch {
    return [];
  }
}

/** The process and all its descendants. */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...childrenOf(out[i]));
  return out;
}

/** Sum of VmHWM (peak resident set) over a process tree, in bytes. */
export function peakRss(pid: number): number {
  let kb = 0;
  for (const p of processTree(pid)) {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      // exited
    }
  }
  return kb * 1024;
}

/** Resident memory of a process tree now (proc(5) status): in all, anonymous, and file pages, in bytes. */
export type Resident = { rss: number; anon: number; file: number };

export function residentNow(pid: number): Resident {
  const out: Resident = { rss: 0, anon: 0, file: 0 };
  for (const p of processTree(pid)) {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
      out.rss += kb('VmRSS');
      out.anon += kb('RssAnon');
      out.file += kb('RssFile');
    } catch {
      // exited
    }
  }
  return out;
}
