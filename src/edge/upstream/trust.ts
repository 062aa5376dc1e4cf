// What an https upstream (origin or shield) is verified against: the system's CA certificates with
// Node's own bundle, or a zone's CA file. Verification is never off: there is no option for it.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createSecureContext, getCACertificates } from 'node:tls';
import type { SecureContext } from 'node:tls';
import { ConfigError } from '../../errors.ts';

let systemContext: SecureContext | undefined;

/** One context for every upstream that trusts the system: built once (hundreds of certificates). */
export function systemTrust(): SecureContext {
  systemContext ??= createSecureContext({ ca: [...new Set([...getCACertificates('default'), ...getCACertificates('system')])] });
  return systemContext;
}

/** The CA certificates of a PEM file; a missing file or one without a certificate is a ConfigError at `configPath`. */
export async function readCaFile(file: string, configPath: string): Promise<SecureContext> {
  const abs = path.resolve(file);
  let pem: Buffer;
  try {
    pem = await readFile(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(configPath, `cannot read ${abs}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`);
  }
  const blocks = pem.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ConfigError(configPath, `${abs} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new ConfigError(configPath, `${abs}: a certificate cannot be read (${(err as Error).message})`);
    }
  }
  return createSecureContext({ ca: blocks });
}

/** Certificate verification failures, as OpenSSL and Node name them. */
const VERIFY_CODES = /^(UNABLE_TO_|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_|ERR_TLS_CERT_ALTNAME_INVALID|HOSTNAME_MISMATCH|INVALID_CA|INVALID_PURPOSE|PATH_LENGTH_EXCEEDED)/;

/** Why a TLS connection to an upstream failed, in words, or undefined when it was not a TLS failure. */
export function tlsFailureReason(code: string, message: string): string | undefined {
  if (VERIFY_CODES.test(code)) return `its certificate was not accepted: ${message} (${code})`;
  if (code.startsWith('ERR_SSL_') || code === 'EPROTO') return `the TLS handshake failed: ${message.split('\n')[0].replace(/^.*routines:/, '')} (${code})`;
  return undefined;
}
