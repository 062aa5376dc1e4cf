// `backup export`: one self-contained tar of a snapshot and the pooled files it lists, laid out as a
// repository of its own (`tar -xf` it, then `backup restore <id> --repo <that folder>`).
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { BackupError } from './errors.ts';
import { poolPath, readManifest, snapshotDir, type Repo } from './repo.ts';
import { writeTar, type TarEntry } from './tar.ts';

export async function exportSnapshot(repo: Repo, id: string, outFile: string): Promise<{ bytes: number; files: number }> {
  const manifest = await readManifest(repo, id);
  const dir = snapshotDir(repo, id);
  const mtime = new Date(manifest.createdAt);
  const entries: TarEntry[] = [
    { type: 'dir', name: 'snapshots', mtime },
    { type: 'dir', name: `snapshots/${id}`, mtime },
  ];
  const inSnapshot = ['manifest.json', manifest.database.dump.path, ...manifest.export.tables.map((t) => t.path)];
  if (await fsp.stat(path.join(dir, 'verification.json')).catch(() => undefined)) inSnapshot.push('verification.json');
  const subdirs = new Set(inSnapshot.filter((p) => p.includes('/')).map((p) => p.split('/')[0]));
  for (const d of subdirs) entries.push({ type: 'dir', name: `snapshots/${id}/${d}`, mtime });
  for (const rel of inSnapshot) {
    const file = path.join(dir, rel);
    entries.push({ type: 'file', name: `snapshots/${id}/${rel}`, mtime, size: (await fsp.stat(file)).size, source: file });
  }
  entries.push({ type: 'dir', name: 'pool', mtime });
  const shas = [...new Set(manifest.files.map((f) => f.sha256))].sort();
  for (const top of new Set(shas.map((s) => s.slice(0, 2)))) entries.push({ type: 'dir', name: `pool/${top}`, mtime });
  for (const sha of shas) {
    const file = poolPath(repo, sha);
    const expected = manifest.files.find((f) => f.sha256 === sha)!.bytes;
    const st = await fsp.stat(file).catch(() => undefined);
    if (!st || st.size !== expected) throw new BackupError('verify_failed', `pooled file ${sha} is ${st ? `${st.size} bytes, expected ${expected}` : 'missing'}; run backup verify ${id}`);
    entries.push({ type: 'file', name: `pool/${sha.slice(0, 2)}/${sha}`, mtime, size: expected, source: file });
  }
  const tmp = `${outFile}.part-${process.pid}`;
  try {
    const { bytes } = await writeTar(tmp, entries);
    await fsp.rename(tmp, outFile);
    return { bytes, files: shas.length };
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}
