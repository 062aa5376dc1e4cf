// Storage keys: 20 letters a–z from a cryptographic source. A name says nothing about its content.
import { randomInt } from 'node:crypto';

export const KEY_LENGTH = 20;
export type KeySource = () => string;

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

export const randomKey: KeySource = () => {
  let key = '';
  for (let i = 0; i < KEY_LENGTH; i++) key += LETTERS[randomInt(26)];
  return key;
};

/** `<20 letters>.<ext>` where ext is 2–5 lower-case letters/digits: the only names the library stores. */
export const FILE_NAME_RE = /^[a-z]{20}\.[a-z0-9]{2,5}$/;

export function isLibraryFileName(name: string): boolean {
  return name.length <= 26 && FILE_NAME_RE.test(name);
}
