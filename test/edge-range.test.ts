// Edge scenarios: Range requests answered with the origin's semantics, on a miss (from the filling
// object, as soon as the bytes arrive) and on a hit, from the memory and the disk tier.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { ZONE, bytes, startHarness } from './helpers/edge-harness.ts';
import type { Harness } from './helpers/edge-harness.ts';
import { readWholeThenRange } from './helpers/pipelined.ts';

const SIZE = 200_000;
const BODY = bytes(SIZE, 9);
const HEADERS = { 'cache-control': 'max-age=600', etag: '"r1"', 'content-type': 'audio/ogg', 'last-modified': 'Sun, 01 Jun 2025 10:00:00 GMT' };

for (const tier of ['memory', 'disk'] as const) {
  describe(`edge: ranges (${tier} tier)`, () => {
    let h: Harness;
    before(async () => {
      // memoryCacheBytes 0 sends every hit to the disk tier.
      h = await startHarness(tier === 'disk' ? { memoryCacheBytes: 0 } : {});
      h.origin.route('/r.ogg', { headers: HEADERS, body: BODY });
    });
    after(() => h.close());

    it('answers a range on a miss with one full fetch upstream (no Range sent)', async () => {
      const r = await h.get('/r.ogg', { range: 'bytes=1000-1999' });
      assert.equal(r.status, 206);
      assert.equal(r.headers['x-cache'], 'MISS');
      assert.equal(r.headers['content-range'], `bytes 1000-1999/${SIZE}`);
      assert.ok(r.body.equals(BODY.subarray(1000, 2000)));
      assert.equal(h.origin.count('/r.ogg'), 1);
      assert.equal(h.origin.requests[0].headers['range'], undefined);
    });

    it('answers single, suffix and open ranges on a hit', async () => {
      if (tier === 'disk') {
        // A restart leaves only the disk tier to answer from.
        await h.restart();
        assert.equal(h.edge.usage().disk?.entries, 1);
        assert.equal(h.edge.usage().memory, undefined);
      }
      const cases: [string, number, number][] = [
        ['bytes=0-0', 0, 0],
        ['bytes=-500', SIZE - 500, SIZE - 1],
        ['bytes=150000-', 150000, SIZE - 1],
        ['bytes=199999-300000', 199999, SIZE - 1],
      ];
      for (const [range, start, end] of cases) {
        const r = await h.get('/r.ogg', { range });
        assert.equal(r.status, 206, range);
        assert.equal(r.headers['x-cache'], 'HIT');
        assert.equal(r.headers['content-range'], `bytes ${start}-${end}/${SIZE}`);
        assert.equal(r.headers['content-type'], 'audio/ogg');
        assert.ok(r.body.equals(BODY.subarray(start, end + 1)), range);
      }
      assert.equal(h.origin.count('/r.ogg'), 1);
    });

    it('answers an object of several MiB whole and in ranges on either side of 1 MiB (read at once or streamed)', async () => {
      const size = 2_600_000;
      const big = bytes(size, 11);
      h.origin.route('/big.ogg', { headers: HEADERS, body: big });
      assert.ok((await h.get('/big.ogg')).body.equals(big));
      if (tier === 'disk') await h.restart();
      const whole = await h.get('/big.ogg');
      assert.equal(whole.headers['x-cache'], 'HIT');
      assert.ok(whole.body.equals(big), 'whole');
      const cases: [number, number][] = [[0, 262_143], [100_000, 100_000 + 1024 * 1024 - 1], [100_000, 100_000 + 1024 * 1024], [1_000_000, size - 1]];
      for (const [start, end] of cases) {
        const r = await h.get('/big.ogg', { range: `bytes=${start}-${end}` });
        assert.equal(r.status, 206);
        assert.equal(r.headers['content-range'], `bytes ${start}-${end}/${size}`);
        assert.ok(r.body.equals(big.subarray(start, end + 1)), `${start}-${end}`);
      }
      const multi = await h.get('/big.ogg', { range: 'bytes=0-9,2000000-2000009' });
      assert.equal(multi.status, 206);
      assert.ok(multi.body.toString('latin1').includes(big.subarray(2_000_000, 2_000_010).toString('latin1')));
      assert.equal(h.origin.count('/big.ogg'), 1);
    });

    // Only the disk tier reads ranges into buffers; the memory tier sends slices of the stored one.
    if (tier === 'disk') it('a range read into a pooled buffer keeps its bytes while it waits behind another answer to a client that is not reading', async () => {
      // 16 MiB: more than the loopback buffers hold, so the whole answer stays unfinished while the
      // client does not read, and the range pipelined behind it waits in memory.
      const size = 16 * 1024 * 1024;
      const big = bytes(size, 13);
      h.origin.route('/pipelined.ogg', { headers: HEADERS, body: big });
      assert.ok((await h.get('/pipelined.ogg')).body.equals(big));
      await h.restart(); // from the disk tier's file from now on, not from the fill's memory
      const slice: [number, number] = [5_000_000, 5_000_000 + 700_000 - 1];
      const u = new URL(h.edge.url);
      const slow = net.connect(Number(u.port), u.hostname);
      slow.pause();
      await new Promise<void>((resolve) => slow.once('connect', () => resolve()));
      slow.write(`GET /pipelined.ogg HTTP/1.1\r\nHost: ${ZONE}\r\n\r\nGET /pipelined.ogg HTTP/1.1\r\nHost: ${ZONE}\r\nRange: bytes=${slice[0]}-${slice[1]}\r\n\r\n`);
      // Meanwhile other clients' ranges are read into pooled buffers on the disk tier: in one go each
      // (600 kB), or streamed in 256 KiB pieces (2 MB), the size of the pieces the whole answer is sent in.
      for (let round = 0; round < 6; round++) {
        await Promise.all(
          Array.from({ length: 16 }, async (_, i) => {
            const start = 1_000_000 + ((round * 16 + i) * 104_729) % 8_000_000;
            const length = i % 2 === 0 ? 600_000 : 2_000_000;
            const r = await h.get('/pipelined.ogg', { range: `bytes=${start}-${start + length - 1}` });
            assert.ok(r.body.equals(big.subarray(start, start + length)));
          }),
        );
      }
      const got = await readWholeThenRange(slow, size, 700_000);
      assert.ok(got.whole.equals(big), 'the whole answer, streamed from the file, holds its own bytes');
      assert.ok(got.range.equals(big.subarray(slice[0], slice[1] + 1)), 'the pipelined range holds its own bytes');
    });

    it('answers a multi-range request with multipart/byteranges', async () => {
      const r = await h.get('/r.ogg', { range: 'bytes=0-9,100-109' });
      assert.equal(r.status, 206);
      const ct = String(r.headers['content-type']);
      const boundary = /boundary=("?)([^";]+)\1/.exec(ct)?.[2];
      assert.ok(ct.startsWith('multipart/byteranges') && boundary);
      const text = r.body.toString('latin1');
      assert.ok(text.includes(`Content-Range: bytes 0-9/${SIZE}`));
      assert.ok(text.includes(`Content-Range: bytes 100-109/${SIZE}`));
      assert.ok(text.includes(BODY.subarray(100, 110).toString('latin1')));
      assert.equal(Number(r.headers['content-length']), r.body.length);
    });

    it('answers 416 for an unsatisfiable range', async () => {
      const r = await h.get('/r.ogg', { range: `bytes=${SIZE}-` });
      assert.equal(r.status, 416);
      assert.equal(r.headers['content-range'], `bytes */${SIZE}`);
    });

    it('honours If-Range: a matching ETag gives the range, another one the whole object', async () => {
      const yes = await h.get('/r.ogg', { range: 'bytes=5-9', 'if-range': '"r1"' });
      assert.equal(yes.status, 206);
      assert.ok(yes.body.equals(BODY.subarray(5, 10)));
      const no = await h.get('/r.ogg', { range: 'bytes=5-9', 'if-range': '"other"' });
      assert.equal(no.status, 200);
      assert.equal(no.body.length, SIZE);
    });

    it('ignores a malformed Range header (sirv died on bytes=5-1)', async () => {
      const r = await h.get('/r.ogg', { range: 'bytes=5-1' });
      assert.ok(r.status === 200 || r.status === 416);
      const ok = await h.get('/r.ogg');
      assert.equal(ok.status, 200);
    });
  });
}

