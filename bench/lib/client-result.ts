// The result line of the bench's own node load generators (radio-client.ts, handshake-client.ts): the
// BENCH_RESULT line wrk-report.lua prints, so one parser reads all three, plus the CPU a client used
// before its first request (not load) and whatever else the client counts.

export type ClientCounts = {
  requests: number;
  bytes: number;
  latenciesUs: number[];
  errors: { connect: number; read: number; status: number };
};

/** Runs `start`, and after `seconds` calls `stop` and prints the BENCH_RESULT line of `counts` and `extra()`. */
export function runFor(seconds: number, counts: ClientCounts, start: () => void, stop: () => void, extra: () => Record<string, number> = () => ({})): void {
  // CPU spent before the first request (starting node, loading the script) is not load: it is reported apart.
  const startupCpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  start();
  setTimeout(() => {
    const durationUs = Number(process.hrtime.bigint() - started) / 1000;
    stop();
    const sorted = [...counts.latenciesUs].sort((a, b) => a - b);
    const pct = (p: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0);
    const result = {
      requests: counts.requests,
      bytes: counts.bytes,
      duration_us: Math.round(durationUs),
      connect_errors: counts.errors.connect,
      read_errors: counts.errors.read,
      write_errors: 0,
      status_errors: counts.errors.status,
      timeouts: 0,
      p50_us: pct(0.5),
      p99_us: pct(0.99),
      startup_cpu_us: startupCpu.user + startupCpu.system,
      ...extra(),
    };
    console.log(`BENCH_RESULT ${JSON.stringify(result)}`);
    process.exit(0);
  }, seconds * 1000);
}
