import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SERVER_MALLOC_ENV, SERVER_V8_FLAGS, missingEnv, missingFlags } from './runtime-flags.ts';

describe('missingFlags', () => {
  it('adds the edge flags unless the command line or NODE_OPTIONS sets the same option', () => {
    assert.deepEqual(missingFlags(SERVER_V8_FLAGS, [], undefined), ['--max-semi-space-size=2']);
    assert.deepEqual(missingFlags(SERVER_V8_FLAGS, ['--cpu-prof', '--max-semi-space-size=2'], undefined), []);
    assert.deepEqual(missingFlags(SERVER_V8_FLAGS, ['--max_semi_space_size=16'], ''), []);
    assert.deepEqual(missingFlags(SERVER_V8_FLAGS, [], '--max-old-space-size=512  --max-semi-space-size=8'), []);
    assert.deepEqual(missingFlags(SERVER_V8_FLAGS, ['--max-semi-space'], '--max-old-space-size=512'), ['--max-semi-space-size=2']);
    assert.deepEqual(missingFlags(['--a=1', '--b'], ['--b'], '--c'), ['--a=1']);
  });

  it('never adds a flag whose option is given, and adds every other one', () => {
    const name = fc.stringMatching(/^--[a-z][a-z-]{0,12}$/);
    fc.assert(
      fc.property(fc.uniqueArray(name, { maxLength: 5 }), fc.array(name, { maxLength: 5 }), fc.array(name, { maxLength: 3 }), (wanted, argv, env) => {
        const got = missingFlags(wanted.map((w) => `${w}=1`), argv, env.join(' '));
        for (const w of wanted) assert.equal(got.includes(`${w}=1`), !argv.includes(w) && !env.includes(w));
      }),
    );
  });
});

describe('missingEnv', () => {
  it('adds the malloc settings the environment does not set, even to an empty value', () => {
    assert.deepEqual(missingEnv(SERVER_MALLOC_ENV, {}), { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' });
    assert.deepEqual(missingEnv(SERVER_MALLOC_ENV, { MALLOC_ARENA_MAX: '8' }), { MALLOC_MMAP_THRESHOLD_: '131072' });
    assert.deepEqual(missingEnv(SERVER_MALLOC_ENV, { MALLOC_ARENA_MAX: '', MALLOC_MMAP_THRESHOLD_: '0' }), {});
  });
});
