// The running `mediacdn up` of a data folder: `up` writes <dataDir>/running.json when it is up and
// removes it when it stops; every other command reads it, so that the links it prints, the edges it
// purges and the statistics it reads are those of the system that runs, whichever command asks. A
// record left by a process that died (killed, crashed) is recognised by its process id and ignored.
import { readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Config } from '../config/index.ts';

const recordSchema = z
  .object({
    version: z.literal(1),
    pid: z.number().int().positive(),
    startedAt: z.string(),
    /** The origin's base URL (listener page, admin API, media). */
    originUrl: z.string().url(),
    /** The edge's public base URL: what media links point at. */
    edgeUrl: z.string().url(),
    /** The edge's control URL (purge, stats). */
    controlUrl: z.string().url(),
    /** The base of media links as `up` publishes them (`<mediaUrl><file>`). */
    mediaUrl: z.string().min(1),
    /** Zone hosts the edge serves: a deleted file is purged under each. */
    zones: z.array(z.string()),
    /**
     * Which process `pid` was: the boot and the process's start time (Linux /proc), so that a record
     * left by a process that died is not taken for a live one when another process gets its id.
     */
    process: z.string().optional(),
  })
  .strict();

export type RunningRecord = z.infer<typeof recordSchema>;

export function runningFile(config: Pick<Config, 'dataDir'>): string {
  return path.join(config.dataDir, 'running.json');
}

export async function writeRunning(config: Pick<Config, 'dataDir'>, record: Omit<RunningRecord, 'version' | 'process'>): Promise<void> {
  const file = runningFile(config);
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const identity = processIdentity(record.pid);
  await writeFile(tmp, `${JSON.stringify({ version: 1, ...record, ...(identity === undefined ? {} : { process: identity }) }, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

/** Removes the record if it is this process's (a later `up` may have replaced it). */
export async function removeRunning(config: Pick<Config, 'dataDir'>, pid = process.pid): Promise<void> {
  const current = readRecord(runningFile(config));
  if (current?.pid === pid) await rm(runningFile(config), { force: true });
}

/** Whether a process with this id exists (EPERM: it does, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The boot and start time of a process, as Linux tells them (boot_id, and field 22 of /proc/PID/stat:
 * clock ticks since boot); undefined where /proc does not say (another system, the process is gone).
 */
export function processIdentity(pid: number, proc = '/proc'): string | undefined {
  try {
    const boot = readFileSync(path.join(proc, 'sys/kernel/random/boot_id'), 'utf8').trim();
    const stat = readFileSync(path.join(proc, String(pid), 'stat'), 'utf8');
    // The name (field 2) is in parentheses and may hold anything; the fields after it are plain.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const started = fields[19];
    return boot !== '' && started !== undefined && /^\d+$/.test(started) ? `${boot}:${started}` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The record of the `up` running on this data folder, or undefined (none, unreadable, or its process is
 * gone: no process has its id, or the one that has it started at another time than the record's).
 */
export function readRunning(config: Pick<Config, 'dataDir'>, proc = '/proc'): RunningRecord | undefined {
  const record = readRecord(runningFile(config));
  if (record === undefined || !processAlive(record.pid)) return undefined;
  if (record.process !== undefined) {
    const now = processIdentity(record.pid, proc);
    if (now !== undefined && now !== record.process) return undefined;
  }
  return record;
}

function readRecord(file: string): RunningRecord | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = recordSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The base of media links: `up`'s when it runs and the configuration leaves links to it (no mediaUrl
 * or cdn configured), so `mediacdn url` prints what `up` publishes; the configured one otherwise.
 */
export function publicMediaUrl(config: Pick<Config, 'dataDir' | 'mediaUrl' | 'mediaUrlSource'>): string {
  if (config.mediaUrlSource !== 'default') return config.mediaUrl;
  return readRunning(config)?.mediaUrl ?? config.mediaUrl;
}
