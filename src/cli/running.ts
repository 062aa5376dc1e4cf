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
  })
  .strict();

export type RunningRecord = z.infer<typeof recordSchema>;

export function runningFile(config: Pick<Config, 'dataDir'>): string {
  return path.join(config.dataDir, 'running.json');
}

export async function writeRunning(config: Pick<Config, 'dataDir'>, record: Omit<RunningRecord, 'version'>): Promise<void> {
  const file = runningFile(config);
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ version: 1, ...record }, null, 2)}\n`, { mode: 0o600 });
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

/** The record of the `up` running on this data folder, or undefined (none, unreadable, or its process is gone). */
export function readRunning(config: Pick<Config, 'dataDir'>): RunningRecord | undefined {
  const record = readRecord(runningFile(config));
  return record !== undefined && processAlive(record.pid) ? record : undefined;
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
