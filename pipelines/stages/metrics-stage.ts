/**
 * The `metrics` stage: metrics.raw → metrics.rollup.1m, one row per series and minute. A series is the
 * metric name, its attributes (sorted by key), service.name and host.name.
 *
 * What the columns hold, per point type:
 * - gauge, sum: count = points, sum/min/max over their values, last = the value at the greatest event
 *   time (a tie goes to the later offset), sketch = DDSketch of the values. Cumulative sums are rolled up
 *   as the raw cumulative values: `last` is the running total Prometheus wants, and a delta conversion
 *   would need state across windows that a late or restarted series would get wrong.
 * - histogram: count and sum over the observations the points report (each point's own count and sum, so
 *   for cumulative histograms they add up running totals, as with sums); min/max from the point's min/max
 *   when sent, else the representative values of the outermost non-empty buckets; last = the latest
 *   point's sum. The sketch receives each bucket's count at one representative value: the midpoint of
 *   (lower, upper] for inner buckets, and for the open-ended outer buckets the midpoint with the point's
 *   min/max when known, else the finite bound. Quantiles from it are therefore only as fine as the
 *   buckets (plus the sketch's 1%).
 * - summary: count = the points' counts, sum = their values (the observations' sum), min/max from the
 *   0 and 1 quantiles (else the smallest and largest quantile sent), last = the latest point's value; no
 *   sketch ('') — a summary's quantiles cannot be merged.
 * - type and unit come from the first point of the window; absent min/max are written as 0.
 *
 * A point too late for its minute goes to out.late only: metrics have no per-record output.
 */
import { checkMetricPoint, MetricPoint } from '../../agents/events/metric-point.ts';
import { DDSketch } from '../sketches/quantile-sketch.ts';
import type { Emitter, InputRecord, PartitionProcessor, StageDefinition } from '../runtime/stage.ts';
import { compareStrings, TumblingWindows, type AccumulatorCodec } from '../runtime/tumbling-windows.ts';
import { allowedLateness, RecordDecoder, stringifyValue, watermarkFromJson, watermarkToJson, WINDOW_MS, type StageOptions } from './decode.ts';

export const METRICS_ROLLUP = 'metrics.rollup.1m';

export interface MetricsRollupAcc {
  name: string;
  type: string;
  unit: string;
  service: string;
  host: string;
  labelKeys: string[];
  labelValues: string[];
  count: number;
  sum: number;
  /** Infinity / −Infinity until a value arrives. */
  min: number;
  max: number;
  last: number;
  /** −1 until a point arrives. */
  lastTimestamp: number;
  sketch: DDSketch | null;
}

interface AccJson extends Omit<MetricsRollupAcc, 'sketch' | 'min' | 'max'> {
  min: number | null;
  max: number | null;
  sketch: string | null;
}

const codec: AccumulatorCodec<MetricsRollupAcc> = {
  serialize: (a): AccJson => ({
    ...a,
    min: Number.isFinite(a.min) ? a.min : null,
    max: Number.isFinite(a.max) ? a.max : null,
    sketch: a.sketch ? a.sketch.toBase64() : null,
  }),
  deserialize: (json) => {
    const j = json as AccJson;
    return { ...j, min: j.min ?? Infinity, max: j.max ?? -Infinity, sketch: j.sketch === null ? null : DDSketch.fromBase64(j.sketch) };
  },
};

interface MetricsSnapshot {
  watermark: number | null;
  windows: ReturnType<TumblingWindows<MetricsRollupAcc>['snapshot']>;
}

const decoder = new RecordDecoder(MetricPoint, checkMetricPoint);

/** The series identity: name, service, host and sorted labels, joined by a separator no label contains. */
function seriesOf(p: MetricPoint): { key: string; service: string; host: string; labelKeys: string[]; labelValues: string[] } {
  const service = p.resource['service.name'] ?? '';
  const host = p.resource['host.name'] ?? '';
  const labelKeys = p.attributes ? Object.keys(p.attributes).sort(compareStrings) : [];
  const labelValues = labelKeys.map((k) => stringifyValue(p.attributes![k]));
  let key = `${p.name}\u0000${service}\u0000${host}`;
  for (let i = 0; i < labelKeys.length; i++) key += `\u0000${labelKeys[i]}\u0001${labelValues[i]}`;
  return { key, service, host, labelKeys, labelValues };
}

/** Each non-empty bucket as [representative value, count]; see the module comment for the choice. */
export function histogramObservations(h: NonNullable<MetricPoint['histogram']>): [number, number][] {
  const out: [number, number][] = [];
  const { bounds, counts } = h;
  const n = bounds.length;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (!(c > 0)) continue;
    let v: number;
    if (n === 0) v = h.sum !== undefined && h.count > 0 ? h.sum / h.count : (h.min ?? h.max ?? 0);
    else if (i === 0) v = h.min !== undefined && h.min <= bounds[0] ? (h.min + bounds[0]) / 2 : bounds[0];
    else if (i === n) v = h.max !== undefined && h.max >= bounds[n - 1] ? (bounds[n - 1] + h.max) / 2 : bounds[n - 1];
    else v = (bounds[i - 1] + bounds[i]) / 2;
    out.push([v, c]);
  }
  return out;
}

