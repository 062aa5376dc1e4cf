#!/usr/bin/env node
// Entry point for the `mediacdn` bin. Our sources are TypeScript run natively by Node 24; when this
// is started by an older Node, re-run under the Node 24 that the project pins as a dependency.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const mainTs = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const major = Number(process.versions.node.split('.')[0]);
if (major >= 24) {
  // Imported, main.ts is not the entry module (its `import.meta.main` is false), so call it here.
  // argv[1] names main.ts so that cluster workers, which re-run argv[1], start the CLI directly.
  process.argv.splice(1, 1, mainTs);
  const cli = await import(mainTs);
  await cli.main();
} else {
  const require = createRequire(import.meta.url);
  let nodeBin;
  try {
    nodeBin = require.resolve('node/bin/node');
  } catch {
    process.stderr.write('mediacdn: needs Node.js 24 or newer (run `npm ci` to install the pinned one)\n');
    process.exit(1);
  }
  const child = spawn(nodeBin, [mainTs, ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => (signal ? process.kill(process.pid, signal) : process.exit(code ?? 1)));
}
