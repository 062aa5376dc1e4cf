// The origin's sendfile path (src/origin/media-handler.ts sendLarge, native/sendfile.c): the helper is
// built wherever a C compiler is; a body larger than the socket's buffer takes is finished through the
// stream, in order, while pipelined requests wait; a file cut short after it was opened closes the
// connection (its head promised the length) and is answered 404 from then on; origin.sendfile: false
// copies the same bytes. A rebuild (npx installing the checkout into its cache runs the postinstall
// again, during a test run) replaces the helper by a rename, never writing the loaded file in place.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { sendfileHelper } from '../src/server/sendfile.ts';
import { request, startTestOrigin, waitFor, wavOfSize } from './helpers/origin.ts';
import { pipelinedAnswers } from './helpers/pipelined.ts';

const MiB = 1024 * 1024;
/** Ranges of this size: the socket's buffer seldom takes one whole at once. */
const HALF_MIB = 512 * 1024;
/** Nothing in memory: every body of the file comes from its open descriptor. */
const NO_MEMORY = { memoryCacheMaxFileBytes: 16 * 1024, memoryCacheBytes: 0 };

test('the sendfile helper is built where a C compiler is (npm ci runs scripts/build-native.mjs)', () => {
  const cc = spawnSync('cc', ['--version']);
  if (cc.error !== undefined || cc.status !== 0 || process.platform !== 'linux') return;
  assert.equal(typeof sendfileHelper(), 'function', 'cc is there but build/sendfile.node is not: run node scripts/build-native.mjs');
});