function fold(acc: MetricsRollupAcc, p: MetricPoint, time: number): void {
  let latest: number;
  switch (p.type) {
    case 'gauge':
    case 'sum': {
      const v = p.value!;
      acc.count++;
      acc.sum += v;
      if (v < acc.min) acc.min = v;
      if (v > acc.max) acc.max = v;
      (acc.sketch ??= new DDSketch()).add(v);
      latest = v;
      break;
    }
    case 'histogram': {
      const h = p.histogram!;
      const observations = histogramObservations(h);
      acc.count += h.count;
      let approxSum = 0;
      const sketch = (acc.sketch ??= new DDSketch());
      for (const [v, c] of observations) {
        sketch.add(v, c);
        approxSum += v * c;
      }
      const sum = h.sum ?? approxSum;
      acc.sum += sum;
      if (observations.length > 0) {
        const lo = h.min ?? observations[0][0];
        const hi = h.max ?? observations[observations.length - 1][0];
        if (lo < acc.min) acc.min = lo;
        if (hi > acc.max) acc.max = hi;
      }
      latest = sum;
      break;
    }
    case 'summary': {
      acc.count += p.count ?? 0;
      acc.sum += p.value ?? 0;
      const qs = p.quantiles ?? [];
      if (qs.length > 0) {
        let lo = qs[0];
        let hi = qs[0];
        for (const q of qs) {
          if (q.quantile < lo.quantile) lo = q;
          if (q.quantile > hi.quantile) hi = q;
        }
        if (lo.value < acc.min) acc.min = lo.value;
        if (hi.value > acc.max) acc.max = hi.value;
      }
      latest = p.value ?? 0;
      break;
    }
  }
  // Records arrive in offset order, so >= lets the later offset win a tie.
  if (time >= acc.lastTimestamp) {
    acc.lastTimestamp = time;
    acc.last = latest;
  }
}

class MetricsProcessor implements PartitionProcessor {
  private readonly windows: TumblingWindows<MetricsRollupAcc>;
  private closedUpTo: number;

  constructor(restored: MetricsSnapshot | undefined) {
    this.windows = restored ? TumblingWindows.restore(restored.windows, codec) : new TumblingWindows(WINDOW_MS, codec);
    this.closedUpTo = watermarkFromJson(restored?.watermark);
  }

  process(record: InputRecord, watermark: number, out: Emitter): number | undefined {
    const p = decoder.decode(record, out);
    if (p === undefined) return undefined;
    const time = Math.floor(p.timestamp);
    if (this.windows.isClosed(time, Math.max(watermark, this.closedUpTo))) {
      out.late(record, time);
      return time;
    }
    const s = seriesOf(p);
    this.windows.update(
      s.key,
      time,
      () => ({
        name: p.name,
        type: p.type,
        unit: p.unit ?? '',
        service: s.service,
        host: s.host,
        labelKeys: s.labelKeys,
        labelValues: s.labelValues,
        count: 0,
        sum: 0,
        min: Infinity,
        max: -Infinity,
        last: 0,
        lastTimestamp: -1,
        sketch: null,
      }),
      (acc) => fold(acc, p, time),
    );
    return time;
  }

  advance(watermark: number, out: Emitter): void {
    if (!(watermark > this.closedUpTo)) return;
    this.closedUpTo = watermark;
    for (const { windowStart, acc } of this.windows.closeUpTo(watermark)) {
      // The raw topic's key (host, else service): a series stays on one partition end to end.
      out.emit(METRICS_ROLLUP, acc.host || acc.service || 'unknown', toRow(windowStart, acc));
    }
  }

  snapshot(): MetricsSnapshot {
    return { watermark: watermarkToJson(this.closedUpTo), windows: this.windows.snapshot() };
  }
}

/** A metrics_rollup_1m row (minus the source position the sink adds). */
export function toRow(windowStart: number, acc: MetricsRollupAcc): Record<string, unknown> {
  return {
    minute: windowStart,
    name: acc.name,
    type: acc.type,
    unit: acc.unit,
    service: acc.service,
    host: acc.host,
    label_keys: acc.labelKeys,
    label_values: acc.labelValues,
    count: acc.count,
    sum: acc.sum,
    min: Number.isFinite(acc.min) ? acc.min : 0,
    max: Number.isFinite(acc.max) ? acc.max : 0,
    last: acc.last,
    last_timestamp: acc.lastTimestamp < 0 ? 0 : acc.lastTimestamp,
    sketch: acc.sketch && acc.sketch.count > 0 ? acc.sketch.toBase64() : '',
  };
}

export function metricsStage(opts: StageOptions = {}): StageDefinition {
  return {
    name: 'metrics',
    inputs: ['metrics.raw'],
    outputs: [METRICS_ROLLUP],
    allowedLatenessMs: allowedLateness(opts),
    createProcessor: (restored) => new MetricsProcessor(restored as MetricsSnapshot | undefined),
  };
}
