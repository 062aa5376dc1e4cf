// The pure arithmetic of the bench: reading /proc/PID/stat and /proc/stat, CPU-seconds per 10,000
// requests and per GB, the client-bound rule, how a ratio may be stated, and when the machine was too
// busy for the numbers to mean anything. No I/O here; bench/lib/cpu.ts reads the files.

/** The fields of /proc/PID/stat the bench uses; times in clock ticks (see proc(5)). */
export type ProcStat = { pid: number; comm: string; state: string; ppid: number; utime: number; stime: number; cutime: number; cstime: number };

/**
 * Parses one /proc/PID/stat line. The command name (field 2) is in parentheses and may itself hold
 * spaces and parentheses, so the fields after it are found from the LAST ')'. Throws on anything else.
 */
export function parseProcStat(text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 1 || close < open) throw new Error(`not a /proc/PID/stat line: ${JSON.stringify(text.slice(0, 80))}`);
  const pid = Number(text.slice(0, open).trim());
  const rest = text.slice(close + 1).trim().split(/\s+/);
  // rest[0] is field 3 (state); utime is field 14, stime 15, cutime 16, cstime 17.
  if (!Number.isSafeInteger(pid) || pid <= 0 || rest.length < 15 || !/^[A-Za-z]$/.test(rest[0])) {
    throw new Error(`not a /proc/PID/stat line: ${JSON.stringify(text.slice(0, 80))}`);
  }
  const field = (n: number): number => {
    const raw = rest[n - 3];
    if (!/^-?\d+$/.test(raw)) throw new Error(`/proc/PID/stat field ${n} is not a number: ${JSON.stringify(raw)}`);
    return Number(raw);
  };
  return { pid, comm: text.slice(open + 1, close), state: rest[0], ppid: field(4), utime: field(14), stime: field(15), cutime: field(16), cstime: field(17) };
}

/**
 * The machine-wide CPU line of /proc/stat: ticks that processes spent (user, nice, system) or that
 * the hypervisor took (steal), and all ticks. Interrupt and softirq time is left out of `busy`: it is
 * mostly the loopback traffic of the bench itself, which no process is charged with when the kernel
 * accounts interrupt time apart, and would make a quiet machine look busy.
 */
export function parseCpuTotals(procStat: string): { busy: number; total: number } {
  const line = procStat.split('\n').find((l) => /^cpu\s/.test(l));
  if (!line) throw new Error('/proc/stat has no "cpu" line');
  const n = line.trim().split(/\s+/).slice(1).map(Number);
  if (n.length < 4 || n.some((x) => !Number.isFinite(x) || x < 0)) throw new Error(`/proc/stat cpu line is malformed: ${JSON.stringify(line)}`);
  // user nice system idle iowait irq softirq steal [guest guest_nice: already inside user and nice]
  const [user, nice, system, idle, iowait = 0, irq = 0, softirq = 0, steal = 0] = n;
  const busy = user + nice + system + steal;
  return { busy, total: busy + idle + iowait + irq + softirq };
}

/** A kernel thread (kthreadd, pid 2, and its children): its CPU is the kernel's, not another program's. */
export function isKernelThread(s: Pick<ProcStat, 'pid' | 'ppid'>): boolean {
  return s.pid === 2 || s.ppid === 2;
}

/** Server CPU per unit of work: CPU-seconds per 10,000 requests and per GB (10^9 bytes) of body. */
export function efficiency(o: { cpuSec: number; requests: number; bytes: number }): { per10k: number; perGB: number } {
  return {
    per10k: o.requests > 0 ? (o.cpuSec * 10_000) / o.requests : Number.NaN,
    perGB: o.bytes > 0 ? (o.cpuSec * 1e9) / o.bytes : Number.NaN,
  };
}

/** A load generator that used this share of its core or more measured itself, not the server. */
export const CLIENT_BOUND_SHARE = 0.9;

/** The client-bound rule: the load generator's CPU time over the run's wall time, against one core. */
export function isClientBound(clientCpuSec: number, wallSec: number): boolean {
  return wallSec > 0 && clientCpuSec / wallSec >= CLIENT_BOUND_SHARE;
}

