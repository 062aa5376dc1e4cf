// Checks a server's answers with curl before timing it: status and body bytes compared with what is
// expected, X-Cache HIT for caches, CORS fields on a 304.
import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PLAYER_ORIGIN, type BenchLibrary, type HttpTest } from './library.ts';

/** An answer as curl got it; `version` is the status line's HTTP version ("1.1", "2"). */
export type CurlResult = { status: number; version: string; headers: Record<string, string>; body: Buffer };

/** One request with curl; `extraArgs` such as --cacert and --http2 for https rows. */
export async function curl(url: string, headers: Record<string, string> = {}, method = 'GET', extraArgs: string[] = []): Promise<CurlResult> {
  const out = path.join(os.tmpdir(), `mediacdn-bench-curl-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const args = ['-s', ...extraArgs, '-X', method, '-D', '-', '-o', out, ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]), url];
  const head = await new Promise<string>((resolve, reject) => execFile('curl', args, { maxBuffer: 1 << 20 }, (err, stdout) => (err ? reject(err) : resolve(stdout))));
  const body = await readFile(out).catch(() => Buffer.alloc(0));
  await rm(out, { force: true });
  const lines = head.trim().split(/\r?\n/);
  const statusLine = /^HTTP\/([\d.]+) (\d{3})/.exec(lines[0]);
  const status = Number(statusLine?.[2]);
  const hs: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) hs[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status, version: statusLine?.[1] ?? '?', headers: hs, body };
}

export async function expectBody(what: string, url: string, headers: Record<string, string>, status: number, body: Buffer, curlArgs: string[] = []): Promise<CurlResult> {
  const r = await curl(url, headers, 'GET', curlArgs);
  if (r.status !== status) throw new Error(`${what}: status ${r.status}, expected ${status}`);
  if (!r.body.equals(body)) throw new Error(`${what}: body differs (${r.body.length} bytes, expected ${body.length})`);
  return r;
}

/** What a server must answer in test `t`, byte for byte, before any timing; returns its ETag (the 304 row's validator). */
export async function checkTest(server: { name: string; url: string }, t: HttpTest, lib: BenchLibrary, o: { hit: boolean; curlArgs?: string[]; httpVersion?: string }): Promise<string | undefined> {
  const what = `${server.name} ${t.name}`;
  const url = `${server.url}/media/${lib.names.get(t.file)}`;
  const data = lib.bytes.get(t.file) as Buffer;
  // A cache may still be filling after its first answer: ask again until it says HIT.
  const settle = async (headers: Record<string, string>, status: number, body: Buffer): Promise<CurlResult> => {
    for (let attempt = 0; ; attempt++) {
      const r = await expectBody(what, url, headers, status, body, o.curlArgs);
      if (o.httpVersion !== undefined && r.version !== o.httpVersion) throw new Error(`${what}: answered over HTTP/${r.version}, expected HTTP/${o.httpVersion}`);
      const xCache = r.headers['x-cache'] ?? '(none)';
      if (!o.hit || xCache === 'HIT') return r;
      if (attempt >= 100) throw new Error(`${what}: still X-Cache ${xCache} after warming`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const slice = async (start: number, end: number) => settle({ range: `bytes=${start}-${end}` }, 206, data.subarray(start, end + 1));
  if (t.radio) {
    const last = Math.ceil(data.length / t.radio.rangeBytes) - 1;
    for (const k of [0, last >> 1, last]) await slice(k * t.radio.rangeBytes, Math.min(data.length, (k + 1) * t.radio.rangeBytes) - 1);
    return undefined;
  }
  if (t.range) return void (await slice(t.range[0], t.range[1]));
  const full = await settle({}, 200, data);
  if (!t.revalidate) return undefined;
  const etag = full.headers['etag'];
  if (!etag) throw new Error(`${what}: no ETag`);
  const nm = await settle({ 'if-none-match': etag, origin: PLAYER_ORIGIN }, 304, Buffer.alloc(0));
  if (!nm.headers['access-control-allow-origin']) throw new Error(`${what}: the 304 has no Access-Control-Allow-Origin`);
  return etag;
}
