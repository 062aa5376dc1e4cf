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

export const VERSION = '0.1.0';

export type Registrar = (program: Command, io: Io) => void;

/** Command groups; later modules add theirs here. */
const registrars: Registrar[] = [registerLibrary, registerBackup, registerOrigin, registerEdge, registerPurge, registerStats, registerUp];

export function buildProgram(io: Io): Command {
  const program = new Command('mediacdn')
    .description('media library, origin server and CDN edge for small streaming sites')
    .version(VERSION)
    .option('-c, --config <file>', 'config file (default: ./mediacdn.config.json when present)')
    .option('-d, --data <dir>', 'data directory (MEDIACDN_DATA, default ./data)')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });
  for (const register of registrars) register(program, io);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

/** Runs the CLI and returns the exit code (does not call process.exit). */
export async function run(argv: string[], io: Io = processIo()): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return EXIT.usage;
    }
    if (err instanceof MediaCdnError) {
      io.err(`mediacdn: ${err.message}`);
      return err.exitCode;
    }
    io.err(`mediacdn: ${(err as Error)?.stack ?? String(err)}`);
    return EXIT.failure;
  }
}

if (import.meta.main) {
  const code = await run(process.argv.slice(2));
  // Servers keep the process alive on their own; one-shot commands exit with their code.
  process.exitCode = code;
}
