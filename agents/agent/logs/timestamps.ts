/** The schema's bounds on a timestamp (EpochMillis): 2000-01-01 … 2100-01-01. */
export const MIN_TIMESTAMP = 946_684_800_000;
export const MAX_TIMESTAMP = 4_102_444_800_000;

/**
 * Epoch milliseconds from a timestamp field's value, or undefined when the value is not a time we can
 * read or lies outside 2000…2100, so the caller falls back to the time it read the line. Read:
 *
 * - numbers and numeric strings, as seconds, milliseconds, microseconds or nanoseconds by magnitude;
 * - RFC 3339 / ISO 8601 (`2026-11-23T08:15:02.123Z`, `+01:00`, `+0100`), also with a space or `/` and a
 *   comma before the fraction (`2026-11-23 08:15:02,123`, log4j and Python; `2026/11/23 08:15:02`, Go);
 *   no zone means UTC, whatever the machine's zone;
 * - the common log format of nginx and Apache: `23/Nov/2026:08:15:02 +0000`;
 * - RFC 1123 / HTTP dates: `Mon, 23 Nov 2026 08:15:02 GMT`.
 *
 * The string forms are parsed by hand, not by Date.parse, which reads zone-less strings as local time and
 * accepts almost anything ("1" is a date to it).
 */
export function parseTimestamp(value: unknown): number | undefined {
  let ms: number | undefined;
  if (typeof value === 'number') ms = fromEpochNumber(value);
  else if (typeof value === 'string') ms = fromString(value);
  else return undefined;
  return ms !== undefined && ms >= MIN_TIMESTAMP && ms <= MAX_TIMESTAMP ? ms : undefined;
}

// Magnitude bands: 2000…2100 is ~9.5e8…4.1e9 in seconds, ~9.5e11…4.1e12 in ms, and so on; the cut points
// sit between the bands, so any in-range time lands in exactly one of them.
function fromEpochNumber(n: number): number | undefined {
  if (!Number.isFinite(n) || n < 0) return undefined;
  if (n < 1e11) return Math.round(n * 1000);
  if (n < 1e14) return Math.floor(n);
  if (n < 1e17) return Math.floor(n / 1e3);
  return Math.floor(n / 1e6);
}

function fromString(raw: string): number | undefined {
  let s = raw;
  if (s.length === 0) return undefined;
  if (isBlank(s.charCodeAt(0)) || isBlank(s.charCodeAt(s.length - 1))) s = s.trim();
  if (s.length < 4) return undefined;
  const c0 = s.charCodeAt(0);
  if (isDigit(c0)) {
    const c4 = s.charCodeAt(4);
    if (c4 === DASH || c4 === SLASH) return fromIso(s);
    if (s.charCodeAt(2) === SLASH) return fromCommonLog(s);
    return fromNumericString(s);
  }
  if (RFC1123.test(s)) {
    const ms = Date.parse(s);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

/** Date.parse reads this exact shape the same way everywhere; the guard keeps everything else away from it. */
const RFC1123 = /^[A-Za-z]{3}, \d{1,2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} (?:GMT|UTC|[+-]\d{4})$/;

function fromNumericString(s: string): number | undefined {
  let dot = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === DOT && dot === -1 && i > 0 && i < s.length - 1) dot = i;
    else if (!isDigit(c)) return undefined;
  }
  // Integer micro- and nanosecond strings exceed 2^53; cutting digits keeps the milliseconds exact where
  // Number() would round the last ones away.
  if (dot === -1 && s.length >= 16) {
    const n = Number(s);
    if (n >= 1e17) return Number(s.slice(0, s.length - 6));
    if (n >= 1e14) return Number(s.slice(0, s.length - 3));
  }
  return fromEpochNumber(Number(s));
}

