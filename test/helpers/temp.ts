// Folders for tests: each made inside one folder per test process, which is removed when the process
// exits, so that a test run leaves nothing behind in the system's temp dir, also when a test fails
// before its own cleanup. (node --test runs every test file in a process of its own.)
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

let root: string | undefined;

function processDir(): string {
  if (root === undefined) {
    const made = mkdtempSync(path.join(os.tmpdir(), 'mediacdn-test-'));
    process.on('exit', () => rmSync(made, { recursive: true, force: true }));
    root = made;
  }
  return root;
}

/** A new empty folder named `prefix` + random letters, removed when this test process exits. */
export function tempDirSync(prefix: string): string {
  return mkdtempSync(path.join(processDir(), prefix));
}
