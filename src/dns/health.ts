// Health of the fleet's edges as the DNS server sees it: each edge's `control` + /_mediacdn/health is
// checked every interval; `failuresBeforeDown` failures in a row take it out of the answers and
// `successesBeforeUp` successes bring it back. While an up edge is failing, checks come faster (like
// HAProxy's fastinter), so that with the defaults an edge that dies leaves the answers within two
// intervals: interval + (failures - 1) × interval / (2 × (failures - 1)) + failures × timeout.
import { request } from 'undici';
import type { FleetEdge } from '../config/fleet.ts';
import { healthUrl } from '../config/fleet.ts';
import type { Health } from './routing.ts';
import { realTimers } from '../server/timers.ts';
import type { Timers } from '../server/timers.ts';

/** One check: resolves true when the edge answered 200 within the timeout; never rejects. */
export type HealthProbe = (url: string, timeoutMs: number) => Promise<boolean>;

export type HealthOptions = {
  edges: readonly FleetEdge[];
  intervalMs: number;
  timeoutMs: number;
  failuresBeforeDown: number;
  successesBeforeUp: number;
  probe?: HealthProbe;
  timers?: Timers;
  onChange?: (edge: string, up: boolean) => void;
};

export type EdgeHealth = { name: string; url: string; up: boolean; failures: number; successes: number; lastCheckAt: number | undefined };

export type HealthChecker = Health & {
  start(): void;
  stop(): void;
  snapshot(): EdgeHealth[];
};

/** GET <url> with a deadline; 200 is healthy, anything else (status, refusal, timeout) is not. */
export const httpProbe: HealthProbe = async (url, timeoutMs) => {
  try {
    const res = await request(url, { method: 'GET', signal: AbortSignal.timeout(timeoutMs), headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    await res.body.dump();
    return res.statusCode === 200;
  } catch {
    return false;
  }
};

export function createHealthChecker(opts: HealthOptions): HealthChecker {
  const timers = opts.timers ?? realTimers;
  const probe = opts.probe ?? httpProbe;
  const states = new Map<string, EdgeHealth & { handle: unknown }>(
    opts.edges.map((e) => [e.name, { name: e.name, url: healthUrl(e), up: true, failures: 0, successes: 0, lastCheckAt: undefined, handle: undefined }]),
  );
  const fastMs = opts.failuresBeforeDown > 1 ? Math.max(1, Math.floor(opts.intervalMs / (2 * (opts.failuresBeforeDown - 1)))) : opts.intervalMs;
  let generation = 0;
  let running = false;

  function record(s: EdgeHealth, ok: boolean): void {
    if (ok) {
      s.failures = 0;
      s.successes++;
      if (!s.up && s.successes >= opts.successesBeforeUp) flip(s, true);
    } else {
      s.successes = 0;
      s.failures++;
      if (s.up && s.failures >= opts.failuresBeforeDown) flip(s, false);
    }
  }

  function flip(s: EdgeHealth, up: boolean): void {
    s.up = up;
    generation++;
    opts.onChange?.(s.name, up);
  }

  function schedule(s: EdgeHealth & { handle: unknown }, delayMs: number): void {
    if (!running) return;
    s.handle = timers.setTimeout(() => void run(s), Math.max(0, delayMs));
  }

  async function run(s: EdgeHealth & { handle: unknown }): Promise<void> {
    const started = timers.now();
    s.lastCheckAt = started;
    const ok = await probe(s.url, opts.timeoutMs).catch(() => false);
    if (!running) return;
    record(s, ok);
    const failing = s.up && s.failures > 0;
    schedule(s, started + (failing ? fastMs : opts.intervalMs) - timers.now());
  }

  return {
    isUp: (name) => states.get(name)?.up ?? false,
    generation: () => generation,
    start() {
      if (running) return;
      running = true;
      for (const s of states.values()) schedule(s, 0);
    },
    stop() {
      running = false;
      for (const s of states.values()) if (s.handle !== undefined) timers.clearTimeout(s.handle);
    },
    snapshot: () => [...states.values()].map(({ handle: _h, ...rest }) => ({ ...rest })),
  };
}
