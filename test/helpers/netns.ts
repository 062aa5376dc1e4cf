// Network namespaces as hosts for multi-host tests (Debian's iproute2, root): a backbone namespace holds
// a bridge, every host is a namespace joined to it by a veth pair, and a host's link can be cut at its
// bridge port. Names carry the test process's pid, so parallel runs never collide and a later run removes
// what a killed one left behind; everything (processes, namespaces and the veths inside them) is removed
// on close, on exit and on SIGINT / SIGTERM.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const PREFIX = 'mcdn-';
/** `ip netns exec NS` bind-mounts the files of /etc/netns/NS/ over those of /etc/ (resolv.conf here). */
const ETC_NETNS = '/etc/netns';
const NAME = /^mcdn-(\d+)-[0-9a-f]+-/;

export type Host = Readonly<{ name: string; ns: string; ip: string }>;

export type ExecResult = { code: number | null; stdout: string; stderr: string };

export type HostProcess = Readonly<{
  host: Host;
  output(): string;
  /** Resolves with the match once stdout + stderr match; rejects when the process exits first or after timeoutMs. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** SIGTERM, then SIGKILL after graceMs; resolves with the exit code (null when killed). */
  stop(graceMs?: number): Promise<number | null>;
}>;

function ip(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`ip ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
      else resolve(String(stdout));
    });
  });
}

function ipSync(...args: string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kills every process inside `ns` and deletes it (its veths go with it). Never throws. */
function destroyNamespaceSync(ns: string): void {
  for (const pid of ipSync('netns', 'pids', ns).split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  ipSync('netns', 'del', ns);
  rmSync(path.join(ETC_NETNS, ns), { recursive: true, force: true });
}

/** Namespaces of this helper whose test process is gone: left behind by a run that was killed. */
function removeStaleNamespaces(): void {
  for (const line of ipSync('netns', 'list').split('\n')) {
    const ns = line.split(' ')[0];
    const m = NAME.exec(ns);
    if (m && !alive(Number(m[1]))) destroyNamespaceSync(ns);
  }
}

/**
 * Why namespaces cannot be used here (not root, no iproute2, a sandbox without CAP_SYS_ADMIN), or
 * undefined when a probe namespace could be created and removed.
 */
export async function netnsUnavailable(): Promise<string | undefined> {
  const probe = `${PREFIX}${process.pid}-${randomBytes(2).toString('hex')}-probe`;
  try {
    await ip('netns', 'add', probe);
  } catch (err) {
    return `network namespaces cannot be created here (${(err as Error).message}); needs root and iproute2`;
  }
  await ip('netns', 'del', probe).catch(() => {});
  return undefined;
}

const labs = new Set<Lab>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const lab of labs) lab.destroySync();
  });
  for (const [sig, n] of [['SIGINT', 2], ['SIGTERM', 15]] as const) {
    process.once(sig, () => {
      for (const lab of labs) lab.destroySync();
      process.exit(128 + n);
    });
  }
}

/** A set of hosts on one bridged IPv4 network. */
export class Lab {
  readonly #tag: string;
  readonly #backbone: string;
  readonly #namespaces: string[] = [];
  readonly #processes = new Set<HostProcess>();
  readonly hosts = new Map<string, Host>();

  private constructor(tag: string) {
    this.#tag = tag;
    this.#backbone = `${tag}-net`;
  }

  /** Removes what killed runs left behind, then makes the backbone namespace with its bridge. */
  static async create(): Promise<Lab> {
    removeStaleNamespaces();
    const lab = new Lab(`${PREFIX}${process.pid}-${randomBytes(2).toString('hex')}`);
    labs.add(lab);
    hookExit();
    await lab.#addNamespace(lab.#backbone);
    await ip('-n', lab.#backbone, 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', lab.#backbone, 'link', 'set', 'br0', 'up');
    return lab;
  }

  async #addNamespace(ns: string): Promise<void> {
    await ip('netns', 'add', ns);
    this.#namespaces.push(ns);
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
  }

  /** A host named `name` (letters, digits, dashes; up to 12) at `cidr`, e.g. 10.1.0.10/8, plugged into the bridge. */
  async addHost(name: string, cidr: string): Promise<Host> {
    if (!/^[a-z0-9-]{1,12}$/.test(name) || this.hosts.has(name)) throw new Error(`netns: bad or duplicate host name ${name}`);
    const ns = `${this.#tag}-${name}`;
    await this.#addNamespace(ns);
    // The bridge end stays in the backbone (port p-<name>), the host end becomes eth0 of the host.
    await ip('-n', this.#backbone, 'link', 'add', `p-${name}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    await ip('-n', this.#backbone, 'link', 'set', `p-${name}`, 'master', 'br0', 'up');
    await ip('-n', ns, 'addr', 'add', cidr, 'dev', 'eth0');
    await ip('-n', ns, 'link', 'set', 'eth0', 'up');
    const host = Object.freeze({ name, ns, ip: cidr.split('/')[0] });
    this.hosts.set(name, host);
    return host;
  }

  /** Cuts the host's cable at the bridge: nothing reaches it and nothing leaves it, its processes keep running. */
  cut(host: Host): Promise<string> {
    return ip('-n', this.#backbone, 'link', 'set', `p-${host.name}`, 'down');
  }

  restore(host: Host): Promise<string> {
    return ip('-n', this.#backbone, 'link', 'set', `p-${host.name}`, 'up');
  }

  /** Programs started in the host from now on resolve names through the DNS server at `server` (port 53). */
  useResolver(host: Host, server: string): void {
    const etc = path.join(ETC_NETNS, host.ns);
    mkdirSync(etc, { recursive: true });
    writeFileSync(path.join(etc, 'resolv.conf'), `nameserver ${server}\noptions timeout:2 attempts:3\n`);
  }

  /** An executable script in `dir` that runs `program` inside the host with its arguments (for tools that take a path, such as Playwright). */
  wrapper(host: Host, program: string, dir: string): string {
    const file = path.join(dir, `${path.basename(program)}-in-${host.name}`);
    writeFileSync(file, `#!/bin/sh\nexec ip netns exec '${host.ns}' '${program}' "$@"\n`);
    chmodSync(file, 0o755);
    return file;
  }

  /** Runs `command args…` inside the host and collects its output (no shell). */
  exec(host: Host, command: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      execFile(
        'ip',
        ['netns', 'exec', host.ns, command, ...args],
        { env: opts.env, cwd: opts.cwd, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, encoding: 'buffer' },
        (err, stdout, stderr) => {
          const code = err ? ((err as { code?: unknown }).code ?? null) : 0;
          if (err && typeof code !== 'number') return reject(new Error(`${command} in ${host.name}: ${err.message}`));
          resolve({ code: code as number, stdout: stdout.toString('latin1'), stderr: stderr.toString('utf8') });
        },
      );
    });
  }

  /** Starts a long-running `command args…` inside the host; stopped (at the latest) by close(). */
  spawn(host: Host, command: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): HostProcess {
    const child: ChildProcess = spawn('ip', ['netns', 'exec', host.ns, command, ...args], { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const watchers = new Set<() => void>();
    const append = (d: string) => {
      out += d;
      for (const w of [...watchers]) w();
    };
    child.stdout!.setEncoding('utf8').on('data', append);
    child.stderr!.setEncoding('utf8').on('data', append);
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => {
        resolve(code);
        for (const w of [...watchers]) w();
      }),
    );
    const proc: HostProcess = Object.freeze({
      host,
      output: () => out,
      waitForOutput: (pattern: RegExp, timeoutMs = 60_000) =>
        new Promise<RegExpExecArray>((resolve, reject) => {
          const timer = setTimeout(() => {
            watchers.delete(check);
            reject(new Error(`${host.name}: ${command} ${args.join(' ')} did not print ${pattern} within ${timeoutMs} ms:\n${out}`));
          }, timeoutMs);
          const check = () => {
            const m = pattern.exec(out);
            if (m || child.exitCode !== null || child.signalCode !== null) {
              watchers.delete(check);
              clearTimeout(timer);
              if (m) resolve(m);
              else reject(new Error(`${host.name}: ${command} exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}:\n${out}`));
            }
          };
          watchers.add(check);
          check();
        }),
      stop: async (graceMs = 5_000) => {
        this.#processes.delete(proc);
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          try {
            return await exited;
          } finally {
            clearTimeout(timer);
          }
        }
        return exited;
      },
    });
    this.#processes.add(proc);
    return proc;
  }

  /** Stops every process (SIGTERM, then SIGKILL), then removes every namespace of the lab. */
  async close(): Promise<void> {
    await Promise.all([...this.#processes].map((p) => p.stop()));
    this.destroySync();
  }

  /** What exit and signal handlers call: kill whatever still runs inside, delete the namespaces. */
  destroySync(): void {
    for (const ns of this.#namespaces.splice(0).reverse()) destroyNamespaceSync(ns);
    labs.delete(this);
  }
}
