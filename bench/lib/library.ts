// What the origin and edge sections share: a temporary media library with the bench files, the tests
// (rows) and the load each asks for, servers started as their own processes pinned to the server
// core, and the versions line of a report.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../src/db/connect.ts';
import { createLocalStorage } from '../../src/storage/local-store.ts';
import { createLibrary } from '../../src/media/library.ts';
import { ingest } from '../../src/media/ingest.ts';
import { wavOfSize } from '../../test/helpers/origin.ts';
import { SERVER_CORE } from './cpu.ts';
import { startProcess, type Started } from './proc.ts';
import type { Load } from './rounds.ts';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const ROOT = path.join(import.meta.dirname, '..', '..');
/** The `mediacdn` bin, which the bench starts our servers with, as a user does (it keeps Node's compile cache). */
/** The admin token of every server of ours the bench starts (their /_mediacdn/ endpoints). */
export const BENCH_TOKEN = 'bench-token-0123456789abcdef';

export const BIN = path.join(ROOT, 'bin', 'mediacdn.js');

/** A server under test: its base URL and the pid whose process tree holds its memory. */
export type Server = { name: string; url: string; pid: number; stop(): Promise<void> };

/** One bench file: `key` names it in tests, `bytes` is its size, `seed` makes equal sizes differ. */
export type FileSpec = { key: string; bytes: number; seed?: number };

/** Media in the library: the file name under /media/ and the exact bytes, by key. */
export type BenchLibrary = { dataDir: string; mediaDir: string; names: Map<string, string>; bytes: Map<string, Buffer> };

/** The files of the origin and edge rows. */
export const BENCH_FILES: FileSpec[] = [
  { key: '4k', bytes: 4 * KiB },
  { key: '64k', bytes: 64 * KiB },
  { key: '1m', bytes: 1 * MiB },
  { key: '32m', bytes: 32 * MiB },
];

/** The 64 KiB slice from the middle of the 32 MiB file that the range rows ask for. */
export const RANGE_OF_32M: [number, number] = [16 * MiB, 16 * MiB + 64 * KiB - 1];

/** One row of the origin and edge tables. */
export type HttpTest = {
  name: string;
  file: string;
  range?: [number, number];
  /** If-None-Match with the server's own ETag, and an Origin header: a 304 that must carry CORS fields. */
  revalidate?: boolean;
  /** The radio workload: listeners reading the whole file in sequential ranges of this many bytes. */
  radio?: { listeners: number; rangeBytes: number };
};

/** The Origin header of the 304 row. */
export const PLAYER_ORIGIN = 'https://player.example';

/** The rows: the BENCH.md tests, the 304 with CORS, and the radio workload (fewer listeners in quick mode). */
export function httpTests(o: { radioListeners: number }): HttpTest[] {
  return [
    { name: 'GET 4 KiB', file: '4k' },
    { name: 'GET 64 KiB', file: '64k' },
    { name: 'GET 1 MiB', file: '1m' },
    { name: '64 KiB range of 32 MiB', file: '32m', range: RANGE_OF_32M },
    { name: 'If-None-Match → 304, CORS', file: '4k', revalidate: true },
    { name: `radio: ${o.radioListeners} listeners, 256 KiB ranges of 32 MiB`, file: '32m', radio: { listeners: o.radioListeners, rangeBytes: 256 * KiB } },
  ];
}

/** What the load generator asks `baseUrl` for in test `t` (`etag`: the server's own, for the 304 row). */
export function loadFor(t: HttpTest, lib: BenchLibrary, baseUrl: string, etag: string | undefined): Load {
  const url = `${baseUrl}/media/${lib.names.get(t.file)}`;
  if (t.radio) return { kind: 'radio', url, listeners: t.radio.listeners, rangeBytes: t.radio.rangeBytes, fileBytes: (lib.bytes.get(t.file) as Buffer).length };
  return { kind: 'wrk', url, range: t.range ? `bytes=${t.range[0]}-${t.range[1]}` : undefined, ifNoneMatch: t.revalidate ? etag : undefined, origin: t.revalidate ? PLAYER_ORIGIN : undefined };
}

