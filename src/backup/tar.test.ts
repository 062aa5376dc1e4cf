import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { splitTarName, tarHeader, writeTar } from './tar.ts';

test('names longer than 100 bytes are split at a slash into prefix and name', () => {
  const rows: Array<[string, { name: string; prefix: string }]> = [
    ['a/b.txt', { name: 'a/b.txt', prefix: '' }],
    [`${'d'.repeat(120)}/f`, { name: 'f', prefix: 'd'.repeat(120) }],
    [`x/${'d'.repeat(90)}/${'f'.repeat(20)}`, { name: 'f'.repeat(20), prefix: `x/${'d'.repeat(90)}` }],
    [`${'p'.repeat(150)}/${'d'.repeat(10)}/${'f'.repeat(20)}`, { name: `${'d'.repeat(10)}/${'f'.repeat(20)}`, prefix: 'p'.repeat(150) }],
  ];
  for (const [input, expected] of rows) assert.deepEqual(splitTarName(input), expected, input);
  assert.throws(() => splitTarName('f'.repeat(101)));
});

test('a header checksum is the byte sum with the checksum field read as spaces', () => {
  const h = tarHeader({ type: 'file', name: 'a.txt', mtime: new Date(0), size: 5, source: '' });
  const stored = Number.parseInt(h.subarray(148, 154).toString('ascii'), 8);
  const copy = Buffer.from(h);
  copy.fill(0x20, 148, 156);
  assert.equal(stored, copy.reduce((s, b) => s + b, 0));
  assert.equal(h.subarray(124, 135).toString('ascii'), '00000000005');
  const huge = tarHeader({ type: 'file', name: 'big', mtime: new Date(0), size: 2 ** 33 + 1, source: '' });
  assert.equal(huge[124], 0x80);
  assert.equal(huge.readBigUInt64BE(128), BigInt(2 ** 33 + 1));
});

test('GNU tar lists and extracts what writeTar wrote, byte for byte', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-tar-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const files = { empty: Buffer.alloc(0), block: Buffer.alloc(512, 7), odd: Buffer.from('hello, tar\n'), big: Buffer.alloc(3 * 1024 * 1024 + 3, 'x') };
  for (const [n, b] of Object.entries(files)) await writeFile(path.join(dir, n), b);
  const long = `${'deep/'.repeat(30)}odd.txt`;
  const mtime = new Date('2026-11-26T04:15:00Z');
  await writeTar(path.join(dir, 'out.tar'), [
    { type: 'dir', name: 'top', mtime },
    ...Object.entries(files).map(([n, b]) => ({ type: 'file' as const, name: `top/${n}`, mtime, size: b.length, source: path.join(dir, n) })),
    { type: 'file', name: long, mtime, size: files.odd.length, source: path.join(dir, 'odd') },
  ]);
  const listing = execFileSync('tar', ['-tf', path.join(dir, 'out.tar')], { encoding: 'utf8' }).trim().split('\n');
  assert.deepEqual(listing, ['top/', 'top/empty', 'top/block', 'top/odd', 'top/big', long]);
  const x = path.join(dir, 'x');
  execFileSync('mkdir', [x]);
  execFileSync('tar', ['-xf', path.join(dir, 'out.tar'), '-C', x]);
  for (const [n, b] of Object.entries(files)) assert.deepEqual(await readFile(path.join(x, 'top', n)), b, n);
  assert.deepEqual(await readFile(path.join(x, long)), files.odd);
});
