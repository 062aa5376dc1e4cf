// The 44-byte header of a PCM WAV file: used by the demo content and by tests and benches that need
// real audio of a given length without fixtures.

export type WavFormat = { sampleRate: number; channels: number; bitsPerSample: 8 | 16 };

export function wavHeader(dataBytes: number, f: WavFormat): Buffer {
  const blockAlign = f.channels * (f.bitsPerSample / 8);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVEfmt ', 8, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(f.channels, 22);
  h.writeUInt32LE(f.sampleRate, 24);
  h.writeUInt32LE(f.sampleRate * blockAlign, 28);
  h.writeUInt16LE(blockAlign, 32);
  h.writeUInt16LE(f.bitsPerSample, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}
