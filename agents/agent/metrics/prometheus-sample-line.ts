/** One sample line of the Prometheus text format 0.0.4, lexed but not yet interpreted. */
export interface PrometheusSample {
  name: string;
  /** In exposition order; names are unique. */
  labels: [string, string][];
  /** May be NaN or ±Infinity: the format allows them. */
  value: number;
  /** Milliseconds since the epoch, as exposed. */
  timestamp?: number;
}

/** A line the format does not allow; the parser adds the line number. */
export class PrometheusLineError extends Error {
  override name = 'PrometheusLineError';
}

export const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const METRIC_NAME_PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME_PREFIX = /[a-zA-Z_][a-zA-Z0-9_]*/y;
/** Go's strconv.ParseFloat, which the reference parser uses, minus hex and underscores, which no client writes. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;

/** The value syntax of the format, including `NaN`, `+Inf`, `-Inf` (Go accepts any case and `Infinity`). */
export function parseSampleValue(token: string): number | undefined {
  if (DECIMAL.test(token)) return Number(token);
  const lower = token.toLowerCase();
  if (lower === 'nan') return NaN;
  const unsigned = lower.replace(/^[+-]/, '');
  if (unsigned === 'inf' || unsigned === 'infinity') return lower.startsWith('-') ? -Infinity : Infinity;
  return undefined;
}

const isBlank = (c: string | undefined) => c === ' ' || c === '\t';

/** `name{label="value",...} value [timestamp]`, blanks allowed between tokens, a trailing comma allowed in the braces. */
export function parseSampleLine(line: string): PrometheusSample {
  const name = METRIC_NAME_PREFIX.exec(line)?.[0];
  if (!name) throw new PrometheusLineError(`expected a metric name, found ${quote(line)}`);
  let pos = name.length;
  const skipBlanks = () => {
    while (isBlank(line[pos])) pos++;
  };

  const labels: [string, string][] = [];
  skipBlanks();
  if (line[pos] === '{') {
    pos++;
    const seen = new Set<string>();
    for (;;) {
      skipBlanks();
      if (line[pos] === '}') break;
      LABEL_NAME_PREFIX.lastIndex = pos;
      const label = LABEL_NAME_PREFIX.exec(line)?.[0];
      if (!label) throw new PrometheusLineError(`expected a label name or '}' in ${name}, found ${quote(line.slice(pos))}`);
      if (seen.has(label)) throw new PrometheusLineError(`label ${label} appears twice in ${name}`);
      seen.add(label);
      pos += label.length;
      skipBlanks();
      if (line[pos] !== '=') throw new PrometheusLineError(`expected '=' after label ${label} of ${name}`);
      pos++;
      skipBlanks();
      if (line[pos] !== '"') throw new PrometheusLineError(`expected '"' to open the value of label ${label} of ${name}`);
      const [value, end] = readLabelValue(line, pos + 1, label);
      labels.push([label, value]);
      pos = end;
      skipBlanks();
      if (line[pos] === ',') pos++;
      else if (line[pos] !== '}') throw new PrometheusLineError(`expected ',' or '}' after label ${label} of ${name}`);
    }
    pos++;
  } else if (pos === name.length && pos < line.length) {
    throw new PrometheusLineError(`invalid character ${quote(line[pos])} in metric name ${name}`);
  }

  const tokens = line.slice(pos).trim().split(/[ \t]+/).filter((t) => t !== '');
  if (tokens.length === 0) throw new PrometheusLineError(`${name} has no value`);
  if (tokens.length > 2) throw new PrometheusLineError(`unexpected ${quote(tokens[2])} after the value and timestamp of ${name}`);
  const value = parseSampleValue(tokens[0]);
  if (value === undefined) throw new PrometheusLineError(`invalid value ${quote(tokens[0])} for ${name}`);
  const sample: PrometheusSample = { name, labels, value };
  if (tokens.length === 2) {
    if (!INTEGER.test(tokens[1])) throw new PrometheusLineError(`invalid timestamp ${quote(tokens[1])} for ${name}: expected integer milliseconds`);
    sample.timestamp = Number(tokens[1]);
  }
  return sample;
}

const PLAIN_RUN = /[^"\\]*/y;

/** Reads up to the closing quote; returns the unescaped value and the position after the quote. */
function readLabelValue(line: string, start: number, label: string): [string, number] {
  let value = '';
  let pos = start;
  for (;;) {
    PLAIN_RUN.lastIndex = pos;
    const run = PLAIN_RUN.exec(line)![0];
    value += run;
    pos += run.length;
    const c = line[pos];
    if (c === undefined) throw new PrometheusLineError(`unterminated value of label ${label}`);
    if (c === '"') return [value, pos + 1];
    const next = line[pos + 1];
    if (next === '\\' || next === '"') value += next;
    else if (next === 'n') value += '\n';
    else throw new PrometheusLineError(`invalid escape ${quote('\\' + (next ?? ''))} in the value of label ${label}: only \\\\, \\" and \\n are allowed`);
    pos += 2;
  }
}

function quote(s: string): string {
  return JSON.stringify(s.length > 60 ? s.slice(0, 60) + '…' : s);
}
