// h2load's summary as bench/lib/h2load.ts reads it: real output of nghttp2-client 1.52 (a timed run over
// TLS, a run of 304s, one of 404s, one whose connections were refused), and malformed text.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkProperty } from '../../test/helpers/property.ts';
import { parseH2loadOutput } from './h2load.ts';

/** h2load -t1 -c5 -m10 -D 2 https://localhost:9443/64k.bin (the end of its output). */
const TIMED = `TLS Protocol: TLSv1.3
Cipher: TLS_AES_256_GCM_SHA384
Server Temp Key: X25519 253 bits
Application protocol: h2
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 2.01s, 4375.00 req/s, 273.75MB/s
requests: 8750 total, 8800 started, 8750 done, 8750 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 8750 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 547.49MB (574088170) total, 171.44KB (175550) headers (space savings 90.96%), 546.88MB (573440000) data
                     min         max         mean         sd        +/- sd
time for request:     1.10ms    193.33ms     11.13ms     18.45ms    95.43%
time for connect:     3.24ms      5.87ms      4.58ms      1.03ms    60.00%
time to 1st byte:     8.65ms     10.38ms      9.52ms       679us    60.00%
req/s           :     861.64      891.58      871.60       11.71    80.00%
`;

/** h2load -t1 -c2 -m2 -n 40 -H 'if-modified-since: …' (every answer a 304). */
const NOT_MODIFIED = `finished in 239.35ms, 167.12 req/s, 3.83KB/s
requests: 40 total, 40 started, 40 done, 40 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 0 2xx, 40 3xx, 0 4xx, 0 5xx
traffic: 940B (940) total, 532B (532) headers (space savings 88.43%), 0B (0) data
                     min         max         mean         sd        +/- sd
time for request:      250us     70.36ms     23.00ms     23.43ms    85.00%
time for connect:     4.71ms      5.14ms      4.93ms       304us   100.00%
time to 1st byte:    29.97ms     75.55ms     52.76ms     32.23ms   100.00%
req/s           :      83.72       85.88       84.80        1.53   100.00%
`;

/** h2load -t1 -c2 -m2 -n 20 …/nothere (every answer a 404). */
const NOT_FOUND = `finished in 56.06ms, 356.74 req/s, 135.62KB/s
requests: 20 total, 20 started, 20 done, 0 succeeded, 20 failed, 0 errored, 0 timeout
status codes: 0 2xx, 0 3xx, 20 4xx, 0 5xx
traffic: 7.60KB (7786) total, 498B (498) headers (space savings 84.26%), 6.54KB (6700) data
                     min         max         mean         sd        +/- sd
time for request:     1.01ms     43.02ms     10.52ms     16.69ms    80.00%
time for connect:     2.46ms      2.73ms      2.59ms       192us   100.00%
time to 1st byte:    45.69ms     45.91ms     45.80ms       153us   100.00%
req/s           :     179.35      179.53      179.44        0.13   100.00%
`;

/** h2load -t1 -c2 -n 20 https://localhost:9999/x with nothing listening. */
const REFUSED = `starting benchmark...
spawning thread #0: 2 total client(s). 20 total requests

finished in 399us, 0.00 req/s, 0B/s
requests: 20 total, 0 started, 0 done, 0 succeeded, 20 failed, 20 errored, 0 timeout
status codes: 0 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 0B (0) total, 0B (0) headers (space savings 0.00%), 0B (0) data
                     min         max         mean         sd        +/- sd
time for request:        0us         0us         0us         0us     0.00%
time for connect:        0us         0us         0us         0us     0.00%
time to 1st byte:        0us         0us         0us         0us     0.00%
req/s           :       0.00        0.00        0.00        0.00   100.00%
`;

