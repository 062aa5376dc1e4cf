#!/usr/bin/env node
// Entry point for the `mediacdn` bin. Our sources are TypeScript run natively by Node 24; when this
// is started by an older Node, re-run under the Node 24 that the project pins as a dependency.
import { spawn } from 'node:child_process';
import module, { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const mainTs = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const major = Number(process.versions.node.split('.')[0]);
if (major >= 24) {
  // Imported, main.ts is not the entry module (its `import.meta.main` is false), so call it here.
  // argv[1] names main.ts so that cluster workers, which re-run argv[1], start the CLI directly.
  process.argv.splice(1, 1, mainTs);
  // Keep each source's type-stripped text (and V8's code cache) on disk, so that a later start and
  // every cluster worker load our modules without Node's TypeScript stripper: an edge process starts
  // with about 29 MiB less resident memory (96 MiB, not 125) in half the time. The cache lives in
  // this checkout (node_modules/.cache), not in a shared temporary folder where another user could
  // put code in our way. NODE_COMPILE_CACHE names another folder (Node opens it before this file
  // runs), NODE_DISABLE_COMPILE_CACHE=1 turns it off, and a folder that cannot be written only means
  // no cache. Child processes (cluster workers start main.ts itself) find the folder in the
  // environment.
  if (process.env.NODE_COMPILE_CACHE === undefined) {
    const cache = module.enableCompileCache(fileURLToPath(new URL('../node_modules/.cache/node-compile-cache', import.meta.url)));
    if (cache.directory !== undefined) process.env.NODE_COMPILE_CACHE = cache.directory;
  }
  const cli = await import(mainTs);
  module.flushCompileCache();
  await cli.main();
  // A server has started by now (and loaded what it runs on): keep those modules too.
  module.flushCompileCache();
} else {
  const require = createRequire(import.meta.url);
  let nodeBin;
  try {
    nodeBin = require.resolve('node/bin/node');
  } catch {
    process.stderr.write('mediacdn: needs Node.js 24 or newer (run `npm ci` to install the pinned one)\n');
    process.exit(1);
  }
  // This file again, so that the pinned Node keeps the compile cache too.
  const child = spawn(nodeBin, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => (signal ? process.kill(process.pid, signal) : process.exit(code ?? 1)));
}
