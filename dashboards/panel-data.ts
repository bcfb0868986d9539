/**
 * Runs one panel's built query against its source and normalises the answer into the one shape the UI
 * draws, whatever the source:
 *
 * - `stat`:   `{ kind: 'stat', value, fields }` — `value` is the first column of the first row (null when
 *             there is no row or it is not a number); `fields` names every column of that row, so a stat
 *             such as bounce rate can show its secondary numbers.
 * - `table`:  `{ kind: 'table', columns, rows }` — rows are arrays in column order.
 * - `series`: `{ kind: 'series', axis, x, series: [{ name, values }] }` for timeseries and bar panels.
 *             `axis: 'time'` has `x` in unix seconds, ascending; `axis: 'category'` has `x` as the first
 *             column's values in the order the query returned them. Every `values` array is as long as
 *             `x`; a point a series lacks is null. Buckets the query did not return are not invented.
 *
 * ClickHouse rows of a series panel are read as (x, [label columns…], value columns…): the first column
 * is x, the trailing numeric columns are values, the string columns in between label the series (a
 * series per distinct label combination and value column). Numbers arrive from ClickHouse's JSON format
 * as strings for 64-bit integers and are turned into numbers here; DateTime values are read as UTC, the
 * time zone Tributary's ClickHouse runs in (its tables are `DateTime('UTC')`).
 *
 * Prometheus: timeseries and bar panels use query_range (start, end, step); stat and table panels an
 * instant query at the range's end. A series is named by its labels.
 *
 * `merge: hll` panels: rows carry base64 HyperLogLog sketches in `visitors_hll`; rows are grouped by
 * every other column, their sketches merged, and the column replaced by `visitors`, the rounded estimate.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { PanelDefinition } from './definitions-loader.ts';
import type { BuiltQuery } from './query-builder.ts';
import { HyperLogLog } from '../pipelines/sketches/hyperloglog.ts';

export type Cell = string | number | null;

export interface StatData {
  kind: 'stat';
  value: number | null;
  fields: { name: string; value: Cell }[];
}

export interface TableData {
  kind: 'table';
  columns: string[];
  rows: Cell[][];
}

export interface SeriesData {
  kind: 'series';
  axis: 'time' | 'category';
  x: (number | string)[];
  series: { name: string; values: (number | null)[] }[];
}

export type PanelData = StatData | TableData | SeriesData;

/** The source answered with an error or could not be reached: the HTTP API turns this into 502. */
export class UpstreamError extends Error {
  override name = 'UpstreamError';
  readonly source: PanelDefinition['source'];
  constructor(source: PanelDefinition['source'], message: string, options?: ErrorOptions) {
    super(`${source}: ${message}`, options);
    this.source = source;
  }
}

export interface PanelSources {
  clickhouse?: ClickHouseClient;
  /** Base URL of Prometheus' HTTP API, e.g. http://127.0.0.1:9090 */
  prometheusUrl?: string;
  /** Per upstream request; default 30 s. */
  timeoutMs?: number;
}

/** A result as columns with their types and rows in column order, before it is shaped for a visualisation. */
interface Frame {
  columns: { name: string; type: string }[];
  rows: Cell[][];
}

export async function runPanel(panel: Pick<PanelDefinition, 'source' | 'visualisation' | 'merge'>, built: BuiltQuery, sources: PanelSources): Promise<PanelData> {
  if (built.source === 'clickhouse') {
    let frame = await queryClickHouse(built.query, sources);
    if (panel.merge === 'hll') frame = mergeHll(frame);
    return shapeFrame(panel.visualisation, frame);
  }
  return queryPrometheus(panel.visualisation, built, sources);
}

// ---- ClickHouse -------------------------------------------------------------------------------------

