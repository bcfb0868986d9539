/**
 * Turns a panel's query template and the user's input (variable values, time range) into query text.
 *
 * User input never reaches a query except as one literal of the target language:
 * - ClickHouse (18.16 has no server-side parameters): every `${var}` value goes through sql.ts's
 *   literal(), the one escaping helper, so it is always a complete string literal. A placeholder must
 *   therefore stand outside quotes and comments in the template; inside them it would be spliced raw.
 * - PromQL: a value may only appear inside a double-quoted label matcher (`{label="…${var}…"}`), escaped
 *   per PromQL's string rules; in a regex matcher (`=~`, `!~`) RE2's special characters are escaped first,
 *   so the value matches itself literally. Anywhere else a value could change the expression, so the
 *   template is refused.
 * The time placeholders `${from}`, `${to}` and `${step}` are numbers we produce from validated integers.
 */
import { literal } from '../pipelines/sinks/clickhouse/sql.ts';
import type { PanelDefinition, VariableDefinition } from './definitions-loader.ts';

export type QueryErrorCode = 'UNKNOWN_VARIABLE' | 'INVALID_VALUE' | 'INVALID_TIME_RANGE' | 'UNSAFE_PLACEHOLDER';

/** A query that cannot be built from this input; `code` says why, for an HTTP 400 with a stable reason. */
export class QueryBuildError extends Error {
  override name = 'QueryBuildError';
  readonly code: QueryErrorCode;
  constructor(code: QueryErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export const TIME_PLACEHOLDERS = ['from', 'to', 'step'] as const;

/** The longest variable value accepted: a search string, not a document. */
export const MAX_VALUE_LENGTH = 64 * 1024;
/** The widest time range a panel may ask for. */
export const MAX_SPAN_MS = 400 * 24 * 3600 * 1000;
/** Prometheus refuses more than 11,000 points per series; the same bound keeps ClickHouse buckets sane. */
export const MAX_POINTS = 11_000;
export const MAX_STEP_SECONDS = 24 * 3600;
// DateTime is seconds since the epoch in a UInt32.
const DATETIME_MAX_MS = (2 ** 32 - 1) * 1000;

export interface TimeRange {
  /** Epoch milliseconds, inclusive. */
  fromMs: number;
  /** Epoch milliseconds, exclusive. */
  toMs: number;
  /** Bucket width in whole seconds. */
  stepSeconds: number;
}

export interface BuiltQuery {
  source: PanelDefinition['source'];
  query: string;
  /** The validated range in whole seconds: Prometheus' query_range start/end/step. */
  start: number;
  end: number;
  step: number;
}

/** A `${name}` in a template: its name and where it starts and ends. */
export interface Placeholder {
  name: string;
  start: number;
  end: number;
}

const PLACEHOLDER = /\$\{([^}]*)\}/g;
const VARIABLE_NAME = /^[a-z_][a-z0-9_]*$/;

export function placeholders(template: string): Placeholder[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => ({ name: m[1], start: m.index, end: m.index + m[0].length }));
}

/** Throws unless the range is whole, ordered, inside DateTime's range, at most MAX_SPAN_MS wide, with a bounded step. */
export function checkTimeRange(range: TimeRange): void {
  const { fromMs, toMs, stepSeconds } = range;
  const bad = (why: string) => new QueryBuildError('INVALID_TIME_RANGE', why);
  if (!Number.isSafeInteger(fromMs) || !Number.isSafeInteger(toMs)) throw bad('from and to must be integer epoch milliseconds');
  if (fromMs < 0 || toMs > DATETIME_MAX_MS) throw bad('from and to must lie between 1970 and 2106');
  if (fromMs >= toMs) throw bad('from must be before to');
  if (toMs - fromMs > MAX_SPAN_MS) throw bad(`the range may span at most ${MAX_SPAN_MS / 86_400_000} days`);
  if (!Number.isSafeInteger(stepSeconds) || stepSeconds < 1 || stepSeconds > MAX_STEP_SECONDS) throw bad(`step must be an integer from 1 to ${MAX_STEP_SECONDS} seconds`);
  if ((toMs - fromMs) / 1000 / stepSeconds > MAX_POINTS) throw bad(`step too small: the range would have more than ${MAX_POINTS} points`);
}

