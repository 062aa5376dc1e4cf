// What an edge process's memory is made of, as /_mediacdn/stats and /_mediacdn/metrics show it: the
// resident set, the V8 heap (used and committed), memory outside the heap (Buffers and ArrayBuffers:
// the memory tier's objects live there) and how much of that the memory tier holds. A multi-process
// edge reports one sample per process (the primary and each worker: each worker has its own memory
// tier). Samples are read when asked for, never saved: they describe the processes running now.
import { memoryUsage } from 'node:process';

export type ProcessRole = 'edge' | 'primary' | 'worker';

export type ProcessSample = {
  /** 'edge': a single-process edge; 'primary' and 'worker' (with its number) in a multi-process one. */
  role: ProcessRole;
  worker?: number;
  pid: number;
  /** Resident set size. */
  rssBytes: number;
  /** V8 heap: what live objects take, and what V8 has reserved for them. */
  heapUsedBytes: number;
  heapCommittedBytes: number;
  /** Memory held by JavaScript objects outside the V8 heap (Buffers, ArrayBuffers and the like). */
  externalBytes: number;
  /** Of `externalBytes`, the backing stores of ArrayBuffers (every Buffer included). */
  arrayBufferBytes: number;
  /** What this process's memory tier holds (its accounting: bodies, head room and metadata); 0 without one. */
  memoryTierBytes: number;
  memoryTierEntries: number;
};

/** This process now. `tier`: its memory tier's usage, when it has one. */
export function sampleProcess(role: ProcessRole, worker: number | undefined, tier: { bytes: number; entries: number } | undefined): ProcessSample {
  const m = memoryUsage();
  return {
    role,
    ...(worker !== undefined ? { worker } : {}),
    pid: process.pid,
    rssBytes: m.rss,
    heapUsedBytes: m.heapUsed,
    heapCommittedBytes: m.heapTotal,
    externalBytes: m.external,
    arrayBufferBytes: m.arrayBuffers,
    memoryTierBytes: tier?.bytes ?? 0,
    memoryTierEntries: tier?.entries ?? 0,
  };
}

const NUMBERS = ['pid', 'rssBytes', 'heapUsedBytes', 'heapCommittedBytes', 'externalBytes', 'arrayBufferBytes', 'memoryTierBytes', 'memoryTierEntries'] as const;

/** A sample as another process sent it (the primary checks a worker's before it reports it). */
export function isProcessSample(v: unknown): v is ProcessSample {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  if (s.role !== 'edge' && s.role !== 'primary' && s.role !== 'worker') return false;
  if (s.worker !== undefined && !(Number.isSafeInteger(s.worker) && (s.worker as number) > 0)) return false;
  return NUMBERS.every((k) => Number.isFinite(s[k]) && (s[k] as number) >= 0);
}

/** The label a process's series carry: edge, primary, worker-1, worker-2… */
export function processLabel(s: ProcessSample): string {
  return s.role === 'worker' ? `worker-${s.worker ?? 0}` : s.role;
}
