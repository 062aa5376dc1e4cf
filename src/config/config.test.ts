import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from './index.ts';
import { ConfigError } from '../errors.ts';
import { tempDirSync } from '../../test/helpers/temp.ts';

const tmp = () => tempDirSync('mediacdn-config-');

test('defaults need no setup: SQLite and media under ./data, links to the local origin', () => {
  const cwd = tmp();
  const c = loadConfig({ env: {}, cwd });
  assert.equal(c.dataDir, path.join(cwd, 'data'));
  assert.deepEqual(c.database, { kind: 'sqlite', path: path.join(cwd, 'data', 'mediacdn.db') });
  assert.equal(c.mediaDir, path.join(cwd, 'data', 'media'));
  assert.equal(c.mediaUrl, 'http://localhost:4000/media/');
  assert.equal(c.origin.port, 4000);
  assert.equal(c.origin.cacheControl, 'public, max-age=31536000, immutable');
  assert.equal(c.edge.port, 8080);
  assert.equal(c.backup.repo, path.join(cwd, 'data', 'backups'));
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.origin) && Object.isFrozen(c.edge.zones));
});

test('precedence: defaults < config file < environment < flags', () => {
  const cwd = tmp();
  writeFileSync(path.join(cwd, 'mediacdn.config.json'), JSON.stringify({ dataDir: 'file-data', mediaUrl: 'https://file.example/m', origin: { port: 1111, workers: 2 } }));
  const fileOnly = loadConfig({ env: {}, cwd });
  assert.equal(fileOnly.dataDir, path.join(cwd, 'file-data'));
  assert.equal(fileOnly.mediaUrl, 'https://file.example/m/');
  assert.equal(fileOnly.origin.port, 1111);
  const env = { MEDIACDN_DATA: '/srv/env-data', MEDIACDN_ORIGIN_PORT: '2222', DATABASE_URL: 'postgres://u@h/db' };
  const withEnv = loadConfig({ env, cwd });
  assert.equal(withEnv.dataDir, '/srv/env-data');
  assert.equal(withEnv.origin.port, 2222);
  assert.equal(withEnv.origin.workers, 2, 'a nested key from the file survives an env override of its sibling');
  assert.deepEqual(withEnv.database, { kind: 'postgres', url: 'postgres://u@h/db' });
  const withFlags = loadConfig({ env, cwd, flags: { origin: { port: 3333 }, dataDir: '/flag' } });
  assert.equal(withFlags.origin.port, 3333);
  assert.equal(withFlags.dataDir, '/flag');
  assert.equal(withFlags.mediaDir, '/flag/media');
});

test('CDN=<host> makes links protocol-relative on that host', () => {
  assert.equal(loadConfig({ env: { CDN: 'cdn.radio.example' }, cwd: tmp() }).mediaUrl, '//cdn.radio.example/media/');
  assert.equal(loadConfig({ env: { MEDIA_URL: 'https://cdn.example/media' }, cwd: tmp() }).mediaUrl, 'https://cdn.example/media/');
});

test('bad values and unknown keys are errors that name the option', () => {
  const cases: Array<[string, Parameters<typeof loadConfig>[0], RegExp]> = [
    ['unknown top-level key', { flags: { colour: 'red' } }, /config colour: unknown option/],
    ['unknown nested key', { flags: { origin: { prot: 1 } } }, /config origin\.prot: unknown option/],
    ['port out of range', { flags: { origin: { port: 70000 } } }, /config origin\.port:/],
    ['port from env not a number', { env: { MEDIACDN_ORIGIN_PORT: 'abc' } }, /config origin\.port: MEDIACDN_ORIGIN_PORT="abc" is not a number/],
    ['bad log level', { env: { LOG_LEVEL: 'loud' } }, /config logLevel:/],
    ['short token', { env: { MEDIACDN_TOKEN: 'short' } }, /config token: the admin token must be at least 16 characters/],
    ['CDN with a scheme', { env: { CDN: 'https://cdn' } }, /config cdn:/],
    ['CDN and MEDIA_URL', { env: { CDN: 'cdn.example', MEDIA_URL: 'http://x/' } }, /not both/],
    ['not a postgres URL', { env: { DATABASE_URL: 'mysql://x' } }, /config databaseUrl:/],
    ['bad zone host', { flags: { edge: { zones: [{ host: 'http://x', origin: 'http://127.0.0.1:1' }] } } }, /config edge\.zones\.0\.host:/],
    ['unknown zone option', { flags: { edge: { zones: [{ host: 'cdn.x', origin: 'http://127.0.0.1:1', ttl: 1 }] } } }, /config edge\.zones\.0\.ttl: unknown option/],
  ];
  for (const [what, opts, re] of cases) {
    assert.throws(() => loadConfig({ env: {}, cwd: tmp(), ...opts }), (err: unknown) => err instanceof ConfigError && re.test(err.message), what);
  }
});

test('a config file that is missing or not JSON is a clear error', () => {
  const cwd = tmp();
  assert.throws(() => loadConfig({ env: {}, cwd, configFile: 'nope.json' }), /config --config: cannot read/);
  writeFileSync(path.join(cwd, 'bad.json'), '{ nope');
  assert.throws(() => loadConfig({ env: {}, cwd, configFile: 'bad.json' }), /config --config: .*bad\.json is not valid JSON/);
  writeFileSync(path.join(cwd, 'arr.json'), '[]');
  assert.throws(() => loadConfig({ env: {}, cwd, configFile: 'arr.json' }), /must hold a JSON object/);
});
