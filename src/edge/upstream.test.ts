import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Upstream, errorCodeOf, isConnectionError } from './upstream.ts';
import { OriginUnreachableError } from './errors.ts';

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
