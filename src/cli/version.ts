// The version the CLI reports (--version) and writes into backup manifests. Its own module: command
// modules are loaded by main.ts on demand and must not import main.ts back (a cycle through a
// module still running its top-level await never settles).
export const VERSION = '0.1.0';
