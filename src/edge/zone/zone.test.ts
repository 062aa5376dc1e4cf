// How a request names its zone: one Host field, and over HTTP/2 the Host / :authority rule (RFC 9113 §8.3.1).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { hostFieldProblem, isValidHostField, zoneHostOf } from './zone.ts';

describe('hostFieldProblem', () => {
  it('accepts a Host that names the :authority\'s host, and either one alone', () => {
    assert.equal(hostFieldProblem([':method', 'GET', ':authority', 'cdn.example', ':path', '/']), undefined);
    assert.equal(hostFieldProblem(['host', 'cdn.example', ':path', '/']), undefined);
    assert.equal(hostFieldProblem([':authority', 'cdn.example', 'host', 'cdn.example']), undefined);
    assert.equal(hostFieldProblem([':authority', 'cdn.example:443', 'host', 'CDN.example.']), undefined);
  });

  it('refuses a Host that names another host, and several Host fields', () => {
    assert.equal(hostFieldProblem([':authority', 'cdn.example', 'host', 'other.example']), 'conflict');
    assert.equal(hostFieldProblem(['host', 'other.example', ':authority', 'cdn.example']), 'conflict');
    assert.equal(hostFieldProblem([':authority', 'cdn.example', 'host', '']), 'conflict');
    assert.equal(hostFieldProblem([':authority', 'cdn.example', 'host', 'cdn.example', 'Host', 'cdn.example']), 'several');
    // HTTP/1.1's fields as sent: only the count matters.
    assert.equal(hostFieldProblem(['Host', 'cdn.example', 'Accept', '*/*']), undefined);
    assert.equal(hostFieldProblem(['Host', 'cdn.example', 'HOST', 'other.example']), 'several');
  });

  it('never throws, and calls a conflict exactly when the host names differ (generated fields)', () => {
    const name = fc.oneof(fc.constantFrom(':authority', 'host', 'Host', ':path', 'x-a'), fc.string({ maxLength: 6 }));
    fc.assert(
      fc.property(fc.array(fc.tuple(name, fc.oneof(fc.constantFrom('cdn.example', 'CDN.example:8443', 'other.example', ''), fc.string({ maxLength: 12 }))), { maxLength: 8 }), (pairs) => {
        const raw = pairs.flat();
        const r = hostFieldProblem(raw);
        const hosts = pairs.filter(([n]) => n.toLowerCase() === 'host').map(([, v]) => v);
        const authorities = pairs.filter(([n]) => n === ':authority').map(([, v]) => v);
        if (hosts.length > 1) assert.equal(r, 'several');
        else if (hosts.length === 0 || authorities.length === 0) assert.equal(r, undefined);
        else assert.equal(r, zoneHostOf(hosts[0]) === zoneHostOf(authorities.at(-1)) ? undefined : 'conflict');
      }),
      { numRuns: 500 },
    );
  });
});

describe('zoneHostOf and isValidHostField, with what they keep', () => {
  it('answer the same before and after many made-up hosts, and for long ones', () => {
    const rows: Array<[string, string, boolean]> = [
      ['CDN.Example:8080', 'cdn.example', true],
      ['cdn.example.', 'cdn.example', true],
      ['[::1]:443', '[::1]', true],
      [' cdn.example ', 'cdn.example', false],
      ['a b', 'a b', false],
    ];
    const check = () => {
      for (const [field, host, valid] of rows) {
        assert.equal(zoneHostOf(field), host, field);
        assert.equal(isValidHostField(field), valid, field);
      }
    };
    check();
    for (let i = 0; i < 1000; i++) {
      assert.equal(zoneHostOf(`Made-Up-${i}.Example:${i}`), `made-up-${i}.example`);
      assert.equal(isValidHostField(`made-up-${i}.example`), true);
    }
    check();
    const long = `${'A'.repeat(300)}.example:1`;
    assert.equal(zoneHostOf(long), `${'a'.repeat(300)}.example`);
    assert.equal(zoneHostOf(long), `${'a'.repeat(300)}.example`);
    assert.equal(isValidHostField(long), true);
    assert.equal(isValidHostField(`${long} x`), false);
  });
});
