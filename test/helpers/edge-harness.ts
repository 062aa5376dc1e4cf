// Edge scenario set-up: a counting origin, an edge in front of it with a fake clock and its own temp
// cache folder, and a small HTTP client that sets the Host header of the zone.
import { rm } from 'node:fs/promises';
import { Agent, request } from 'undici';
import { startEdge } from '../../src/edge/server.ts';
import type { EdgeHandle, EdgeRuntimeOptions } from '../../src/edge/server.ts';
import type { OutcomeEvent } from '../../src/edge/handler.ts';
import type { ZoneConfigInput } from '../../src/config/edge-schema.ts';
import { emptyFigures, viewFigures } from '../../src/edge/stats/figures.ts';
import type { FiguresView } from '../../src/edge/stats/figures.ts';
import { startCountingOrigin } from './counting-origin.ts';
import type { CountingOrigin } from './counting-origin.ts';
import { tempDirSync } from './temp.ts';

export const ZONE = 'cdn.example.com';
/** The admin bearer token every harness edge accepts. */
export const ADMIN_TOKEN = 'edge-test-admin-token-0123456789';

export type Reply = { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer };

export type Harness = {
  origin: CountingOrigin;
  edge: EdgeHandle;
  cacheDir: string;
  /** Fake clock shared by origin (Date header) and edge; advance it to make entries stale. */
  clock: { now: number; advance(seconds: number): void };
  events: OutcomeEvent[];
  get(target: string, headers?: Record<string, string>): Promise<Reply>;
  /** Zone totals as the statistics hold them, once every response so far has been accounted. */
  totals(): Promise<FiguresView>;
  /** An authorised request to a control endpoint (/_mediacdn/...). */
  control(method: string, target: string, body?: unknown, token?: string): Promise<Reply>;
  send(method: string, target: string, headers?: Record<string, string>, body?: string): Promise<Reply>;
  /** Stops the edge and starts a new one on the same cache folder (a restart). */
  restart(over?: Partial<EdgeRuntimeOptions>): Promise<void>;
  close(): Promise<void>;
};

/** Sets up origin and edge; `zone` adds per-zone options to the one zone (ZONE → the counting origin). */
export async function startHarness(over: Partial<EdgeRuntimeOptions> = {}, zone: Partial<ZoneConfigInput> = {}): Promise<Harness> {
  const clock = {
    now: Date.UTC(2025, 5, 1, 12, 0, 0),
    advance(seconds: number) {
      this.now += seconds * 1000;
    },
  };
  const now = () => clock.now;
  const origin = await startCountingOrigin({ now });
  const cacheDir = tempDirSync('mediacdn-edge-');
  const events: OutcomeEvent[] = [];
  const options = (o: Partial<EdgeRuntimeOptions>): EdgeRuntimeOptions => ({
    host: '127.0.0.1',
    port: 0,
    cacheDir,
    zones: [{ host: ZONE, origin: origin.url, ...zone }],
    // Retries happen, but their backoff stays tiny (and jitter fixed) so tests never wait on it.
    retryBaseDelayMs: 1,
    retryMaxDelayMs: 2,
    random: () => 0.5,
    adminToken: ADMIN_TOKEN,
    now,
    onOutcome: (e) => events.push(e),
    ...o,
  });
  let edge = await startEdge(options(over));
  const agent = new Agent({ connections: 300, keepAliveTimeout: 10_000 });
  const send = async (method: string, target: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> => {
    const res = await request(`${h.edge.url}${target}`, { method: method as 'GET', headers: { host: ZONE, ...headers }, body, dispatcher: agent });
    const buf = Buffer.from(await res.body.arrayBuffer());
    return { status: res.statusCode, headers: res.headers, body: buf };
  };
  const h: Harness = {
    origin,
    edge,
    cacheDir,
    clock,
    events,
    get: (target, headers) => send('GET', target, headers),
    send,
    async totals() {
      // A response is accounted on its 'close' event, which can trail the client's receipt by a tick.
      const answered = () => h.events.length;
      for (let i = 0; i < 100; i++) {
        const t = h.edge.stats.snapshot().zones[ZONE]?.totals ?? viewFigures(emptyFigures());
        if (t.requests >= answered()) return t;
        await new Promise((r) => setImmediate(r));
      }
      throw new Error('statistics never caught up with the responses');
    },
    control(method, target, body, token = ADMIN_TOKEN) {
      return send(method, target, { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body === undefined ? undefined : JSON.stringify(body));
    },
    async restart(o = {}) {
      await h.edge.close();
      edge = await startEdge(options({ ...over, ...o }));
      h.edge = edge;
    },
    async close() {
      await agent.close();
      await h.edge.close();
      await origin.close();
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
  return h;
}

/** Deterministic bytes of a given size (distinct per seed). */
export function bytes(size: number, seed = 1): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 7 + seed * 13 + (i >> 8)) & 0xff;
  return b;
}
