import type { ClickHouseClient } from '@clickhouse/client';
import type { AlertRule } from './alert-rule.ts';
import type { RuleQuery, Sample } from './evaluator.ts';

/**
 * Runs one rule's expression against its source and returns its series:
 * - PromQL: an instant query at the evaluation time on Prometheus' /api/v1/query; a vector's samples (without
 *   `__name__`, which Prometheus drops from alert labels too) or a scalar as one series without labels;
 * - ClickHouse SQL: one series per row, the numeric `value` column is the value, every other column a label.
 * Every failure is a RuleQueryError whose message says what to fix; the evaluator shows it as the rule's error.
 */
export class RuleQueryError extends Error {
  override name = 'RuleQueryError';
}

export const DEFAULT_QUERY_TIMEOUT_MS = 30_000;

export interface RuleSources {
  /** Base URL of Prometheus (`http://127.0.0.1:9090`); PromQL rules fail with a clear error without it. */
  prometheusUrl?: string;
  /** ClickHouse rules fail with a clear error without it. */
  clickhouse?: ClickHouseClient;
  timeoutMs?: number;
}

/** A RuleQuery for the evaluator: every rule of one evaluation is asked at the same `now`. */
export function ruleQuery(sources: RuleSources, now: () => number): RuleQuery {
  const timeoutMs = sources.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  return async (rule: AlertRule) => {
    if (rule.kind === 'promql') {
      if (!sources.prometheusUrl) throw new RuleQueryError('no Prometheus is configured for PromQL rules (set prometheusUrl)');
      return promqlInstantQuery(sources.prometheusUrl, rule.expr, now(), timeoutMs);
    }
    if (!sources.clickhouse) throw new RuleQueryError('no ClickHouse is configured for ClickHouse rules (set clickhouseUrl)');
    return clickhouseQuery(sources.clickhouse, rule.expr, timeoutMs);
  };
}

// -- PromQL ---------------------------------------------------------------------------------------

interface PromResponse {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  data?: { resultType: string; result: unknown };
}

/** Prometheus writes sample values as strings, with `NaN`, `+Inf` and `-Inf` for the non-finite ones. */
export function promValue(text: unknown): number {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const v = typeof text === 'string' && text.trim() !== '' ? Number(text) : NaN;
  if (Number.isNaN(v)) throw new RuleQueryError(`Prometheus returned a sample value that is not a number: ${JSON.stringify(text)}`);
  return v;
}

/** Converts the `data` of an instant query answer into series. */
export function promSamples(data: { resultType: string; result: unknown }): Sample[] {
  switch (data.resultType) {
    case 'vector':
      return (data.result as { metric: Record<string, string>; value: [number, string] }[]).map((s) => {
        const { __name__: _name, ...labels } = s.metric;
        return { labels, value: promValue(s.value[1]) };
      });
    case 'scalar':
      return [{ labels: {}, value: promValue((data.result as [number, string])[1]) }];
    case 'matrix':
      throw new RuleQueryError('the PromQL expression returns a range vector (matrix); an alert rule needs an instant vector, e.g. wrap it in rate(…) or max_over_time(…)');
    default:
      throw new RuleQueryError(`the PromQL expression returns a ${data.resultType}; an alert rule needs an instant vector or a scalar`);
  }
}

export async function promqlInstantQuery(prometheusUrl: string, expr: string, timeMs: number, timeoutMs: number): Promise<Sample[]> {
  const url = `${prometheusUrl.replace(/\/+$/, '')}/api/v1/query`;
  // POST with a form body: long expressions do not hit URL length limits. Prometheus' own `timeout` ends
  // the query on its side, the abort signal ends our wait if Prometheus does not answer at all.
  const body = new URLSearchParams({ query: expr, time: (timeMs / 1000).toFixed(3), timeout: `${Math.max(1, Math.floor(timeoutMs / 1000))}s` });
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', body, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new RuleQueryError(`Prometheus at ${prometheusUrl} did not answer: ${describeFetchError(err, timeoutMs)}`);
  }
  const text = await res.text();
  let json: PromResponse;
  try {
    json = JSON.parse(text) as PromResponse;
  } catch {
    throw new RuleQueryError(`Prometheus answered ${res.status} with something that is not JSON: ${text.slice(0, 200)}`);
  }
  if (json.status !== 'success' || !json.data) throw new RuleQueryError(`Prometheus rejected the query (${res.status}, ${json.errorType ?? 'error'}): ${json.error ?? text.slice(0, 200)}`);
  return promSamples(json.data);
}

