import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluatePreconditions, ifRangeAllowsPartial } from './conditional.ts';
import type { Validators } from './conditional.ts';
import type { Headers } from './types.ts';

const LM = Date.UTC(2024, 0, 15, 12, 0, 0, 500); // sub-second part must not matter
const AT = 'Mon, 15 Jan 2024 12:00:00 GMT';
const BEFORE = 'Mon, 15 Jan 2024 11:59:59 GMT';
const AFTER = 'Mon, 15 Jan 2024 12:00:01 GMT';
const FUTURE = 'Fri, 01 Jan 2100 00:00:00 GMT';
const V: Validators = { etag: '"v1"', lastModified: LM };
const WEAK: Validators = { etag: 'W/"v1"', lastModified: LM };

type Row = [string, string, Headers, Validators, 'proceed' | 'not-modified' | 'precondition-failed', boolean?];

test('evaluatePreconditions', async (t) => {
  const rows: Row[] = [
    ['no conditions', 'GET', {}, V, 'proceed'],
    // If-Match (strong)
    ['If-Match match', 'GET', { 'if-match': '"v1"' }, V, 'proceed'],
    ['If-Match in list', 'GET', { 'if-match': '"x", "v1"' }, V, 'proceed'],
    ['If-Match lines', 'GET', { 'if-match': ['"x"', '"v1"'] }, V, 'proceed'],
    ['If-Match mismatch', 'GET', { 'if-match': '"v2"' }, V, 'precondition-failed'],
    ['If-Match weak tag', 'GET', { 'if-match': 'W/"v1"' }, V, 'precondition-failed'],
    ['If-Match vs weak etag', 'GET', { 'if-match': '"v1"' }, WEAK, 'precondition-failed'],
    ['If-Match *', 'GET', { 'if-match': '*' }, V, 'proceed'],
    ['If-Match * missing', 'PUT', { 'if-match': '*' }, V, 'precondition-failed', false],
    ['If-Match no etag', 'GET', { 'if-match': '"v1"' }, { lastModified: LM }, 'precondition-failed'],
    ['If-Match garbage', 'GET', { 'if-match': 'v1' }, V, 'precondition-failed'],
    ['If-Match empty', 'GET', { 'if-match': '' }, V, 'precondition-failed'],
    ['If-Match empty array = absent', 'GET', { 'if-match': [] }, V, 'proceed'],
    // If-Unmodified-Since
    ['IUS same second', 'GET', { 'if-unmodified-since': AT }, V, 'proceed'],
    ['IUS after', 'GET', { 'if-unmodified-since': AFTER }, V, 'proceed'],
    ['IUS before', 'GET', { 'if-unmodified-since': BEFORE }, V, 'precondition-failed'],
    ['IUS before, POST', 'POST', { 'if-unmodified-since': BEFORE }, V, 'precondition-failed'],
    ['IUS ignored with If-Match', 'GET', { 'if-match': '"v1"', 'if-unmodified-since': BEFORE }, V, 'proceed'],
    ['IUS garbage ignored', 'GET', { 'if-unmodified-since': 'yesterday' }, V, 'proceed'],
    ['IUS list ignored', 'GET', { 'if-unmodified-since': [BEFORE, BEFORE] }, V, 'proceed'],
    ['IUS no date ignored', 'GET', { 'if-unmodified-since': BEFORE }, { etag: '"v1"' }, 'proceed'],
    // If-None-Match (weak)
    ['INM match GET', 'GET', { 'if-none-match': '"v1"' }, V, 'not-modified'],
    ['INM match HEAD', 'HEAD', { 'if-none-match': '"v1"' }, V, 'not-modified'],
    ['INM match POST', 'POST', { 'if-none-match': '"v1"' }, V, 'precondition-failed'],
    ['INM weak tag matches', 'GET', { 'if-none-match': 'W/"v1"' }, V, 'not-modified'],
    ['INM matches weak etag', 'GET', { 'if-none-match': '"v1"' }, WEAK, 'not-modified'],
    ['INM in list', 'GET', { 'if-none-match': '"a", W/"v1", "b"' }, V, 'not-modified'],
    ['INM mismatch', 'GET', { 'if-none-match': '"v2"' }, V, 'proceed'],
    ['INM *', 'GET', { 'if-none-match': '*' }, V, 'not-modified'],
    ['INM * missing', 'PUT', { 'if-none-match': '*' }, V, 'proceed', false],
    ['INM garbage', 'GET', { 'if-none-match': 'v1' }, V, 'proceed'],
    ['INM no etag', 'GET', { 'if-none-match': '"v1"' }, { lastModified: LM }, 'proceed'],
    ['INM mismatch beats IMS', 'GET', { 'if-none-match': '"v2"', 'if-modified-since': AT }, V, 'proceed'],
    ['INM garbage still disables IMS', 'GET', { 'if-none-match': 'v1', 'if-modified-since': AT }, V, 'proceed'],
    // If-Modified-Since
    ['IMS same second', 'GET', { 'if-modified-since': AT }, V, 'not-modified'],
    ['IMS after', 'HEAD', { 'if-modified-since': AFTER }, V, 'not-modified'],
    ['IMS before', 'GET', { 'if-modified-since': BEFORE }, V, 'proceed'],
    ['IMS in the future (RFC 9110 has no future rule)', 'GET', { 'if-modified-since': FUTURE }, V, 'not-modified'],
    ['IMS ignored for POST', 'POST', { 'if-modified-since': AT }, V, 'proceed'],
    ['IMS garbage', 'GET', { 'if-modified-since': 'garbage' }, V, 'proceed'],
    ['IMS two lines', 'GET', { 'if-modified-since': [AT, AT] }, V, 'proceed'],
    ['IMS two members', 'GET', { 'if-modified-since': `${AT}, ${AT}` }, V, 'proceed'],
    ['IMS RFC 850 form', 'GET', { 'if-modified-since': 'Monday, 15-Jan-24 12:00:00 GMT' }, V, 'not-modified'],
    ['IMS no date', 'GET', { 'if-modified-since': AT }, { etag: '"v1"' }, 'proceed'],
    ['IMS missing resource', 'GET', { 'if-modified-since': AT }, V, 'proceed', false],
    // precedence
    ['If-Match fail beats INM match', 'GET', { 'if-match': '"x"', 'if-none-match': '"v1"' }, V, 'precondition-failed'],
    ['IUS fail beats INM', 'GET', { 'if-unmodified-since': BEFORE, 'if-none-match': '"v1"' }, V, 'precondition-failed'],
    ['If-Match ok then INM match', 'GET', { 'if-match': '"v1"', 'if-none-match': '"v1"' }, V, 'not-modified'],
    ['IUS ok then IMS', 'GET', { 'if-unmodified-since': AT, 'if-modified-since': AT }, V, 'not-modified'],
  ];
  for (const [name, method, headers, v, want, exists] of rows) {
    await t.test(name, () => assert.deepEqual(evaluatePreconditions(method, headers, v, exists ?? true), { kind: want }));
  }
});

