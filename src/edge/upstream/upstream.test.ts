import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Upstream, errorCodeOf, isConnectionError } from './upstream.ts';
import { OriginUnreachableError, RequestHeadTooLargeError } from '../errors.ts';

describe('upstream retry backoff (exponential, equal jitter)', () => {
  const make = (random: number) =>
    new Upstream({ origin: 'http://127.0.0.1:9', connectTimeoutMs: 1, headersTimeoutMs: 1, bodyTimeoutMs: 1, connections: 1, retryBaseDelayMs: 100, retryMaxDelayMs: 1000, random: () => random });
  const rows: [attempt: number, random: number, ms: number][] = [
    [0, 0, 50],
    [0, 0.999999, 100],
    [1, 0, 100],
    [2, 0.5, 300],
    [3, 0, 400],
    [4, 0, 500],
    [10, 0.999999, 1000],
  ];
  for (const [attempt, random, ms] of rows) {
    it(`attempt ${attempt}, random ${random} → ${ms} ms`, async () => {
      const u = make(random);
      assert.equal(u.retryDelayMs(attempt), ms);
      await u.close();
    });
  }
});

describe('upstream error classification', () => {
  const rows: [name: string, err: unknown, code: string, connection: boolean][] = [
    ['refused', Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), 'ECONNREFUSED', true],
    ['reset inside an undici socket error', Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET', cause: Object.assign(new Error('r'), { code: 'ECONNRESET' }) }), 'ECONNRESET', true],
    ['socket closed without a cause', Object.assign(new Error('closed'), { code: 'UND_ERR_SOCKET' }), 'UND_ERR_SOCKET', true],
    ['connect timeout', Object.assign(new Error('t'), { code: 'UND_ERR_CONNECT_TIMEOUT' }), 'UND_ERR_CONNECT_TIMEOUT', true],
    ['head timeout is not a connection error', Object.assign(new Error('t'), { code: 'UND_ERR_HEADERS_TIMEOUT' }), 'UND_ERR_HEADERS_TIMEOUT', false],
    ['our wrapper keeps the inner code', new OriginUnreachableError('http://o', Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), 'ECONNREFUSED', true],
    ['no code', new Error('?'), 'unknown', false],
  ];
  for (const [name, err, code, connection] of rows) {
    it(name, () => {
      assert.equal(errorCodeOf(err), code);
      assert.equal(isConnectionError(err), connection);
    });
  }
});

describe('upstream head budget (never forward a head the upstream refuses)', () => {
  it('either refuses with 431 or the Node upstream accepts, for generated heads around its limit', async () => {
    const limit = 2048;
    const server = createServer({ maxHeaderSize: limit }, (req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const u = new Upstream({ origin, connectTimeoutMs: 1000, headersTimeoutMs: 5000, bodyTimeoutMs: 5000, connections: 4, maxHeaderBytes: limit });
    const field = fc.tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,30}$/), fc.stringMatching(/^[!-~]{0,400}$/));
    let refused = 0;
    let accepted = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(field, { maxLength: 12 }),
          fc.stringMatching(/^\/[a-z0-9/]{0,300}$/),
          fc.boolean(),
          fc.nat({ max: 2200 }),
          async (fields, target, withBody, padLength) => {
            const headers: Record<string, string> = { 'x-pad': 'p'.repeat(padLength) };
            for (const [name, value] of fields) if (!['host', 'connection', 'content-length', 'transfer-encoding', 'expect', 'upgrade', 'keep-alive', 'te', 'trailer'].includes(name)) headers[name] = value;
            const body = withBody ? Readable.from([Buffer.from('body')]) : undefined;
            try {
              const res = await u.request({ method: withBody ? 'POST' : 'GET', target, headers, body, clientIp: '203.0.113.9', zoneHost: 'cdn.example.com' });
              const text = await new Promise<string>((resolve, reject) => {
                const parts: Buffer[] = [];
                res.body.on('data', (c: Buffer) => parts.push(c));
                res.body.on('end', () => resolve(Buffer.concat(parts).toString()));
                res.body.on('error', reject);
              });
              assert.equal(res.status, 200, `the upstream refused a head the edge let through (${res.status})`);
              assert.equal(text, 'ok');
              accepted++;
            } catch (err) {
              if (!(err instanceof RequestHeadTooLargeError)) throw err;
              refused++;
            }
          },
        ),
        { numRuns: 150 },
      );
      // The generator reaches both sides of the limit.
      assert.ok(refused > 0 && accepted > 0, `refused ${refused}, accepted ${accepted}`);
    } finally {
      await u.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
