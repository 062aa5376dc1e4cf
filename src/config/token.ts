// The admin bearer token: taken from config (MEDIACDN_TOKEN), or generated once and kept in
// config.tokenFile (mode 0600). Shared by the origin and the edge, so it imports nothing of either.
import { randomBytes, createHash, timingSafeEqual } from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../errors.ts';
import type { Config } from './index.ts';

export type AdminToken = { token: string; created: boolean };

const MIN_LENGTH = 16;

/**
 * Returns config.token when set; otherwise the token stored in config.tokenFile, creating it with a
 * fresh 256-bit random value when absent. Creation is exclusive: when several processes
 * start at once (cluster workers, origin + edge), one creates it and the others read that one.
 * `created` is true only for the process that wrote it, so the token is printed once.
 */
export async function resolveAdminToken(config: Pick<Config, 'token' | 'tokenFile'>): Promise<AdminToken> {
  if (config.token !== undefined) return { token: config.token, created: false };
  const existing = await readTokenFile(config.tokenFile);
  if (existing !== undefined) return { token: existing, created: false };
  await mkdir(path.dirname(config.tokenFile), { recursive: true });
  const token = randomBytes(32).toString('base64url');
  // Written whole under a temporary name, then link()ed into place: link fails with EEXIST instead of
  // replacing, and a reader never sees a half-written file.
  const temp = `${config.tokenFile}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(temp, 'wx', 0o600);
  try {
    await fh.writeFile(`${token}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(temp, config.tokenFile);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const theirs = await readTokenFile(config.tokenFile);
    if (theirs === undefined) throw new ConfigError('tokenFile', `${config.tokenFile} exists but holds no token`);
    return { token: theirs, created: false };
  } finally {
    await unlink(temp).catch(() => {});
  }
  return { token, created: true };
}

async function readTokenFile(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError('tokenFile', `cannot read ${file}: ${(err as Error).message}`);
  }
  const token = text.trim();
  if (token === '') return undefined;
  if (token.length < MIN_LENGTH) throw new ConfigError('tokenFile', `${file} holds a token shorter than ${MIN_LENGTH} characters`);
  return token;
}

/**
 * Checks an Authorization header against the token in constant time: both sides are hashed first,
 * so neither the content nor the length of the expected token leaks through timing.
 */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  if (authorization === undefined) return false;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  const given = createHash('sha256').update(m ? m[1] : '').digest();
  const expected = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, expected) && m !== null;
}

/** The token a client should send: config.token, else the one stored in tokenFile; never creates one. */
export async function readAdminToken(config: Pick<Config, 'token' | 'tokenFile'>): Promise<string | undefined> {
  return config.token ?? (await readTokenFile(config.tokenFile));
}
