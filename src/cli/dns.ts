// `mediacdn dns [--port N] [--host H]`: the authoritative geo DNS server for the zones' host names;
// `mediacdn dns --export powerdns` prints the same routing as a PowerDNS zone with LUA records.
import type { Command } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MediaCdnError, EXIT } from '../errors.ts';
import { configFrom, intOption, listenFailure, type Io } from './context.ts';
import { onSignals } from './cluster.ts';
import { startDnsService } from '../dns/service.ts';
import { exportPowerDns } from '../dns/powerdns.ts';

type DnsFlags = { port?: number; host?: string; export?: string; out?: string; powerdnsGeoip?: boolean };

export function registerDns(program: Command, io: Io): void {
  program
    .command('dns')
    .description('run the authoritative geo DNS server: each client gets the nearest healthy edge of the fleet')
    .option('--port <n>', 'UDP and TCP port (default dns.port, 53; 0 = any free port)', intOption('--port'))
    .option('--host <host>', 'address to listen on (default dns.host, 0.0.0.0; :: for IPv6 and IPv4)')
    .option('--export <format>', 'print the routing for another DNS server instead of serving (powerdns)')
    .option('--out <dir>', 'with --export: write the files into this folder instead of printing them')
    .option('--powerdns-geoip', 'with --export powerdns: pick the closest edge with PowerDNS GeoIP (pickclosest) instead of the default set')
    .action(async (flags: DnsFlags, cmd: Command) => {
      const config = configFrom(cmd, io);
      if (flags.export !== undefined) {
        if (flags.export !== 'powerdns') throw new MediaCdnError('dns_usage', `dns --export: unknown format ${JSON.stringify(flags.export)} (known: powerdns)`, { exitCode: EXIT.usage });
        const directory = flags.out !== undefined ? path.resolve(io.cwd, flags.out) : undefined;
        const { files } = exportPowerDns(config, { serial: Math.floor(Date.now() / 1000), geoip: flags.powerdnsGeoip === true, directory });
        if (flags.out !== undefined) {
          mkdirSync(directory!, { recursive: true });
          for (const [name, text] of files) writeFileSync(path.join(directory!, name), text);
          io.out(`wrote ${[...files.keys()].join(', ')} to ${flags.out}`);
        } else {
          for (const [name, text] of files) io.out(`;; ---- ${name}\n${text.trimEnd()}`);
        }
        return;
      }
      const service = await startDnsService({
        config,
        host: flags.host,
        port: flags.port,
        onHealthChange: (edge, up) => io.err(`dns: edge ${edge} is ${up ? 'up again' : 'down'}`),
      }).catch((err: unknown) => {
        throw listenFailure('dns', err, { [flags.port ?? config.dns.port]: '--port' });
      });
      const shown = (flags.host ?? config.dns.host).includes(':') ? `[${flags.host ?? config.dns.host}]` : (flags.host ?? config.dns.host);
      io.out(`dns listening on ${shown}:${service.port} (udp, tcp)`);
      for (const z of service.zones) io.out(`  zone ${z}`);
      for (const e of service.health.snapshot()) io.out(`  edge ${e.name}: health ${e.url}`);
      onSignals(() => service.close(), (err: unknown) => io.err(`dns: shutdown failed: ${(err as Error)?.message ?? String(err)}`));
    });
}
