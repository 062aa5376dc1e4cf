// Reads configuration once: defaults < config file < environment < flags, validated into a frozen,
// typed object. The only module that reads process.env (callers may pass another env for tests).
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.ts';
import { fileSchema, type FileConfig } from './schema.ts';

export type DatabaseTarget = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

export type Config = Readonly<{
  dataDir: string;
  database: DatabaseTarget;
  mediaDir: string;
  /** Base of media links, always ending in '/'. */
  mediaUrl: string;
  /** Whether mediaUrl was configured (MEDIA_URL or CDN) or is the default, which `up` points at its edge. */
  mediaUrlSource: 'default' | 'mediaUrl' | 'cdn';
  /** Admin bearer token from config/env; when absent the origin generates and stores one in tokenFile. */
  token: string | undefined;
  tokenFile: string;
  logLevel: FileConfig['logLevel'];
  origin: FileConfig['origin'];
  edge: FileConfig['edge'];
  backup: Readonly<{ repo: string; then: string | undefined }>;
  /** Every edge and shield of the CDN; read it through `fleetOf(config)` (src/config/fleet.ts). */
  fleet: FileConfig['fleet'];
  /** The geo DNS server (`mediacdn dns`); geoipDatabase is an absolute path. */
  dns: FileConfig['dns'];
  /** Where the values came from, for `mediacdn config`. */
  configFile: string | undefined;
}>;

/** Environment variables and the option path each one sets. Numbers are parsed. */
const ENV_MAP: ReadonlyArray<readonly [string, string, 'string' | 'number']> = [
  ['MEDIACDN_DATA', 'dataDir', 'string'],
  ['DATABASE_URL', 'databaseUrl', 'string'],
  ['MEDIA_DIR', 'mediaDir', 'string'],
  ['MEDIA_URL', 'mediaUrl', 'string'],
  ['CDN', 'cdn', 'string'],
  ['MEDIACDN_TOKEN', 'token', 'string'],
  ['LOG_LEVEL', 'logLevel', 'string'],
  ['MEDIACDN_ORIGIN_PORT', 'origin.port', 'number'],
  ['MEDIACDN_EDGE_PORT', 'edge.port', 'number'],
  ['MEDIACDN_BACKUP_REPO', 'backup.repo', 'string'],
  ['MEDIACDN_DNS_PORT', 'dns.port', 'number'],
];

export type LoadOptions = {
  /** Overrides from command-line flags, as a nested partial config (highest precedence). */
  flags?: Record<string, unknown>;
  /** Path of a config file; default `mediacdn.config.json` in cwd when it exists (or MEDIACDN_CONFIG). */
  configFile?: string;
  env?: Record<string, string | undefined>;
  cwd?: string;
};

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    out[k] = isObj(v) && isObj(out[k]) ? deepMerge(out[k] as Obj, v) : v;
  }
  return out;
}

function setPath(target: Obj, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let cur = target;
  for (const p of parts.slice(0, -1)) {
    if (!isObj(cur[p])) cur[p] = {};
    cur = cur[p] as Obj;
  }
  cur[parts[parts.length - 1]] = value;
}

function fromEnv(env: Record<string, string | undefined>): Obj {
  const out: Obj = {};
  for (const [name, key, type] of ENV_MAP) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    if (type === 'number') {
      const n = Number(raw);
      if (!Number.isFinite(n)) throw new ConfigError(key, `${name}=${JSON.stringify(raw)} is not a number`);
      setPath(out, key, n);
    } else {
      setPath(out, key, raw);
    }
  }
  return out;
}

function readConfigFile(file: string): Obj {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError('--config', `cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : (err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('--config', `${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObj(parsed)) throw new ConfigError('--config', `${file} must hold a JSON object`);
  return parsed;
}

/** Turns the first zod issue into a ConfigError naming the option path. */
export function configErrorFrom(err: z.ZodError, prefix = ''): ConfigError {
  const issue = err.issues[0];
  const at = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
  if (issue.code === 'unrecognized_keys') {
    const key = [at, issue.keys[0]].filter(Boolean).join('.');
    return new ConfigError(key, 'unknown option');
  }
  return new ConfigError(at || '(root)', issue.message);
}

function normaliseMediaUrl(mediaUrl: string | undefined, cdn: string | undefined, port: number): string {
  if (mediaUrl !== undefined && cdn !== undefined) {
    throw new ConfigError('cdn', 'set either MEDIA_URL (mediaUrl) or CDN (cdn), not both');
  }
  if (cdn !== undefined) {
    if (!/^[a-z0-9.-]+(:\d{1,5})?$/i.test(cdn)) throw new ConfigError('cdn', `"${cdn}" is not a host name`);
    return `//${cdn}/media/`;
  }
  const url = mediaUrl ?? `http://localhost:${port}/media/`;
  if (!/^(https?:)?\/\//.test(url) && !url.startsWith('/')) {
    throw new ConfigError('mediaUrl', `"${url}" must be an http(s) URL, a protocol-relative URL or an absolute path`);
  }
  return url.endsWith('/') ? url : `${url}/`;
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const explicitFile = opts.configFile ?? env.MEDIACDN_CONFIG;
  const defaultFile = path.join(cwd, 'mediacdn.config.json');
  const configFile = explicitFile !== undefined ? path.resolve(cwd, explicitFile) : existsSync(defaultFile) ? defaultFile : undefined;

  let merged: Obj = configFile !== undefined ? readConfigFile(configFile) : {};
  merged = deepMerge(merged, fromEnv(env));
  merged = deepMerge(merged, opts.flags ?? {});

  const parsed = fileSchema.safeParse(merged);
  if (!parsed.success) throw configErrorFrom(parsed.error);
  const c = parsed.data;

  const dataDir = path.resolve(cwd, c.dataDir);
  const database: DatabaseTarget =
    c.databaseUrl !== undefined
      ? { kind: 'postgres', url: c.databaseUrl }
      : { kind: 'sqlite', path: path.join(dataDir, 'mediacdn.db') };
  if (database.kind === 'postgres' && !/^postgres(ql)?:\/\//.test(database.url)) {
    throw new ConfigError('databaseUrl', 'DATABASE_URL must start with postgres:// or postgresql://');
  }

  const config: Config = {
    dataDir,
    database,
    mediaDir: c.mediaDir !== undefined ? path.resolve(cwd, c.mediaDir) : path.join(dataDir, 'media'),
    mediaUrl: normaliseMediaUrl(c.mediaUrl, c.cdn, c.origin.port),
    mediaUrlSource: c.cdn !== undefined ? 'cdn' : c.mediaUrl !== undefined ? 'mediaUrl' : 'default',
    token: c.token,
    tokenFile: path.join(dataDir, 'admin-token'),
    logLevel: c.logLevel,
    origin: c.origin,
    edge: c.edge,
    backup: { repo: c.backup.repo !== undefined ? path.resolve(cwd, c.backup.repo) : path.join(dataDir, 'backups'), then: c.backup.then },
    fleet: c.fleet,
    dns: { ...c.dns, geoipDatabase: c.dns.geoipDatabase !== undefined ? path.resolve(cwd, c.dns.geoipDatabase) : undefined },
    configFile,
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
