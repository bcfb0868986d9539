import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { DurationSchema, parseDuration } from '../../lib/durations.ts';

/**
 * Alert rules, one YAML file per group:
 *
 *   interval: 1m            # how often the group is evaluated (default 1m)
 *   rules:
 *     - name: HighErrorLogRate
 *       kind: clickhouse    # or promql
 *       expr: SELECT service, sum(count) AS value FROM logs_rollup_1m WHERE …
 *       threshold: { op: '>', value: 10 }
 *       for: 5m
 *       labels: { severity: warning }
 *       annotations: { summary: '{{ $labels.service }} logs {{ $value }} errors a minute' }
 *
 * A PromQL rule's series are the instant vector's samples. A ClickHouse rule's series are the rows: the
 * `value` column is the value and every other column a label. The threshold is applied here, not in the
 * expression, so the dashboards can show the value of every series, not only the breaching ones.
 */

/** A bad rule file: the message names the file and the field. */
export class RuleFileError extends Error {
  override name = 'RuleFileError';
}

export type ThresholdOp = '>' | '>=' | '<' | '<=' | '==' | '!=';

export interface AlertRule {
  name: string;
  kind: 'promql' | 'clickhouse';
  expr: string;
  threshold: { op: ThresholdOp; value: number };
  forMs: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** The group (file name without extension) the rule belongs to. */
  group: string;
  file: string;
}

export interface RuleGroup {
  name: string;
  file: string;
  intervalMs: number;
  rules: AlertRule[];
}

const Duration = DurationSchema;
const LabelName = '^[a-zA-Z_][a-zA-Z0-9_]*$';
const Op = Type.Union([Type.Literal('>'), Type.Literal('>='), Type.Literal('<'), Type.Literal('<='), Type.Literal('=='), Type.Literal('!=')]);

const RuleSchema = Type.Object(
  {
    name: Type.String({ pattern: LabelName, maxLength: 200 }),
    kind: Type.Union([Type.Literal('promql'), Type.Literal('clickhouse')]),
    expr: Type.String({ minLength: 1 }),
    threshold: Type.Object({ op: Op, value: Type.Number() }, { additionalProperties: false }),
    for: Type.Optional(Duration),
    labels: Type.Optional(Type.Record(Type.String({ pattern: LabelName }), Type.String())),
    annotations: Type.Optional(Type.Record(Type.String({ pattern: LabelName }), Type.String())),
  },
  { additionalProperties: false },
);

