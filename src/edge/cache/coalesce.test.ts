import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Coalescer } from './coalesce.ts';

const opts = (timeoutMs: number) => ({ timeoutMs, timeoutError: (k: string) => new Error(`timeout ${k}`) });

describe('Coalescer', () => {
  it('runs one start per key and shares its result', async () => {
    const c = new Coalescer<number>(opts(10_000));
    let starts = 0;
    let release = () => {};
    const start = async (r: () => void) => {
      starts++;
      release = r;
      return 42;
    };
    const joined = Array.from({ length: 5 }, () => c.join('k', start));
    assert.deepEqual(joined.map((j) => j.leader), [true, false, false, false, false]);
    assert.deepEqual(await Promise.all(joined.map((j) => j.result)), [42, 42, 42, 42, 42]);
    assert.equal(starts, 1);
    assert.equal(c.join('k', start).leader, false, 'still joinable until released');
    release();
    assert.equal(c.has('k'), false);
    assert.equal(c.join('k', start).leader, true);
  });

  it('keeps keys apart', () => {
    const c = new Coalescer<number>(opts(10_000));
    const start = async () => 1;
    assert.equal(c.join('a', start).leader, true);
    assert.equal(c.join('b', start).leader, true);
    assert.equal(c.size, 2);
  });

  it('frees the key when the leader fails, and followers see the error', async () => {
    const c = new Coalescer<number>(opts(10_000));
    const a = c.join('k', async () => {
      throw new Error('boom');
    });
    const b = c.join('k', async () => 1);
    await assert.rejects(a.result, /boom/);
    await assert.rejects(b.result, /boom/);
    assert.equal(c.has('k'), false);
  });

  it('gives followers a timeout error when the flight does not settle, and frees the key', async () => {
    const c = new Coalescer<number>(opts(20));
    c.join('k', () => new Promise<number>(() => {}));
    const follower = c.join('k', async () => 1);
    await assert.rejects(follower.result, /timeout k/);
    assert.equal(c.has('k'), false);
  });

  it('does not let newcomers join a flight superseded since it started; its own callers keep it', async () => {
    let generation = 0;
    const purged = new Set<string>();
    const c = new Coalescer<string>({ ...opts(10_000), generation: () => generation, superseded: (k) => purged.has(k) });
    let finishOld: (v: string) => void = () => {};
    const old = c.join('k', () => new Promise<string>((r) => (finishOld = r)));
    const sameGeneration = c.join('k', async () => 'unused');
    assert.equal(sameGeneration.leader, false);
    generation = 1; // a purge of another key
    assert.equal(c.join('other', async () => 'o').leader, true);
    assert.equal(c.join('k', async () => 'unused').leader, false, 'a purge of another key does not split the flight');
    purged.add('k');
    generation = 2; // a purge of this key
    assert.equal(c.has('k'), false);
    const fresh = c.join('k', async () => 'fresh');
    assert.equal(fresh.leader, true);
    await new Promise((r) => setImmediate(r)); // start() runs on the next tick
    finishOld('old');
    assert.equal(await old.result, 'old');
    assert.equal(await sameGeneration.result, 'old');
    assert.equal(await fresh.result, 'fresh');
  });
});