/** A server at this share of its core (or of the share it was held to) or more was the limit of its run. */
export const SERVER_BOUND_SHARE = 0.9;

/**
 * What limited a run: the load generator (client-bound), the server (its core full, or all of the
 * share of a core it was held to: `cpuLimit`, default 1), or neither, which on a machine of our own
 * means latency, and on a shared one other processes.
 */
export function boundBy(o: { clientBound: boolean; serverShare: number; cpuLimit?: number }): 'client' | 'server' | 'neither' {
  if (o.clientBound) return 'client';
  return o.serverShare >= SERVER_BOUND_SHARE * (o.cpuLimit ?? 1) ? 'server' : 'neither';
}

/** One server's (median) figures in one row, as much as a comparison needs. */
export type RowFigures = { rps: number; cpuPer10k: number; clientBound: boolean; serverShare: number; cpuLimit?: number };

export type Comparison =
  /** Neither run was client-bound: the req/s ratio stands, a win if above 1; `saturated` when both servers had their core full. */
  | { kind: 'ratio'; ratio: number; win: boolean; saturated: boolean }
  /** Either run was client-bound: req/s says nothing about the server, so only CPU per request is compared, never as a win. */
  | { kind: 'client-bound'; cpuRatio: number };

/** Ours against a baseline in one row, by the client-bound rule. */
export function compare(ours: RowFigures, base: RowFigures): Comparison {
  if (ours.clientBound || base.clientBound) return { kind: 'client-bound', cpuRatio: ours.cpuPer10k / base.cpuPer10k };
  const ratio = ours.rps / base.rps;
  return { kind: 'ratio', ratio, win: ratio > 1, saturated: boundBy(ours) === 'server' && boundBy(base) === 'server' };
}

/** A comparison as a table cell: "0.91×", "0.91× (not saturated)", or "client-bound (CPU per request 1.30×)". */
export function comparisonCell(c: Comparison): string {
  if (c.kind === 'ratio') return `${c.ratio.toFixed(2)}×${c.saturated ? '' : ' (not saturated)'}`;
  return `client-bound (CPU per request ${Number.isFinite(c.cpuRatio) ? `${c.cpuRatio.toFixed(2)}×` : 'n/a'})`;
}

/** The faster of several baselines in one row (by req/s), e.g. nginx tuned with buffers or with aio threads. */
export function fastest<T extends { rps: number }>(candidates: T[]): T {
  if (candidates.length === 0) throw new Error('fastest() of nothing');
  return candidates.reduce((best, c) => (c.rps > best.rps ? c : best));
}

/** What the machine was doing around a run: load average when it started, other processes' CPU during the timed runs (in cores). */
export type MachineLoad = { cores: number; load1AtStart: number; otherCores: number[] };

/** Load average at the start above this share of the cores marks the run as taken on a busy machine. */
export const BUSY_LOAD_PER_CORE = 0.25;
/** Other processes using more than this many cores on average during the timed runs mark it too. */
export const BUSY_OTHER_CORES = 0.2;

/** Whether numbers taken under this load are only to be recorded, not claimed, and why. */
export function machineVerdict(m: MachineLoad): { busy: boolean; reasons: string[] } {
  const reasons: string[] = [];
  if (m.load1AtStart > BUSY_LOAD_PER_CORE * m.cores) reasons.push(`load average ${m.load1AtStart.toFixed(2)} at the start on ${m.cores} cores (quiet: ≤ ${(BUSY_LOAD_PER_CORE * m.cores).toFixed(2)})`);
  if (m.otherCores.length > 0) {
    const mean = m.otherCores.reduce((a, b) => a + b, 0) / m.otherCores.length;
    if (mean > BUSY_OTHER_CORES) reasons.push(`other processes used ${mean.toFixed(2)} cores on average during the timed runs (max ${Math.max(...m.otherCores).toFixed(2)}; quiet: ≤ ${BUSY_OTHER_CORES})`);
  }
  return { busy: reasons.length > 0, reasons };
}