function checkValue(variable: VariableDefinition, value: unknown): string {
  if (typeof value !== 'string') throw new QueryBuildError('INVALID_VALUE', `${variable.name}: expected a string`);
  if (value.length > MAX_VALUE_LENGTH) throw new QueryBuildError('INVALID_VALUE', `${variable.name}: longer than ${MAX_VALUE_LENGTH} characters`);
  if (!value.isWellFormed()) throw new QueryBuildError('INVALID_VALUE', `${variable.name}: contains a lone UTF-16 surrogate`);
  if (variable.kind === 'select' && !(variable.options ?? []).includes(value)) throw new QueryBuildError('INVALID_VALUE', `${variable.name}: not one of the options`);
  return value;
}

/**
 * The values to render: the caller's for declared variables, '' (or a select's first option) for the rest.
 * A value for a variable the dashboard does not declare is an error, not silently ignored.
 */
function resolveValues(variables: readonly VariableDefinition[], values: Readonly<Record<string, unknown>>): Map<string, string> {
  const declared = new Map(variables.map((v) => [v.name, v]));
  for (const name of Object.keys(values)) {
    if (!declared.has(name)) throw new QueryBuildError('UNKNOWN_VARIABLE', `unknown variable ${JSON.stringify(name)}`);
  }
  const out = new Map<string, string>();
  for (const v of variables) {
    const given = Object.hasOwn(values, v.name) ? values[v.name] : v.kind === 'select' ? (v.options?.[0] ?? '') : '';
    out.set(v.name, checkValue(v, given));
  }
  return out;
}

// ---- ClickHouse -------------------------------------------------------------------------------------

/**
 * The placeholders of a SQL template that stand inside a quoted string, quoted identifier or comment:
 * there literal() would not be a literal of its own. A small lexer of ClickHouse's quoting rules.
 */
function sqlPlaceholdersInQuotes(template: string): Placeholder[] {
  const inside: Placeholder[] = [];
  const spans: [number, number][] = [];
  let i = 0;
  while (i < template.length) {
    const c = template[i];
    if (c === "'" || c === '"' || c === '`') {
      const start = i++;
      while (i < template.length && template[i] !== c) i += template[i] === '\\' ? 2 : 1;
      spans.push([start, ++i]);
    } else if (template.startsWith('--', i)) {
      const start = i;
      while (i < template.length && template[i] !== '\n') i++;
      spans.push([start, i]);
    } else if (template.startsWith('/*', i)) {
      const start = i;
      const close = template.indexOf('*/', i + 2);
      i = close === -1 ? template.length : close + 2;
      spans.push([start, i]);
    } else i++;
  }
  for (const p of placeholders(template)) if (spans.some(([s, e]) => p.start > s && p.start < e)) inside.push(p);
  return inside;
}

function renderClickHouse(template: string, values: Map<string, string>, range: TimeRange): string {
  const time: Record<string, string> = {
    from: `toDateTime(${Math.floor(range.fromMs / 1000)})`,
    to: `toDateTime(${Math.ceil(range.toMs / 1000)})`,
    step: String(range.stepSeconds),
  };
  return template.replace(PLACEHOLDER, (_, name: string) => time[name] ?? literal(values.get(name)!));
}

// ---- PromQL -----------------------------------------------------------------------------------------

type PromContext = 'match' | 'regex' | 'outside' | 'unsafe';

/**
 * Where each placeholder of a PromQL template stands: inside the double-quoted value of an equality
 * matcher (`=`, `!=`), of a regex matcher (`=~`, `!~`), outside every string, or somewhere else
 * (another kind of string, a string that is not a matcher's value).
 */
function promqlContexts(template: string): Map<Placeholder, PromContext> {
  const strings: { start: number; end: number; context: PromContext }[] = [];
  let depth = 0; // inside {…}
  let i = 0;
  while (i < template.length) {
    const c = template[i];
    if (c === '{' && template[i - 1] !== '$') depth++;
    else if (c === '}' && !isPlaceholderEnd(template, i)) depth = Math.max(0, depth - 1);
    else if (c === '#') {
      const start = i;
      while (i < template.length && template[i] !== '\n') i++;
      strings.push({ start, end: i, context: 'unsafe' });
      continue;
    } else if (c === '"' || c === "'" || c === '`') {
      const start = i++;
      while (i < template.length && template[i] !== c) i += template[i] === '\\' && c !== '`' ? 2 : 1;
      const operator = /(=~|!~|!=|=)\s*$/.exec(template.slice(0, start))?.[1];
      let context: PromContext = 'unsafe';
      if (c === '"' && depth > 0 && operator) context = operator.endsWith('~') ? 'regex' : 'match';
      strings.push({ start, end: ++i, context });
      continue;
    }
    i++;
  }
  const out = new Map<Placeholder, PromContext>();
  for (const p of placeholders(template)) {
    const s = strings.find((s) => p.start > s.start && p.start < s.end);
    out.set(p, s ? s.context : 'outside');
  }
  return out;
}

