// What a TLS listener writes outside TLS, on the TCP socket under the TLS one, before a handshake has
// finished: the alert for a server name it does not serve (Node's SNI callback can only end the
// connection) and an HTTP answer to plain HTTP sent to the https port. Shared by the edge's https
// listener and the origin's.
import net from 'node:net';
import type { Socket } from 'node:net';

/** The TCP socket a server-side TLSSocket wraps (Node keeps it as `_parent`). */
export function underlyingSocket(tlsSocket: unknown): Socket | undefined {
  const parent = (tlsSocket as { _parent?: unknown } | undefined)?._parent;
  return parent instanceof net.Socket ? parent : undefined;
}

/** Bytes written on the TCP socket under a TLS one, when it can still take them. */
export function writeUnderTls(tlsSocket: unknown, bytes: Buffer | string): void {
  const parent = underlyingSocket(tlsSocket);
  if (parent && !parent.destroyed && parent.writable) parent.write(bytes, () => {});
}

/**
 * The fatal unrecognized_name alert (RFC 6066 §3; level 2, description 112) in a TLS 1.2 record, as
 * sent before any version is agreed (TLS 1.3 keeps 0x0303 on its records).
 */
export const UNRECOGNIZED_NAME_ALERT = Buffer.from([21, 3, 3, 0, 2, 2, 112]);

const PLAIN_HTTP_ERRORS = new Set(['ERR_SSL_HTTP_REQUEST', 'ERR_SSL_HTTPS_PROXY_REQUEST']);
const PLAIN_HTTP_BODY = 'This port speaks https: the request was sent as plain HTTP. Use an https:// link.\n';
const PLAIN_HTTP_ANSWER =
  `HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(PLAIN_HTTP_BODY)}\r\n` +
  `cache-control: no-store\r\nconnection: close\r\n\r\n${PLAIN_HTTP_BODY}`;

/**
 * For a TLS server's 'tlsClientError': plain HTTP sent to the port (OpenSSL recognises a request line,
 * or CONNECT) is answered with a 400 that says so, as nginx does, rather than an empty reply. Returns
 * whether it was plain HTTP.
 */
export function answerPlainHttp(err: Error, tlsSocket: unknown): boolean {
  if (!PLAIN_HTTP_ERRORS.has((err as NodeJS.ErrnoException).code ?? '')) return false;
  writeUnderTls(tlsSocket, PLAIN_HTTP_ANSWER);
  return true;
}
