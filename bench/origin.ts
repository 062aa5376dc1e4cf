// Origin section of `npm run bench`: our origin against nginx static (at its bench defaults and tuned
// two ways), sirv, and a bare node:http server answering from memory (the ceiling), every server
// pinned to the server core and wrk / the radio client to the other. Every answer is byte-compared
// with curl first; writes bench/results/origin.md.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { checkTest } from './lib/check.ts';
import { COMPARISON_LEGEND, comparisonTable, FIGURES_LEGEND, figuresTable, heading, heldSection, machineParagraph, methodParagraph, sideBySide, type Baseline } from './lib/http-report.ts';
import { loadFor, ROOT, startCeiling, startOriginProcess, startPinned, versions, type BenchLibrary, type HttpTest, type Server } from './lib/library.ts';
import { NGINX_TUNINGS, startNginxStatic, type NginxTuning } from './lib/nginx.ts';
import type { MachineLoad } from './lib/measure.ts';
import { runInterleaved } from './lib/rounds.ts';

export type HttpSectionOptions = {
  lib: BenchLibrary;
  workDir: string;
  durationSec: number;
  rounds: number;
  tests: HttpTest[];
  machine: Omit<MachineLoad, 'otherCores'>;
  mode: string;
  /** The share of a core every server is held to in the held rows (http-report.ts heldSection). */
  holdShare: number;
};

async function startNginxVariants(workDir: string, name: string, start: (dir: string, tuning: NginxTuning) => Promise<{ url: string; pid: number; stop(): Promise<void> }>): Promise<Server[]> {
  const out: Server[] = [];
  for (const tuning of Object.keys(NGINX_TUNINGS) as NginxTuning[]) {
    const n = await start(path.join(workDir, `${name}-${tuning}`), tuning);
    out.push({ name: `${name} (${tuning})`, url: n.url, pid: n.pid, stop: n.stop });
  }
  return out;
}

/** How the nginx variants are configured, for a report. */
export function nginxVariantsText(name: string): string {
  return (Object.keys(NGINX_TUNINGS) as NginxTuning[]).map((t) => `\`${name} (${t})\`: ${NGINX_TUNINGS[t].label}`).join('; ');
}

export async function runOriginBench(o: HttpSectionOptions): Promise<void> {
  const { lib, tests } = o;
  const servers: Server[] = [];
  try {
    const nginx = await startNginxVariants(o.workDir, 'nginx', (dir, tuning) => startNginxStatic(dir, lib.mediaDir, tuning));
    servers.push(...nginx);
    const sirv = await startPinned('sirv', { cmd: process.execPath, args: [path.join(ROOT, 'bench/servers/sirv-server.ts'), lib.mediaDir, '--rfc-304'], ready: /sirv listening on (http:\/\/\S+)/ });
    servers.push(sirv);
    const ceiling = await startCeiling(lib.mediaDir);
    servers.push(ceiling);
    const ours = await startOriginProcess(lib.dataDir);
    servers.push(ours);

    const etags = new Map<Server, string>();
    for (const s of servers) {
      for (const t of tests) {
        const etag = await checkTest(s, t, lib, { hit: false });
        if (etag) etags.set(s, etag);
      }
    }
    console.log(`origin: every server answers every test with the expected status and bytes (and CORS fields on its 304)`);
    console.log(`${versions()}\n${o.mode}, servers: ${servers.map((s) => s.name).join(', ')}\n`);

    const res = await runInterleaved({ tests, servers, rounds: o.rounds, durationSec: o.durationSec, load: (t, s) => loadFor(t, lib, s.url, etags.get(s)) });
    const baselines: Baseline[] = [
      { label: 'nginx (default)', servers: [nginx[0]] },
      { label: 'nginx tuned (faster of buffers / aio)', servers: nginx.slice(1) },
      { label: 'sirv', servers: [sirv] },
      { label: 'node:http ceiling', servers: [ceiling] },
    ];
    const comparison = comparisonTable(tests, ours, baselines, res);
    const figures = figuresTable(tests, servers, res);
    // Side by side with tuned nginx (buffers) and the ceiling, the radio row too: its client spends
    // little per byte, so two of them on the client core leave the server core the limit.
    const pairedRows = await sideBySide({
      tests,
      ours,
      baselines: [
        { label: nginx[1].name, server: nginx[1] },
        { label: 'node:http ceiling', server: ceiling },
      ],
      rounds: o.rounds,
      durationSec: o.durationSec,
      load: (t, s) => loadFor(t, lib, s.url, etags.get(s)),
    });
    // Held to a share of a core: every server the limit of its run, the rows the client bounds above too.
    const held = await heldSection(o, ours, [nginx[0], nginx[1], sirv, ceiling], (t, s) => loadFor(t, lib, s.url, etags.get(s)));
    const machine = { ...o.machine, otherCores: [...res.otherCores(), ...(held.result?.otherCores() ?? [])] };
    const doc = `# Origin bench

${new Date().toISOString().slice(0, 10)} · ${versions()}

${machineParagraph(machine)}

${methodParagraph(o.mode)}
Every answer was byte-compared with curl first; every 304 carries \`Access-Control-Allow-Origin\`.

Servers: \`our origin\` is \`mediacdn origin --workers 1\`. ${nginxVariantsText('nginx')}; each one worker,
\`tcp_nopush off\`, \`open_file_cache\`, no access log, with the origin's Cache-Control and CORS fields.
\`sirv\` adds what RFC 9110 §15.4.5 and our origin put on a 304 (plain sirv sends a bare one).
\`node:http ceiling\` (bench/servers/memory-ceiling.ts) answers from memory with prebuilt headers: what
node:http itself allows.

${heading('Ours against each baseline', machine)}

${COMPARISON_LEGEND}

${comparison}

${heading('Every server', machine)}

${FIGURES_LEGEND}

${figures}

${heading('Side by side', machine)}

${pairedRows}

${heading(`Held to ${(o.holdShare * 100).toFixed(0)} % of a core`, machine)}

${held.markdown}
`;
    console.log(`\n${comparison}\n\n${figures}\n\n${pairedRows}`);
    await mkdir(path.join(ROOT, 'bench/results'), { recursive: true });
    await writeFile(path.join(ROOT, 'bench/results/origin.md'), doc);
    console.log('\nwritten to bench/results/origin.md');
  } finally {
    for (const s of servers) await s.stop().catch(() => {});
  }
}
