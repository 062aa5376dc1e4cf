// Demo content that `mediacdn up` adds to an empty library so a new install plays at once:
// short generated tones (WAV) as songs and announcements and a generated looping GIF background.
// Everything is made here from arithmetic; nothing is downloaded or copied from elsewhere.
import { Readable } from 'node:stream';
import { ingest } from './ingest.ts';
import type { Library, MediaItem, Metadata } from './library.ts';
import { wavHeader } from './wav.ts';

const RATE = 22_050;

/** A mono 16-bit PCM WAV of the given notes (Hz, seconds), each with a short fade to avoid clicks. */
export function toneWav(notes: ReadonlyArray<readonly [number, number]>, volume = 0.3): Buffer {
  const total = notes.reduce((n, [, s]) => n + Math.round(s * RATE), 0);
  const buf = Buffer.alloc(44 + total * 2);
  wavHeader(total * 2, { sampleRate: RATE, channels: 1, bitsPerSample: 16 }).copy(buf);
  let off = 44;
  for (const [freq, seconds] of notes) {
    const n = Math.round(seconds * RATE);
    const fade = Math.min(n / 4, RATE * 0.02);
    for (let i = 0; i < n; i++) {
      const env = Math.min(1, i / fade, (n - i) / fade);
      const s = freq > 0 ? Math.sin((2 * Math.PI * freq * i) / RATE) * env * volume : 0;
      buf.writeInt16LE(Math.round(s * 32767), off);
      off += 2;
    }
  }
  return buf;
}

/**
 * An animated, looping GIF89a of `frames` frames, each a vertical gradient shifted in hue.
 * Pixels are written as 7-bit LZW codes with a clear code every 126 codes, so the table never grows:
 * valid for every decoder, with no compression to get wrong.
 */
export function loopGif(width: number, height: number, frames: number, delayCs = 12): Buffer {
  const parts: Buffer[] = [];
  const header = Buffer.alloc(13);
  header.write('GIF89a', 0, 'ascii');
  header.writeUInt16LE(width, 6);
  header.writeUInt16LE(height, 8);
  header[10] = 0xf0 | 6; // global colour table of 128 entries
  parts.push(header);
  const palette = Buffer.alloc(128 * 3);
  for (let i = 0; i < 128; i++) {
    const t = i / 127;
    palette[i * 3] = Math.round(20 + 60 * t);
    palette[i * 3 + 1] = Math.round(30 + 120 * Math.sin(Math.PI * t) ** 2);
    palette[i * 3 + 2] = Math.round(90 + 150 * (1 - t));
  }
  parts.push(palette);
  // NETSCAPE2.0 extension: loop forever.
  parts.push(Buffer.from([0x21, 0xff, 0x0b, ...Buffer.from('NETSCAPE2.0', 'ascii'), 0x03, 0x01, 0x00, 0x00, 0x00]));
  for (let f = 0; f < frames; f++) {
    parts.push(Buffer.from([0x21, 0xf9, 0x04, 0x04, delayCs & 0xff, delayCs >> 8, 0x00, 0x00]));
    const desc = Buffer.alloc(10);
    desc[0] = 0x2c;
    desc.writeUInt16LE(width, 5);
    desc.writeUInt16LE(height, 7);
    parts.push(desc);
    const pixels: number[] = [];
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const v = (y / height + x / (width * 4) + f / frames) % 1;
        pixels.push(Math.floor((v < 0.5 ? v * 2 : 2 - v * 2) * 127));
      }
    }
    parts.push(Buffer.from([7]), subBlocks(lzw7(pixels)), Buffer.from([0]));
  }
  parts.push(Buffer.from([0x3b]));
  return Buffer.concat(parts);
}

function lzw7(pixels: number[]): Buffer {
  const clear = 128;
  const end = 129;
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  const put = (code: number) => {
    acc |= code << bits;
    bits += 8; // code size is min code size + 1 = 8 bits while the table stays below 256 entries
    while (bits >= 8) {
      out.push(acc & 0xff);
      acc >>= 8;
      bits -= 8;
    }
  };
  put(clear);
  pixels.forEach((p, i) => {
    if (i > 0 && i % 126 === 0) put(clear);
    put(p);
  });
  put(end);
  if (bits > 0) out.push(acc & 0xff);
  return Buffer.from(out);
}

function subBlocks(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += 255) {
    const chunk = data.subarray(i, i + 255);
    parts.push(Buffer.from([chunk.length]), chunk);
  }
  return Buffer.concat(parts);
}

const C = 261.63, D = 293.66, E = 329.63, F = 349.23, G = 392.0, A = 440.0, B = 493.88, C2 = 523.25;

const DEMO: ReadonlyArray<{ bytes: () => Buffer; type: string; meta: Metadata }> = [
  { bytes: () => toneWav([[C, 0.5], [E, 0.5], [G, 0.5], [C2, 1], [G, 0.5], [E, 0.5], [C, 1.5]]), type: 'audio/wav', meta: { kind: 'song', title: 'Demo: Rising Arpeggio', artist: 'mediacdn demo', album: 'Generated Tones' } },
  { bytes: () => toneWav([[A, 0.75], [G, 0.75], [F, 0.75], [E, 0.75], [D, 0.75], [C, 1.5]]), type: 'audio/wav', meta: { kind: 'song', title: 'Demo: Falling Scale', artist: 'mediacdn demo', album: 'Generated Tones' } },
  { bytes: () => toneWav([[E, 0.4], [0, 0.1], [E, 0.4], [0, 0.1], [F, 0.4], [G, 0.8], [F, 0.4], [E, 0.4], [D, 0.8], [C, 1.2]]), type: 'audio/wav', meta: { kind: 'song', title: 'Demo: Little Tune', artist: 'mediacdn demo', album: 'Generated Tones' } },
  { bytes: () => toneWav([[B, 0.15], [0, 0.1], [B, 0.15], [0, 0.1], [E, 0.6]], 0.25), type: 'audio/wav', meta: { kind: 'announcement', title: 'Demo: Station Chime' } },
  { bytes: () => loopGif(160, 90, 12), type: 'image/gif', meta: { kind: 'background', title: 'Demo: Colour Loop' } },
];

/** Adds the demo items to the library; returns them. */
export async function addDemoContent(lib: Library): Promise<MediaItem[]> {
  const items: MediaItem[] = [];
  for (const d of DEMO) items.push(await ingest(lib, { source: Readable.from([d.bytes()]), declaredType: d.type, metadata: d.meta }));
  return items;
}
