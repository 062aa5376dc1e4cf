// fast-check inside `npm test`: every run is seeded (FC_SEED=<n> replays one), bounded in runs and in
// time, and a failure names its seed and how to replay it.
import fc from 'fast-check';

export type PropertyLimits = { numRuns: number; /** Stop generating new cases after this long (passes with what ran). */ timeLimitMs?: number };

/** The seed of this process: FC_SEED when set, else fresh each run (so CI keeps exploring). */
export const PROPERTY_SEED = process.env.FC_SEED !== undefined && process.env.FC_SEED !== '' ? Number(process.env.FC_SEED) : Math.floor(Math.random() * 2 ** 31);

function params<T>(limits: PropertyLimits): fc.Parameters<T> {
  return {
    seed: PROPERTY_SEED,
    numRuns: limits.numRuns,
    ...(limits.timeLimitMs !== undefined ? { interruptAfterTimeLimit: limits.timeLimitMs, markInterruptAsFailure: false } : {}),
  };
}

function withSeed(err: unknown): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  e.message = `property failed with seed ${PROPERTY_SEED} (replay: FC_SEED=${PROPERTY_SEED})\n${e.message}`;
  return e;
}

/** fc.assert for a synchronous property, with the seed and limits above. */
export function checkProperty<Ts>(property: fc.IProperty<Ts>, limits: PropertyLimits): void {
  try {
    fc.assert(property, params(limits));
  } catch (err) {
    throw withSeed(err);
  }
}

/** fc.assert for an asynchronous property, with the seed and limits above. */
export async function checkAsyncProperty<Ts>(property: fc.IAsyncProperty<Ts>, limits: PropertyLimits): Promise<void> {
  try {
    await fc.assert(property, params(limits));
  } catch (err) {
    throw withSeed(err);
  }
}
