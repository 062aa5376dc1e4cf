// `mediacdn stats` over a fleet: one row per edge (real edges with traffic, one unreachable), the
// fleet total, and the same rows in the origin's /api/edge-stats JSON next to the old snapshot fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ADMIN_TOKEN, startHarness } from './helpers/edge-harness.ts';
import { runCli } from './helpers/cli.ts';
import { fetchFleetStats, statsSources, type FleetStats } from '../src/cli/fleet-stats.ts';
import { loadConfig } from '../src/config/index.ts';
import { tempDirSync } from './helpers/temp.ts';

test('mediacdn stats shows each fleet edge and the fleet total; /api/edge-stats adds per-edge rows', async () => {
  const fra = await startHarness();
  const nyc = await startHarness();
  try {
    for (const h of [fra, nyc]) h.origin.route('/a', { body: 'song bytes', headers: { 'cache-control': 'max-age=60' } });
    nyc.origin.route('/b', { body: 'other', headers: { 'cache-control': 'max-age=60' } });
    await fra.get('/a'); // miss
    await fra.get('/a'); // hit
    await fra.get('/a'); // hit
    await nyc.get('/b'); // miss
    await fra.totals();
    await nyc.totals();
    const fleet = [
      { name: 'fra', addresses: ['192.0.2.10'], location: { lat: 50.1, lon: 8.7 }, control: fra.edge.url },
      { name: 'nyc', addresses: ['198.51.100.10'], location: { lat: 40.7, lon: -74.0 }, control: nyc.edge.url },
      { name: 'sfo', addresses: ['203.0.113.10'], location: { lat: 37.8, lon: -122.4 }, control: 'http://127.0.0.1:9' },
    ];
    const cwd = tempDirSync('mediacdn-fleet-stats-');
    writeFileSync(path.join(cwd, 'mediacdn.config.json'), JSON.stringify({ fleet }));
    const env = { MEDIACDN_TOKEN: ADMIN_TOKEN };

    const text = await runCli(['stats'], { cwd, env });
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.split('\n');
    assert.match(lines[0], /^edge\s+status\s+requests\s+hit rate\s+sent\s+from origin\s+5xx\s+origin errors$/);
    assert.match(lines.find((l) => l.startsWith('fra')) ?? '', /^fra\s+ok\s+3\s+66\.7%\s/);
    assert.match(lines.find((l) => l.startsWith('nyc')) ?? '', /^nyc\s+ok\s+1\s+0\.0%\s/);
    assert.match(lines.find((l) => l.startsWith('sfo')) ?? '', /^sfo\s+no answer: unreachable: /);
    assert.match(text.stdout, /fleet total \(2 of 3 edges answered\)\nzone cdn\.example\.com/);
    assert.match(text.stdout, /^requests\s+\d+\s+\d+\s+4$/m, 'the total adds both edges');

    const json = await runCli(['stats', '--json'], { cwd, env });
    const parsed = JSON.parse(json.stdout) as FleetStats;
    assert.equal(parsed.version, 1, 'still a version 1 snapshot: old readers keep working');
    assert.equal(parsed.zones['cdn.example.com'].totals.requests, 4);
    assert.deepEqual(parsed.edges.map((e) => [e.name, e.ok, e.requests]), [['fra', true, 3], ['nyc', true, 1], ['sfo', false, 0]]);

    const single = await runCli(['stats', '--edge', nyc.edge.url], { cwd, env });
    assert.match(single.stdout, /^zone cdn\.example\.com/, '--edge asks one edge as before');

    // What the origin relays to the dashboard: the fleet plus configured edges not in the fleet, deduplicated.
    const config = loadConfig({ env: {}, cwd, flags: { fleet } });
    const sources = statsSources(config, [`${nyc.edge.url}/`, 'http://127.0.0.1:8'] );
    assert.deepEqual(sources.map((s) => s.name), ['fra', 'nyc', 'sfo', '127.0.0.1:8']);
    const api = await fetchFleetStats(sources, ADMIN_TOKEN);
    assert.equal(api.zones['cdn.example.com'].totals.requests, 4);
    assert.deepEqual(api.edges.map((e) => e.ok), [true, true, false, false]);

    const down = tempDirSync('mediacdn-fleet-stats-');
    writeFileSync(path.join(down, 'mediacdn.config.json'), JSON.stringify({ fleet: [fleet[2]] }));
    const none = await runCli(['stats'], { cwd: down, env });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^mediacdn: no edge of the fleet answered/);
  } finally {
    await fra.close();
    await nyc.close();
  }
});