test('ifRangeAllowsPartial', async (t) => {
  const rows: Array<[string, string | string[] | undefined, Validators, boolean]> = [
    ['absent', undefined, V, true],
    ['strong etag match', '"v1"', V, true],
    ['strong etag match with OWS', ' "v1" ', V, true],
    ['strong etag mismatch', '"v2"', V, false],
    ['weak etag in If-Range', 'W/"v1"', V, false],
    ['representation etag is weak', '"v1"', WEAK, false],
    ['no etag on representation', '"v1"', { lastModified: LM }, false],
    ['date exact (second precision)', AT, V, true],
    ['date RFC 850 form', 'Monday, 15-Jan-24 12:00:00 GMT', V, true],
    ['date later is not exact', AFTER, V, false],
    ['date earlier', BEFORE, V, false],
    ['date but Last-Modified weak', AT, { ...V, lastModifiedWeak: true }, false],
    ['date but no Last-Modified', AT, { etag: '"v1"' }, false],
    ['garbage', 'yesterday', V, false],
    ['unterminated tag', '"v1', V, false],
    ['empty', '', V, false],
    ['two lines', ['"v1"', '"v1"'], V, false],
    ['one line array', ['"v1"'], V, true],
  ];
  for (const [name, header, v, want] of rows) await t.test(name, () => assert.equal(ifRangeAllowsPartial(header, v), want));
});
