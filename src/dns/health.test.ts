import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fleetSchema } from '../config/fleet-schema.ts';
import { createHealthChecker, httpProbe } from './health.ts';
import { fakeTimers } from '../../test/helpers/fake-timers.ts';

const edges = fleetSchema.parse([
  { name: 'fra', addresses: ['192.0.2.10'], location: { lat: 50.1, lon: 8.7 }, control: 'http://fra.internal:8081' },
  { name: 'nyc', addresses: ['198.51.100.10'], location: { lat: 40.7, lon: -74.0 }, control: 'http://nyc.internal:8081' },
]);

function setup(failuresBeforeDown = 2, successesBeforeUp = 2) {
  const timers = fakeTimers();
  const failing = new Set<string>();
  const probed: string[] = [];
  const changes: string[] = [];
  const checker = createHealthChecker({
    edges,
    intervalMs: 5000,
    timeoutMs: 1000,
    failuresBeforeDown,
    successesBeforeUp,
    timers,
    probe: async (url) => {
      probed.push(url);
      return ![...failing].some((host) => url.includes(host));
    },
    onChange: (name, up) => changes.push(`${name} ${up ? 'up' : 'down'} at ${timers.now() - 1_000_000}`),
  });
  return { timers, failing, probed, changes, checker };
}

test('health: checks each edge\'s control URL + /_mediacdn/health every interval', async () => {
  const { timers, probed, checker } = setup();
  checker.start();
  await timers.advance(0);
  assert.deepEqual(probed.sort(), ['http://fra.internal:8081/_mediacdn/health', 'http://nyc.internal:8081/_mediacdn/health']);
  await timers.advance(5000 * 3);
  assert.equal(probed.length, 8, 'one check per edge per interval');
  assert.ok(checker.isUp('fra') && checker.isUp('nyc'));
  assert.equal(checker.generation(), 0);
  checker.stop();
  assert.equal(timers.pending(), 0, 'stop cancels every timer');
});

test('health: a dead edge leaves within two intervals (not on one failure) and comes back on its own', async () => {
  const { timers, failing, changes, checker } = setup();
  checker.start();
  await timers.advance(1); // first round at t=0, both healthy
  failing.add('fra'); // dies just after a good check: the worst case
  await timers.advance(4999); // t = 5000: first failed check
  assert.ok(checker.isUp('fra'), 'one failed check does not take an edge out');
  await timers.advance(5000 - 1); // just under two intervals after death
  assert.equal(checker.isUp('fra'), false, 'down within two intervals of dying');
  assert.equal(checker.generation(), 1);
  assert.ok(checker.isUp('nyc'));
  failing.delete('fra');
  await timers.advance(5000);
  assert.equal(checker.isUp('fra'), false, 'one good check is not enough to come back');
  await timers.advance(5000);
  assert.equal(checker.isUp('fra'), true, 'back after successesBeforeUp good checks');
  assert.equal(checker.generation(), 2);
  assert.deepEqual(changes, ['fra down at 7500', 'fra up at 17500']);
  checker.stop();
});

test('health: failuresBeforeDown 1 and 3 keep to the schedule', async () => {
  for (const [failures, expectedDownAt] of [[1, 5000], [3, 7500]] as const) {
    const { timers, failing, changes, checker } = setup(failures, 1);
    checker.start();
    await timers.advance(1);
    failing.add('nyc');
    await timers.advance(20_000);
    assert.deepEqual(changes, [`nyc down at ${expectedDownAt}`], `failuresBeforeDown ${failures}`);
    checker.stop();
  }
});

test('httpProbe: 200 is healthy; 503, refused and a server that never answers are not', async () => {
  let status = 200;
  const hang = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    if (req.url === '/hang/_mediacdn/health') {
      hang.add(res);
      return;
    }
    res.writeHead(status).end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    assert.equal(await httpProbe(`${base}/_mediacdn/health`, 2000), true);
    status = 503;
    assert.equal(await httpProbe(`${base}/_mediacdn/health`, 2000), false);
    assert.equal(await httpProbe(`${base}/hang/_mediacdn/health`, 200), false, 'timeout');
    assert.equal(await httpProbe('http://127.0.0.1:1/_mediacdn/health', 2000), false, 'refused');
  } finally {
    for (const r of hang) r.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
