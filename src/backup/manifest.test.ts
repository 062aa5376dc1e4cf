import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSnapshotId, parseManifest, snapshotIdFor, snapshotTime, MANIFEST_VERSION } from './manifest.ts';

const valid = {
  format: 'mediacdn-backup',
  version: MANIFEST_VERSION,
  id: '20261126T041500Z',
  createdAt: '2026-11-26T04:15:00.123Z',
  tool: { name: 'mediacdn', version: '0.1.0' },
  database: { dialect: 'sqlite', schemaVersion: '0001_library', dump: { path: 'db/library.sqlite', format: 'sqlite', bytes: 10, sha256: 'a'.repeat(64) } },
  export: { format: 'ndjson', tables: [{ name: 'media', path: 'export/media.ndjson', columns: ['id'], rows: 0, bytes: 0, sha256: 'b'.repeat(64) }], sequences: { media: 0 } },
  rows: { media: 0 },
  files: [],
  totals: { files: 0, bytes: 0 },
};

test('snapshot ids are the UTC second of creation and round-trip', () => {
  const rows: Array<[string, string]> = [
    ['2026-11-26T04:15:00.999Z', '20261126T041500Z'],
    ['2000-01-01T00:00:00.000Z', '20000101T000000Z'],
    ['2026-02-28T23:59:59.001Z', '20260228T235959Z'],
  ];
  for (const [iso, id] of rows) {
    assert.equal(snapshotIdFor(new Date(iso)), id);
    assert.equal(snapshotTime(id).toISOString(), iso.replace(/\.\d{3}Z$/, '.000Z'));
    assert.ok(isSnapshotId(id));
  }
  for (const bad of ['', '20261126T041500', '2026-11-26T04:15:00Z', '20261326T041500Z', '.tmp-20261126T041500Z-1', '20261126T041500Z/..']) {
    assert.equal(isSnapshotId(bad), false, bad);
  }
});

test('a valid manifest parses; other formats, versions and shapes are refused by name', () => {
  assert.equal(parseManifest(JSON.stringify(valid)).id, valid.id);
  const rows: Array<[string, unknown, string]> = [
    ['not JSON', '{', 'manifest_invalid'],
    ['other format', { ...valid, format: 'restic' }, 'manifest_invalid'],
    ['newer version', { ...valid, version: 2 }, 'manifest_version'],
    ['no version', { ...valid, version: undefined }, 'manifest_version'],
    ['unknown key', { ...valid, extra: 1 }, 'manifest_invalid'],
    ['bad hash', { ...valid, files: [{ name: 'a.mp3', bytes: 1, sha256: 'x' }] }, 'manifest_invalid'],
    ['path escaping the snapshot', { ...valid, database: { ...valid.database, dump: { ...valid.database.dump, path: '../x' } } }, 'manifest_invalid'],
  ];
  for (const [name, input, code] of rows) {
    assert.throws(() => parseManifest(typeof input === 'string' ? input : JSON.stringify(input)), (err: Error & { code?: string }) => err.code === code, name);
  }
});
