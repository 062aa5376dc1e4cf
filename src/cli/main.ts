// The mediacdn command line: global options, one register function per command group, one place
// that turns errors into a message on stderr and an exit code.
import { Command, CommanderError } from 'commander';
import { MediaCdnError, EXIT } from '../errors.ts';
import { processIo, type Io } from './context.ts';

import { VERSION } from './version.ts';

export { VERSION };

export type Registrar = (program: Command, io: Io) => void;

/**
 * Command groups, each loaded only when the command line names one of its commands (or for help and
 * usage errors, all of them): an edge worker does not load the library, backup or DNS code, which
 * keeps about 18 MiB out of each edge process.
 */
const GROUPS: ReadonlyArray<{ commands: readonly string[]; load: () => Promise<Registrar> }> = [
  { commands: ['add', 'ls', 'show', 'url', 'rm', 'check'], load: async () => (await import('./library.ts')).registerLibrary },
  { commands: ['backup'], load: async () => (await import('./backup.ts')).registerBackup },
  { commands: ['origin'], load: async () => (await import('./origin.ts')).registerOrigin },
  { commands: ['edge'], load: async () => (await import('./edge.ts')).registerEdge },
  { commands: ['purge'], load: async () => (await import('./purge.ts')).registerPurge },
  { commands: ['stats'], load: async () => (await import('./stats.ts')).registerStats },
  { commands: ['up'], load: async () => (await import('./up.ts')).registerUp },
  { commands: ['dns'], load: async () => (await import('./dns.ts')).registerDns },
  { commands: ['sign'], load: async () => (await import('./sign.ts')).registerSign },
];

/** Global options that take a value as the next word. */
const VALUED_GLOBALS = new Set(['-c', '--config', '-d', '--data']);

/** The command a command line names: its first word that is neither an option nor a global option's value. */
export function commandWord(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (word === '--') return argv[i + 1];
    if (VALUED_GLOBALS.has(word)) i++;
    else if (!word.startsWith('-')) return word;
  }
  return undefined;
}

/** The registrars a command line needs: its command's group, or every group (help, errors, no command). */
export async function registrarsFor(argv: readonly string[]): Promise<Registrar[]> {
  const word = commandWord(argv);
  const group = GROUPS.find((g) => word !== undefined && g.commands.includes(word));
  return Promise.all((group ? [group] : GROUPS).map((g) => g.load()));
}

export function buildProgram(io: Io, registrars: readonly Registrar[]): Command {
  const program = new Command('mediacdn')
    .description('media library, origin server and CDN edge for small streaming sites')
    .version(VERSION)
    .option('-c, --config <file>', 'config file (default: ./mediacdn.config.json when present)')
    .option('-d, --data <dir>', 'data directory (MEDIACDN_DATA, default ./data)')
    // Usage errors are reported by run() as one line that names the command's help; commander writes
    // to stderr only the help of a command group called without its subcommand, which run() also
    // replaces by one line.
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: () => {}, outputError: () => {} });
  for (const register of registrars) register(program, io);
  const override = (cmd: Command): void => {
    cmd.exitOverride((err) => {
      throw new UsageFailure(err, cmd);
    });
    for (const sub of cmd.commands) override(sub);
  };
  override(program);
  return program;
}

/** A commander error together with the command it was raised for (whose --help the message names). */
class UsageFailure extends Error {
  readonly error: CommanderError;
  readonly command: Command;
  constructor(error: CommanderError, command: Command) {
    super(error.message);
    this.error = error;
    this.command = command;
  }
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c !== null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Commander's message as one line: without its "error: " prefix, the option's own reason for a bad value. */
export function usageLine(err: CommanderError, cmd: Command): string {
  let msg = oneLine(err.message.replace(/^error: /, '')).replace(/\.$/, '');
  if (err.code === 'commander.invalidArgument') msg = msg.replace(/^(option|command-argument value) '[^']*' .*?is invalid( for argument '[^']*')?\. /, '');
  return `mediacdn: ${msg} (see ${commandPath(cmd)} --help)`;
}

/**
 * A command group run without a subcommand (`mediacdn`, `mediacdn backup`), or `help` of a command
 * that does not exist: one line that lists the commands, instead of the whole help on stderr.
 */
export function missingCommandLine(cmd: Command, argv: readonly string[]): string {
  const names = cmd.commands.map((c) => c.name());
  const i = argv.indexOf('help');
  if (i >= 0 && argv[i + 1] !== undefined && !names.includes(argv[i + 1])) {
    return `mediacdn: unknown command '${argv[i + 1]}' (see ${commandPath(cmd)} --help)`;
  }
  return `mediacdn: ${commandPath(cmd)} needs a command: ${names.join(', ')} (see ${commandPath(cmd)} --help)`;
}

/**
 * An error that is not one of ours (a bug, or a system error no command turned into a message): its
 * message on one line; the stack only when LOG_LEVEL asks for debug output.
 */
export function unexpectedErrorLine(err: unknown, env: Io['env']): string {
  const debug = env.LOG_LEVEL === 'debug' || env.LOG_LEVEL === 'trace';
  if (debug && err instanceof Error && err.stack !== undefined) return `mediacdn: ${err.stack}`;
  const message = err instanceof Error ? err.message : String(err);
  return `mediacdn: ${oneLine(message)}${debug ? '' : ' (LOG_LEVEL=debug shows where)'}`;
}

const oneLine = (s: string): string => s.trim().replace(/\s*\n\s*/g, ' ');

/** Runs the CLI and returns the exit code (does not call process.exit). */
export async function run(argv: string[], io: Io = processIo()): Promise<number> {
  let program: Command;
  try {
    program = buildProgram(io, await registrarsFor(argv));
  } catch (err) {
    io.err(unexpectedErrorLine(err, io.env));
    return EXIT.failure;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof UsageFailure) {
      const e = err.error;
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      if (e.code === 'commander.help') {
        if (e.exitCode === 0) return 0;
        io.err(missingCommandLine(err.command, argv));
        return EXIT.usage;
      }
      io.err(usageLine(e, err.command));
      return EXIT.usage;
    }
    if (err instanceof MediaCdnError) {
      io.err(`mediacdn: ${oneLine(err.message)}`);
      return err.exitCode;
    }
    io.err(unexpectedErrorLine(err, io.env));
    return EXIT.failure;
  }
}

/**
 * Runs the CLI on this process's arguments. Servers keep the process alive on their own; one-shot
 * commands leave with their exit code. Called by bin/mediacdn.js (where this module is imported, not
 * the entry point) and below when this file is run directly.
 */
export async function main(): Promise<void> {
  process.exitCode = await run(process.argv.slice(2));
}

if (import.meta.main) await main();