describe('parseH2loadOutput', () => {
  it('reads a timed run: time, requests done, bytes with headers and framing, mean and max per request', () => {
    const r = parseH2loadOutput(TIMED);
    assert.equal(r.seconds, 2.01);
    assert.equal(r.requests, 8750);
    assert.equal(r.bytes, 574088170);
    assert.equal(r.errors, 0);
    assert.ok(Math.abs(r.rps - 8750 / 2.01) < 1e-9);
    assert.ok(Math.abs(r.mbps - 574088170 / 2.01 / 1e6) < 1e-9);
    assert.equal(r.meanMs, 11.13);
    assert.equal(r.maxMs, 193.33);
    assert.ok(Number.isNaN(r.p50Ms) && Number.isNaN(r.p99Ms), 'h2load reports no percentiles');
    assert.equal(r.negotiated, 'TLSv1.3, TLS_AES_256_GCM_SHA384, X25519 253 bits, h2');
  });

  it('says nothing of TLS when h2load did not print all of it', () => {
    assert.equal(parseH2loadOutput(NOT_MODIFIED).negotiated, undefined);
    assert.equal(parseH2loadOutput(TIMED.replace(/^Cipher: .*\n/m, '')).negotiated, undefined);
    assert.equal(parseH2loadOutput(TIMED.replace('Cipher: TLS_AES_256_GCM_SHA384', 'Cipher: ')).negotiated, undefined);
  });

  it('reads durations in microseconds and milliseconds; 304s are no errors', () => {
    const r = parseH2loadOutput(NOT_MODIFIED);
    assert.equal(r.seconds, 0.23935);
    assert.equal(r.requests, 40);
    assert.equal(r.bytes, 940);
    assert.equal(r.errors, 0);
    assert.equal(r.meanMs, 23);
    assert.equal(r.maxMs, 70.36);
  });

  it('counts 4xx answers as errors', () => {
    const r = parseH2loadOutput(NOT_FOUND);
    assert.equal(r.requests, 20);
    assert.equal(r.errors, 20);
  });

  it('counts refused connections once (errored is part of failed)', () => {
    const r = parseH2loadOutput(REFUSED);
    assert.equal(r.requests, 0);
    assert.equal(r.errors, 20);
    assert.equal(r.rps, 0);
    assert.ok(Math.abs(r.seconds - 0.000399) < 1e-12);
  });

  const broken: [string, string, RegExp][] = [
    ['nothing', '', /no "finished in " line/],
    ['wrk output', 'Running 2s test @ https://localhost/\n  5373 requests in 2.17s, 337.73MB read\nRequests/sec:   2479.09\n', /no "finished in " line/],
    ['no traffic line', TIMED.replace(/^traffic:.*\n/m, ''), /no "traffic: " line/],
    ['a count missing', TIMED.replace(' 0 errored,', ''), /no "errored" count/],
    ['a count not a number', TIMED.replace('8750 done', 'many done'), /no "done" count/],
    ['a unit it does not know', TIMED.replace('finished in 2.01s', 'finished in 2.01h'), /not a duration/],
    ['a run of no time', TIMED.replace('finished in 2.01s', 'finished in 0us'), /took 0 s/],
    ['traffic without the exact figure', TIMED.replace('(574088170) ', ''), /unreadable "traffic" line/],
    ['a short latency line', TIMED.replace(/time for request:.*/, 'time for request: 1ms 2ms'), /unreadable "time for request" line/],
    ['a latency that is not a duration', TIMED.replace('11.13ms', 'n/a'), /not a duration/],
  ];
  for (const [name, text, error] of broken) {
    it(`refuses ${name}`, () => assert.throws(() => parseH2loadOutput(text), error));
  }

  it('throws only Errors on any text, and reads no negative or non-finite figure', () => {
    const line = fc.oneof(fc.string({ maxLength: 80 }), fc.constantFrom(...TIMED.split('\n')), fc.constantFrom('finished in 1s, 0 req/s, 0B/s', 'traffic: 1B (1) total,'));
    checkProperty(
      fc.property(fc.array(line, { maxLength: 20 }), (lines) => {
        try {
          const r = parseH2loadOutput(lines.join('\n'));
          for (const v of [r.requests, r.bytes, r.seconds, r.rps, r.mbps, r.errors, r.meanMs, r.maxMs]) assert.ok(Number.isFinite(v) && v >= 0, `figure ${v}`);
        } catch (err) {
          assert.ok(err instanceof Error, `threw ${String(err)}`);
        }
      }),
      { numRuns: 300 },
    );
  });
});
