// What to answer a request that Node's parser refused (server 'clientError'): 431 for headers that
// are too large, 414 for a request line that is, 408 for headers that took too long, 400 otherwise;
// always a JSON `{code, message}` and Connection: close. Shared by the origin and the edge.
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';

export type ClientErrorAnswer = { status: 400 | 408 | 413 | 414 | 431; code: string; message: string };

type ParserError = Error & { code?: string; rawPacket?: Buffer; bytesParsed?: number };

/**
 * Node's parser counts the request line and the header fields against one limit (maxHeaderSize) and
 * reports both as HPE_HEADER_OVERFLOW. When the packet it was reading starts a request line that does
 * not end inside it, the target is what is too long: 414 (RFC 9110 §15.5.15). A target spread over
 * several earlier packets cannot be told from a long header field and gets 431.
 */
export function clientErrorAnswer(err: ParserError): ClientErrorAnswer {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      if (isOverlongRequestLine(err.rawPacket, err.bytesParsed)) return { status: 414, code: 'uri_too_long', message: 'the request target is too long' };
      return { status: 431, code: 'headers_too_large', message: 'the request header fields are too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'request_timeout', message: 'the request headers took too long to arrive' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, code: 'chunk_extensions_too_large', message: 'the chunk extensions are too large' };
    default:
      return { status: 400, code: 'bad_request', message: 'the request is not valid HTTP/1.1' };
  }
}

const REQUEST_LINE_START = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ [^ \r\n]/;

function isOverlongRequestLine(packet: Buffer | undefined, parsed: number | undefined): boolean {
  if (!packet) return false;
  const seen = packet.subarray(0, parsed ?? packet.length);
  return REQUEST_LINE_START.test(seen.subarray(0, 64).toString('latin1')) && !seen.includes(0x0a);
}

/** The raw response for a refused request. */
export function formatClientError(a: ClientErrorAnswer): string {
  const body = JSON.stringify({ code: a.code, message: a.message });
  return `HTTP/1.1 ${a.status} ${STATUS_CODES[a.status]}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\n\r\n${body}`;
}

/** How long a refused client may keep its half of the connection open after our answer. */
const LINGER_MS = 2000;

/**
 * A 'clientError' listener: answers when the socket is free to carry an answer (no response of ours
 * is in progress on it), ends it, and destroys it shortly after if the client keeps it open. Returns
 * the answer for logging.
 */
export function answerClientError(err: Error, socket: Duplex): ClientErrorAnswer | undefined {
  const inProgress = (socket as { _httpMessage?: unknown })._httpMessage;
  if ((err as ParserError).code === 'ECONNRESET' || !socket.writable || (inProgress !== undefined && inProgress !== null)) {
    socket.destroy();
    return undefined;
  }
  const answer = clientErrorAnswer(err);
  socket.end(formatClientError(answer));
  const linger = setTimeout(() => socket.destroy(), LINGER_MS);
  linger.unref();
  socket.once('close', () => clearTimeout(linger));
  return answer;
}