test('scripts/build-native.mjs puts a new helper in place by a rename, leaving nothing else behind', async (t) => {
  const cc = spawnSync('cc', ['--version']);
  if (cc.error !== undefined || cc.status !== 0 || process.platform !== 'linux') return;
  const root = await mkdtemp(path.join(os.tmpdir(), 'mediacdn-build-native-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const checkout = path.join(import.meta.dirname, '..');
  for (const dir of ['scripts', 'native']) await mkdir(path.join(root, dir));
  await copyFile(path.join(checkout, 'scripts/build-native.mjs'), path.join(root, 'scripts/build-native.mjs'));
  await copyFile(path.join(checkout, 'native/sendfile.c'), path.join(root, 'native/sendfile.c'));
  const build = () => spawnSync(process.execPath, [path.join(root, 'scripts/build-native.mjs')], { encoding: 'utf8' });
  const first = build();
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /built build\/sendfile\.node/);
  const helper = path.join(root, 'build/sendfile.node');
  const before = statSync(helper).ino;
  const again = build();
  assert.equal(again.status, 0, again.stderr);
  // Another file (a process that loaded the old one keeps it), and no half-built file left over.
  assert.notEqual(statSync(helper).ino, before);
  assert.deepEqual(await readdir(path.join(root, 'build')), ['sendfile.node']);
});

for (const sendfile of [true, false]) {
  test(`a client that reads late gets every pipelined 512 KiB answer whole and in order (sendfile ${sendfile ? 'on' : 'off'})`, async () => {
    const o = await startTestOrigin({ origin: { ...NO_MEMORY, sendfile } });
    try {
      const bytes = wavOfSize(3 * MiB);
      for (let i = 44; i < bytes.length; i += 4093) bytes[i] = i & 0xff;
      const item = await o.addPath(await writeTemp(bytes));
      // The record and the descriptor first, so the lane has them.
      assert.equal((await request(o.url, { path: `/media/${item.fileName}`, headers: { range: 'bytes=0-0' } })).status, 206);
      const ranges = [0, 1, 2, 0, 2, 1, 0, 2, 2, 1, 0, 1].map((k) => [k * MiB + 7, k * MiB + 7 + HALF_MIB - 1] as const);
      const text = ranges.map(([a, b]) => `GET /media/${item.fileName} HTTP/1.1\r\nHost: t\r\nRange: bytes=${a}-${Math.min(b, bytes.length - 1)}\r\n\r\n`).join('');
      // Unread, the answers fill the socket's buffers (6 MiB in all): the rest of one waits in the stream, and so do the requests behind it.
      const go = sendfile ? waitFor(() => (o.origin.sendfileStats().sendfileRest > 0 ? true : undefined)).then(() => {}) : Promise.resolve();
      const answers = await pipelinedAnswers(o.origin.port, text, ranges.length, () => go);
      for (const [i, [a, b]] of ranges.entries()) {
        const end = Math.min(b, bytes.length - 1);
        assert.match(answers[i].head, new RegExp(`^HTTP/1\\.1 206 [^]*\\r\\ncontent-range: bytes ${a}-${end}/${bytes.length}`, 'i'));
        assert.ok(answers[i].body.equals(bytes.subarray(a, end + 1)), `answer ${i} differs`);
      }
      const stats = o.origin.sendfileStats();
      if (sendfile && stats.helper) assert.ok(stats.sendfileAnswers >= 1 && stats.sendfileRest >= 1, JSON.stringify(stats));
      if (!sendfile) assert.deepEqual(stats, { helper: false, sendfileAnswers: 0, sendfileBytes: 0, sendfileRest: 0, sendfileTails: 0 });
    } finally {
      await o.close();
    }
  });
}

test('a file cut short after it was opened closes the connection mid-body, then answers 404, and other files go on', async () => {
  const o = await startTestOrigin({ origin: NO_MEMORY });
  try {
    const cut = await o.addPath(await writeTemp(wavOfSize(600 * 1024)));
    const other = await o.addPath(await writeTemp(wavOfSize(300 * 1024)));
    assert.equal((await request(o.url, { path: `/media/${cut.fileName}`, headers: { range: 'bytes=0-0' } })).status, 206);
    await truncate(o.tl.lib.storage.localPath(cut.fileName), 100 * 1024);
    const broken = await rawGet(o.origin.port, `/media/${cut.fileName}`, 'bytes=200000-400000');
    // The helper sends the head before it finds the file short; without it, the read fails first (500).
    if (sendfileHelper() !== undefined) {
      assert.match(broken.head, /^HTTP\/1\.1 206 /);
      assert.ok(broken.closed, `got ${broken.bodyBytes} body bytes of 200001 and no close`);
    } else assert.match(broken.head, /^HTTP\/1\.1 500 /);
    assert.equal((await request(o.url, { path: `/media/${cut.fileName}` })).status, 404);
    assert.ok(o.logs.some((l) => /MEDIA FILE BROKEN/.test(String(l.msg))), 'the broken file was not logged');
    const fine = await request(o.url, { path: `/media/${other.fileName}`, headers: { range: 'bytes=1000-199999' } });
    assert.equal(fine.status, 206);
    assert.equal(fine.body.length, 199000);
  } finally {
    await o.close();
  }
});

test('a body longer than the socket takes goes on from the file as the client reads, whole and in order, with requests behind it waiting, even when its entry is dropped meanwhile', async () => {
  const o = await startTestOrigin({ origin: NO_MEMORY });
  try {
    const bytes = wavOfSize(8 * MiB);
    for (let i = 44; i < bytes.length; i += 4093) bytes[i] = i & 0xff;
    const item = await o.addPath(await writeTemp(bytes));
    assert.equal((await request(o.url, { path: `/media/${item.fileName}`, headers: { range: 'bytes=0-0' } })).status, 206);
    const asks: Array<[string | undefined, number, number]> = [[undefined, 0, bytes.length - 1], ['bytes=0-', 0, bytes.length - 1], ['bytes=1000-5000000', 1000, 5000000], ['bytes=100-199', 100, 199]];
    const text = asks.map(([range]) => `GET /media/${item.fileName} HTTP/1.1\r\nHost: t\r\n${range ? `Range: ${range}\r\n` : ''}\r\n`).join('');
    const helper = sendfileHelper() !== undefined;
    // Unread, the first answer fills the socket's buffers and the rest of it waits for room: then the
    // entry is dropped (a delete, an eviction), and the descriptor must stay open for that rest.
    const go = async () => {
      if (!helper) return;
      await waitFor(() => (o.origin.sendfileStats().sendfileTails > 0 ? true : undefined));
      o.origin.forgetMedia(item.fileName);
      assert.equal(o.origin.cacheStats().openFiles, 1);
    };
    const answers = await pipelinedAnswers(o.origin.port, text, asks.length, go);
    for (const [i, [range, a, b]] of asks.entries()) {
      assert.match(answers[i].head, range ? new RegExp(`^HTTP/1\\.1 206 [^]*\\r\\ncontent-range: bytes ${a}-${b}/${bytes.length}`, 'i') : /^HTTP\/1\.1 200 /);
      assert.ok(answers[i].body.equals(bytes.subarray(a, b + 1)), `answer ${i} differs`);
    }
    const stats = o.origin.sendfileStats();
    if (helper) assert.ok(stats.sendfileTails >= 1 && stats.sendfileBytes > 8 * MiB, JSON.stringify(stats));
    // Every descriptor is closed once its entry is gone and nothing sends from it.
    o.origin.forgetMedia(item.fileName);
    await waitFor(() => (o.origin.cacheStats().openFiles === 0 ? true : undefined));
  } finally {
    await o.close();
  }
});

test('a client that goes away, or a file cut short, in the middle of a long body ends that connection only', async () => {
  const o = await startTestOrigin({ origin: NO_MEMORY });
  try {
    const item = await o.addPath(await writeTemp(wavOfSize(8 * MiB)));
    const other = await o.addPath(await writeTemp(wavOfSize(300 * 1024)));
    assert.equal((await request(o.url, { path: `/media/${item.fileName}`, headers: { range: 'bytes=0-0' } })).status, 206);
    const helper = sendfileHelper() !== undefined;
    // A client that reads 1 MiB and leaves.
    const leaver = net.connect(o.origin.port, '127.0.0.1');
    leaver.write(`GET /media/${item.fileName} HTTP/1.1\r\nHost: t\r\n\r\n`);
    let got = 0;
    await new Promise<void>((resolve) => leaver.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= MiB) {
        leaver.destroy();
        resolve();
      }
    }));
    // The file cut to 3 MiB while a paused client waits in the middle of its body: it gets less than the
    // head promised and a closed connection.
    const cut = net.connect(o.origin.port, '127.0.0.1');
    cut.pause();
    cut.write(`GET /media/${item.fileName} HTTP/1.1\r\nHost: t\r\nRange: bytes=0-\r\n\r\n`);
    const before = helper ? o.origin.sendfileStats().sendfileTails : 0;
    if (helper) await waitFor(() => (o.origin.sendfileStats().sendfileTails > before ? true : undefined));
    await truncate(o.tl.lib.storage.localPath(item.fileName), 3 * MiB);
    let cutBytes = 0;
    cut.on('data', (d: Buffer) => (cutBytes += d.length));
    await new Promise((resolve) => {
      cut.on('close', resolve);
      cut.resume();
    });
    assert.ok(cutBytes < 8 * MiB, `got ${cutBytes} bytes of a file cut to 3 MiB`);
    if (helper) assert.ok(o.logs.some((l) => /MEDIA FILE BROKEN/.test(String(l.msg))), 'the cut file was not logged');
    // Others are served as before; every descriptor is closed once nothing needs it.
    const fine = await request(o.url, { path: `/media/${other.fileName}`, headers: { range: 'bytes=1000-199999' } });
    assert.equal(fine.status, 206);
    assert.equal(fine.body.length, 199000);
    o.origin.forgetMedia(item.fileName);
    o.origin.forgetMedia(other.fileName);
    await waitFor(() => (o.origin.cacheStats().openFiles === 0 ? true : undefined));
  } finally {
    await o.close();
  }
});

/** One GET on its own connection: the head, how many body bytes came, and whether the server closed before Content-Length. */
function rawGet(port: number, target: string, range: string): Promise<{ head: string; bodyBytes: number; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => (buf = Buffer.concat([buf, d])));
    socket.on('error', () => {});
    socket.on('close', () => {
      const at = buf.indexOf('\r\n\r\n');
      if (at < 0) return reject(new Error(`no head: ${JSON.stringify(buf.toString('latin1').slice(0, 100))}`));
      const head = buf.subarray(0, at).toString('latin1');
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
      const bodyBytes = buf.length - at - 4;
      resolve({ head, bodyBytes, closed: bodyBytes < length });
    });
    socket.end(`GET ${target} HTTP/1.1\r\nHost: t\r\nRange: ${range}\r\n\r\n`);
  });
}

let temps = 0;
/** A file to ingest, removed when the test file ends. */
async function writeTemp(bytes: Buffer): Promise<string> {
  const file = path.join(os.tmpdir(), `mediacdn-sendfile-${process.pid}-${temps++}.wav`);
  await writeFile(file, bytes);
  after(() => unlink(file).catch(() => {}));
  return file;
}
