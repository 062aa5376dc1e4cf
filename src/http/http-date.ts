// HTTP-date (RFC 9110 §5.6.7): format IMF-fixdate, parse all three historic forms.
// Parsing is strict about structure and never throws; garbage gives undefined.

import { InvalidHttpArgumentError, trimOws } from './types.ts';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const LONG_DAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/**
 * RFC 9110 §5.6.7: "a sender MUST generate [HTTP-date] in the IMF-fixdate format", e.g.
 * `Sun, 06 Nov 1994 08:49:37 GMT`. Sub-second precision is dropped (floored).
 * Throws InvalidHttpArgumentError for a non-finite time or one outside years 0000..9999
 * (the grammar has a 4DIGIT year).
 */
export function formatHttpDate(ms: number): string {
  if (!Number.isFinite(ms)) throw new InvalidHttpArgumentError(`formatHttpDate: not a finite time: ${ms}`);
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const y = d.getUTCFullYear();
  if (y < 0 || y > 9999) throw new InvalidHttpArgumentError(`formatHttpDate: year ${y} is not 4 digits`);
  return `${DAYS[d.getUTCDay()]}, ${pad(d.getUTCDate())} ${cap(MONTHS[d.getUTCMonth()])} ${pad(y, 4)} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} GMT`;
}

function cap(s: string): string {
  return s[0].toUpperCase() + s.slice(1);
}

// IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT ("GMT" in any case too: senders write "gmt" now and then)
const IMF = /^([A-Za-z]{3}), (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) [Gg][Mm][Tt]$/;
// rfc850-date: Sunday, 06-Nov-94 08:49:37 GMT
const RFC850 = /^([A-Za-z]{6,9}), (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) [Gg][Mm][Tt]$/;
// asctime-date: Sun Nov  6 08:49:37 1994   (day is 2DIGIT or SP DIGIT)
const ASCTIME = /^([A-Za-z]{3}) ([A-Za-z]{3}) (\d{2}| \d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

export type ParseHttpDateOptions = {
  /** Clock for the RFC 850 two-digit-year rule; defaults to Date.now(). */
  now?: number;
};

/**
 * Parses an HTTP-date to ms since the epoch, or undefined if it is not one.
 * RFC 9110 §5.6.7: "Recipients of timestamp values are encouraged to be robust in parsing
 * timestamps" — we accept the three forms case-insensitively and with surrounding OWS, but
 * nothing looser (no numeric zones, no missing seconds), and we reject impossible calendar dates.
 * Day names are checked for spelling, not for agreement with the date.
 */
export function parseHttpDate(s: string | undefined, opts?: ParseHttpDateOptions): number | undefined {
  if (typeof s !== 'string' || s.length > 64) return undefined;
  const v = trimOws(s);
  let m = IMF.exec(v);
  if (m) {
    if (!isDay(m[1], DAYS)) return undefined;
    return build(+m[4], m[3], +m[2], +m[5], +m[6], +m[7]);
  }
  m = RFC850.exec(v);
  if (m) {
    if (!isDay(m[1], LONG_DAYS)) return undefined;
    const year = fullYear(+m[4], opts?.now ?? Date.now());
    return build(year, m[3], +m[2], +m[5], +m[6], +m[7]);
  }
  m = ASCTIME.exec(v);
  if (m) {
    if (!isDay(m[1], DAYS)) return undefined;
    return build(+m[7], m[2], +trimOws(m[3]), +m[4], +m[5], +m[6]);
  }
  return undefined;
}

function isDay(name: string, list: string[]): boolean {
  const lower = name.toLowerCase();
  return list.some((d) => d.toLowerCase() === lower);
}

/**
 * RFC 9110 §5.6.7: "Recipients of a timestamp value in rfc850-date format, which uses a two-digit
 * year, MUST interpret a timestamp that appears to be more than 50 years in the future as
 * representing the most recent year in the past that had the same last two digits."
 */
function fullYear(yy: number, now: number): number {
  const current = new Date(Number.isFinite(now) ? now : Date.now()).getUTCFullYear();
  let year = current - (current % 100) + yy;
  if (year > current + 50) year -= 100;
  return year;
}

function build(year: number, monthName: string, day: number, h: number, mi: number, sec: number): number | undefined {
  const month = MONTHS.indexOf(monthName.toLowerCase());
  if (month < 0 || day < 1 || day > daysInMonth(year, month) || h > 23 || mi > 59 || sec > 60) return undefined;
  // Not Date.UTC: it maps years 0..99 to 1900..1999. second = 2DIGIT allows 60 (leap second),
  // which setUTCHours rolls into the next minute.
  const d = new Date(0);
  d.setUTCFullYear(year, month, day);
  d.setUTCHours(h, mi, sec, 0);
  return d.getTime();
}

function daysInMonth(year: number, month: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month + 1, 0);
  return d.getUTCDate();
}
