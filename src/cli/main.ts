// The mediacdn command line: global options, one register function per command group, one place
// that turns errors into a message on stderr and an exit code.
import { Command, CommanderError } from 'commander';
import { MediaCdnError, EXIT } from '../errors.ts';
import { processIo, type Io } from './context.ts';
import { registerLibrary } from './library.ts';
import { registerBackup } from './backup.ts';
import { registerOrigin } from './origin.ts';
import { registerEdge } from './edge.ts';
import { registerPurge } from './purge.ts';
import { registerStats } from './stats.ts';
import { registerUp } from './up.ts';
import { registerDns } from './dns.ts';
import { registerSign } from './sign.ts';

export const VERSION = '0.1.0';

export type Registrar = (program: Command, io: Io) => void;

/** Command groups; later modules add theirs here. */
const registrars: Registrar[] = [registerLibrary, registerBackup, registerOrigin, registerEdge, registerPurge, registerStats, registerUp, registerDns, registerSign];

export function buildProgram(io: Io): Command {
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
  const program = buildProgram(io);
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
