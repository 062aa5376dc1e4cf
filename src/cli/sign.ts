// `mediacdn sign <url>`: a signed link for a zone that serves signed links only, signed with the
// zone's first key from the configuration (the scheme is in src/edge/zone/signed-url.ts and README).
import { InvalidArgumentError, type Command } from 'commander';
import { InputError, EXIT } from '../errors.ts';
import { signUrl } from '../edge/zone/signed-url.ts';
import { configFrom, type Io } from './context.ts';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** "90s", "30m", "1h", "7d" or plain seconds, as whole seconds (at most ten years). */
export function parseDuration(value: string): number {
  const m = /^([0-9]{1,9})([smhd]?)$/.exec(value.trim());
  const seconds = m ? Number(m[1]) * UNITS[m[2] || 's'] : NaN;
  if (!(seconds > 0) || seconds > 3650 * 86_400) throw new InvalidArgumentError(`--expires-in must be a duration such as 90s, 30m, 1h or 7d, got ${JSON.stringify(value)}`);
  return seconds;
}

export function registerSign(program: Command, io: Io): void {
  program
    .command('sign')
    .description('print a signed link for a zone that serves signed links only (zone signedUrls)')
    .argument('<url>', 'the link to sign; its host names the zone')
    .option('--expires-in <duration>', 'how long the link works: 90s, 30m, 1h, 7d', parseDuration, 3600)
    .option('--path-prefix <prefix>', 'one token for every path that starts with this, e.g. /media/')
    .option('--ip <address>', 'the link works only for this client address')
    .action((url: string, o: { expiresIn: number; pathPrefix?: string; ip?: string }, cmd: Command) => {
      const config = configFrom(cmd, io);
      let host: string;
      try {
        const u = new URL(url.startsWith('//') ? `http:${url}` : url);
        if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http');
        host = u.hostname.toLowerCase();
      } catch {
        throw new InputError('sign_bad_url', `not an http(s) link: ${JSON.stringify(url)}`, { exitCode: EXIT.usage });
      }
      const zone = config.edge.zones.find((z) => z.host === host);
      if (zone?.signedUrls === undefined) throw new InputError('sign_no_keys', `no zone ${host} with signedUrls in the configuration`, { exitCode: EXIT.usage });
      try {
        io.out(signUrl(url, { key: zone.signedUrls.keys[0], expires: Math.floor(Date.now() / 1000) + o.expiresIn, prefix: o.pathPrefix, ip: o.ip }));
      } catch (err) {
        throw new InputError('sign_bad_option', (err as Error).message, { exitCode: EXIT.usage });
      }
    });
}
