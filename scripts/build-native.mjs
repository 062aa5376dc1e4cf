// Builds native/sendfile.c into build/sendfile.node at `npm ci` / `npm install` (the postinstall
// script, which runs on whatever Node npm runs on: plain JavaScript, not TypeScript): Node has no sendfile(2), and with it the origin writes large media bodies without copying
// them through memory. It needs a C compiler (`cc`) and the headers of the Node that runs this (next
// to its binary, as in Node's release archives and Debian's nodejs-dev). Without either, or on a
// system other than Linux, it says so and exits 0: the origin then copies bodies, as before.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';

const root = path.join(import.meta.dirname, '..');
const source = path.join(root, 'native', 'sendfile.c');
const out = path.join(root, 'build', 'sendfile.node');

/**
 * Node-API headers: this Node's (<prefix>/include/node beside <prefix>/bin/node; the npm package
 * `node` keeps its binary's release beside it), else the system's. Node-API is stable across
 * versions, and the helper uses only its first version.
 */
/** @returns {string | undefined} */
function nodeHeaders() {
  const bin = path.dirname(process.execPath);
  const candidates = [
    path.join(bin, '..', 'include', 'node'),
    path.join(bin, '..', 'node_modules', `node-${process.platform}-${process.arch}`, 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ];
  return candidates.find((dir) => existsSync(path.join(dir, 'node_api.h')));
}

/** @param {string} why */
function skip(why) {
  console.log(`mediacdn: sendfile helper not built (${why}); the origin copies large media bodies through memory instead`);
  rmSync(out, { force: true });
}

function main() {
  if (process.platform !== 'linux') return skip(`sendfile(2) is used on Linux only, this is ${process.platform}`);
  const headers = nodeHeaders();
  if (headers === undefined) return skip(`no Node-API headers (node_api.h) beside ${process.execPath} or in /usr/include/node`);
  mkdirSync(path.dirname(out), { recursive: true });
  // Built beside it and renamed over it: a process loading the helper meanwhile (a server, a test run
  // while npx installs this checkout into its cache and so runs this script again) finds the old file
  // or the new one, never one half written.
  const building = `${out}.${process.pid}.tmp`;
  const r = spawnSync('cc', ['-O2', '-Wall', '-Werror', '-shared', '-fPIC', '-I', headers, '-DNODE_GYP_MODULE_NAME=sendfile', source, '-o', building], { encoding: 'utf8' });
  if (r.error || r.status !== 0) rmSync(building, { force: true });
  if (r.error) return skip(`no C compiler: cc ${/** @type {NodeJS.ErrnoException} */ (r.error).code ?? r.error.message}`);
  if (r.status !== 0) return skip(`cc failed: ${(r.stderr || r.stdout).trim().split('\n').slice(0, 5).join(' / ')}`);
  renameSync(building, out);
  console.log(`mediacdn: built ${path.relative(root, out)} (sendfile for large media bodies)`);
}

main();
