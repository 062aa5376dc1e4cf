// A real origin on 127.0.0.1:0 over a throw-away library (SQLite, or PostgreSQL with DATABASE_URL),
// with its log lines captured, plus small request helpers shared by the origin tests.
import { createReadStream } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig, type Config } from '../../src/config/index.ts';
import { ingest } from '../../src/media/ingest.ts';
import type { MediaItem, Metadata } from '../../src/media/library.ts';
import type { MediaStorage } from '../../src/storage/store.ts';
import { startOrigin, type RunningOrigin, type StartOriginOptions } from '../../src/origin/server.ts';
import { makeTestLibrary, FIXTURES, type TestLibrary } from './library.ts';
import { wavHeader } from '../../src/media/wav.ts';

export const TEST_TOKEN = 'test-admin-token-0123456789abcdef';

export type TestOrigin = {
  origin: RunningOrigin;
  url: string;
  tl: TestLibrary;
  config: Config;
  /** Parsed log lines written so far. */
  logs: Array<Record<string, unknown>>;
  /** Adds a file to the library directly (not through the API). */
  add(file: string, metadata?: Metadata): Promise<MediaItem>;
  /** Adds bytes from a file outside the fixtures folder. */
  addPath(file: string, metadata?: Metadata): Promise<MediaItem>;
  /** Authorization header for the admin API. */
  auth: { authorization: string };
  close(): Promise<void>;
};

export type TestOriginOptions = {
  origin?: Record<string, unknown>;
  token?: string | null;
  now?: () => number;
  recordTtlMs?: number;
  onMediaDeleted?: StartOriginOptions['onMediaDeleted'];
  extraRoutes?: StartOriginOptions['extraRoutes'];
  /** Wraps the library's storage (to inject faults such as a full disk). */
  wrapStorage?: (storage: MediaStorage) => MediaStorage;
};

export async function startTestOrigin(o: TestOriginOptions = {}): Promise<TestOrigin> {
  const tl = await makeTestLibrary({ mediaUrl: 'http://media.test/media/' });
  const token = o.token === undefined ? TEST_TOKEN : o.token;
  const config = loadConfig({
    cwd: tl.dir,
    env: { MEDIACDN_DATA: tl.dir, ...(token !== null ? { MEDIACDN_TOKEN: token } : {}), ...(tl.testDb.url ? { DATABASE_URL: tl.testDb.url } : {}) },
    flags: { logLevel: 'info', origin: { host: '127.0.0.1', port: 0, shutdownGraceMs: 2000, ...o.origin } },
  });
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      cb();
    },
  });
  const origin = await startOrigin({
    config,
    library: o.wrapStorage ? { ...tl.lib, storage: o.wrapStorage(tl.lib.storage) } : tl.lib,
    logger: pino({ level: 'info' }, sink),
    now: o.now,
    recordTtlMs: o.recordTtlMs,
    onMediaDeleted: o.onMediaDeleted,
    extraRoutes: o.extraRoutes,
  });
  return {
    origin,
    url: origin.url,
    tl,
    config,
    logs,
    auth: { authorization: `Bearer ${origin.token}` },
    add: (file, metadata) => ingest(tl.lib, { source: createReadStream(path.join(FIXTURES, file)), originalName: file, metadata }),
    addPath: (file, metadata) => ingest(tl.lib, { source: createReadStream(file), originalName: path.basename(file), metadata }),
    close: async () => {
      await origin.close();
      await tl.close();
    },
  };
}

/** A PCM WAV file of `seconds` (a quiet tone, so players have something to decode). */
export function makeWav(seconds: number, opts: { sampleRate?: number; channels?: number } = {}): Buffer {
  const rate = opts.sampleRate ?? 44100;
  const channels = opts.channels ?? 2;
  const frames = Math.round(seconds * rate);
  const dataBytes = frames * channels * 2;
  const buf = Buffer.alloc(44 + dataBytes);
  wavHeader(dataBytes, { sampleRate: rate, channels, bitsPerSample: 16 }).copy(buf);
  for (let i = 0; i < frames; i++) {
    const v = Math.round(Math.sin((2 * Math.PI * 440 * i) / rate) * 3000);
    for (let c = 0; c < channels; c++) buf.writeInt16LE(v, 44 + (i * channels + c) * 2);
  }
  return buf;
}

