import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { corsHeaders, preflightHeaders } from './cors.ts';

describe('cors: actual responses', () => {
  const rows: [name: string, origins: string[], origin: string | undefined, allow: string | undefined, vary: string | undefined][] = [
    ['off when no origins are configured', [], 'https://a.example', undefined, undefined],
    ['any origin with *', ['*'], 'https://a.example', '*', undefined],
    ['* also without an Origin field', ['*'], undefined, '*', undefined],
    ['a listed origin is echoed, with Vary', ['https://a.example', 'https://b.example'], 'https://b.example', 'https://b.example', 'Origin'],
    ['an unlisted origin gets nothing', ['https://a.example'], 'https://evil.example', undefined, undefined],
    ['a listed list without Origin field gets nothing', ['https://a.example'], undefined, undefined, undefined],
  ];
  for (const [name, origins, origin, allow, vary] of rows) {
    it(name, () => {
      const h = corsHeaders({ origins, maxAgeSeconds: 60 }, origin);
      assert.equal(h?.['access-control-allow-origin'], allow);
      assert.equal(h?.['vary'], vary);
      if (allow !== undefined) assert.match(h!['access-control-expose-headers'], /Content-Range/);
    });
  }
});

describe('cors: preflight', () => {
  const policy = { origins: ['https://a.example'], maxAgeSeconds: 600 };
  it('answers a preflight from an allowed origin', () => {
    const h = preflightHeaders(policy, 'OPTIONS', { origin: 'https://a.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'range, if-none-match' });
    assert.equal(h?.['access-control-allow-origin'], 'https://a.example');
    assert.equal(h?.['access-control-allow-headers'], 'range, if-none-match');
    assert.equal(h?.['access-control-max-age'], '600');
  });
  it('is not a preflight without Access-Control-Request-Method, or with another method', () => {
    assert.equal(preflightHeaders(policy, 'OPTIONS', { origin: 'https://a.example' }), undefined);
    assert.equal(preflightHeaders(policy, 'GET', { origin: 'https://a.example', 'access-control-request-method': 'GET' }), undefined);
  });
  it('refuses an unlisted origin and does not echo malformed header lists', () => {
    assert.equal(preflightHeaders(policy, 'OPTIONS', { origin: 'https://x.example', 'access-control-request-method': 'GET' }), undefined);
    const h = preflightHeaders(policy, 'OPTIONS', { origin: 'https://a.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'x\r\ny: 1' });
    assert.equal(h?.['access-control-allow-headers'], undefined);
  });
});
