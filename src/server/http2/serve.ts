// Our own handling of plain HTTP/2 requests on a node:http2 secure server. Node's compatibility API
// wraps every stream in a Readable request, a response and socket proxies, and makes every response
// wait for a trailers event before its stream may end; for a cache's hits that is a third of the CPU
// of a request. A stream whose request has no body (its HEADERS frame ended it) with GET, HEAD or
// OPTIONS and no Expect is answered through message.ts, on the core stream API; every other stream
// (a body, CONNECT, Expect) goes to Node's own compatibility listener as before, so its behaviour,
// limits and refusals are unchanged. The HTTP/1.1 side of the server (allowHTTP1) is not touched.
import { constants } from 'node:http2';
import type { Http2SecureServer, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { Http2Request, Http2Response } from './message.ts';

export type Http2Handler = (req: Http2Request, res: Http2Response) => void;

type StreamListener = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => void;

const END_STREAM = constants.NGHTTP2_FLAG_END_STREAM;
const NO_ERROR = constants.NGHTTP2_NO_ERROR;

/** Methods whose bodiless requests are ours. */
function plainMethod(method: unknown): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

/**
 * Takes over the server's streams. Node adds its compatibility listener to 'stream' with the first
 * 'request' listener: add that first (the requests handed over arrive there).
 */
export function serveHttp2(server: Http2SecureServer, onRequest: Http2Handler): void {
  const compat = server.listeners('stream') as StreamListener[];
  if (compat.length !== 1) throw new Error(`serveHttp2: expected node:http2's compatibility listener on 'stream' (found ${compat.length}); add the 'request' listener first`);
  const handOver = compat[0];
  server.removeListener('stream', handOver);
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
    if ((flags & END_STREAM) === 0 || !plainMethod(headers[':method']) || headers.expect !== undefined || stream.session === undefined) {
      handOver.call(server, stream, headers, flags, rawHeaders);
      return;
    }
    const req = new Http2Request(stream, headers, rawHeaders);
    const res = new Http2Response(req, stream);
    (stream as Carrier)[RESPONSE] = res;
    // Listeners shared by every stream: no closures per request, and no once-wrappers ('finish' and
    // 'close' come once). Errors end the stream (its 'close' follows); the compatibility API ignores
    // them the same way. 'drain' is listened for by the response, only after a write it could not take.
    stream.on('error', ignore);
    stream.on('finish', onFinish);
    stream.on('close', onClose);
    onRequest(req, res);
  });
}

const RESPONSE = Symbol('response');
type Carrier = ServerHttp2Stream & { [RESPONSE]: Http2Response };

function ignore(): void {}

function onFinish(this: Carrier): void {
  this[RESPONSE].finished();
}

/**
 * Cut short: the client reset the stream, or it closed before its end was handed over. (A HEAD or
 * bodiless answer can close without the stream's 'finish': core ended it with the head.)
 */
function onClose(this: Carrier): void {
  const res = this[RESPONSE];
  res.notifyClose(!res.writableFinished && !(res.writableEnded && this.rstCode === NO_ERROR));
}
