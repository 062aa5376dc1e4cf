// The media lane (createMediaLane in src/origin/media-handler.ts) answers exactly as the media
// handler: two origins on one library, one with the lane and one without, get the same generated
// requests over keep-alive connections (whole files, ranges, 304s, other preconditions, HEAD, OPTIONS,
// missing and malformed names, HTTP/1.0, closing requests) and must send the same bytes, with the
// files held whole in memory and with a large file answered from its hot blocks. The lane must also
// have answered some of them. With the sendfile helper built, a third run keeps nothing in memory, so
// the lane sends the large file's bodies from 64 KiB up with sendfile (test/origin-sendfile.test.ts).
import assert from 'node:assert/strict';
import { unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import pino from 'pino';
import { startOrigin } from '../src/origin/server.ts';
import { mediaEtag } from '../src/origin/media-cache.ts';
import { formatHttpDate } from '../src/http/http-date.ts';
import { KeepAliveClient } from './helpers/keep-alive-client.ts';
import { makeWav, startTestOrigin } from './helpers/origin.ts';

type Request = { method: string; file: number; suffix: string; version: string; fields: [string, string][] };

/** Range values, with a placeholder for the requested file's size (SIZE). */
const range = fc.constantFrom('bytes=0-1', 'bytes=100-', 'bytes=-500', 'bytes=10-99999999', 'bytes=65530-65545', 'bytes=65536-131071', 'bytes=0-1,20-29', 'bytes=5-1', 'items=0-1', 'bytes=SIZE-');

/** Other fields, with placeholders for the requested file's validators (ETAG, LM, EARLIER). */
const field = fc.constantFrom<[string, string]>(
  ['If-None-Match', 'ETAG'], ['If-None-Match', 'W/ETAG'], ['If-None-Match', '"other"'], ['If-None-Match', '*'],
  ['If-Modified-Since', 'LM'], ['If-Modified-Since', 'EARLIER'], ['If-Unmodified-Since', 'EARLIER'], ['If-Unmodified-Since', 'LM'], ['If-Match', 'ETAG'], ['If-Match', '"other"'],
  ['If-Range', 'ETAG'], ['If-Range', '"other"'], ['If-Range', 'LM'], ['Connection', 'close'], ['Connection', 'keep-alive'], ['Origin', 'https://radio.example'],
);

const request: fc.Arbitrary<Request> = fc
  .record({
    method: fc.constantFrom('GET', 'GET', 'GET', 'GET', 'GET', 'GET', 'HEAD', 'OPTIONS'),
    file: fc.constantFrom(0, 0, 1, 1, 2),
    suffix: fc.constantFrom('', '', '', '?v=1'),
    version: fc.constantFrom('1.1', '1.1', '1.1', '1.1', '1.1', '1.0'),
    range: fc.option(range, { freq: 2 }),
    others: fc.uniqueArray(field, { maxLength: 2, selector: ([name]) => name.toLowerCase() }),
  })
  .map(({ range, others, ...r }) => ({ ...r, fields: range === null ? others : [['Range', range] as [string, string], ...others] }));

/** A few requests, sent again and again (the first answers load the records and the blocks). */
const sequence = fc.array(request, { minLength: 1, maxLength: 6 }).chain((pool) => fc.array(fc.nat(pool.length - 1).map((i) => pool[i]), { minLength: 10, maxLength: 40 }));

type File = { name: string; etag: string; lm: string; size: number };

function head(r: Request, files: File[]): string {
  const f = files[r.file];
  const earlier = formatHttpDate(Date.parse(f.lm) - 3600_000);
  const lines = [`${r.method} /media/${f.name}${r.suffix} HTTP/${r.version}`, 'Host: origin.test'];
  for (const [n, v] of r.fields) lines.push(`${n}: ${v.replace('ETAG', f.etag).replace('EARLIER', earlier).replace('LM', f.lm).replace('SIZE', String(f.size))}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

test('the media lane sends the same bytes as the media handler for generated requests', async (t) => {
  const big = path.join(os.tmpdir(), `mediacdn-origin-lane-${process.pid}.wav`);
  // ~300 KB: over the whole-file limit of the hot-block setting, so its ranges come from blocks.
  await writeFile(big, makeWav(3, { sampleRate: 22050, channels: 2 }));
  t.after(() => unlink(big).catch(() => {}));
  let laneAnswers = 0;
  for (const [label, settings] of [
    ['memory', {}],
    ['hot blocks', { memoryCacheMaxFileBytes: 128 * 1024 }],
    ['sendfile', { memoryCacheMaxFileBytes: 16 * 1024, memoryCacheBytes: 0 }],
  ] as const) {
    await t.test(label, async () => {
      const o = await startTestOrigin({ origin: settings });
      const plain = await startOrigin({ config: o.config, library: o.tl.lib, logger: pino({ level: 'silent' }), port: 0, host: '127.0.0.1', mediaLane: false });
      try {
        const items = [await o.add('tone-3s.mp3', { kind: 'song', title: 'Tone' }), await o.addPath(big)];
        const files: File[] = items.map((i) => ({ name: i.fileName, etag: mediaEtag(i.sha256), lm: formatHttpDate(Date.parse(i.createdAt)), size: i.byteSize }));
        // A name of the library's form that names no file.
        files.push({ name: 'abcdefghijklmnopqrst.mp3', etag: '"none"', lm: files[0].lm, size: 10 });
        const before = o.origin.mediaLaneAnswers();
        await fc.assert(
          fc.asyncProperty(sequence, async (requests) => {
            const clients = [o.origin, plain].map((s) => new KeepAliveClient(s.port));
            try {
              for (const r of requests) {
                const text = head(r, files);
                const answers = [];
                for (const c of clients) answers.push(await c.exchange(text, r.method));
                assert.equal(answers[0], answers[1], `answers differ for:\n${text}`);
              }
            } finally {
              for (const c of clients) c.close();
            }
          }),
          { numRuns: 150 },
        );
        assert.equal(plain.mediaLaneAnswers(), 0);
        laneAnswers += o.origin.mediaLaneAnswers() - before;
        const sent = o.origin.sendfileStats();
        if (label === 'sendfile' && sent.helper) assert.ok(sent.sendfileAnswers > 0 && sent.sendfileBytes > 0, `sendfile sent nothing: ${JSON.stringify(sent)}`);
        else if (label === 'memory') assert.equal(sent.sendfileAnswers, 0, 'a file held whole in memory went out with sendfile');
      } finally {
        await plain.close();
        await o.close();
      }
    });
  }
  assert.ok(laneAnswers > 0, 'the media lane answered no request');
});