/** A 44.1 kHz stereo WAV file of exactly `bytes` bytes (>= 46): header plus silence. */
export function wavOfSize(bytes: number): Buffer {
  const dataBytes = (bytes - 44) & ~1;
  const buf = Buffer.alloc(bytes);
  makeWav(0).copy(buf, 0, 0, 44);
  buf.writeUInt32LE(bytes - 8, 4);
  buf.writeUInt32LE(dataBytes, 40);
  return buf;
}

/** Open file descriptors of this process. */
export async function openFdCount(): Promise<number> {
  return (await readdir('/proc/self/fd')).length;
}

export async function fixtureBytes(name: string): Promise<Buffer> {
  return readFile(path.join(FIXTURES, name));
}

export type RawResponse = { status: number; headers: import('node:http').IncomingHttpHeaders; body: Buffer };

/** One request with node:http: the path is sent as given, header values may be arrays (several lines). */
export function request(url: string, opts: { method?: string; path?: string; headers?: Record<string, string | string[]>; body?: Buffer | string } = {}): Promise<RawResponse> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, method: opts.method ?? 'GET', path: opts.path ?? `${u.pathname}${u.search}`, headers: opts.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode as number, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Sends a request line and headers byte for byte over TCP (for targets node:http refuses to send). */
export function rawRequest(url: string, target: string, extra = ''): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), u.hostname, () => {
      sock.write(Buffer.from(`GET ${target} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n${extra}\r\n`, 'latin1'));
    });
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', reject);
    sock.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text });
    });
  });
}

/** Polls `probe` every `intervalMs` until it returns a value other than undefined; rejects after `timeoutMs`. */
export async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export type RawExchange = {
  /** Every byte the server sent until it closed the connection (or until the wait ran out). */
  text: string;
  /** Status of the first response, 0 when none came. */
  status: number;
  /** Body of the first response (by its Content-Length). */
  body: string;
  /** How many responses the bytes hold (a smuggled request would show as a second one). */
  responses: number;
  /** True when the server closed the connection; false when the wait ran out first. */
  closed: boolean;
};

/**
 * Writes `chunks` over one TCP connection, waiting `gapMs` between them (a slow client), optionally
 * half-closes, and collects what comes back until the server closes or `waitMs` passes.
 */
export function sendRaw(url: string, chunks: Array<string | Buffer>, opts: { gapMs?: number; halfClose?: boolean; waitMs?: number } = {}): Promise<RawExchange> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const sock = net.connect(Number(u.port), u.hostname);
    const got: Buffer[] = [];
    let closed = false;
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      const text = Buffer.concat(got).toString('latin1');
      const head = /^HTTP\/1\.1 (\d{3})[^\r\n]*\r\n([\s\S]*?)\r\n\r\n/.exec(text);
      const length = Number(/^content-length:\s*(\d+)/im.exec(head?.[2] ?? '')?.[1] ?? 0);
      const body = head ? text.slice(head[0].length, head[0].length + length) : '';
      resolve({ text, status: Number(head?.[1] ?? 0), body, responses: text.match(/(^|\r\n)HTTP\/1\.1 \d{3} /g)?.length ?? 0, closed });
    };
    const timer = setTimeout(done, opts.waitMs ?? 10_000);
    sock.on('data', (c: Buffer) => got.push(c));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      closed = true;
      done();
    });
    sock.on('connect', async () => {
      for (const [i, c] of chunks.entries()) {
        if (i > 0 && opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
        if (sock.destroyed) return;
        sock.write(c);
      }
      if (opts.halfClose) sock.end();
    });
  });
}

export type FormPart = { name: string; value?: string; filename?: string; type?: string; data?: Buffer };

/** A multipart/form-data body; `close: false` leaves out the closing boundary (a torn form). */
export function multipart(parts: FormPart[], opts: { boundary?: string; close?: boolean } = {}): { body: Buffer; type: string } {
  const boundary = opts.boundary ?? 'test-boundary-3f9a';
  const chunks: Buffer[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}\r\n`;
    if (p.type) head += `Content-Type: ${p.type}\r\n`;
    chunks.push(Buffer.from(`${head}\r\n`), p.data ?? Buffer.from(p.value ?? ''), Buffer.from('\r\n'));
  }
  if (opts.close !== false) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), type: `multipart/form-data; boundary=${boundary}` };
}