const NUMERIC_TYPE = /^(Nullable\()?(U?Int\d+|Float\d+|Decimal)/;
const TIME_TYPE = /^(Nullable\()?(DateTime|Date)\b/;

async function queryClickHouse(query: string, sources: PanelSources): Promise<Frame> {
  const client = sources.clickhouse;
  if (!client) throw new UpstreamError('clickhouse', 'no ClickHouse is configured (--clickhouse URL)');
  let answer: { meta?: { name: string; type: string }[]; data: Cell[][] };
  try {
    const result = await client.query({ query, format: 'JSONCompact' });
    answer = (await result.json()) as typeof answer;
  } catch (err) {
    throw new UpstreamError('clickhouse', (err as Error).message, { cause: err });
  }
  const columns = answer.meta ?? [];
  const rows = answer.data.map((row) => row.map((v, i) => (NUMERIC_TYPE.test(columns[i]?.type ?? '') && v !== null ? Number(v) : v)));
  return { columns, rows };
}

/** 'YYYY-MM-DD hh:mm:ss' (or a date) read as UTC, in unix seconds. */
function clickHouseTime(value: Cell): number {
  if (typeof value === 'number') return value;
  const text = String(value);
  const iso = text.length === 10 ? `${text}T00:00:00Z` : `${text.replace(' ', 'T')}Z`;
  return Date.parse(iso) / 1000;
}

function mergeHll(frame: Frame): Frame {
  const at = frame.columns.findIndex((c) => c.name === 'visitors_hll');
  if (at === -1) return frame;
  const groups = new Map<string, { row: Cell[]; sketch: HyperLogLog | null }>();
  for (const row of frame.rows) {
    const key = JSON.stringify(row.filter((_, i) => i !== at));
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { row, sketch: null }));
    const text = row[at];
    if (typeof text !== 'string' || text === '') continue;
    let sketch: HyperLogLog;
    try {
      sketch = HyperLogLog.fromBase64(text);
    } catch (err) {
      throw new UpstreamError('clickhouse', `a visitors_hll value is not a HyperLogLog sketch: ${(err as Error).message}`);
    }
    group.sketch = group.sketch ? group.sketch.merge(sketch) : sketch;
  }
  const columns = frame.columns.map((c, i) => (i === at ? { name: 'visitors', type: 'UInt64' } : c));
  const rows = [...groups.values()].map(({ row, sketch }) => row.map((v, i) => (i === at ? Math.round(sketch?.estimate() ?? 0) : v)));
  return { columns, rows };
}

function shapeFrame(visualisation: PanelDefinition['visualisation'], frame: Frame): PanelData {
  if (visualisation === 'stat') return statOf(frame);
  if (visualisation === 'table') return { kind: 'table', columns: frame.columns.map((c) => c.name), rows: frame.rows };
  return seriesOfFrame(frame);
}

function statOf(frame: Frame): StatData {
  const row = frame.rows[0];
  if (!row) return { kind: 'stat', value: null, fields: [] };
  const first = row[0];
  const value = typeof first === 'number' && Number.isFinite(first) ? first : null;
  return { kind: 'stat', value, fields: frame.columns.map((c, i) => ({ name: c.name, value: row[i] })) };
}

function seriesOfFrame(frame: Frame): SeriesData {
  const { columns, rows } = frame;
  if (columns.length < 2) return { kind: 'series', axis: 'category', x: [], series: [] };
  const axis = TIME_TYPE.test(columns[0].type) ? 'time' : 'category';
  // Values: the trailing numeric columns (at least the last one); labels: the columns between x and them.
  let firstValue = columns.length - 1;
  while (firstValue > 1 && NUMERIC_TYPE.test(columns[firstValue - 1].type)) firstValue--;
  const labelIdx = columns.slice(1, firstValue).map((_, i) => i + 1);
  const valueIdx = columns.slice(firstValue).map((_, i) => i + firstValue);

  const xs = new Map<string, number | string>();
  const series = new Map<string, Map<string, number | null>>();
  for (const row of rows) {
    const x = axis === 'time' ? clickHouseTime(row[0]) : String(row[0]);
    const xKey = String(x);
    if (!xs.has(xKey)) xs.set(xKey, x);
    const labels = labelIdx.map((i) => String(row[i]));
    for (const v of valueIdx) {
      const name = [...labels, ...(valueIdx.length > 1 || labels.length === 0 ? [columns[v].name] : [])].join(' / ');
      let points = series.get(name);
      if (!points) series.set(name, (points = new Map()));
      const value = row[v];
      const n = typeof value === 'number' && Number.isFinite(value) ? value : null;
      // Several rows for one x and series (partial rollup rows a query did not aggregate): add them up.
      const prev = points.get(xKey);
      points.set(xKey, prev == null ? n : n == null ? prev : prev + n);
    }
  }
  let x = [...xs.values()];
  if (axis === 'time') x = (x as number[]).sort((a, b) => a - b);
  return {
    kind: 'series',
    axis,
    x,
    series: [...series].map(([name, points]) => ({ name, values: x.map((xv) => points.get(String(xv)) ?? null) })),
  };
}

