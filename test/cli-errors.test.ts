// Every command and subcommand given wrong arguments, run as a real child process both ways the CLI is
// started (the pinned Node on bin/mediacdn.js, and src/cli/main.ts as the other tests run it): the
// exit code of the README's table, and exactly one line on stderr, `mediacdn: …`, never a stack trace.
// Servers whose port is taken exit at once (the origin's primary included, when its workers fail).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runCli, runProgram, type CliResult } from './helpers/cli.ts';
import { backupScene, tempDir } from './helpers/backup.ts';
import { FIXTURES } from './helpers/library.ts';
import { ADMIN_TOKEN, startHarness } from './helpers/edge-harness.ts';
import { createSnapshot } from '../src/backup/create.ts';
import { EXIT } from '../src/errors.ts';

const ROOT = path.join(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'bin', 'mediacdn.js');
const PINNED_NODE = path.join(ROOT, 'node_modules', '.bin', 'node');

/** Every row's command exits by itself; one still running after this long (a server that kept running) is killed and fails. */
const STILL_RUNNING_MS = 60_000;

type Row = { args: string[]; code: number; stderr: RegExp };
type Runner = { name: string; run: (args: string[], env: Record<string, string | undefined>, cwd: string) => Promise<CliResult> };

const runners: Runner[] = [
  { name: 'node_modules/.bin/node bin/mediacdn.js', run: (args, env, cwd) => runProgram(PINNED_NODE, [BIN, ...args], { env, cwd, killAfterMs: STILL_RUNNING_MS }) },
  { name: 'src/cli/main.ts', run: (args, env, cwd) => runCli(args, { env, cwd, killAfterMs: STILL_RUNNING_MS }) },
];

/** A TCP port that something else holds for the test's length. */
async function takenPort(t: TestContext): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as { port: number }).port;
}

