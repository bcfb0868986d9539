import type { Resource } from '../../events/attributes.ts';
import type { MetricPoint } from '../../events/metric-point.ts';
import { METRIC_NAME, PrometheusLineError, parseSampleLine, parseSampleValue, type PrometheusSample } from './prometheus-sample-line.ts';

/** An exposition the text format 0.0.4 does not allow. The scraper treats it as a failed scrape. */
export class PrometheusParseError extends Error {
  override name = 'PrometheusParseError';
  readonly line: number;

  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.line = line;
  }
}

export type PrometheusMetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
const METRIC_TYPES: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export interface PrometheusParseOptions {
  /** When the scrape happened: the timestamp of samples that carry none. */
  timestamp: number;
  resource: Resource;
}

export interface PrometheusParseResult {
  points: MetricPoint[];
  /**
   * Samples left out because a MetricPoint, which is JSON, cannot carry them: NaN and ±Inf values, timestamps
   * outside the schema's years, names or labels over its size limits.
   */
  skippedSamples: number;
}

/**
 * Parses the Prometheus text format 0.0.4 into MetricPoints: counters become monotonic cumulative sums (named as
 * exposed, `_total` kept), gauges and untyped metrics gauges, and the `_bucket`/`_sum`/`_count` (or quantile) series
 * of a histogram (summary) one histogram (summary) point per label set. Labels become attributes.
 */
export function parsePrometheusText(text: string, options: PrometheusParseOptions): PrometheusParseResult {
  const parser = new ExpositionParser(options);
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    try {
      parser.line(lines[i], i + 1);
    } catch (e) {
      if (e instanceof PrometheusLineError) throw new PrometheusParseError(i + 1, e.message);
      throw e;
    }
  }
  return parser.finish();
}

interface Family {
  type?: PrometheusMetricType;
  help?: string;
}

/** Which part of a family a sample is, from its name suffix and the family's TYPE. */
type SampleRole = 'value' | 'bucket' | 'sum' | 'count';

/** The series of one histogram or summary label set, gathered until the end of the exposition. */
interface SeriesGroup {
  kind: 'histogram' | 'summary';
  name: string;
  labels: [string, string][];
  line: number;
  timestamp: number;
  /** Set when a sample's timestamp cannot be represented: the whole group is then left out. */
  unrepresentable: boolean;
  buckets: { le: number; cumulative: number; line: number }[];
  quantiles: { quantile: number; value: number }[];
  sum?: number;
  count?: number;
}

/** MetricPoint schema bounds (agents/events): what JSON records downstream accept. */
const EPOCH_MILLIS_MIN = 946_684_800_000;
const EPOCH_MILLIS_MAX = 4_102_444_800_000;
const NAME_MAX = 256;
const LABELS_MAX = 256;
const LABEL_VALUE_MAX = 65_536;
const DESCRIPTION_MAX = 1024;
const BUCKETS_MAX = 1000;
const QUANTILES_MAX = 100;

class ExpositionParser {
  private readonly options: PrometheusParseOptions;
  private readonly families = new Map<string, Family>();
  /** Sample names seen so far: a TYPE line after them would retype samples already emitted. */
  private readonly sampled = new Set<string>();
  private readonly groups = new Map<string, SeriesGroup>();
  /** Points and groups in exposition order; groups become points at the end. */
  private readonly entries: (MetricPoint | SeriesGroup)[] = [];
  private skipped = 0;

  constructor(options: PrometheusParseOptions) {
    this.options = options;
  }

  line(raw: string, lineNo: number): void {
    const line = raw.trim();
    if (line === '') return;
    if (line.startsWith('#')) this.comment(line);
    else this.sample(parseSampleLine(line), lineNo);
  }

  finish(): PrometheusParseResult {
    const points: MetricPoint[] = [];
    for (const entry of this.entries) {
      if (!('kind' in entry)) points.push(entry);
      else {
        const point = entry.kind === 'histogram' ? this.histogramPoint(entry) : this.summaryPoint(entry);
        if (point) points.push(point);
      }
    }
    return { points, skippedSamples: this.skipped };
  }

