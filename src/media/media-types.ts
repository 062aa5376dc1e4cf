// The allow-list of media types the library accepts, their extensions, and which sniffed types
// (from magic numbers) count as the same content.

export type MediaClass = 'audio' | 'image' | 'video';

type TypeInfo = { ext: string; class: MediaClass; aliases?: readonly string[]; sniffed: readonly string[] };

/** Canonical MIME type → extension, class, accepted aliases and the sniffed MIME types that match it. */
export const MEDIA_TYPES: Readonly<Record<string, TypeInfo>> = {
  'audio/mpeg': { ext: 'mp3', class: 'audio', aliases: ['audio/mp3', 'audio/mpeg3', 'audio/x-mpeg'], sniffed: ['audio/mpeg'] },
  'audio/ogg': { ext: 'ogg', class: 'audio', aliases: ['application/ogg', 'audio/vorbis'], sniffed: ['audio/ogg', 'audio/opus', 'application/ogg'] },
  'audio/opus': { ext: 'opus', class: 'audio', sniffed: ['audio/opus', 'audio/ogg'] },
  'audio/wav': { ext: 'wav', class: 'audio', aliases: ['audio/x-wav', 'audio/wave', 'audio/vnd.wave'], sniffed: ['audio/wav', 'audio/vnd.wave', 'audio/x-wav'] },
  'audio/flac': { ext: 'flac', class: 'audio', aliases: ['audio/x-flac'], sniffed: ['audio/flac', 'audio/x-flac'] },
  'audio/mp4': { ext: 'm4a', class: 'audio', aliases: ['audio/x-m4a', 'audio/m4a'], sniffed: ['audio/mp4', 'audio/x-m4a', 'video/mp4', 'audio/m4a'] },
  'audio/aac': { ext: 'aac', class: 'audio', aliases: ['audio/x-aac'], sniffed: ['audio/aac', 'audio/x-aac'] },
  'audio/webm': { ext: 'weba', class: 'audio', sniffed: ['audio/webm', 'video/webm'] },
  'image/png': { ext: 'png', class: 'image', sniffed: ['image/png', 'image/apng'] },
  'image/jpeg': { ext: 'jpg', class: 'image', aliases: ['image/jpg', 'image/pjpeg'], sniffed: ['image/jpeg'] },
  'image/gif': { ext: 'gif', class: 'image', sniffed: ['image/gif'] },
  'image/webp': { ext: 'webp', class: 'image', sniffed: ['image/webp'] },
  'image/avif': { ext: 'avif', class: 'image', sniffed: ['image/avif'] },
  'video/mp4': { ext: 'mp4', class: 'video', sniffed: ['video/mp4', 'video/x-m4v', 'audio/mp4', 'audio/x-m4a'] },
  'video/webm': { ext: 'webm', class: 'video', sniffed: ['video/webm', 'audio/webm'] },
};

const EXT_ALIASES: Readonly<Record<string, string>> = { jpeg: 'jpg', mpga: 'mp3', oga: 'ogg', m4v: 'mp4', wave: 'wav' };

/** Canonical type for a declared MIME type (parameters dropped, aliases resolved), or undefined if not allowed. */
export function canonicalType(declared: string): string | undefined {
  const bare = declared.split(';')[0].trim().toLowerCase();
  if (MEDIA_TYPES[bare]) return bare;
  for (const [type, info] of Object.entries(MEDIA_TYPES)) if (info.aliases?.includes(bare)) return type;
  return undefined;
}

/** Canonical type for a file extension (with or without the dot). */
export function typeForExtension(ext: string): string | undefined {
  const e = ext.replace(/^\./, '').toLowerCase();
  const norm = EXT_ALIASES[e] ?? e;
  for (const [type, info] of Object.entries(MEDIA_TYPES)) if (info.ext === norm) return type;
  return undefined;
}

/** Canonical type for a sniffed MIME type (the first allowed type that lists it). */
export function typeForSniffed(sniffed: string): string | undefined {
  if (MEDIA_TYPES[sniffed]) return sniffed;
  for (const [type, info] of Object.entries(MEDIA_TYPES)) if (info.sniffed.includes(sniffed)) return type;
  return undefined;
}

export function sniffedMatches(canonical: string, sniffed: string): boolean {
  return MEDIA_TYPES[canonical]?.sniffed.includes(sniffed) ?? false;
}

export function extensionFor(canonical: string): string {
  const info = MEDIA_TYPES[canonical];
  if (!info) throw new Error(`not an allowed type: ${canonical}`);
  return info.ext;
}

/** True when `ext` is acceptable for the type: its own extension or a known alias of it. */
export function extensionMatches(canonical: string, ext: string): boolean {
  return typeForExtension(ext) === canonical || (canonical === 'audio/ogg' && ext === 'oga');
}

export function mediaClass(canonical: string): MediaClass | undefined {
  return MEDIA_TYPES[canonical]?.class;
}

export const ALLOWED_TYPES = Object.keys(MEDIA_TYPES);
