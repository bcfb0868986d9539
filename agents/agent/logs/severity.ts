/**
 * Severity as OpenTelemetry's log data model has it: a number 1–24 in six ranges (TRACE 1–4, DEBUG 5–8,
 * INFO 9–12, WARN 13–16, ERROR 17–20, FATAL 21–24) and a text. The text is normalised to the range's name
 * so dashboards group on six values; the number keeps the finer order of sources that have more levels
 * (syslog's notice sits above info, emerg above alert above crit).
 */
export interface Severity {
  /** Undefined when the level is not one we know; the text is then kept as the source wrote it. */
  readonly severityNumber: number | undefined;
  readonly severityText: string;
}

/** The schema's limit on severityText. */
const MAX_TEXT = 64;

function level(severityNumber: number, severityText: string): Severity {
  return Object.freeze({ severityNumber, severityText });
}

const TRACE = level(1, 'TRACE');
const DEBUG = level(5, 'DEBUG');
const INFO = level(9, 'INFO');
const NOTICE = level(10, 'INFO');
const WARN = level(13, 'WARN');
const ERROR = level(17, 'ERROR');
const FATAL = level(21, 'FATAL');
const ALERT = level(22, 'FATAL');
const EMERG = level(23, 'FATAL');

const BY_NAME = new Map<string, Severity>();
function names(severity: Severity, ...aliases: string[]): void {
  // Both cases are stored so the common spellings (info, INFO) hit without allocating a lower-cased copy.
  for (const alias of aliases) {
    BY_NAME.set(alias, severity);
    BY_NAME.set(alias.toUpperCase(), severity);
  }
}
// Three-letter forms are zerolog's and Serilog's; single letters are glog/klog's and Android's; `verbose`,
// `fine`, `finest` and `severe` are Serilog's and java.util.logging's. `panic` is syslog's old name for emerg.
names(TRACE, 'trace', 'trc', 't', 'verbose', 'vrb', 'v', 'finest', 'finer');
names(DEBUG, 'debug', 'dbg', 'd', 'fine', 'config');
names(INFO, 'info', 'inf', 'i', 'information', 'informational');
names(NOTICE, 'notice');
names(WARN, 'warn', 'wrn', 'w', 'warning');
names(ERROR, 'error', 'err', 'e', 'eror', 'severe');
names(FATAL, 'fatal', 'ftl', 'f', 'critical', 'crit');
names(ALERT, 'alert');
names(EMERG, 'emerg', 'emergency', 'panic', 'pnc');

/** Syslog's numeric severities, RFC 5424 §6.2.1: 0 emerg … 7 debug. */
const SYSLOG = [EMERG, ALERT, FATAL, ERROR, WARN, NOTICE, INFO, DEBUG];
/** pino's and bunyan's numeric levels, the usual number in the JSON logs of Node services. */
const PINO = new Map<number, Severity>([[10, TRACE], [20, DEBUG], [30, INFO], [40, WARN], [50, ERROR], [60, FATAL]]);

function byNumber(n: number): Severity | undefined {
  if (!Number.isInteger(n)) return undefined;
  if (n >= 0 && n < SYSLOG.length) return SYSLOG[n];
  return PINO.get(n);
}

/**
 * The severity a level field's value stands for. Known names (any case, surrounding blanks ignored, as in
 * log4j's padded `INFO `), syslog numbers 0–7 and pino numbers 10–60 get a number; anything else keeps its
 * text with no number. Undefined for an empty value, which is no severity at all.
 */
export function parseSeverity(value: string | number): Severity | undefined {
  if (typeof value === 'number') return byNumber(value) ?? (Number.isFinite(value) ? { severityNumber: undefined, severityText: String(value) } : undefined);
  const known = BY_NAME.get(value);
  if (known) return known;
  const text = value.trim();
  if (text === '') return undefined;
  const found = BY_NAME.get(text.toLowerCase()) ?? (isDigits(text) ? byNumber(Number(text)) : undefined);
  return found ?? { severityNumber: undefined, severityText: truncate(text, MAX_TEXT) };
}

function isDigits(s: string): boolean {
  if (s.length > 3) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  // Never split a surrogate pair: half a character is not text.
  const cut = isHighSurrogate(s.charCodeAt(max - 1)) ? max - 1 : max;
  return s.slice(0, cut);
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}