describe('edge: range on a miss is answered as soon as its bytes arrive', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('sends the first bytes of the object while the origin still holds the rest', async () => {
    const body = bytes(400_000, 10);
    let finish: () => void = () => {};
    let held: ServerResponse | undefined;
    h.origin.route('/big.ogg', (_req, res) => {
      held = res;
      res.writeHead(200, { 'content-length': String(body.length), 'cache-control': 'max-age=600' });
      res.write(body.subarray(0, 100_000));
      finish = () => res.end(body.subarray(100_000));
    });
    const agent = new Agent();
    try {
      const res = await request(`${h.edge.url}/big.ogg`, { headers: { host: ZONE, range: 'bytes=1000-1999' }, dispatcher: agent });
      assert.equal(res.statusCode, 206);
      const got = Buffer.from(await res.body.arrayBuffer());
      assert.ok(got.equals(body.subarray(1000, 2000)));
      assert.equal(held?.writableEnded, false, 'range answered before the origin finished');
      finish();
      // A range past what has arrived waits for it and is then correct too.
      const late = await h.get('/big.ogg', { range: 'bytes=399990-' });
      assert.ok(late.body.equals(body.subarray(399_990)));
      assert.equal(h.origin.count('/big.ogg'), 1);
    } finally {
      await agent.close();
    }
  });
});
