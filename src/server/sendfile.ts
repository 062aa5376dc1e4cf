// The sendfile helper (native/sendfile.c, built at install by scripts/build-native.mjs): a response
// head and a slice of an open file written to a plain TCP socket by the kernel, without copying the
// bytes through this process. Loaded once; undefined when it was not built (no C compiler), and then
// callers copy bodies as before.
import { existsSync } from 'node:fs';
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
 * Bodies from SENDFILE_MIN up to SENDFILE_MAX go out with sendfile. Below, a copy costs less than the
 * call; above, the socket's buffer seldom takes the whole body at once, and the rest, copied through
 * the stream after it, made a 1 MiB hit cost 1.3-1.4x what copying all of it did (edge, held to half
 * a core), where 64 KiB ranges cost 0.9x and 256 KiB ranges 0.35x.
 */
export const SENDFILE_MIN = 64 * 1024;
export const SENDFILE_MAX = 512 * 1024;

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