  /** `# HELP name docstring`, `# TYPE name type`; any other comment is ignored. */
  private comment(line: string): void {
    const body = line.slice(1).trimStart();
    const keyword = /^\S*/.exec(body)![0];
    if (keyword !== 'HELP' && keyword !== 'TYPE') return;
    const afterKeyword = body.slice(keyword.length).trimStart();
    const name = /^\S*/.exec(afterKeyword)![0];
    if (name === '') throw new PrometheusLineError(`# ${keyword} needs a metric name`);
    if (!METRIC_NAME.test(name)) throw new PrometheusLineError(`invalid metric name ${JSON.stringify(name)} in # ${keyword}`);
    const rest = afterKeyword.slice(name.length).trimStart();
    const family = this.families.get(name) ?? {};
    this.families.set(name, family);
    if (keyword === 'HELP') {
      if (family.help !== undefined) throw new PrometheusLineError(`second HELP line for ${name}`);
      family.help = rest.replace(/\\([\\n])/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
      return;
    }
    if (family.type !== undefined) throw new PrometheusLineError(`second TYPE line for ${name}`);
    if (!METRIC_TYPES.has(rest)) throw new PrometheusLineError(`unknown metric type ${JSON.stringify(rest)} for ${name}: expected counter, gauge, histogram, summary or untyped`);
    const type = rest as PrometheusMetricType;
    const seriesNames = type === 'histogram' ? ['', '_bucket', '_sum', '_count'] : type === 'summary' ? ['', '_sum', '_count'] : type === 'counter' ? ['', '_total'] : [''];
    if (seriesNames.some((suffix) => this.sampled.has(name + suffix))) throw new PrometheusLineError(`TYPE line for ${name} comes after its samples`);
    family.type = type;
  }

  private sample(s: PrometheusSample, lineNo: number): void {
    this.sampled.add(s.name);
    const { family, role } = this.resolve(s.name);
    const type = family?.[1].type ?? 'untyped';
    if (type === 'histogram' || type === 'summary') return this.groupSample(type, family![0], role, s, lineNo);

    if (!Number.isFinite(s.value) || !representableTime(s.timestamp) || !fitsSchema(s.name, s.labels)) {
      this.skipped++;
      return;
    }
    const point: MetricPoint = { timestamp: s.timestamp ?? this.options.timestamp, name: s.name, type: type === 'counter' ? 'sum' : 'gauge', value: s.value, resource: this.options.resource };
    if (type === 'counter') {
      point.monotonic = true;
      point.temporality = 'cumulative';
    }
    this.describe(point, family?.[1] ?? this.families.get(s.name), s.labels);
    this.entries.push(point);
  }

  /** The family a sample belongs to: its own name, or for `_bucket`/`_sum`/`_count`/`_total` the typed base name. */
  private resolve(name: string): { family?: [string, Family]; role: SampleRole } {
    const own = this.families.get(name);
    if (own?.type !== undefined) return { family: [name, own], role: 'value' };
    for (const [suffix, role] of [['_bucket', 'bucket'], ['_sum', 'sum'], ['_count', 'count'], ['_total', 'value']] as const) {
      if (!name.endsWith(suffix)) continue;
      const base = name.slice(0, -suffix.length);
      const family = this.families.get(base);
      const type = family?.type;
      const fits = type === 'histogram' ? role !== 'value' : type === 'summary' ? role === 'sum' || role === 'count' : type === 'counter' && suffix === '_total';
      if (family && fits) return { family: [base, family], role };
    }
    return { role: 'value' };
  }

  private groupSample(kind: 'histogram' | 'summary', name: string, role: SampleRole, s: PrometheusSample, lineNo: number): void {
    if (kind === 'histogram' && role === 'value') throw new PrometheusLineError(`histogram ${name} has a sample without a _bucket, _sum or _count suffix`);
    const special = kind === 'histogram' ? 'le' : 'quantile';
    const isBound = role === 'bucket' || role === 'value';
    const labels = isBound ? s.labels.filter(([k]) => k !== special) : s.labels;
    const key = `${kind}\u0000${name}\u0000${JSON.stringify(labels.toSorted(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`;
    let group = this.groups.get(key);
    if (!group) {
      group = { kind, name, labels, line: lineNo, timestamp: this.options.timestamp, unrepresentable: !fitsSchema(name, labels), buckets: [], quantiles: [] };
      this.groups.set(key, group);
      this.entries.push(group);
    }
    if (s.timestamp !== undefined) {
      group.timestamp = s.timestamp;
      if (!representableTime(s.timestamp)) group.unrepresentable = true;
    }
    if (role === 'sum') group.sum = s.value;
    else if (role === 'count') {
      if (s.value < 0) throw new PrometheusLineError(`${s.name} is ${s.value}: a count cannot be negative`);
      group.count = s.value;
    } else {
      const bound = s.labels.find(([k]) => k === special)?.[1];
      if (bound === undefined) throw new PrometheusLineError(`${s.name} has no ${special} label`);
      const at = parseSampleValue(bound);
      if (kind === 'histogram') {
        if (at === undefined || Number.isNaN(at) || at === -Infinity) throw new PrometheusLineError(`invalid le=${JSON.stringify(bound)} in ${s.name}: expected a number or +Inf`);
        if (!(s.value >= 0) || s.value === Infinity) throw new PrometheusLineError(`bucket le=${JSON.stringify(bound)} of ${name} has count ${s.value}: expected a non-negative number`);
        if (group.buckets.some((b) => b.le === at)) throw new PrometheusLineError(`bucket le=${JSON.stringify(bound)} of ${name} appears twice`);
        group.buckets.push({ le: at, cumulative: s.value, line: lineNo });
      } else {
        if (at === undefined || !(at >= 0 && at <= 1)) throw new PrometheusLineError(`invalid quantile=${JSON.stringify(bound)} in ${s.name}: expected a number from 0 to 1`);
        if (Number.isFinite(s.value)) group.quantiles.push({ quantile: at, value: s.value });
        // Go clients expose NaN quantiles until the first observation; the rest of the summary is still good.
        else this.skipped++;
      }
    }
  }

  /** Cumulative `le` buckets → OTel explicit buckets: finite bounds, per-bucket counts, the last for +Inf. */
  private histogramPoint(g: SeriesGroup): MetricPoint | undefined {
    const count = this.finiteOrSkip(g.count);
    const sum = this.finiteOrSkip(g.sum);
    const finite = g.buckets.filter((b) => b.le !== Infinity).sort((a, b) => a.le - b.le);
    const inf = g.buckets.find((b) => b.le === Infinity);
    if (g.unrepresentable || finite.length > BUCKETS_MAX || (g.buckets.length === 0 && count === undefined)) {
      this.skipped++;
      return undefined;
    }
    const counts: number[] = [];
    let below = 0;
    for (const b of finite) {
      if (b.cumulative < below) throw new PrometheusParseError(b.line, `bucket le="${b.le}" of ${g.name} counts ${b.cumulative}, fewer than the bucket below it (${below}): buckets are cumulative`);
      counts.push(b.cumulative - below);
      below = b.cumulative;
    }
    const total = inf?.cumulative ?? count ?? below;
    if (total < below) throw new PrometheusParseError(inf?.line ?? g.line, `${g.name} counts ${total} observations in all, fewer than its finite buckets (${below})`);
    counts.push(total - below);
    const histogram: NonNullable<MetricPoint['histogram']> = { count: count ?? total, bounds: finite.map((b) => b.le), counts };
    if (sum !== undefined) histogram.sum = sum;
    const point: MetricPoint = { timestamp: g.timestamp, name: g.name, type: 'histogram', histogram, resource: this.options.resource };
    this.describe(point, this.families.get(g.name), g.labels);
    return point;
  }

  private summaryPoint(g: SeriesGroup): MetricPoint | undefined {
    if (g.unrepresentable || g.quantiles.length > QUANTILES_MAX) {
      this.skipped++;
      return undefined;
    }
    const point: MetricPoint = { timestamp: g.timestamp, name: g.name, type: 'summary', quantiles: g.quantiles.sort((a, b) => a.quantile - b.quantile), resource: this.options.resource };
    const sum = this.finiteOrSkip(g.sum);
    const count = this.finiteOrSkip(g.count);
    if (sum !== undefined) point.value = sum;
    if (count !== undefined) point.count = count;
    this.describe(point, this.families.get(g.name), g.labels);
    return point;
  }

  private finiteOrSkip(n: number | undefined): number | undefined {
    if (n === undefined || Number.isFinite(n)) return n;
    this.skipped++;
    return undefined;
  }

  private describe(point: MetricPoint, family: Family | undefined, labels: [string, string][]): void {
    if (family?.help) point.description = family.help.slice(0, DESCRIPTION_MAX);
    if (labels.length > 0) point.attributes = Object.fromEntries(labels);
  }
}

function representableTime(timestamp: number | undefined): boolean {
  return timestamp === undefined || (timestamp >= EPOCH_MILLIS_MIN && timestamp <= EPOCH_MILLIS_MAX);
}

function fitsSchema(name: string, labels: [string, string][]): boolean {
  return name.length <= NAME_MAX && labels.length <= LABELS_MAX && labels.every(([k, v]) => k.length <= NAME_MAX && v.length <= LABEL_VALUE_MAX);
}
