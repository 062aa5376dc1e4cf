// Debian's nginx as a bench baseline, started on loopback from a generated config in a temp folder,
// pinned to the server core. One worker, tcp_nopush OFF (with it on, responses whose body does not
// start on a page boundary stall 40 ms each on this kernel, see BENCH.md), open_file_cache, no access
// log, and one of three ways of sending bodies (NginxTuning).
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SERVER_CORE } from './cpu.ts';
import { freePort, spawnUntilAnswering, stopProcess } from './proc.ts';

/**
 * How nginx sends bodies. `default`: sendfile on (nginx's own default is off, Debian's nginx.conf
 * and every guide turn it on). `buffers`: sendfile off with one 1 MiB output buffer. `aio`: sendfile
 * off, files read by the thread pool (aio threads). On loopback a client pays far more to receive
 * sendfile'd bodies than bodies written from memory, so a tuned nginx can be the faster one.
 */
export type NginxTuning = 'default' | 'buffers' | 'aio';
export const NGINX_TUNINGS: Record<NginxTuning, { label: string; directives: string }> = {
  default: { label: 'sendfile on', directives: 'sendfile on;' },
  buffers: { label: 'sendfile off, output_buffers 1 1m', directives: 'sendfile off; output_buffers 1 1m;' },
  aio: { label: 'sendfile off, aio threads', directives: 'sendfile off; aio threads;' },
};

export type NginxServer = { url: string; port: number; pid: number; stop(): Promise<void> };

/** A complete nginx.conf; `http` is extra http-level directives, `server` the server block body. */
export function nginxConf(o: { dir: string; port: number; tuning: NginxTuning; http?: string; server: string; workers?: number }): string {
  const t = (n: string) => path.join(o.dir, n);
  return `${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes ${o.workers ?? 1};
daemon off;
master_process on;
pid ${t('nginx.pid')};
error_log ${t('error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  ${NGINX_TUNINGS[o.tuning].directives}
  tcp_nopush off;
  tcp_nodelay on;
  keepalive_requests 1000000;
  keepalive_timeout 65;
  open_file_cache max=1000 inactive=60s;
  open_file_cache_valid 60s;
  client_body_temp_path ${t('client_temp')};
  proxy_temp_path ${t('proxy_temp')};
  fastcgi_temp_path ${t('fastcgi_temp')};
  uwsgi_temp_path ${t('uwsgi_temp')};
  scgi_temp_path ${t('scgi_temp')};
  types { audio/wav wav; audio/mpeg mp3; audio/ogg ogg; image/png png; }
  default_type application/octet-stream;
${o.http ?? ''}
  server {
    listen 127.0.0.1:${o.port};
${o.server}
  }
}
`;
}

export async function startNginx(dir: string, makeConf: (port: number) => string, cores: string = String(SERVER_CORE)): Promise<NginxServer> {
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  await writeFile(conf, makeConf(port));
  const child = await spawnUntilAnswering({ cmd: 'nginx', args: ['-p', dir, '-c', conf, '-e', path.join(dir, 'error.log')], core: cores, port, timeoutMs: 10_000 });
  return { url: `http://127.0.0.1:${port}`, port, pid: child.pid as number, stop: () => stopProcess(child, 'SIGQUIT') };
}

/** nginx serving `root` at /media/ (static files, as the origin would), with the origin's Cache-Control and CORS fields on every answer. */
export function startNginxStatic(dir: string, root: string, tuning: NginxTuning): Promise<NginxServer> {
  return startNginx(dir, (port) =>
    nginxConf({
      dir,
      port,
      tuning,
      server: `    location /media/ {
      alias ${root}/;
      etag on;
      add_header Cache-Control "public, max-age=31536000, immutable" always;
      add_header Access-Control-Allow-Origin "*" always;
      add_header Access-Control-Expose-Headers "Content-Range, Content-Length, Accept-Ranges, ETag" always;
    }`,
    }),
  );
}

/** The certificate files of an https listener, and its port. */
export type NginxTls = { port: number; cert: string; key: string };

/**
 * nginx as a caching reverse proxy (the edge baseline): proxy_cache on disk in `dir`, proxy_cache_lock on,
 * keep-alive to `upstream` (scheme, host, port and a path prefix that every request is put under), and
 * `X-Cache` saying HIT / MISS like our edge. With `tls`, the same server also listens with `ssl http2`
 * on tls.port (TLS 1.2 and 1.3, a shared session cache and session tickets, as the usual guides set).
 */
export function startNginxProxyCache(dir: string, upstream: string, tuning: NginxTuning, tls?: NginxTls, many?: { workers: number; cores: string }): Promise<NginxServer> {
  const u = new URL(upstream);
  const prefix = u.pathname.replace(/\/+$/, '');
  const ssl = tls
    ? `    listen 127.0.0.1:${tls.port} ssl http2;
    ssl_certificate ${tls.cert};
    ssl_certificate_key ${tls.key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    ssl_session_tickets on;
`
    : '';
  return startNginx(dir, (port) =>
    nginxConf({
      dir,
      port,
      tuning,
      workers: many?.workers,
      http: `  proxy_cache_path ${path.join(dir, 'cache')} levels=1:2 keys_zone=edge:16m max_size=4g inactive=1d use_temp_path=off;
  upstream origin { server ${u.host}; keepalive 64; }`,
      server: `${ssl}    location / {
      proxy_pass http://origin${prefix}/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache edge;
      proxy_cache_lock on;
      add_header X-Cache $upstream_cache_status always;
    }`,
    }),
    many?.cores,
  );
}