export const RuleFileSchema = Type.Object(
  {
    interval: Type.Optional(Duration),
    rules: Type.Array(RuleSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);
export type RawRuleFile = Static<typeof RuleFileSchema>;

export const DEFAULT_GROUP_INTERVAL_MS = 60_000;

export { parseDuration };

function firstSchemaError(schema: TSchema, value: unknown): string | null {
  const error = Value.Errors(schema, value).First();
  if (!error) return null;
  const where = error.path === '' ? 'the top level' : error.path.slice(1).replaceAll('/', '.');
  return `${where}: ${describe(error.schema, error.message)}, got ${JSON.stringify(error.value) ?? 'nothing'}`;
}

/** TypeBox says "Expected union value"; say which values instead. */
function describe(schema: TSchema, message: string): string {
  if (typeof schema.errorMessage === 'string') return schema.errorMessage;
  const options = schema.anyOf as TSchema[] | undefined;
  if (options && options.every((o) => 'const' in o)) return `expected one of ${options.map((o) => JSON.stringify(o.const)).join(', ')}`;
  return message;
}

/**
 * The template forms supported, Prometheus' spelling: `{{ $value }}`, `{{ $labels.name }}`, `{{ .Value }}`,
 * `{{ .Labels.name }}`, optionally piped through `humanize`. Anything else is rejected at load time rather
 * than sent verbatim in a page at 3 a.m.
 */
const TEMPLATE = /\{\{-?\s*(.*?)\s*-?\}\}/g;
const TEMPLATE_EXPR = /^(\$value|\.Value|\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)|\.Labels\.([a-zA-Z_][a-zA-Z0-9_]*))(\s*\|\s*humanize)?$/;

function checkTemplate(text: string, where: string): void {
  for (const m of text.matchAll(TEMPLATE)) {
    if (!TEMPLATE_EXPR.test(m[1])) throw new RuleFileError(`${where}: unsupported template ${JSON.stringify(m[0])} (use {{ $value }} or {{ $labels.name }})`);
  }
}

/** Prometheus' `humanize`: SI prefixes, four significant digits. */
export function humanize(v: number): string {
  if (!Number.isFinite(v) || v === 0) return String(v);
  const abs = Math.abs(v);
  const up = ['', 'k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y'];
  const down = ['', 'm', 'u', 'n', 'p', 'f', 'a', 'z', 'y'];
  let i = 0;
  let x = v;
  if (abs >= 1) {
    while (Math.abs(x) >= 1000 && i < up.length - 1) { x /= 1000; i++; }
    return `${Number(x.toPrecision(4))}${up[i]}`;
  }
  while (Math.abs(x) < 1 && i < down.length - 1) { x *= 1000; i++; }
  return `${Number(x.toPrecision(4))}${down[i]}`;
}

/** Expands an annotation for one series; unknown labels expand to '' as in Prometheus. */
export function expandTemplate(text: string, labels: Record<string, string>, value: number): string {
  return text.replace(TEMPLATE, (whole, expr: string) => {
    const m = TEMPLATE_EXPR.exec(expr);
    if (!m) return whole;
    const name = m[2] ?? m[3];
    if (name !== undefined) return labels[name] ?? '';
    return m[4] ? humanize(value) : String(value);
  });
}

/** Validates one parsed rule file; errors name the field, the caller prefixes the file. */
export function resolveRuleFile(raw: unknown, file: string, group: string): RuleGroup {
  const error = firstSchemaError(RuleFileSchema, raw);
  if (error) throw new RuleFileError(error);
  const r = raw as RawRuleFile;
  const intervalMs = parseDuration(r.interval, DEFAULT_GROUP_INTERVAL_MS);
  if (intervalMs <= 0) throw new RuleFileError('interval: must be positive');
  const seen = new Set<string>();
  const rules = r.rules.map((rule, i): AlertRule => {
    if (seen.has(rule.name)) throw new RuleFileError(`rules.${i}.name: duplicate rule name ${JSON.stringify(rule.name)}`);
    seen.add(rule.name);
    if (rule.expr.trim() === '') throw new RuleFileError(`rules.${i}.expr: must not be blank`);
    if (rule.labels && 'alertname' in rule.labels) throw new RuleFileError(`rules.${i}.labels.alertname: set from the rule name, cannot be overridden`);
    for (const [k, v] of Object.entries(rule.annotations ?? {})) checkTemplate(v, `rules.${i}.annotations.${k}`);
    return {
      name: rule.name,
      kind: rule.kind,
      expr: rule.expr.trim(),
      threshold: { op: rule.threshold.op, value: rule.threshold.value },
      forMs: parseDuration(rule.for, 0),
      labels: { ...rule.labels },
      annotations: { ...rule.annotations },
      group,
      file,
    };
  });
  return { name: group, file, intervalMs, rules };
}

/** Parses one rule file's text; every error names the file. */
export function parseRuleFile(text: string, file: string, group = groupName(file)): RuleGroup {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    if (err instanceof YAMLParseError) throw new RuleFileError(`${file}: not valid YAML: ${err.message}`);
    throw err;
  }
  try {
    return resolveRuleFile(raw, file, group);
  } catch (err) {
    if (err instanceof RuleFileError) throw new RuleFileError(`${file}: ${err.message}`);
    throw err;
  }
}

function groupName(file: string): string {
  return (file.split(/[\\/]/).pop() ?? file).replace(/\.ya?ml$/, '');
}

/** Loads every *.yaml / *.yml in a folder (sorted); rule names must be unique across the folder. */
export function loadRuleDirectory(dir: string): RuleGroup[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /\.ya?ml$/.test(n)).sort();
  } catch (err) {
    throw new RuleFileError(`${dir}: cannot read the rules folder: ${(err as Error).message}`);
  }
  const groups: RuleGroup[] = [];
  const owner = new Map<string, string>();
  for (const n of names) {
    const file = join(dir, n);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new RuleFileError(`${file}: cannot read the rule file: ${(err as Error).message}`);
    }
    const group = parseRuleFile(text, file);
    group.rules.forEach((rule, i) => {
      const other = owner.get(rule.name);
      if (other !== undefined) throw new RuleFileError(`${file}: rules.${i}.name: duplicate rule name ${JSON.stringify(rule.name)}, also in ${other}`);
      owner.set(rule.name, file);
    });
    groups.push(group);
  }
  return groups;
}

/** Whether a series' value breaches the rule's threshold; NaN never does. */
export function breaches(rule: Pick<AlertRule, 'threshold'>, value: number): boolean {
  const t = rule.threshold.value;
  switch (rule.threshold.op) {
    case '>': return value > t;
    case '>=': return value >= t;
    case '<': return value < t;
    case '<=': return value <= t;
    case '==': return value === t;
    case '!=': return !Number.isNaN(value) && value !== t;
  }
}
