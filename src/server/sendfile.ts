// The sendfile helper (native/sendfile.c, built at install by scripts/build-native.mjs): a response
// head and a slice of an open file written to a plain TCP socket by the kernel, without copying the
// bytes through this process. Loaded once; undefined when it was not built (no C compiler), and then
// callers copy bodies as before.
import { existsSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Socket } from 'node:net';

/**
 * Writes `head` then bytes [offset, offset + count) of `fileFd` to `socketFd` as far as the socket's
 * buffer takes them; returns how many bytes of the two it wrote (possibly fewer, 0 when the buffer is
 * full), or -errno when it could write nothing for another reason.
 */
export type SendHeadAndFile = (socketFd: number, head: Buffer, fileFd: number, offset: number, count: number) => number;

/**
 * Bodies from SENDFILE_MIN go out with sendfile: below, a copy costs less than the call. What the
 * socket's buffer does not take at once follows through the stream when it is short (COPY_REST_MAX),
 * else by sendfile as the buffer empties (sendFileTail). Before that, bodies stopped at 512 KiB: a
 * 1 MiB edge hit whose rest was written from memory through the stream cost 1.3-1.4x what writing all
 * of it from memory did. Measured with wrk, free, CPU-s per GB in one run: a 1 MiB edge hit 0.12
 * (from memory 0.22; nginx proxy_cache with sendfile 0.11); a whole 32 MiB file from the origin 0.11
 * (read and written through the process 0.36; nginx static with sendfile 0.08).
 */
export const SENDFILE_MIN = 64 * 1024;

export const SENDFILE_ADDON = path.join(import.meta.dirname, '..', '..', 'build', 'sendfile.node');

let loaded: SendHeadAndFile | null | undefined;

/** The helper, or undefined when build/sendfile.node is not there (a load error is thrown: a broken build is a fault). */
export function sendfileHelper(): SendHeadAndFile | undefined {
  if (loaded === undefined) {
    if (!existsSync(SENDFILE_ADDON)) loaded = null;
    else {
      const addon = createRequire(import.meta.url)(SENDFILE_ADDON) as { sendHeadAndFile?: unknown };
      if (typeof addon.sendHeadAndFile !== 'function') throw new Error(`${SENDFILE_ADDON} has no sendHeadAndFile: rebuild it (npm rebuild, or node scripts/build-native.mjs)`);
      loaded = addon.sendHeadAndFile as SendHeadAndFile;
    }
  }
  return loaded ?? undefined;
}

/**
 * The descriptor of a plain TCP socket whose stream has nothing queued or corked, so bytes the kernel
 * is given directly follow everything written before; undefined otherwise (TLS, a pipe, a socket
 * writing or closing).
 */
export function idleSocketFd(socket: Socket): number | undefined {
  if (socket.writableLength !== 0 || socket.writableCorked !== 0 || socket.destroyed || (socket as { encrypted?: boolean }).encrypted === true) return undefined;
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * `head`, then `length` bytes of `fileFd` from `start`, on `socket` by the helper, when the socket is
 * a plain one with nothing queued; a part of the head the socket's buffer did not take is queued in
 * its stream (a copy of it). Returns how many body bytes went out (the caller writes the rest after them), or
 * undefined when nothing was written and the caller answers as usual.
 */
export function sendHeadAndSlice(socket: Socket, sendfile: SendHeadAndFile, head: Buffer, fileFd: number, start: number, length: number): number | undefined {
  const socketFd = idleSocketFd(socket);
  if (socketFd === undefined) return undefined;
  const sent = sendfile(socketFd, head, fileFd, start, length);
  // Nothing written (a broken connection, or a file system without sendfile).
  if (sent <= 0) return undefined;
  // (A copy: a head's bytes may be rewritten for the next answer, RangeHeads, before these go out.)
  if (sent < head.length) socket.write(Buffer.from(head.subarray(sent)));
  return Math.max(0, sent - head.length);
}

/**
 * A rest the socket's buffer did not take, up to this size, is written through the stream at once
 * (read from the file, or from memory); a longer one is sent from the file as the buffer empties
 * (sendFileTail).
 */
export const COPY_REST_MAX = 64 * 1024;

/**
 * Bytes written through the stream to learn when a socket's buffer has room again (libuv tells a
 * handle's owner nothing else): the next bytes of the body, read from the file, after which the
 * kernel sends on from the file.
 */
export const TAIL_KICK = 16 * 1024;

/** How a file's tail ended: sent whole, the file ended first (`error`: or could not be read), or the socket failed or closed. */
export type TailEnd = { kind: 'sent' } | { kind: 'file'; error: unknown } | { kind: 'socket'; error: Error | undefined };

/**
 * Bytes [from, end] of `fileFd` on `socket`, after whatever was written to it before, by sendfile
 * each time the socket's buffer has room: a few KiB of the body (TAIL_KICK) are read and written
 * through the stream, whose callback comes once the socket took them, then the helper sends on as far
 * as the buffer takes; and so on until the last byte, or until the file ends short (the caller's head
 * promised more: it closes the connection) or the socket fails. Nothing else may write to the socket
 * meanwhile (the connection is held: serve.ts AnswerHold). With `held`, the same bytes in memory at
 * the file's offsets (the edge's memory tier), the kicks are slices of it instead of reads. `done` is
 * called once, never before this returns; `sent` counts the bytes the kernel sent from the file.
 */
export function sendFileTail(socket: Socket, sendfile: SendHeadAndFile, fileFd: number, from: number, end: number, done: (how: TailEnd, sent: number) => void, held?: Buffer): void {
  let at = from;
  let bySendfile = 0;
  // One buffer for every kick of this tail: the socket is done with it when its write's callback comes.
  // (A new one each time would be memory outside V8's heap at every turn, which brings on its full collections.)
  const buffer = held === undefined ? Buffer.allocUnsafeSlow(Math.min(TAIL_KICK, end - from + 1)) : undefined;
  const kick = (): void => {
    const length = Math.min(TAIL_KICK, end - at + 1);
    let bytes: Buffer;
    if (held !== undefined) bytes = held.subarray(at, at + length);
    else {
      bytes = (buffer as Buffer).subarray(0, length);
      let got: number;
      try {
        got = readFully(fileFd, bytes, at);
      } catch (error) {
        process.nextTick(done, { kind: 'file', error }, bySendfile);
        return;
      }
      if (got !== length) {
        process.nextTick(done, { kind: 'file', error: undefined }, bySendfile);
        return;
      }
    }
    at += length;
    socket.write(bytes, (err) => (err ? done({ kind: 'socket', error: err }, bySendfile) : more()));
  };
  const more = (): void => {
    if (at > end) return done({ kind: 'sent' }, bySendfile);
    const fd = idleSocketFd(socket);
    if (fd === undefined) return done({ kind: 'socket', error: undefined }, bySendfile);
    const n = sendfile(fd, EMPTY, fileFd, at, end - at + 1);
    if (n < 0) return done({ kind: 'socket', error: new Error(`sendfile failed: errno ${-n}`) }, bySendfile);
    at += n;
    bySendfile += n;
    if (at > end) return done({ kind: 'sent' }, bySendfile);
    // The buffer is full (or the file ended: the kick's read says which).
    kick();
  };
  kick();
}

const EMPTY = Buffer.alloc(0);

/** Fills `bytes` from `fd` at `position` with positioned reads, at once; fewer bytes when the file ends first. Throws what the read throws. */
export function readFully(fd: number, bytes: Buffer, position: number): number {
  let got = 0;
  while (got < bytes.length) {
    const n = readSync(fd, bytes, got, bytes.length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}
