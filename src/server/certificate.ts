// A TLS certificate and key read from PEM files (as certbot or lego write them) and kept current: the
// files are watched and a changed pair is loaded for new handshakes, connections already open keep
// theirs. A new pair that does not load (not PEM, key of another certificate, half written) leaves the
// previous one in place and says why. Origin and edge listeners share it.
import { X509Certificate, createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import type { SecureContext, SecureContextOptions } from 'node:tls';
import { ConfigError } from '../errors.ts';
import { watchFiles } from './file-watch.ts';
import type { FileWatch, FileWatchOptions } from './file-watch.ts';

export type CertificateFiles = { cert: string; key: string };

/** TLS 1.2 and 1.3 only; Node's default cipher list (no RC4, 3DES, export or NULL suites). */
export const TLS_MIN_VERSION = 'TLSv1.2';

/** A loaded pair: the context new handshakes use, and what the certificate says about itself. */
export type LoadedCertificate = {
  context: SecureContext;
  cert: Buffer;
  key: Buffer;
  /** SHA-256 fingerprint of the leaf certificate, colon-separated hex (as openssl prints it). */
  fingerprint: string;
  /** The leaf's notAfter, as the certificate writes it. */
  validTo: string;
  subjectAltName: string | undefined;
};

export class CertificateLoadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CertificateLoadError';
  }
}

/**
 * The client's order of cipher suites decides, not the server's (nginx's default,
 * `ssl_prefer_server_ciphers off`): every suite Node offers is strong, and browsers on hardware with AES
 * instructions put TLS_AES_128_GCM_SHA256 first, which costs the server less per byte than the
 * TLS_AES_256_GCM_SHA384 that Node's own order (its default, honorCipherOrder true) imposes.
 */
export const HONOR_CIPHER_ORDER = false;

/** The options of a secure context for this pair (TLS 1.2+). */
export function secureContextOptions(cert: Buffer, key: Buffer): SecureContextOptions {
  return { cert, key, minVersion: TLS_MIN_VERSION, honorCipherOrder: HONOR_CIPHER_ORDER };
}

/** Checks and loads a certificate chain and its key; throws CertificateLoadError saying what is wrong. */
export function loadCertificate(files: CertificateFiles, cert: Buffer, key: Buffer): LoadedCertificate {
  const certText = cert.toString('latin1');
  if (!certText.includes('-----BEGIN CERTIFICATE-----')) throw new CertificateLoadError(`${files.cert} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  if (!/-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.test(key.toString('latin1'))) {
    throw new CertificateLoadError(`${files.key} holds no PEM private key (-----BEGIN PRIVATE KEY-----)`);
  }
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (err) {
    throw new CertificateLoadError(`${files.cert}: the certificate cannot be read (${(err as Error).message})`, { cause: err });
  }
  let context: SecureContext;
  try {
    context = createSecureContext(secureContextOptions(cert, key));
  } catch (err) {
    const message = (err as Error).message;
    if (/key values mismatch/i.test(message)) {
      throw new CertificateLoadError(`the key in ${files.key} does not belong to the certificate in ${files.cert}`, { cause: err });
    }
    throw new CertificateLoadError(`${files.cert} / ${files.key}: ${message}`, { cause: err });
  }
  return { context, cert, key, fingerprint: leaf.fingerprint256, validTo: leaf.validTo, subjectAltName: leaf.subjectAltName };
}

async function readPair(files: CertificateFiles): Promise<{ cert: Buffer; key: Buffer }> {
  const read = async (file: string) => {
    try {
      return await readFile(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a folder' : (err as Error).message;
      throw new CertificateLoadError(`cannot read ${file}: ${why}`, { cause: err });
    }
  };
  const [cert, key] = await Promise.all([read(files.cert), read(files.key)]);
  return { cert, key };
}

export type WatchedCertificateOptions = {
  /** What the certificate is for, in log lines (e.g. `zone cdn.example.com`). */
  label: string;
  /** A new pair is in use. */
  onReload?: (message: string) => void;
  /** A changed pair could not be loaded; the previous one stays. */
  onRejected?: (message: string) => void;
} & FileWatchOptions;

/** A certificate whose files are watched (file-watch.ts: renames and re-pointed links too). */
export class WatchedCertificate {
  readonly files: CertificateFiles;
  #current: LoadedCertificate;
  #rejected: string | undefined;
  readonly #opts: WatchedCertificateOptions;
  #watcher: FileWatch | undefined;
  readonly #listeners: Array<(c: LoadedCertificate) => void> = [];
  #checking: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(files: CertificateFiles, current: LoadedCertificate, opts: WatchedCertificateOptions) {
    this.files = files;
    this.#current = current;
    this.#opts = opts;
  }

  /**
   * Loads the pair (paths resolved against the working directory) and starts watching it. A pair that
   * does not load is a configuration error naming `configPath` (e.g. `edge.zones[0].tls`).
   */
  static async open(files: CertificateFiles, configPath: string, opts: WatchedCertificateOptions): Promise<WatchedCertificate> {
    const abs = { cert: path.resolve(files.cert), key: path.resolve(files.key) };
    let loaded: LoadedCertificate;
    try {
      const { cert, key } = await readPair(abs);
      loaded = loadCertificate(abs, cert, key);
    } catch (err) {
      if (err instanceof CertificateLoadError) throw new ConfigError(configPath, err.message);
      throw err;
    }
    const watched = new WatchedCertificate(abs, loaded, opts);
    await watched.#watch();
    return watched;
  }

  get current(): LoadedCertificate {
    return this.#current;
  }

  /** Called with each new pair once it is in use. */
  onChange(listener: (c: LoadedCertificate) => void): void {
    this.#listeners.push(listener);
  }

  /** Reads the files now and takes a changed pair if it loads; resolves when done (tests, SIGHUP). */
  check(): Promise<void> {
    this.#checking = this.#checking.then(() => this.#check());
    return this.#checking;
  }

  async #check(): Promise<void> {
    if (this.#closed) return;
    let pair: { cert: Buffer; key: Buffer };
    try {
      pair = await readPair(this.files);
    } catch (err) {
      return this.#reject(err instanceof CertificateLoadError ? err.message : String(err), `read:${(err as Error).message}`);
    }
    if (pair.cert.equals(this.#current.cert) && pair.key.equals(this.#current.key)) {
      this.#rejected = undefined;
      return;
    }
    const digest = createHash('sha256').update(pair.cert).update('\0').update(pair.key).digest('hex');
    let loaded: LoadedCertificate;
    try {
      loaded = loadCertificate(this.files, pair.cert, pair.key);
    } catch (err) {
      return this.#reject((err as Error).message, digest);
    }
    this.#current = loaded;
    this.#rejected = undefined;
    this.#opts.onReload?.(`tls: ${this.#opts.label}: loaded the new certificate from ${this.files.cert} (SHA-256 ${loaded.fingerprint}, valid until ${loaded.validTo})`);
    for (const l of this.#listeners) l(loaded);
  }

  /** Says once per distinct bad state why the files were not taken. */
  #reject(why: string, state: string): void {
    if (this.#rejected === state) return;
    this.#rejected = state;
    this.#opts.onRejected?.(`tls: ${this.#opts.label}: kept the previous certificate (SHA-256 ${this.#current.fingerprint}): ${why}`);
  }

  async #watch(): Promise<void> {
    this.#watcher = await watchFiles([this.files.cert, this.files.key], this.#opts, () => void this.check());
  }

  close(): void {
    this.#closed = true;
    this.#watcher?.close();
  }
}