// ---- Prometheus -------------------------------------------------------------------------------------

interface PromSample {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

async function promApi(path: string, params: Record<string, string>, sources: PanelSources): Promise<{ resultType: string; result: unknown }> {
  if (!sources.prometheusUrl) throw new UpstreamError('prometheus', 'no Prometheus is configured (--prometheus URL)');
  const url = new URL(path, sources.prometheusUrl);
  let res: Response;
  let body: { status?: string; data?: { resultType: string; result: unknown }; errorType?: string; error?: string };
  try {
    // POST with a form body: long PromQL stays out of URLs and their length limits.
    res = await fetch(url, {
      method: 'POST',
      body: new URLSearchParams(params),
      signal: AbortSignal.timeout(sources.timeoutMs ?? 30_000),
    });
    const text = await res.text();
    try {
      body = JSON.parse(text);
    } catch {
      throw new UpstreamError('prometheus', `HTTP ${res.status}: ${text.slice(0, 300).trim()}`);
    }
  } catch (err) {
    if (err instanceof UpstreamError) throw err;
    throw new UpstreamError('prometheus', (err as Error).message, { cause: err });
  }
  if (body.status !== 'success' || !body.data) throw new UpstreamError('prometheus', `${body.errorType ?? `HTTP ${res.status}`}: ${body.error ?? 'no data'}`);
  return body.data;
}

/** `{instance="a", state="b"}` → `a / b`; the metric name only when no other label tells series apart. */
function seriesName(metric: Record<string, string>): string {
  const keys = Object.keys(metric).filter((k) => k !== '__name__').sort();
  if (keys.length === 0) return metric.__name__ ?? 'value';
  return keys.map((k) => metric[k]).join(' / ');
}

function promNumber(text: string): number | null {
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

async function queryPrometheus(visualisation: PanelDefinition['visualisation'], built: BuiltQuery, sources: PanelSources): Promise<PanelData> {
  if (visualisation === 'timeseries' || visualisation === 'bar') {
    const data = await promApi('/api/v1/query_range', { query: built.query, start: String(built.start), end: String(built.end), step: String(built.step) }, sources);
    const result = (data.resultType === 'matrix' ? data.result : []) as PromSample[];
    const times = new Set<number>();
    for (const s of result) for (const [t] of s.values ?? []) times.add(t);
    const x = [...times].sort((a, b) => a - b);
    const index = new Map(x.map((t, i) => [t, i]));
    const series = result.map((s) => {
      const values: (number | null)[] = new Array(x.length).fill(null);
      for (const [t, v] of s.values ?? []) values[index.get(t)!] = promNumber(v);
      return { name: seriesName(s.metric), values };
    });
    series.sort((a, b) => a.name.localeCompare(b.name));
    return { kind: 'series', axis: 'time', x, series };
  }
  const data = await promApi('/api/v1/query', { query: built.query, time: String(built.end) }, sources);
  let frame: Frame;
  if (data.resultType === 'vector') {
    const result = data.result as PromSample[];
    const labels = [...new Set(result.flatMap((s) => Object.keys(s.metric)))].sort();
    result.sort((a, b) => seriesName(a.metric).localeCompare(seriesName(b.metric)));
    frame = {
      columns: [...labels.map((name) => ({ name, type: 'String' })), { name: 'value', type: 'Float64' }],
      rows: result.map((s) => [...labels.map((l) => s.metric[l] ?? ''), promNumber(s.value?.[1] ?? 'NaN')]),
    };
  } else if (data.resultType === 'scalar') {
    const [, v] = data.result as [number, string];
    frame = { columns: [{ name: 'value', type: 'Float64' }], rows: [[promNumber(v)]] };
  } else {
    frame = { columns: [{ name: 'value', type: 'String' }], rows: [] };
  }
  if (visualisation === 'table') return { kind: 'table', columns: frame.columns.map((c) => c.name), rows: frame.rows };
  // A stat is one number: the value column, not the first label.
  const row = frame.rows[0];
  if (!row) return { kind: 'stat', value: null, fields: [] };
  const value = row[row.length - 1];
  return { kind: 'stat', value: typeof value === 'number' ? value : null, fields: frame.columns.map((c, i) => ({ name: c.name, value: row[i] })) };
}
