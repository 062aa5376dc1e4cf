// Which command group a command line loads: the one its command belongs to, or all of them for help,
// usage errors and a missing command. Global options and their values come before the command.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commandWord, registrarsFor } from './main.ts';

test('commandWord skips global options and their values', () => {
  const cases: Array<[string[], string | undefined]> = [
    [['edge', '--port', '0'], 'edge'],
    [['-c', 'edge.json', 'edge'], 'edge'],
    [['--config', 'ls', 'edge'], 'edge'],
    [['--config=x.json', '--data', '/srv/data', 'ls', '--json'], 'ls'],
    [['-cx.json', 'origin'], 'origin'],
    [['-d', 'backup', 'backup', 'list'], 'backup'],
    [['--help'], undefined],
    [['--version'], undefined],
    [[], undefined],
    [['help', 'edge'], 'help'],
    [['--', 'sign'], 'sign'],
    [['nonsense', 'edge'], 'nonsense'],
  ];
  for (const [argv, word] of cases) assert.equal(commandWord(argv), word, argv.join(' '));
});

test('registrarsFor loads one group for a known command and every group otherwise', async () => {
  assert.equal((await registrarsFor(['edge'])).length, 1);
  assert.equal((await registrarsFor(['-c', 'x', 'rm', '3'])).length, 1);
  const all = (await registrarsFor(['--help'])).length;
  assert.ok(all >= 9, `${all} groups`);
  assert.equal((await registrarsFor(['help', 'edge'])).length, all);
  assert.equal((await registrarsFor(['edgy'])).length, all, 'an unknown command is reported with every command known');
});
