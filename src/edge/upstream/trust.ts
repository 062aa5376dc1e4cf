// What an https upstream (origin or shield) is verified against: the system's CA certificates with
// Node's own bundle, or a zone's CA file (reloaded when it changes). Verification is never off: there
// is no option for it.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createSecureContext, getCACertificates } from 'node:tls';
import type { SecureContext } from 'node:tls';
import { buildConnector } from 'undici';
import { ConfigError } from '../../errors.ts';
import { watchFiles } from '../../server/file-watch.ts';
import type { FileWatch, FileWatchOptions } from '../../server/file-watch.ts';

let systemContext: SecureContext | undefined;

/** One context for every upstream that trusts the system: built once (hundreds of certificates). */
export function systemTrust(): SecureContext {
  systemContext ??= createSecureContext({ ca: [...new Set([...getCACertificates('default'), ...getCACertificates('system')])] });
  return systemContext;
}

/** Why a CA file cannot be used, in words (the file's absolute path first). */
class CaFileError extends Error {}

/** The CA certificates in a PEM file, checked; a CaFileError says why not. */
async function readCaPem(abs: string): Promise<{ pem: Buffer; blocks: string[] }> {
  let pem: Buffer;
  try {
    pem = await readFile(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CaFileError(`cannot read ${abs}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`);
  }
  const blocks = pem.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new CaFileError(`${abs} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new CaFileError(`${abs}: a certificate cannot be read (${(err as Error).message})`);
    }
  }
  return { pem, blocks };
}

export type WatchedTrustOptions = {
  /** What the file is for, in log lines (e.g. `zone cdn.example.com caFile`). */
  label: string;
  onReload?: (message: string) => void;
  onRejected?: (message: string) => void;
} & FileWatchOptions;

/**
 * A zone's CA file, watched like a certificate: a changed file that holds certificates is used for
 * the connections opened from then on (those open stay as they were verified); a file that cannot be
 * read or holds none keeps the previous certificates, with a log line saying why.
 */
export class WatchedTrust {
  readonly file: string;
  #pem: Buffer;
  #context: SecureContext;
  #rejected: string | undefined;
  #watcher: FileWatch | undefined;
  #checking: Promise<void> = Promise.resolve();
  readonly #opts: WatchedTrustOptions;

  private constructor(file: string, pem: Buffer, blocks: string[], opts: WatchedTrustOptions) {
    this.file = file;
    this.#pem = pem;
    this.#context = createSecureContext({ ca: blocks });
    this.#opts = opts;
  }

  /** Reads and starts watching `file`; a file that cannot be used is a ConfigError at `configPath`. */
  static async open(file: string, configPath: string, opts: WatchedTrustOptions): Promise<WatchedTrust> {
    const abs = path.resolve(file);
    let read: { pem: Buffer; blocks: string[] };
    try {
      read = await readCaPem(abs);
    } catch (err) {
      if (err instanceof CaFileError) throw new ConfigError(configPath, err.message);
      throw err;
    }
    const trust = new WatchedTrust(abs, read.pem, read.blocks, opts);
    trust.#watcher = await watchFiles([abs], opts, () => void trust.check());
    return trust;
  }

  /** What new connections are verified against. */
  get current(): SecureContext {
    return this.#context;
  }

  /** Reads the file now and takes changed certificates if they load (tests; also run by the watch). */
  check(): Promise<void> {
    this.#checking = this.#checking.then(() => this.#check());
    return this.#checking;
  }

  async #check(): Promise<void> {
    let read: { pem: Buffer; blocks: string[] };
    try {
      read = await readCaPem(this.file);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      if (this.#rejected !== why) this.#opts.onRejected?.(`tls: ${this.#opts.label}: kept the previous CA certificates: ${why}`);
      this.#rejected = why;
      return;
    }
    this.#rejected = undefined;
    if (read.pem.equals(this.#pem)) return;
    this.#pem = read.pem;
    this.#context = createSecureContext({ ca: read.blocks });
    this.#opts.onReload?.(`tls: ${this.#opts.label}: loaded ${read.blocks.length} CA certificate${read.blocks.length === 1 ? '' : 's'} from ${this.file}`);
  }

  close(): void {
    this.#watcher?.close();
  }
}

/**
 * An undici connector for an https upstream, verified against `trust()` as it is when each connection
 * opens (a reloaded CA file applies to new connections; one connector is built per context, so TLS
 * sessions are reused while it stays).
 */
export function verifyingConnector(base: { timeout?: number; servername?: string }, trust: () => SecureContext): buildConnector.connector {
  let built: { context: SecureContext; connect: buildConnector.connector } | undefined;
  return (options, callback) => {
    const context = trust();
    // HTTP/1.1 only (ALPN), as the pools using it are set up (allowH2: false there does not reach a connector).
    if (built?.context !== context) built = { context, connect: buildConnector({ ...base, allowH2: false, rejectUnauthorized: true, secureContext: context }) };
    built.connect(options, callback);
  };
}

/** Certificate verification failures, as OpenSSL and Node name them. */
const VERIFY_CODES = /^(UNABLE_TO_|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_|ERR_TLS_CERT_ALTNAME_INVALID|HOSTNAME_MISMATCH|INVALID_CA|INVALID_PURPOSE|PATH_LENGTH_EXCEEDED)/;

/** Why a TLS connection to an upstream failed, in words, or undefined when it was not a TLS failure. */
export function tlsFailureReason(code: string, message: string): string | undefined {
  if (VERIFY_CODES.test(code)) return `its certificate was not accepted: ${message} (${code})`;
  if (code.startsWith('ERR_SSL_') || code === 'EPROTO') return `the TLS handshake failed: ${message.split('\n')[0].replace(/^.*routines:/, '')} (${code})`;
  return undefined;
}
