// Prometheus text exposition format 0.0.4 of the totals (GET /_mediacdn/metrics). Why not prom-client:
// it holds only process-lifetime cumulative values in a registry; we also need per-minute history, the
// same figures as JSON, and totals restored from disk. Rendering our own figures keeps the JSON, the
// metrics and the summary the same numbers.
import { OUTCOMES } from '../outcome.ts';
import { ORIGIN_BUCKETS_MS, STATUS_CLASSES } from './figures.ts';
import type { Figures, StatsSnapshot } from './figures.ts';
import { processLabel } from './process.ts';
import type { ProcessSample } from './process.ts';

/** Label values escape backslash, double quote and line feed (text format 0.0.4). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(pairs: Record<string, string>): string {
  return `{${Object.entries(pairs).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
}

type Sample = [labels: Record<string, string>, value: number];
type Family = { name: string; type: 'counter' | 'histogram'; help: string; samples: (zone: string, f: Figures) => Sample[] };

const FAMILIES: Family[] = [
  { name: 'edge_requests_total', type: 'counter', help: 'Requests answered, by status class of the response.', samples: (zone, f) => STATUS_CLASSES.map((c) => [{ zone, status_class: c }, f.responses[c]]) },
  { name: 'edge_client_aborts_total', type: 'counter', help: 'Responses the client went away from before the end.', samples: (zone, f) => [[{ zone }, f.clientAborts]] },
  { name: 'edge_cache_outcomes_total', type: 'counter', help: 'Requests by cache outcome (hit, stale, revalidated, miss, pass).', samples: (zone, f) => OUTCOMES.map((o) => [{ zone, outcome: o }, f.outcomes[o]]) },
  { name: 'edge_client_sent_bytes_total', type: 'counter', help: 'Body bytes sent to clients.', samples: (zone, f) => [[{ zone }, f.bytesToClients]] },
  { name: 'edge_origin_received_bytes_total', type: 'counter', help: 'Body bytes received from the origin or shield.', samples: (zone, f) => [[{ zone }, f.bytesFromOrigin]] },
  {
    name: 'edge_origin_response_seconds',
    type: 'histogram',
    help: 'Time from sending an origin request to its response head.',
    samples: (zone, f) => {
      const out: Sample[] = [];
      let cumulative = 0;
      f.originResponseMs.counts.forEach((n, i) => {
        cumulative += n;
        const le = i < ORIGIN_BUCKETS_MS.length ? String(ORIGIN_BUCKETS_MS[i] / 1000) : '+Inf';
        out.push([{ zone, le }, cumulative]);
      });
      return out;
    },
  },
  { name: 'edge_origin_non_2xx_responses_total', type: 'counter', help: 'Origin responses with a status outside 200-299, by status.', samples: (zone, f) => Object.entries(f.originNon2xx).sort().map(([status, n]) => [{ zone, status }, n]) },
  { name: 'edge_origin_retries_total', type: 'counter', help: 'Origin requests retried after a connection error or 502/503/504.', samples: (zone, f) => [[{ zone }, f.originRetries]] },
  { name: 'edge_origin_errors_total', type: 'counter', help: 'Origin attempts that produced no response, by error code.', samples: (zone, f) => Object.entries(f.originErrorsByCode).sort().map(([code, n]) => [{ zone, code }, n]) },
  { name: 'edge_stale_if_error_total', type: 'counter', help: 'Stale responses served because the origin failed (stale-if-error).', samples: (zone, f) => [[{ zone }, f.staleIfErrorServed]] },
  { name: 'edge_requests_by_protocol_total', type: 'counter', help: 'Requests by how they arrived: http1 (plain), http1-tls, h2.', samples: (zone, f) => Object.entries(f.requestsByProtocol).sort().map(([protocol, n]) => [{ zone, protocol }, n]) },
  { name: 'edge_stale_while_revalidate_refreshes_total', type: 'counter', help: 'Background refreshes started for stale-while-revalidate.', samples: (zone, f) => [[{ zone }, f.staleWhileRevalidateRefreshes]] },
];

/** Gauges of each process of the edge (process.ts), labelled process="edge" | "primary" | "worker-N". */
const PROCESS_GAUGES: Array<{ name: string; help: string; value: (s: ProcessSample) => number }> = [
  { name: 'edge_process_resident_memory_bytes', help: 'Resident set size of the process.', value: (s) => s.rssBytes },
  { name: 'edge_process_heap_used_bytes', help: 'V8 heap taken by live objects.', value: (s) => s.heapUsedBytes },
  { name: 'edge_process_heap_committed_bytes', help: 'V8 heap reserved by the process.', value: (s) => s.heapCommittedBytes },
  { name: 'edge_process_external_memory_bytes', help: 'Memory held by JavaScript objects outside the V8 heap (Buffers among them).', value: (s) => s.externalBytes },
  { name: 'edge_process_array_buffer_bytes', help: 'Of the external memory, the backing stores of ArrayBuffers and Buffers.', value: (s) => s.arrayBufferBytes },
  { name: 'edge_memory_tier_bytes', help: 'What the process\'s memory cache tier holds: bodies, head room and metadata.', value: (s) => s.memoryTierBytes },
  { name: 'edge_memory_tier_objects', help: 'Objects in the process\'s memory cache tier.', value: (s) => s.memoryTierEntries },
];

export function renderPrometheus(snapshot: StatsSnapshot): string {
  const lines: string[] = [];
  const zones = Object.entries(snapshot.zones);
  for (const family of FAMILIES) {
    lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`);
    for (const [zone, { totals }] of zones) {
      if (family.type === 'histogram') {
        for (const [l, v] of family.samples(zone, totals)) lines.push(`${family.name}_bucket${labels(l)} ${v}`);
        lines.push(`${family.name}_sum${labels({ zone })} ${totals.originResponseMs.sum / 1000}`);
        lines.push(`${family.name}_count${labels({ zone })} ${totals.originResponses}`);
      } else {
        for (const [l, v] of family.samples(zone, totals)) lines.push(`${family.name}${labels(l)} ${v}`);
      }
    }
  }
  const processes = snapshot.processes ?? [];
  if (processes.length > 0) {
    for (const g of PROCESS_GAUGES) {
      lines.push(`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} gauge`);
      for (const s of processes) lines.push(`${g.name}${labels({ process: processLabel(s) })} ${g.value(s)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

