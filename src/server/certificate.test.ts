// WatchedCertificate with the layouts renewals produce: certbot's live/ links re-pointed into
// archive/, lego's files replaced by rename, a half-written pair seen first and then completed.
import assert from 'node:assert/strict';
import { mkdir, rename, symlink, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { WatchedCertificate } from './certificate.ts';
import { makeCa, makeLeaf, tempDir } from '../../test/helpers/tls.ts';

/** A log sink whose `next(pattern)` resolves with the first line (already written or to come) matching it. */
function logSink() {
  const lines: string[] = [];
  const waiting: Array<{ pattern: RegExp; resolve: (l: string) => void }> = [];
  return {
    lines,
    write(line: string) {
      lines.push(line);
      for (const w of waiting.splice(0)) {
        if (w.pattern.test(line)) w.resolve(line);
        else waiting.push(w);
      }
    },
    next(pattern: RegExp, from = 0): Promise<string> {
      const found = lines.slice(from).find((l) => pattern.test(l));
      return found !== undefined ? Promise.resolve(found) : new Promise((resolve) => waiting.push({ pattern, resolve }));
    },
  };
}

describe('WatchedCertificate', () => {
  const open: WatchedCertificate[] = [];
  after(() => {
    for (const w of open) w.close();
  });

  it('follows certbot\'s live/ links when they are re-pointed into archive/', async () => {
    const ca = await makeCa();
    const root = await tempDir();
    await mkdir(path.join(root, 'archive'));
    await mkdir(path.join(root, 'live'));
    const first = await makeLeaf(ca, ['cdn.example.com'], path.join(root, 'archive', 'cert1'));
    await symlink('../archive/cert1.pem', path.join(root, 'live', 'fullchain.pem'));
    await symlink('../archive/cert1.key', path.join(root, 'live', 'privkey.pem'));
    const log = logSink();
    const w = await WatchedCertificate.open({ cert: path.join(root, 'live', 'fullchain.pem'), key: path.join(root, 'live', 'privkey.pem') }, 'edge.zones[0].tls', {
      label: 'zone cdn.example.com', onReload: log.write, onRejected: log.write, settleMs: 20, pollMs: 0,
    });
    open.push(w);
    assert.equal(w.current.fingerprint, first.fingerprint);
    const changes: string[] = [];
    w.onChange((c) => changes.push(c.fingerprint));

    const second = await makeLeaf(ca, ['cdn.example.com'], path.join(root, 'archive', 'cert2'));
    for (const [name, target] of [['fullchain.pem', 'cert2.pem'], ['privkey.pem', 'cert2.key']]) {
      await unlink(path.join(root, 'live', name));
      await symlink(`../archive/${target}`, path.join(root, 'live', name));
    }
    await log.next(new RegExp(`zone cdn\\.example\\.com: loaded the new certificate .*${second.fingerprint}`));
    assert.equal(w.current.fingerprint, second.fingerprint);
    assert.deepEqual(changes, [second.fingerprint]);
  });

  it('takes files replaced by rename (lego), and a pair written one file after the other', async () => {
    const ca = await makeCa();
    const dir = await tempDir();
    const first = await makeLeaf(ca, ['a.example'], path.join(dir, 'a.example'));
    const log = logSink();
    const w = await WatchedCertificate.open({ cert: first.certFile, key: first.keyFile }, 'origin.tls', {
      label: 'origin', onReload: log.write, onRejected: log.write, settleMs: 20, pollMs: 0,
    });
    open.push(w);
    const next = await makeLeaf(ca, ['a.example'], path.join(dir, 'next'));
    await writeFile(`${first.certFile}.tmp`, next.cert);
    await rename(`${first.certFile}.tmp`, first.certFile);
    // The certificate alone does not match the old key: kept out, and said so.
    await log.next(/origin: kept the previous certificate .*does not belong to the certificate/);
    assert.equal(w.current.fingerprint, first.fingerprint);
    const from = log.lines.length;
    await writeFile(`${first.keyFile}.tmp`, next.key);
    await rename(`${first.keyFile}.tmp`, first.keyFile);
    await log.next(new RegExp(`origin: loaded the new certificate .*${next.fingerprint}`), from);
    assert.equal(w.current.fingerprint, next.fingerprint);
  });

  it('says once why a file that went missing is not taken, and check() reads the files on demand', async () => {
    const ca = await makeCa();
    const dir = await tempDir();
    const leaf = await makeLeaf(ca, ['b.example'], path.join(dir, 'b'));
    const log = logSink();
    const w = await WatchedCertificate.open({ cert: leaf.certFile, key: leaf.keyFile }, 'origin.tls', { label: 'origin', onReload: log.write, onRejected: log.write, pollMs: 0, settleMs: 60_000 });
    open.push(w);
    await unlink(leaf.keyFile);
    await w.check();
    await w.check();
    assert.deepEqual(log.lines.filter((l) => /cannot read .*b\.key: no such file/.test(l)).length, 1);
    assert.equal(w.current.fingerprint, leaf.fingerprint, 'still serving the loaded pair');
    await writeFile(leaf.keyFile, leaf.key);
    await w.check();
    assert.equal(log.lines.length, 1, 'the same pair back: nothing new to say');
  });
});
