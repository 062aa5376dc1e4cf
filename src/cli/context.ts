// What every CLI command shares: loading config with the global flags, opening the library, output.
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig, type Config } from '../config/index.ts';
import { formatBytes } from '../web/client/format.ts';
import { EXIT, MediaCdnError } from '../errors.ts';

export type Io = {
  out: (line: string) => void;
  err: (line: string) => void;
  /** True when stderr is a terminal: progress bars are drawn only then. */
  isTTY: boolean;
  env: Record<string, string | undefined>;
  cwd: string;
  /** The CLI is this process's program (processIo), which a server command may re-execute with its memory settings (runtime-flags.ts). */
  ownsProcess?: boolean;
};

export const processIo = (): Io => ({
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  isTTY: Boolean(process.stderr.isTTY),
  env: process.env,
  cwd: process.cwd(),
  ownsProcess: true,
});

/** Loads config from the global flags (--config, --data) plus per-command overrides. */
export function configFrom(cmd: Command, io: Io, overrides: Record<string, unknown> = {}): Config {
  const g = cmd.optsWithGlobals() as { config?: string; data?: string };
  return loadConfig({ configFile: g.config, env: io.env, cwd: io.cwd, flags: { ...(g.data !== undefined ? { dataDir: g.data } : {}), ...overrides } });
}

/** Parses a positive integer option, naming the option in the error. */
export function intOption(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a whole number, got ${JSON.stringify(value)}`);
    return n;
  };
}

/** Parses an option or argument that must be an absolute http(s) URL, naming it in the error. */
export function httpUrlOption(name: string) {
  return (value: string): string => {
    let ok = false;
    try {
      const u = new URL(value);
      ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
    } catch {
      ok = false;
    }
    if (!ok) throw new InvalidArgumentError(`${name} must be an absolute http(s) URL, got ${JSON.stringify(value)}`);
    return value;
  };
}

/** A one-line progress bar on a terminal; a no-op elsewhere. */
export function progressBar(io: Io, label: string, total: number | undefined): { update(n: number): void; done(): void } {
  if (!io.isTTY || total === undefined || total < 8 * 1024 * 1024) return { update() {}, done() {} };
  let last = 0;
  const draw = (n: number) => {
    const frac = Math.min(1, n / total);
    const width = 30;
    const fill = Math.round(frac * width);
    process.stderr.write(`\r${label} [${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% ${formatBytes(n)}`);
  };
  return {
    update(n) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      draw(n);
    },
    done() {
      draw(total);
      process.stderr.write('\n');
    },
  };
}

/**
 * A server that could not start listening, as one line naming it and why: a port in use or refused
 * (exit 1), a host that is not an address of this machine (exit 2, a configuration error). Other
 * errors are returned as they are. `portFlags` names the flag that sets each port, for the hint.
 */
export function listenFailure(what: string, err: unknown, portFlags: Readonly<Record<number, string>> = {}): unknown {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string };
  const where = e.address !== undefined ? `${e.address.includes(':') ? `[${e.address}]` : e.address}${e.port !== undefined ? `:${e.port}` : ''}` : (e.hostname ?? '');
  const fail = (reason: string, exitCode: 1 | 2) => new MediaCdnError('listen_failed', `${what}: cannot listen on ${where}: ${reason}`, { exitCode, cause: err });
  switch (e.code) {
    case 'EADDRINUSE':
      return fail(`the port is in use by another program${e.port !== undefined && portFlags[e.port] !== undefined ? ` (choose another with ${portFlags[e.port]})` : ''}`, EXIT.failure);
    case 'EACCES':
      return fail(`permission denied${e.port !== undefined && e.port < 1024 ? ' (a port below 1024 needs root or CAP_NET_BIND_SERVICE)' : ''}`, EXIT.failure);
    case 'EADDRNOTAVAIL':
      return fail('the address is not one of this machine\'s', EXIT.usage);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return fail('no such host', EXIT.usage);
    default:
      return err;
  }
}