/** A server process (a node script or any program) started pinned to the server core. */
export async function startPinned(name: string, o: { cmd: string; args: string[]; env?: NodeJS.ProcessEnv; ready: RegExp; cores?: string }): Promise<Server & { started: Started }> {
  const p = await startProcess({ cmd: 'taskset', args: ['-c', o.cores ?? String(SERVER_CORE), o.cmd, ...o.args], env: o.env, ready: o.ready });
  return { name, url: p.match[1], pid: p.pid, stop: p.stop, started: p };
}

/** The bare node:http server answering from memory (bench/servers/memory-ceiling.ts): the ceiling column; with `tls`, node:http2's secure server over https. */
export function startCeiling(mediaDir: string, tls?: { cert: string; key: string }): Promise<Server> {
  return startPinned(tls ? 'node:https ceiling' : 'node:http ceiling', {
    cmd: process.execPath,
    args: [path.join(ROOT, 'bench/servers/memory-ceiling.ts'), mediaDir, ...(tls ? [tls.cert, tls.key] : [])],
    ready: /memory ceiling listening on (https?:\/\/\S+)/,
  });
}

/** A WAV file of exactly `bytes` bytes whose samples depend on `seed`, so every file has its own hash. */
export function benchWav(bytes: number, seed = 0): Buffer {
  const data = wavOfSize(bytes);
  for (let i = 44; i < data.length; i += 997) data[i] = (i + seed * 31) & 0xff;
  if (seed !== 0) data.writeUInt32BE(seed, 44);
  return data;
}

/** Ingests `files` into a new SQLite library under `dataDir` (the origin's data folder). */
export async function prepareLibrary(dataDir: string, files: FileSpec[]): Promise<BenchLibrary> {
  const mediaDir = path.join(dataDir, 'media');
  const db = await openDatabase({ kind: 'sqlite', path: path.join(dataDir, 'mediacdn.db') });
  const lib = createLibrary({ db, storage: createLocalStorage(mediaDir), mediaUrl: '/media/' });
  const names = new Map<string, string>();
  const bytes = new Map<string, Buffer>();
  try {
    for (const f of files) {
      const data = benchWav(f.bytes, f.seed);
      const item = await ingest(lib, { source: Readable.from([data]), declaredType: 'audio/wav' });
      names.set(f.key, item.fileName);
      bytes.set(f.key, data);
    }
  } finally {
    await db.close();
  }
  return { dataDir, mediaDir, names, bytes };
}

/** `mediacdn origin --workers 1` on a free loopback port, as its own process pinned to the server core. */
export function startOriginProcess(dataDir: string): Promise<Server> {
  return startPinned('our origin', {
    cmd: process.execPath,
    args: [BIN, 'origin', '--port', '0', '--workers', '1'],
    env: { ...process.env, MEDIACDN_DATA: dataDir, MEDIACDN_TOKEN: BENCH_TOKEN, LOG_LEVEL: 'warn', DATABASE_URL: '' },
    ready: /origin listening on (http:\/\/\S+)/,
  });
}

function toolOutput(cmd: string, args: string[]): string {
  // nginx -v prints to stderr, wrk -v exits 1: take whatever either stream says; a missing tool says so.
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return `${cmd} (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})`;
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
}

/** "Node v24.x, nginx/1.22.1, varnish-7.1.1, wrk debian/4.1.0, sirv 3.0.2, 2 × CPU model". */
export function versions(): string {
  const nginx = toolOutput('nginx', ['-v']).replace(/^nginx version:\s*/, '') || 'nginx ?';
  const wrk = toolOutput('wrk', ['-v']).split('\n')[0].split(' [')[0] || 'wrk ?';
  const varnish = /varnish-[\d.]+/.exec(toolOutput('varnishd', ['-V']))?.[0] ?? 'varnish ?';
  let sirv = '?';
  try {
    sirv = JSON.parse(readFileSync(path.join(ROOT, 'node_modules/sirv/package.json'), 'utf8')).version;
  } catch {
    // not installed: the origin section says so when it starts sirv
  }
  return `Node ${process.version}, ${nginx}, ${varnish}, ${wrk}, sirv ${sirv}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}`;
}
