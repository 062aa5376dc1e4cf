import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientErrorAnswer, formatClientError } from './client-error.ts';
import { connectionsCheckingInterval } from './slow-client.ts';

const parserError = (code: string, packet?: string, parsed?: number) => Object.assign(new Error('Parse Error'), { code, rawPacket: packet === undefined ? undefined : Buffer.from(packet, 'latin1'), bytesParsed: parsed });

test('clientErrorAnswer: status and code for each kind of refused request', () => {
  const rows: Array<[string, ReturnType<typeof parserError>, number, string]> = [
    ['long target in one packet', parserError('HPE_HEADER_OVERFLOW', `GET /${'a'.repeat(20000)}`), 414, 'uri_too_long'],
    ['long target, absolute form', parserError('HPE_HEADER_OVERFLOW', `GET http://x/${'a'.repeat(20000)}`), 414, 'uri_too_long'],
    ['long header after the request line', parserError('HPE_HEADER_OVERFLOW', `GET / HTTP/1.1\r\nX: ${'a'.repeat(20000)}`), 431, 'headers_too_large'],
    ['continuation packet: cannot tell', parserError('HPE_HEADER_OVERFLOW', 'a'.repeat(1000)), 431, 'headers_too_large'],
    ['line end after the parse position does not count', parserError('HPE_HEADER_OVERFLOW', `GET /${'a'.repeat(100)}\r\n`, 50), 414, 'uri_too_long'],
    ['no packet', parserError('HPE_HEADER_OVERFLOW'), 431, 'headers_too_large'],
    ['header deadline', parserError('ERR_HTTP_REQUEST_TIMEOUT'), 408, 'request_timeout'],
    ['chunk extensions', parserError('HPE_CHUNK_EXTENSIONS_OVERFLOW'), 413, 'chunk_extensions_too_large'],
    ['anything else', parserError('HPE_INVALID_METHOD', 'HELLO'), 400, 'bad_request'],
    ['no code', new Error('x') as ReturnType<typeof parserError>, 400, 'bad_request'],
  ];
  for (const [what, err, status, code] of rows) {
    const a = clientErrorAnswer(err);
    assert.deepEqual([a.status, a.code], [status, code], what);
  }
});

test('formatClientError: a complete HTTP/1.1 response with an exact Content-Length that closes', () => {
  const text = formatClientError({ status: 431, code: 'headers_too_large', message: 'too large' });
  const [head, body] = text.split('\r\n\r\n');
  assert.match(head, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
  assert.match(head, /\r\nconnection: close(\r\n|$)/);
  assert.equal(Number(/content-length: (\d+)/.exec(head)?.[1]), Buffer.byteLength(body));
  assert.deepEqual(JSON.parse(body), { code: 'headers_too_large', message: 'too large' });
});

test('connectionsCheckingInterval: a quarter of the header deadline, within 50 ms and 1 s', () => {
  assert.deepEqual([100, 300, 2000, 10_000, 60_000].map(connectionsCheckingInterval), [50, 75, 500, 1000, 1000]);
});