function isPlaceholderEnd(template: string, i: number): boolean {
  const open = template.lastIndexOf('${', i);
  return open !== -1 && !template.slice(open, i).includes('}');
}

/** Inside a PromQL double-quoted string: backslash, quote and newline escaped, other control characters as \xHH. */
export function escapePromQLString(value: string): string {
  return value.replace(/[\\"\x00-\x1f\x7f]/g, (c) => {
    if (c === '\\') return '\\\\';
    if (c === '"') return '\\"';
    if (c === '\n') return '\\n';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/** RE2's special characters escaped, so the text matches itself in Prometheus' (fully anchored) regex matchers. */
export function escapeRegex(value: string): string {
  return value.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

function renderPromQL(template: string, values: Map<string, string>, range: TimeRange): string {
  const contexts = promqlContexts(template);
  let out = '';
  let last = 0;
  for (const [p, context] of contexts) {
    out += template.slice(last, p.start);
    last = p.end;
    if (p.name === 'step') out += `${range.stepSeconds}s`;
    else if (p.name === 'from') out += String(Math.floor(range.fromMs / 1000));
    else if (p.name === 'to') out += String(Math.ceil(range.toMs / 1000));
    else {
      const value = values.get(p.name)!;
      out += escapePromQLString(context === 'regex' ? escapeRegex(value) : value);
    }
  }
  return out + template.slice(last);
}

// ---- Both -------------------------------------------------------------------------------------------

/**
 * Problems of a template found without any input, for the loader: placeholders naming no variable, and
 * placeholders where a value could not be rendered as one literal. Empty when the template is sound.
 */
export function templateProblems(source: PanelDefinition['source'], template: string, variables: readonly VariableDefinition[]): string[] {
  const problems: string[] = [];
  const declared = new Set(variables.map((v) => v.name));
  const isTime = (name: string) => (TIME_PLACEHOLDERS as readonly string[]).includes(name);
  for (const p of placeholders(template)) {
    if (!VARIABLE_NAME.test(p.name)) problems.push(`\${${p.name}} is not a valid placeholder`);
    else if (!isTime(p.name) && !declared.has(p.name)) problems.push(`\${${p.name}} names no variable`);
  }
  if (source === 'clickhouse') {
    for (const p of sqlPlaceholdersInQuotes(template)) problems.push(`\${${p.name}} stands inside quotes or a comment; placeholders render as complete literals`);
  } else {
    for (const [p, context] of promqlContexts(template)) {
      if (isTime(p.name) ? context !== 'outside' : context !== 'match' && context !== 'regex') {
        problems.push(isTime(p.name) ? `\${${p.name}} must stand outside strings` : `\${${p.name}} may only stand inside a double-quoted label matcher value`);
      }
    }
  }
  return problems;
}

/**
 * The query text of a panel for this input. Throws QueryBuildError for an unknown variable, a value a
 * select does not offer or that is too long, a bad time range, or a template that is not safe to fill.
 */
export function buildQuery(
  panel: Pick<PanelDefinition, 'source' | 'query'>,
  variables: readonly VariableDefinition[],
  values: Readonly<Record<string, unknown>>,
  range: TimeRange,
): BuiltQuery {
  checkTimeRange(range);
  const problems = templateProblems(panel.source, panel.query, variables);
  if (problems.length > 0) throw new QueryBuildError(problems[0].includes('names no variable') ? 'UNKNOWN_VARIABLE' : 'UNSAFE_PLACEHOLDER', problems[0]);
  const resolved = resolveValues(variables, values);
  const query = panel.source === 'clickhouse' ? renderClickHouse(panel.query, resolved, range) : renderPromQL(panel.query, resolved, range);
  return { source: panel.source, query, start: Math.floor(range.fromMs / 1000), end: Math.ceil(range.toMs / 1000), step: range.stepSeconds };
}
