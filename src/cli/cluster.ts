// Servers in several processes (`mediacdn origin --workers n`, `mediacdn edge --workers n`): the primary
// forks the workers, which share the listening ports, and resolves once every one is listening. A
// worker that exits before it listens (port in use, database unreachable) stops the start: the others
// are stopped and its reason is thrown once, so the command exits non-zero with one line instead of a
// primary staying up with nothing listening. After the start, a worker that dies is replaced (with
// the same worker number), at once the first time and with a growing delay when replacements keep
// dying (a database gone, a port lost), so the primary never forks in a tight loop.
import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import { EXIT, MediaCdnError, type ExitCode } from '../errors.ts';

/** A worker that could not start tells the primary why; the primary reports it once and stops. */
type StartFailedMessage = { type: 'start-failed'; code: string; message: string; exitCode: ExitCode };

function isStartFailed(m: unknown): m is StartFailedMessage {
  return typeof m === 'object' && m !== null && (m as StartFailedMessage).type === 'start-failed' && typeof (m as StartFailedMessage).message === 'string';
}

/** The configured count: 0 = one per core. */
export function workerCount(configured: number): number {
  return configured > 0 ? configured : Math.max(1, os.availableParallelism());
}

/** This process's worker number (1…n) when it is a worker started by superviseWorkers. */
export function workerIndex(): number {
  return Number(process.env.MEDIACDN_WORKER_INDEX ?? '0');
}

export type Supervised = {
  /** The port the workers listen on (the first listening address reported). */
  port: number;
  workers(): Worker[];
  /** Stops every worker with `sig` and resolves when all exited. */
  stop(sig: NodeJS.Signals): Promise<void>;
};

export type SuperviseOptions = {
  /** 'origin' or 'edge': names the failure when a worker dies before it listens. */
  what: string;
  n: number;
  /** How many listening events make one worker started (one per listener it opens). */
  listenersPerWorker?: number;
  /** Environment each worker gets beside MEDIACDN_WORKER_INDEX. */
  env?: Record<string, string>;
  /** Messages from a worker other than its start failure. */
  onMessage?: (w: Worker, msg: unknown) => void;
  onFork?: (w: Worker) => void;
  /** A worker exited (before it is replaced). */
  onExit?: (w: Worker) => void;
  /** A started worker died and another takes its place. */
  onReplace: (w: Worker, code: number | null, signal: string | null) => void;
};

/** Delay before replacing a worker, given how many replacements happened in the last minute. */
export function replaceDelayMs(recent: number): number {
  return recent === 0 ? 0 : Math.min(30_000, 250 * 2 ** (recent - 1));
}
const REPLACE_WINDOW_MS = 60_000;

export function superviseWorkers(o: SuperviseOptions): Promise<Supervised> {
  let stopping = false;
  const replacedAt: number[] = [];
  let started = false;
  const listening = new Map<number, number>();
  const reasons = new Map<number, StartFailedMessage>();
  const indexOf = new Map<number, number>();
  const perWorker = o.listenersPerWorker ?? 1;
  const spawn = (index: number): Worker => {
    const w = cluster.fork({ ...o.env, MEDIACDN_WORKER_INDEX: String(index) });
    indexOf.set(w.id, index);
    o.onFork?.(w);
    return w;
  };
  const all = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
  const stop = async (sig: NodeJS.Signals): Promise<void> => {
    stopping = true;
    await Promise.all(
      all().map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            w.once('exit', () => resolve());
            w.process.kill(sig);
          }),
      ),
    );
  };
  return new Promise<Supervised>((resolve, reject) => {
    cluster.on('message', (from, msg: unknown) => {
      if (isStartFailed(msg)) reasons.set(from.id, msg);
      else o.onMessage?.(from, msg);
    });
    cluster.on('listening', (w, address) => {
      listening.set(w.id, (listening.get(w.id) ?? 0) + 1);
      if (started || [...listening.values()].filter((c) => c >= perWorker).length < o.n) return;
      started = true;
      resolve({ port: address.port, workers: all, stop });
    });
    cluster.on('exit', (w, code, signal) => {
      o.onExit?.(w);
      listening.delete(w.id);
      const why = reasons.get(w.id);
      reasons.delete(w.id);
      if (stopping) return;
      if (!started) {
        stopping = true;
        const err = why
          ? new MediaCdnError(why.code, why.message, { exitCode: why.exitCode })
          : new MediaCdnError(`${o.what}_start_failed`, `${o.what}: worker ${w.process.pid} ${signal ? `was killed by ${signal}` : `exited with code ${code}`} before it listened`, { exitCode: EXIT.failure });
        stop('SIGTERM').then(() => reject(err), () => reject(err));
        return;
      }
      o.onReplace(w, code, signal);
      const now = Date.now();
      while (replacedAt.length > 0 && now - replacedAt[0] > REPLACE_WINDOW_MS) replacedAt.shift();
      const delay = replaceDelayMs(replacedAt.length);
      replacedAt.push(now);
      const index = indexOf.get(w.id) ?? 0;
      indexOf.delete(w.id);
      setTimeout(() => {
        if (!stopping) spawn(index);
      }, delay);
    });
    for (let i = 1; i <= o.n; i++) spawn(i);
  });
}

/**
 * In a worker whose start failed: tells the primary why (it reports it, once for all workers) and
 * leaves quietly with the error's exit code.
 */
export function reportStartFailure(what: string, err: unknown): void {
  const e = err instanceof MediaCdnError ? err : undefined;
  const msg: StartFailedMessage = { type: 'start-failed', code: e?.code ?? `${what}_start_failed`, message: e?.message ?? `${what}: ${(err as Error)?.message ?? String(err)}`, exitCode: e?.exitCode ?? EXIT.failure };
  process.exitCode = msg.exitCode;
  process.send?.(msg, undefined, {}, () => process.disconnect());
}

/** On the first SIGTERM or SIGINT: `stop`, then exit 0 (1 when it failed, after `onError`). */
export function onSignals(stop: (signal: string) => Promise<void>, onError?: (err: unknown) => void): void {
  let stopping = false;
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      stop(sig).then(
        () => process.exit(0),
        (err: unknown) => {
          onError?.(err);
          process.exit(1);
        },
      );
    });
  }
}
