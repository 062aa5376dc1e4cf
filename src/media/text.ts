// Text the library stores (titles, artists, albums) must come back unchanged from either database
// dialect: PostgreSQL cannot store U+0000 in text at all, and an unpaired UTF-16 surrogate has no UTF-8
// form (both drivers would silently store U+FFFD instead). Such text is refused where it comes in.
import type { Dialect } from '../db/migrations.ts';
import { InputError } from '../errors.ts';

export const MAX_TEXT_LENGTH = 500;

/** Why `value` cannot be stored unchanged on `dialect` (on every dialect when omitted), or undefined. */
export function textDefect(value: string, dialect?: Dialect): string | undefined {
  const nul = value.indexOf('\u0000');
  if (nul >= 0 && dialect !== 'sqlite') return `contains a NUL character (U+0000) at character ${nul + 1}, which PostgreSQL cannot store`;
  if (!value.isWellFormed()) return 'contains an unpaired UTF-16 surrogate, which is not valid Unicode';
  return undefined;
}

/** Refuses (400 / exit 3, naming the field) text that is too long or that a dialect cannot store. */
export function checkTextField(field: string, value: string | null | undefined): void {
  if (value === null || value === undefined) return;
  if (value.length > MAX_TEXT_LENGTH) throw new InputError(`${field}_too_long`, `${field} is longer than ${MAX_TEXT_LENGTH} characters`);
  const defect = textDefect(value);
  if (defect !== undefined) throw new InputError('bad_text', `${field} ${defect}`);
}
