// Certificates made at test time with Debian's openssl CLI: a throw-away CA and leaf certificates it
// signs (EC P-256, two days), written to a temp folder; nothing secret is committed. Plus small https
// clients over HTTP/1.1 and HTTP/2 that name a zone by SNI while connecting to 127.0.0.1.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { tempDirSync } from './temp.ts';

const run = promisify(execFile);

export type Ca = { dir: string; certFile: string; keyFile: string; pem: Buffer };
export type Leaf = { certFile: string; keyFile: string; cert: Buffer; key: Buffer; fingerprint: string };

export async function tempDir(prefix = 'mediacdn-tls-'): Promise<string> {
  return tempDirSync(prefix);
}

/** A new CA (its own folder unless `dir` is given). */
export async function makeCa(name = 'mediacdn test CA', dir?: string): Promise<Ca> {
  const d = dir ?? (await tempDir());
  const base = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
  const certFile = path.join(d, `${base}.pem`);
  const keyFile = path.join(d, `${base}.key`);
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', `/CN=${name}`, '-keyout', keyFile, '-out', certFile,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { dir: d, certFile, keyFile, pem: await readFile(certFile) };
}

/**
 * A server certificate for `names` signed by `ca`, written as <file>.pem (leaf then CA: a full chain,
 * as certbot's fullchain.pem) and <file>.key. Writing again to the same name is a renewal.
 */
export async function makeLeaf(ca: Ca, names: readonly string[], file: string): Promise<Leaf> {
  const certFile = `${file}.pem`;
  const keyFile = `${file}.key`;
  const tmp = await tempDir('mediacdn-leaf-');
  const csr = path.join(tmp, 'leaf.csr');
  const ext = path.join(tmp, 'leaf.ext');
  const leafKey = path.join(tmp, 'leaf.key');
  const leafCert = path.join(tmp, 'leaf.pem');
  await writeFile(ext, `subjectAltName=${names.map((n) => (/^[0-9.]+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',')}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n`);
  await run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${names[0]}`, '-keyout', leafKey, '-out', csr]);
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', `0x${Date.now().toString(16)}${Math.floor(Math.random() * 1e6).toString(16)}`, '-days', '2', '-extfile', ext, '-out', leafCert]);
  const cert = Buffer.concat([await readFile(leafCert), ca.pem]);
  const key = await readFile(leafKey);
  await writeFile(certFile, cert);
  await writeFile(keyFile, key);
  return { certFile, keyFile, cert, key, fingerprint: new X509Certificate(cert).fingerprint256 };
}

/** The leaf certificate a TLS server presents for `servername` (undefined: none sent), or the handshake error. */
export function handshake(port: number, servername: string | undefined, ca: Buffer, extra: tls.ConnectionOptions = {}): Promise<{ ok: true; fingerprint: string; alpn: string | false; reused: boolean; session: Buffer | undefined } | { ok: false; error: Error }> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, ca, ALPNProtocols: ['h2', 'http/1.1'], ...extra });
    let session: Buffer | undefined;
    socket.on('session', (s: Buffer) => (session = s));
    socket.once('secureConnect', () => {
      const fingerprint = socket.getPeerX509Certificate()?.fingerprint256 ?? '';
      const reused = socket.isSessionReused();
      const alpn = socket.alpnProtocol ?? false;
      // TLS 1.3 sends its session ticket after the handshake: read a moment before closing.
      socket.once('data', () => {});
      setImmediate(() => {
        socket.end();
        socket.once('close', () => resolve({ ok: true, fingerprint, alpn, reused, session }));
      });
    });
    socket.once('error', (error) => resolve({ ok: false, error }));
  });
}

/** The cipher suite a TLS server picks when the client offers `ciphers` in that order. */
export function negotiatedCipher(port: number, servername: string, ca: Buffer, ciphers: string, extra: tls.ConnectionOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, ca, ciphers, ...extra });
    socket.once('secureConnect', () => {
      const name = socket.getCipher().name;
      socket.destroy();
      resolve(name);
    });
    socket.once('error', reject);
  });
}

/** What an https port answers to a plain HTTP request, up to the end of the connection. */
export function plainHttpTo(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {});
    socket.once('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.write(request);
  });
}

/** The 400 both https listeners give plain HTTP. */
export const PLAIN_HTTP_400 = /^HTTP\/1\.1 400 Bad Request\r\n[^]*\r\nconnection: close\r\n\r\nThis port speaks https: the request was sent as plain HTTP\. Use an https:\/\/ link\.\n$/;

export type TlsReply = { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer };

/** One HTTP/1.1 request over TLS to 127.0.0.1:port, SNI and Host = `host`. */
export function requestH1(port: number, host: string, ca: Buffer, target: string, headers: Record<string, string> = {}, method = 'GET'): Promise<TlsReply> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, servername: host, ca, path: target, method, headers: { host, ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** An HTTP/2 session to 127.0.0.1:port with SNI `host`; requests carry :authority = host. */
export function connectH2(port: number, host: string, ca: Buffer): { session: http2.ClientHttp2Session; request(target: string, headers?: Record<string, string>, method?: string, body?: string | Buffer): Promise<TlsReply> } {
  const session = http2.connect(`https://127.0.0.1:${port}`, { servername: host, ca });
  session.on('error', () => {});
  return {
    session,
    request(target, headers = {}, method = 'GET', body) {
      return new Promise((resolve, reject) => {
        const stream = session.request({ ':method': method, ':path': target, ':authority': host, ...headers });
        const chunks: Buffer[] = [];
        let head: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader = {};
        stream.on('response', (h) => (head = h));
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const { ':status': status, ...rest } = head;
          resolve({ status: Number(status), headers: rest as Record<string, string | string[] | undefined>, body: Buffer.concat(chunks) });
        });
        stream.on('error', reject);
        stream.end(body);
      });
    },
  };
}