/** Runs `fn` over `items`, at most `limit` at a time. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

test('every command with wrong arguments: the README exit code and one line on stderr without a stack trace', async (t) => {
  const { tl, r, items } = await backupScene(t);
  const snap = await createSnapshot(tl.lib, r.repo, { toolVersion: 'test' });
  const work = await tempDir('mediacdn-cli-errors-');
  t.after(() => work.close());
  const port = await takenPort(t);
  const edge = await startHarness();
  t.after(() => edge.close());
  const edgeUrl = edge.edge.url;

  const textFile = path.join(work.dir, 'notes.txt');
  await writeFile(textFile, 'hello');
  const dnsConfig = path.join(work.dir, 'dns.json');
  await writeFile(
    dnsConfig,
    JSON.stringify({
      edge: { zones: [{ host: 'cdn.radio.test', origin: 'http://127.0.0.1:4000' }] },
      fleet: [{ name: 'fra', addresses: ['192.0.2.10'], location: { lat: 50.1, lon: 8.7 }, control: 'http://127.0.0.1:9' }],
    }),
  );
  const emptyData = path.join(work.dir, 'empty');
  const song = items[0];
  const mp3 = path.join(FIXTURES, 'tone-3s.mp3');
  const usage = (cmd: string) => new RegExp(`\\(see ${cmd} --help\\)$`);

  const rows: Row[] = [
    // The program itself.
    { args: [], code: EXIT.usage, stderr: /^mediacdn: mediacdn needs a command: add, ls, show, url, rm, check, backup, origin, edge, purge, stats, up, dns, sign \(see mediacdn --help\)$/ },
    { args: ['frobnicate'], code: EXIT.usage, stderr: /^mediacdn: unknown command 'frobnicate' \(see mediacdn --help\)$/ },
    { args: ['help', 'frobnicate'], code: EXIT.usage, stderr: /^mediacdn: unknown command 'frobnicate' \(see mediacdn --help\)$/ },
    { args: ['--nope', 'ls'], code: EXIT.usage, stderr: /^mediacdn: unknown option '--nope' \(see mediacdn --help\)$/ },
    { args: ['--data'], code: EXIT.usage, stderr: /^mediacdn: option '-d, --data <dir>' argument missing \(see mediacdn --help\)$/ },
    { args: ['-c', path.join(work.dir, 'nope.json'), 'ls'], code: EXIT.usage, stderr: /^mediacdn: config --config: cannot read .*nope\.json: no such file$/ },
    // Library.
    { args: ['add'], code: EXIT.usage, stderr: /^mediacdn: missing required argument 'file' \(see mediacdn add --help\)$/ },
    { args: ['add', path.join(work.dir, 'nope.mp3')], code: EXIT.input, stderr: /^mediacdn: cannot read .*nope\.mp3: no such file$/ },
    { args: ['add', textFile], code: EXIT.rejected, stderr: /^mediacdn: .*notes\.txt: extension \.txt is not an accepted media type/ },
    { args: ['add', mp3, '--title', 'T'], code: EXIT.usage, stderr: /^mediacdn: --title needs --song, --announcement or --background$/ },
    { args: ['add', mp3, '--bogus'], code: EXIT.usage, stderr: /^mediacdn: unknown option '--bogus' \(see mediacdn add --help\)$/ },
    { args: ['ls', '--limit', 'abc'], code: EXIT.usage, stderr: /^mediacdn: --limit must be a whole number, got "abc" \(see mediacdn ls --help\)$/ },
    { args: ['ls', '--kind', 'jingle'], code: EXIT.usage, stderr: /^mediacdn: --kind must be one of song, announcement, background, none$/ },
    { args: ['ls', 'extra'], code: EXIT.usage, stderr: /^mediacdn: too many arguments for 'ls'\. Expected 0 arguments but got 1: extra \(see mediacdn ls --help\)$/ },
    { args: ['ls', '--remote', 'notaurl'], code: EXIT.usage, stderr: /^mediacdn: --remote "notaurl" is not an http\(s\) URL$/ },
    { args: ['show'], code: EXIT.usage, stderr: /^mediacdn: missing required argument 'id\|file' \(see mediacdn show --help\)$/ },
    { args: ['show', '424242'], code: EXIT.input, stderr: /^mediacdn: no media 424242$/ },
    { args: ['url', 'qqqqqqqqqqqqqqqqqqqq.mp3'], code: EXIT.input, stderr: /^mediacdn: no media "qqqqqqqqqqqqqqqqqqqq\.mp3"$/ },
    { args: ['rm'], code: EXIT.usage, stderr: usage('mediacdn rm') },
    { args: ['rm', String(song.id)], code: EXIT.failure, stderr: /^mediacdn: media \d+ \([a-z]{20}\.mp3\) is used by 1 song record\(s\); pass --force to delete them too$/ },
    { args: ['check', 'extra'], code: EXIT.usage, stderr: usage('mediacdn check') },
    // Backups.
    { args: ['backup'], code: EXIT.usage, stderr: /^mediacdn: mediacdn backup needs a command: create, list, verify, restore, prune, export \(see mediacdn backup --help\)$/ },
    { args: ['backup', 'frobnicate'], code: EXIT.usage, stderr: /^mediacdn: unknown command 'frobnicate' \(see mediacdn backup --help\)$/ },
    { args: ['backup', 'create', '--repo'], code: EXIT.usage, stderr: usage('mediacdn backup create') },
    { args: ['backup', 'list', 'extra'], code: EXIT.usage, stderr: usage('mediacdn backup list') },
    { args: ['backup', 'verify'], code: EXIT.usage, stderr: /^mediacdn: missing required argument 'id' \(see mediacdn backup verify --help\)$/ },
    { args: ['backup', 'verify', 'yesterday'], code: EXIT.input, stderr: /^mediacdn: "yesterday" is not a snapshot id \(YYYYMMDDTHHMMSSZ\)$/ },
    { args: ['backup', 'verify', 'latest', '--sample', 'some'], code: EXIT.usage, stderr: /^mediacdn: --sample must be a whole number/ },
    { args: ['backup', 'restore'], code: EXIT.usage, stderr: usage('mediacdn backup restore') },
    { args: ['backup', 'restore', '20200101T000000Z'], code: EXIT.input, stderr: /^mediacdn: .*20200101T000000Z/ },
    // Into the library it was taken from: refused without --force, like a deletion.
    { args: ['backup', 'restore', 'latest'], code: EXIT.failure, stderr: /^mediacdn: restore target is not empty \(.*\); pass --force to replace it$/ },
    { args: ['backup', 'restore', 'latest', '--sqlite', '--database-url', 'postgres://x/y'], code: EXIT.usage, stderr: /^mediacdn: give --sqlite or --database-url, not both$/ },
    { args: ['backup', 'prune'], code: EXIT.usage, stderr: /^mediacdn: give at least one of --keep-last, --keep-daily, --keep-weekly, --keep-monthly$/ },
    { args: ['backup', 'prune', '--keep-daily', '-1'], code: EXIT.usage, stderr: /^mediacdn: --keep-daily must be a whole number, got "-1"/ },
    { args: ['backup', 'export', snap.id], code: EXIT.usage, stderr: /^mediacdn: required option '--out <file>' not specified \(see mediacdn backup export --help\)$/ },
    { args: ['backup', 'export', '20200101T000000Z', '--out', path.join(work.dir, 'x.tar')], code: EXIT.input, stderr: /^mediacdn: .*20200101T000000Z/ },
    // Servers.
    { args: ['origin', '--port', 'abc'], code: EXIT.usage, stderr: /^mediacdn: --port must be a whole number, got "abc" \(see mediacdn origin --help\)$/ },
    { args: ['origin', '--port', '70000'], code: EXIT.usage, stderr: /^mediacdn: config origin\.port: / },
    { args: ['origin', '--port', String(port), '--workers', '2'], code: EXIT.failure, stderr: new RegExp(`^mediacdn: origin: cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use by another program \\(choose another with --port\\)$`) },
    { args: ['origin', '--port', String(port), '--workers', '1'], code: EXIT.failure, stderr: new RegExp(`^mediacdn: origin: cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use by another program \\(choose another with --port\\)$`) },
    { args: ['origin', '--port', '0', '--workers', '1', '--host', '192.0.2.1'], code: EXIT.usage, stderr: /^mediacdn: origin: cannot listen on 192\.0\.2\.1: the address is not one of this machine's$/ },
    { args: ['edge'], code: EXIT.usage, stderr: /^mediacdn: edge: no pull zones; pass --zone/ },
    { args: ['edge', '--zone', 'bad'], code: EXIT.usage, stderr: /^mediacdn: --zone: expected <hostname>=<origin-url>, got "bad"$/ },
    { args: ['edge', '--zone', 'a.test=ftp://x'], code: EXIT.usage, stderr: /^mediacdn: --zone: origin must be an http:\/\/ or https:\/\/ URL/ },
    { args: ['edge', '--zone', 'a.test=http://127.0.0.1:1', '--host', '127.0.0.1', '--port', String(port), '--workers', '2'], code: EXIT.failure, stderr: new RegExp(`^mediacdn: edge: cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use by another program \\(choose another with --port\\)$`) },
    { args: ['edge', '--zone', 'a.test=http://127.0.0.1:1', '--host', '127.0.0.1', '--port', String(port), '--workers', '1'], code: EXIT.failure, stderr: new RegExp(`^mediacdn: edge: cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use by another program \\(choose another with --port\\)$`) },
    { args: ['purge'], code: EXIT.usage, stderr: /^mediacdn: purge: give exactly one of <url>, --prefix <url> or --zone <host>$/ },
    { args: ['purge', 'http://cdn.test/media/a.mp3', '--zone', 'cdn.test'], code: EXIT.usage, stderr: /^mediacdn: purge: give exactly one of/ },
    { args: ['purge', 'http://cdn.test/media/a.mp3'], code: EXIT.usage, stderr: /^mediacdn: purge: no edges; / },
    { args: ['purge', 'http://cdn.test/media/a.mp3', '--edge', edgeUrl, '--attempts', '0'], code: EXIT.usage, stderr: /^mediacdn: purge: --attempts must be at least 1$/ },
    { args: ['stats', '--edge', edgeUrl, '--zone', 'nosuch.test'], code: EXIT.input, stderr: /^mediacdn: stats: http:\/\/127\.0\.0\.1:\d+ has no statistics for zone "nosuch\.test" \((zones: .*|no zone has statistics yet)\)$/ },
    { args: ['purge', 'cdn.test/media/a.mp3', '--edge', edgeUrl], code: EXIT.usage, stderr: /^mediacdn: <url> must be an absolute http\(s\) URL, got "cdn\.test\/media\/a\.mp3" \(see mediacdn purge --help\)$/ },
    { args: ['purge', '--prefix', '/media/', '--edge', edgeUrl], code: EXIT.usage, stderr: /^mediacdn: --prefix must be an absolute http\(s\) URL, got "\/media\/" \(see mediacdn purge --help\)$/ },
    { args: ['purge', 'http://cdn.test/media/a.mp3', '--edge', '127.0.0.1:8081'], code: EXIT.usage, stderr: /^mediacdn: --edge must be an absolute http\(s\) URL, got "127\.0\.0\.1:8081" \(see mediacdn purge --help\)$/ },
    { args: ['stats', '--edge', 'http://127.0.0.1:1'], code: EXIT.failure, stderr: /^mediacdn: cannot reach the edge at http:\/\/127\.0\.0\.1:1: / },
    { args: ['stats', '--edge', 'localhost:8080'], code: EXIT.usage, stderr: /^mediacdn: --edge must be an absolute http\(s\) URL, got "localhost:8080" \(see mediacdn stats --help\)$/ },
    { args: ['up', '--origin-port', 'abc'], code: EXIT.usage, stderr: /^mediacdn: --origin-port must be a whole number, got "abc" \(see mediacdn up --help\)$/ },
    { args: ['--data', emptyData, 'up', '--no-demo', '--origin-port', String(port), '--edge-port', '0'], code: EXIT.failure, stderr: new RegExp(`^mediacdn: origin: cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use by another program \\(choose another with --origin-port\\)$`) },
    { args: ['--data', emptyData, 'up', '--no-demo', '--origin-port', '0', '--edge-port', String(port)], code: EXIT.failure, stderr: new RegExp(`^mediacdn: edge: cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use by another program \\(choose another with --edge-port\\)$`) },
    { args: ['dns'], code: EXIT.usage, stderr: /^mediacdn: dns: no names to answer for; add edge\.zones\[\] with the CDN host names$/ },
    { args: ['sign', 'https://nosuch.test/media/a.mp3'], code: EXIT.usage, stderr: /^mediacdn: no zone nosuch\.test with signedUrls in the configuration$/ },
    { args: ['sign', 'https://nosuch.test/a.mp3', '--expires-in', 'soon'], code: EXIT.usage, stderr: /^mediacdn: --expires-in must be a duration such as 90s, 30m, 1h or 7d, got "soon" \(see mediacdn sign --help\)$/ },
    { args: ['dns', '--export', 'bind'], code: EXIT.usage, stderr: /^mediacdn: dns --export: unknown format "bind" \(known: powerdns\)$/ },
    { args: ['-c', dnsConfig, 'dns', '--host', '127.0.0.1', '--port', String(port)], code: EXIT.failure, stderr: new RegExp(`^mediacdn: dns: cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use by another program \\(choose another with --port\\)$`) },
  ];

  // Every command and subcommand the help lists has a row.
  const covered = new Set(rows.map((row) => row.args.filter((a) => /^[a-z]+$/.test(a)).slice(0, 2).join(' ')));
  for (const cmd of ['add', 'ls', 'show', 'url', 'rm', 'check', 'origin', 'edge', 'purge', 'stats', 'up', 'dns', 'sign', 'help']) {
    assert.ok([...covered].some((c) => c === cmd || c.startsWith(`${cmd} `)), `a row for ${cmd}`);
  }
  for (const sub of ['create', 'list', 'verify', 'restore', 'prune', 'export']) assert.ok(covered.has(`backup ${sub}`), `a row for backup ${sub}`);

  const env = { MEDIACDN_DATA: tl.dir, MEDIACDN_BACKUP_REPO: r.dir, DATABASE_URL: tl.testDb.url ?? '', MEDIACDN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: undefined, MEDIACDN_CONFIG: undefined };
  for (const runner of runners) {
    await t.test(runner.name, async () => {
      const failures: string[] = [];
      await eachLimited(rows, 3, async (row) => {
        const res = await runner.run(row.args, env, work.dir);
        const lines = res.stderr.split('\n');
        const what = `mediacdn ${row.args.join(' ')} → exit ${res.code}, stdout ${JSON.stringify(res.stdout)}, stderr ${JSON.stringify(res.stderr)}`;
        if (res.code !== row.code) failures.push(`${what}: expected exit ${row.code}`);
        else if (!row.stderr.test(lines[0])) failures.push(`${what}: first line does not match ${row.stderr}`);
        else if (lines.length !== 2 || lines[1] !== '') failures.push(`${what}: stderr is not one line`);
        else if (/^\s+at /m.test(res.stderr)) failures.push(`${what}: a stack trace`);
        else if (res.stdout !== '') failures.push(`${what}: output on stdout`);
      });
      assert.deepEqual(failures, []);
    });
  }
});

test('check --fix says which young temp and orphan files it keeps, and why', async (t) => {
  const { tl } = await backupScene(t);
  const temp = path.join(tl.mediaDir, '.tmp-1-deadbeef');
  const oldTemp = path.join(tl.mediaDir, '.tmp-2-cafe');
  await writeFile(temp, 'half an upload');
  await writeFile(oldTemp, 'left by a crash');
  const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
  await utimes(oldTemp, twoHoursAgo, twoHoursAgo);
  const env = { MEDIACDN_DATA: tl.dir, DATABASE_URL: tl.testDb.url ?? '' };
  const fix = await runCli(['check', '--fix', '--no-hash'], { env, cwd: tl.dir });
  assert.equal(fix.code, EXIT.failure, 'a problem is left');
  assert.equal(fix.stderr, '');
  assert.match(fix.stdout, /^removed \.tmp-2-cafe$/m);
  assert.match(fix.stdout, /^kept \.tmp-1-deadbeef: 0 min old, younger than 60 min \(a write may be in progress\)$/m);
  assert.match(fix.stdout, /5 record\(s\), 5 file\(s\), 2 problem\(s\), 1 fixed, 1 kept \(younger than 60 min; run check --fix again later\)\n$/);
});
