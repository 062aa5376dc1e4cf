// The offsite hook: a shell command run after a successful snapshot with the snapshot folder as its
// last argument (e.g. an archive tool or an object-storage sync). Its failure fails the backup run.
import { spawn } from 'node:child_process';
import { BackupError } from './errors.ts';

export type ThenResult = { code: number };

export async function runThen(command: string, snapshot: { id: string; dir: string; repo: string }, io: { err: (line: string) => void; env: Record<string, string | undefined> }): Promise<ThenResult> {
  // The path travels as "$1", never spliced into the command text, so no quoting can break it.
  const child = spawn('/bin/sh', ['-c', `${command} "$@"`, 'mediacdn-backup-then', snapshot.dir], {
    stdio: ['ignore', 'inherit', 'pipe'],
    env: { ...io.env, MEDIACDN_SNAPSHOT: snapshot.dir, MEDIACDN_SNAPSHOT_ID: snapshot.id, MEDIACDN_BACKUP_REPO: snapshot.repo },
  });
  let tail = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    for (const line of s.split('\n')) if (line !== '') io.err(`  then: ${line}`);
    tail = (tail + s).slice(-400);
  });
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
  });
  if (code !== 0) {
    const last = tail.trim().split('\n').pop();
    throw new BackupError('then_failed', `snapshot ${snapshot.id} was written to ${snapshot.dir}, but the --then command failed with exit code ${code}${last ? `: ${last}` : ''}`);
  }
  return { code };
}
