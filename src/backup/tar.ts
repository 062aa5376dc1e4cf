// A minimal POSIX ustar writer (regular files and directories), enough for `backup export`: readable
// by GNU tar, bsdtar and Python's tarfile. Written here because the format is 512-byte headers + data.
import { open, type FileHandle } from 'node:fs/promises';

export type TarEntry =
  | { type: 'dir'; name: string; mtime: Date }
  | { type: 'file'; name: string; mtime: Date; size: number; /** Local file holding exactly `size` bytes. */ source: string };

const BLOCK = 512;
const MAX_OCTAL_SIZE = 0o77777777777; // 11 octal digits: 8 GiB - 1

function writeString(buf: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new Error(`tar field too long: ${value}`);
  bytes.copy(buf, offset);
}

function writeOctal(buf: Buffer, offset: number, length: number, value: number): void {
  writeString(buf, offset, length, value.toString(8).padStart(length - 1, '0') + '\0');
}

/** Splits a path into ustar's name (100 bytes) and prefix (155 bytes) at a '/'. */
export function splitTarName(name: string): { name: string; prefix: string } {
  if (Buffer.byteLength(name) <= 100) return { name, prefix: '' };
  for (let i = name.lastIndexOf('/'); i > 0; i = name.lastIndexOf('/', i - 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest !== '') return { name: rest, prefix };
  }
  throw new Error(`path too long for a ustar archive: ${name}`);
}

export function tarHeader(entry: TarEntry): Buffer {
  const h = Buffer.alloc(BLOCK);
  const isDir = entry.type === 'dir';
  const { name, prefix } = splitTarName(isDir && !entry.name.endsWith('/') ? `${entry.name}/` : entry.name);
  writeString(h, 0, 100, name);
  writeOctal(h, 100, 8, isDir ? 0o755 : 0o644);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  const size = isDir ? 0 : entry.size;
  if (size <= MAX_OCTAL_SIZE) writeOctal(h, 124, 12, size);
  else {
    // GNU / POSIX-2001 readers accept base-256 sizes: high bit set, big-endian binary.
    h[124] = 0x80;
    h.writeBigUInt64BE(BigInt(size), 124 + 4);
  }
  writeOctal(h, 136, 12, Math.floor(entry.mtime.getTime() / 1000));
  h.write('        ', 148, 'ascii');
  h.write(isDir ? '5' : '0', 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  writeString(h, 345, 155, prefix);
  let sum = 0;
  for (const b of h) sum += b;
  writeString(h, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

/** Writes the entries to `file` (created or truncated). Each source must still hold its declared size. */
export async function writeTar(file: string, entries: Iterable<TarEntry> | AsyncIterable<TarEntry>): Promise<{ bytes: number }> {
  const out = await open(file, 'w', 0o644);
  let bytes = 0;
  try {
    const put = async (b: Buffer) => {
      await out.write(b);
      bytes += b.length;
    };
    for await (const e of entries) {
      await put(tarHeader(e));
      if (e.type === 'file') {
        await copyExactly(e.source, e.size, put);
        const pad = (BLOCK - (e.size % BLOCK)) % BLOCK;
        if (pad > 0) await put(Buffer.alloc(pad));
      }
    }
    await put(Buffer.alloc(BLOCK * 2));
    await out.sync();
  } finally {
    await out.close();
  }
  return { bytes };
}

async function copyExactly(source: string, size: number, put: (b: Buffer) => Promise<void>): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(source, 'r');
    const buf = Buffer.alloc(1024 * 1024);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - done), done);
      if (bytesRead === 0) throw new Error(`${source} is shorter than its recorded ${size} bytes`);
      await put(Buffer.from(buf.subarray(0, bytesRead)));
      done += bytesRead;
    }
  } finally {
    await fh?.close();
  }
}
