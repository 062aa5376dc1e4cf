// Checks a server's answer with curl before timing it: status and body bytes compared with what is expected.
import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export type CurlResult = { status: number; headers: Record<string, string>; body: Buffer };

export async function curl(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<CurlResult> {
  const out = path.join(os.tmpdir(), `mediacdn-bench-curl-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const args = ['-s', '-X', method, '-D', '-', '-o', out, ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]), url];
  const head = await new Promise<string>((resolve, reject) => execFile('curl', args, { maxBuffer: 1 << 20 }, (err, stdout) => (err ? reject(err) : resolve(stdout))));
  const body = await readFile(out).catch(() => Buffer.alloc(0));
  await rm(out, { force: true });
  const lines = head.trim().split(/\r?\n/);
  const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(lines[0])?.[1]);
  const hs: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) hs[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status, headers: hs, body };
}

export async function expectBody(what: string, url: string, headers: Record<string, string>, status: number, body: Buffer): Promise<CurlResult> {
  const r = await curl(url, headers);
  if (r.status !== status) throw new Error(`${what}: status ${r.status}, expected ${status}`);
  if (!r.body.equals(body)) throw new Error(`${what}: body differs (${r.body.length} bytes, expected ${body.length})`);
  return r;
}