/** `YYYY-MM-DD[(T| )hh:mm[:ss[(.|,)fraction]]][ ][Z|UTC|GMT|±hh[:]mm|±hh]`, or with `/` in the date. */
function fromIso(s: string): number | undefined {
  const n = s.length;
  const dateSep = s.charCodeAt(4);
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  if (year < 0 || month < 0 || day < 0 || s.charCodeAt(7) !== dateSep) return undefined;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let millis = 0;
  let i = 10;
  if (i < n) {
    const sep = s.charCodeAt(i);
    if (sep !== UPPER_T && sep !== LOWER_T && sep !== SPACE) return undefined;
    hour = digits(s, 11, 2);
    minute = digits(s, 14, 2);
    if (hour < 0 || minute < 0 || s.charCodeAt(13) !== COLON) return undefined;
    i = 16;
    if (s.charCodeAt(i) === COLON) {
      second = digits(s, i + 1, 2);
      if (second < 0) return undefined;
      i += 3;
      const f = s.charCodeAt(i);
      if (f === DOT || f === COMMA) {
        const start = ++i;
        while (i < n && isDigit(s.charCodeAt(i))) i++;
        if (i === start) return undefined;
        // Only milliseconds survive; finer digits are truncated, as Date does.
        for (let k = start; k < start + 3; k++) millis = millis * 10 + (k < i ? s.charCodeAt(k) - ZERO : 0);
      }
    }
  }
  const offset = zoneOffsetMinutes(s, i);
  if (offset === undefined) return undefined;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 60) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second, millis) - offset * 60_000;
}

/** `DD/Mon/YYYY:hh:mm:ss[ ±hhmm]`, nginx's $time_local and Apache's %t without the brackets. */
function fromCommonLog(s: string): number | undefined {
  const day = digits(s, 0, 2);
  const month = MONTHS.get(s.slice(3, 6).toLowerCase());
  const year = digits(s, 7, 4);
  const hour = digits(s, 12, 2);
  const minute = digits(s, 15, 2);
  const second = digits(s, 18, 2);
  if (day < 0 || month === undefined || year < 0 || hour < 0 || minute < 0 || second < 0) return undefined;
  if (s.charCodeAt(6) !== SLASH || s.charCodeAt(11) !== COLON || s.charCodeAt(14) !== COLON || s.charCodeAt(17) !== COLON) return undefined;
  const offset = zoneOffsetMinutes(s, 20);
  if (offset === undefined) return undefined;
  if (day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 60) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second) - offset * 60_000;
}

/** The zone from `i` to the end of `s`: minutes east of UTC, 0 when there is none, undefined when malformed. */
function zoneOffsetMinutes(s: string, from: number): number | undefined {
  const n = s.length;
  let i = from;
  if (i === n) return 0;
  if (s.charCodeAt(i) === SPACE) i++;
  const c = s.charCodeAt(i);
  if (c === UPPER_Z || c === LOWER_Z) return i + 1 === n ? 0 : undefined;
  if (c === PLUS || c === DASH) {
    const hours = digits(s, i + 1, 2);
    if (hours < 0 || hours > 23) return undefined;
    let j = i + 3;
    let minutes = 0;
    if (j < n) {
      if (s.charCodeAt(j) === COLON) j++;
      minutes = digits(s, j, 2);
      if (minutes < 0 || minutes > 59 || j + 2 !== n) return undefined;
    }
    const offset = hours * 60 + minutes;
    return c === DASH ? -offset : offset;
  }
  const name = s.slice(i);
  return name === 'UTC' || name === 'GMT' ? 0 : undefined;
}

/** The decimal number in s[at, at+count), or -1 if any of it is not a digit (or past the end). */
function digits(s: string, at: number, count: number): number {
  if (at + count > s.length) return -1;
  let v = 0;
  for (let i = at; i < at + count; i++) {
    const c = s.charCodeAt(i);
    if (!isDigit(c)) return -1;
    v = v * 10 + (c - ZERO);
  }
  return v;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

const MONTHS = new Map(['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'].map((m, i) => [m, i + 1]));

const ZERO = 48;
const SPACE = 32;
const PLUS = 43;
const COMMA = 44;
const DASH = 45;
const DOT = 46;
const SLASH = 47;
const COLON = 58;
const UPPER_T = 84;
const UPPER_Z = 90;
const LOWER_T = 116;
const LOWER_Z = 122;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isBlank(c: number): boolean {
  return c === SPACE || c === 9 || c === 10 || c === 13;
}
