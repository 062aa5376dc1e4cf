// Statistics on disk: a snapshot written atomically (temp file, fsync, rename), read back only when it
// is valid JSON of this version (saved formats carry a version), and saved periodically.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { MAX_KEY_LENGTH, ORIGIN_BUCKETS_MS, STATS_VERSION, viewFigures } from './figures.ts';
import type { StatsSnapshot } from './figures.ts';

export type Persisting = {
  /** Resolves when the save in progress (if any) is done. */
  whenSaved(): Promise<void>;
  /** Stops the timer and saves one last time. */
  stop(): Promise<void>;
};

/** Atomic: writes a temporary file beside `file`, flushes it, then renames it over `file`. */
export async function writeSnapshotFile(file: string, snapshot: StatsSnapshot): Promise<void> {
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await fs.open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify(snapshot));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/** A saved snapshot: missing is normal, anything unreadable is `invalid` with the reason. */
export async function readSnapshotFile(file: string): Promise<{ kind: 'ok'; snapshot: StatsSnapshot } | { kind: 'missing' } | { kind: 'invalid'; reason: string }> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'invalid', reason: `cannot be read (${(err as Error).message})` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { kind: 'invalid', reason: 'is not valid JSON' };
  }
  return parseSnapshot(json);
}

/** Runs `save` every `intervalMs` on an unref'd timer (it never keeps the process alive), one at a time. */
export function persistEvery(save: () => Promise<void>, intervalMs: number, onError: (err: unknown) => void): Persisting {
  let pending: Promise<void> = Promise.resolve();
  const saveNow = (): Promise<void> => (pending = pending.then(save).catch(onError));
  const timer = setInterval(() => void saveNow(), intervalMs);
  timer.unref();
  let stopped = false;
  return {
    whenSaved: () => pending,
    stop: async () => {
      if (stopped) return pending;
      stopped = true;
      clearInterval(timer);
      return saveNow();
    },
  };
}

const nonNegative = z.number().finite().min(0);
const tally = z.record(z.string().max(MAX_KEY_LENGTH), nonNegative);
const figuresSchema = z.object({
  requests: nonNegative,
  clientAborts: nonNegative,
  responses: z.object({ '1xx': nonNegative, '2xx': nonNegative, '3xx': nonNegative, '4xx': nonNegative, '5xx': nonNegative }),
  outcomes: z.object({ hit: nonNegative, stale: nonNegative, revalidated: nonNegative, miss: nonNegative, pass: nonNegative }),
  bytesToClients: nonNegative,
  bytesFromOrigin: nonNegative,
  originResponses: nonNegative,
  originResponseMs: z.object({ counts: z.array(nonNegative).length(ORIGIN_BUCKETS_MS.length + 1), sum: nonNegative }),
  originNon2xx: tally,
  originRetries: nonNegative,
  originErrors: nonNegative,
  originErrorsByCode: tally,
  staleIfErrorServed: nonNegative,
  staleWhileRevalidateRefreshes: nonNegative,
  // Absent from files saved before the https listener existed.
  requestsByProtocol: tally.default({}),
});
const snapshotSchema = z.object({
  version: z.literal(STATS_VERSION),
  generatedAt: nonNegative,
  originResponseBucketsMs: z.array(z.number()).refine((b) => b.length === ORIGIN_BUCKETS_MS.length && b.every((x, i) => x === ORIGIN_BUCKETS_MS[i]), {
    message: 'histogram buckets differ from this version',
  }),
  zones: z.record(z.string().min(1).max(253), z.object({ since: nonNegative, totals: figuresSchema, minutes: z.array(figuresSchema.extend({ t: nonNegative })) })),
});

/** Validates a parsed JSON value as a snapshot this version can read (saved formats carry a version). */
export function parseSnapshot(json: unknown): { kind: 'ok'; snapshot: StatsSnapshot } | { kind: 'invalid'; reason: string } {
  const version = (json as { version?: unknown } | null)?.version;
  if (version !== STATS_VERSION) return { kind: 'invalid', reason: `has unknown version ${JSON.stringify(version ?? null)} (this edge reads version ${STATS_VERSION})` };
  const parsed = snapshotSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { kind: 'invalid', reason: `is not a valid statistics file (${issue.path.join('.')}: ${issue.message})` };
  }
  const zones: StatsSnapshot['zones'] = {};
  for (const [host, z] of Object.entries(parsed.data.zones)) {
    zones[host] = { since: z.since, totals: viewFigures(z.totals), minutes: z.minutes.map((m) => ({ t: m.t, ...viewFigures(m) })) };
  }
  return { kind: 'ok', snapshot: { version: STATS_VERSION, generatedAt: parsed.data.generatedAt, originResponseBucketsMs: [...ORIGIN_BUCKETS_MS], zones } };
}

