// RFC 8941 Structured Field Values: the Dictionary parser (with the Items, Inner Lists and Parameters it
// contains), following the parsing algorithms of §4.2 step by step. Any failure fails the whole field.

import type { HeaderValue } from './types.ts';

export type BareItem =
  | { type: 'integer' | 'decimal'; value: number }
  | { type: 'string' | 'token'; value: string }
  | { type: 'byte-sequence'; value: Buffer }
  | { type: 'boolean'; value: boolean };
export type Parameters = ReadonlyMap<string, BareItem>;
export type Item = { kind: 'item'; value: BareItem; params: Parameters };
export type InnerList = { kind: 'inner-list'; items: Item[]; params: Parameters };
export type Dictionary = ReadonlyMap<string, Item | InnerList>;

/** Signals a parse failure inside the parser; never escapes parseDictionary. */
class Fail extends Error {}

const DIGIT = /[0-9]/;
const ALPHA = /[A-Za-z]/;
const LCALPHA = /[a-z]/;
const KEY_CHAR = /[a-z0-9_\-.*]/;
// tchar (RFC 9110 §5.6.2) plus ":" and "/" (§4.2.6)
const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z:/]/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * §4.2: field lines are combined with ", "; leading and trailing SP are discarded; then the value is
 * parsed as a Dictionary (§4.2.2). Returns undefined on any failure: "if parsing fails ... the entire
 * field value MUST be ignored". Absent → undefined; an empty value is an empty Dictionary.
 */
export function parseDictionary(header: HeaderValue): Dictionary | undefined {
  if (header === undefined) return undefined;
  const input = Array.isArray(header) ? header.join(', ') : header;
  const p = new Parser(input.replace(/^ +| +$/g, ''));
  try {
    return p.dictionary();
  } catch (err) {
    if (err instanceof Fail) return undefined;
    throw err;
  }
}

class Parser {
  readonly #s: string;
  #i = 0;
  constructor(s: string) {
    this.#s = s;
  }

  get #done(): boolean {
    return this.#i >= this.#s.length;
  }
  #ch(): string {
    return this.#s[this.#i] ?? '';
  }

  #ows(): void {
    while (this.#ch() === ' ' || this.#ch() === '\t') this.#i++;
  }

  /** §4.2.2 Parsing a Dictionary. A repeated key overwrites the earlier value. */
  dictionary(): Dictionary {
    const dict = new Map<string, Item | InnerList>();
    while (!this.#done) {
      const key = this.#key();
      let member: Item | InnerList;
      if (this.#ch() === '=') {
        this.#i++;
        member = this.#itemOrInnerList();
      } else {
        member = { kind: 'item', value: { type: 'boolean', value: true }, params: this.#params() };
      }
      dict.set(key, member);
      this.#ows();
      if (this.#done) return dict;
      if (this.#ch() !== ',') throw new Fail();
      this.#i++;
      this.#ows();
      if (this.#done) throw new Fail(); // a trailing comma
    }
    return dict;
  }

  #itemOrInnerList(): Item | InnerList {
    return this.#ch() === '(' ? this.#innerList() : { kind: 'item', value: this.#bareItem(), params: this.#params() };
  }

  /** §4.2.1.2 Parsing an Inner List. */
  #innerList(): InnerList {
    this.#i++; // "("
    const items: Item[] = [];
    while (!this.#done) {
      while (this.#ch() === ' ') this.#i++;
      if (this.#ch() === ')') {
        this.#i++;
        return { kind: 'inner-list', items, params: this.#params() };
      }
      items.push({ kind: 'item', value: this.#bareItem(), params: this.#params() });
      if (this.#ch() !== ' ' && this.#ch() !== ')') throw new Fail();
    }
    throw new Fail(); // no closing ")"
  }

  /** §4.2.3.2 Parsing Parameters. */
  #params(): Parameters {
    const params = new Map<string, BareItem>();
    while (this.#ch() === ';') {
      this.#i++;
      while (this.#ch() === ' ') this.#i++;
      const key = this.#key();
      let value: BareItem = { type: 'boolean', value: true };
      if (this.#ch() === '=') {
        this.#i++;
        value = this.#bareItem();
      }
      params.set(key, value);
    }
    return params;
  }

  /** §4.2.3.3 Parsing a Key: lcalpha or "*", then lcalpha / DIGIT / "_" / "-" / "." / "*". */
  #key(): string {
    if (!LCALPHA.test(this.#ch()) && this.#ch() !== '*') throw new Fail();
    const start = this.#i;
    while (!this.#done && KEY_CHAR.test(this.#ch())) this.#i++;
    return this.#s.slice(start, this.#i);
  }

  /** §4.2.3.1 Parsing a Bare Item. */
  #bareItem(): BareItem {
    const c = this.#ch();
    if (c === '-' || DIGIT.test(c)) return this.#number();
    if (c === '"') return { type: 'string', value: this.#string() };
    if (c === ':') return { type: 'byte-sequence', value: this.#bytes() };
    if (c === '*' || ALPHA.test(c)) return { type: 'token', value: this.#token() };
    if (c === '?') return { type: 'boolean', value: this.#boolean() };
    throw new Fail();
  }

  /** §4.2.4 Parsing an Integer or Decimal: at most 15 integer digits, or 12 + "." + at most 3. */
  #number(): BareItem {
    let sign = 1;
    if (this.#ch() === '-') {
      sign = -1;
      this.#i++;
    }
    if (!DIGIT.test(this.#ch())) throw new Fail();
    let num = '';
    let decimal = false;
    while (!this.#done) {
      const c = this.#ch();
      if (DIGIT.test(c)) num += c;
      else if (!decimal && c === '.') {
        if (num.length > 12) throw new Fail();
        num += c;
        decimal = true;
      } else break;
      this.#i++;
      if (num.length > (decimal ? 16 : 15)) throw new Fail();
    }
    if (!decimal) return { type: 'integer', value: sign * Number(num) };
    const dot = num.indexOf('.');
    if (dot === num.length - 1 || num.length - dot - 1 > 3) throw new Fail();
    return { type: 'decimal', value: sign * Number(num) };
  }

  /** §4.2.5 Parsing a String: printable ASCII, with \" and \\ the only escapes. */
  #string(): string {
    this.#i++; // DQUOTE
    let out = '';
    while (!this.#done) {
      const c = this.#s[this.#i++];
      if (c === '\\') {
        const next = this.#s[this.#i++];
        if (next !== '"' && next !== '\\') throw new Fail();
        out += next;
      } else if (c === '"') {
        return out;
      } else if (c < ' ' || c > '~') {
        throw new Fail();
      } else {
        out += c;
      }
    }
    throw new Fail(); // no closing DQUOTE
  }

  /** §4.2.6 Parsing a Token. */
  #token(): string {
    const start = this.#i;
    this.#i++;
    while (!this.#done && TOKEN_CHAR.test(this.#ch())) this.#i++;
    return this.#s.slice(start, this.#i);
  }

  /** §4.2.7 Parsing a Byte Sequence: ":" base64 ":". */
  #bytes(): Buffer {
    const end = this.#s.indexOf(':', this.#i + 1);
    if (end < 0) throw new Fail();
    const b64 = this.#s.slice(this.#i + 1, end);
    if (!BASE64.test(b64)) throw new Fail();
    this.#i = end + 1;
    return Buffer.from(b64, 'base64');
  }

  /** §4.2.8 Parsing a Boolean: "?1" or "?0". */
  #boolean(): boolean {
    const c = this.#s[this.#i + 1];
    if (c !== '1' && c !== '0') throw new Fail();
    this.#i += 2;
    return c === '1';
  }
}
