// `mediacdn up` whose port is taken fails before it touches the library: an empty library is still
// empty afterwards (no demo content added by a start that did not happen), and the next start adds it.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { runCli } from './helpers/cli.ts';

test('up on a taken port adds no demo content; ls shows the library as it was', async () => {
  const data = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-up-taken-'));
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    // The embedded default (SQLite in the data folder), whatever the suite's database.
    const env = { MEDIACDN_DATA: data, DATABASE_URL: '' };
    for (const ports of [['--origin-port', String(port), '--edge-port', '0'], ['--origin-port', '0', '--edge-port', String(port)]]) {
      const r = await runCli(['up', ...ports], { env, killAfterMs: 30_000 });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /cannot listen on 127\.0\.0\.1:\d+: the port is in use/);
      const ls = await runCli(['ls', '--json'], { env });
      assert.equal(ls.code, 0, ls.stderr);
      assert.deepEqual((JSON.parse(ls.stdout) as { items: unknown[] }).items, [], `after up ${ports.join(' ')}`);
    }
  } finally {
    blocker.close();
    await rm(data, { recursive: true, force: true });
  }
});