function describeFetchError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `no answer within ${timeoutMs} ms`;
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err instanceof Error ? err.message : String(err)}${cause}`;
}

// -- ClickHouse -----------------------------------------------------------------------------------

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
// Int8…UInt256, Float32/64, Decimal(…), optionally Nullable(…).
const NUMERIC_TYPE = /^(Nullable\()?(U?Int\d+|Float\d+|Decimal\d*\(.*\))\)?$/;

interface ClickHouseJson {
  meta: { name: string; type: string }[];
  data: Record<string, unknown>[];
}

export async function clickhouseQuery(client: ClickHouseClient, expr: string, timeoutMs: number): Promise<Sample[]> {
  let result: ClickHouseJson;
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const rs = await client.query({
      query: expr,
      format: 'JSON',
      abort_signal: timeout,
      clickhouse_settings: {
        // The server stops the query too, instead of computing an answer nobody waits for.
        max_execution_time: Math.max(1, Math.ceil(timeoutMs / 1000)),
        // ±inf and nan as "inf"/"-inf"/"nan" instead of null, so an infinite value still breaches `>`.
        output_format_json_quote_denormals: 1,
        // A rule only reads; the same client writes the alert state, so the guard is per query.
        readonly: '2',
      },
    });
    result = await rs.json<ClickHouseJson>() as unknown as ClickHouseJson;
  } catch (err) {
    const message = timeout.aborted ? `no answer within ${timeoutMs} ms` : err instanceof Error ? err.message : String(err);
    throw new RuleQueryError(`ClickHouse query failed: ${message.trim()}`);
  }
  return clickhouseSamples(result);
}

/** Rows → series. The `value` column must be numeric; the others become labels (empty values are dropped, as in Prometheus). */
export function clickhouseSamples(result: ClickHouseJson): Sample[] {
  const valueColumn = result.meta.find((c) => c.name === 'value');
  if (!valueColumn) throw new RuleQueryError(`the query has no \`value\` column (columns: ${result.meta.map((c) => c.name).join(', ') || 'none'}); name the number to compare with the threshold \`AS value\``);
  if (!NUMERIC_TYPE.test(valueColumn.type)) throw new RuleQueryError(`the \`value\` column is ${valueColumn.type}, not a number; convert it, e.g. toFloat64(…) AS value`);
  for (const c of result.meta) {
    if (c.name !== 'value' && !LABEL_NAME.test(c.name)) throw new RuleQueryError(`column ${JSON.stringify(c.name)} is not a valid label name; give it an alias such as AS host`);
  }
  return result.data.map((row) => {
    const labels: Record<string, string> = {};
    for (const c of result.meta) {
      if (c.name === 'value') continue;
      const text = labelText(row[c.name]);
      if (text !== '') labels[c.name] = text;
    }
    return { labels, value: clickhouseNumber(row.value) };
  });
}

/** 64-bit integers and (with output_format_json_quote_denormals) ±inf and nan arrive quoted; a NULL is NaN, which never breaches. */
function clickhouseNumber(v: unknown): number {
  if (v === null) return NaN;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const lower = v.toLowerCase();
    if (lower === 'inf' || lower === '+inf') return Infinity;
    if (lower === '-inf') return -Infinity;
    if (lower === 'nan') return NaN;
    const n = Number(v);
    if (v.trim() !== '' && !Number.isNaN(n)) return n;
  }
  throw new RuleQueryError(`the \`value\` column holds ${JSON.stringify(v)}, which is not a number`);
}

function labelText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}
