import type { RemoteWriteSeries } from './remote-write.ts';

/**
 * One series' aggregate over one window, as the metrics stage writes it to metrics.rollup.1m.
 * count, sum, min, max and last are over the data points (gauge, sum) or observations (histogram, summary)
 * that fell in the window; quantiles come from the stage's mergeable sketch.
 */
export interface MetricRollup {
  name: string;
  type: 'gauge' | 'sum' | 'histogram' | 'summary';
  attributes: Record<string, string | number | boolean>;
  resource: Record<string, string | number | boolean>;
  /** Start of the window, milliseconds since the epoch. */
  windowStart: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  last: number;
  quantiles?: { quantile: number; value: number }[];
}

export const ROLLUP_WINDOW_MS = 60_000;

/**
 * The timestamp of a window's samples: the window's last millisecond, windowStart + windowMs - 1.
 *
 * - The end, not the start: a sample at t means "the value as of t", and a window's aggregate is only
 *   known once the window is over. Stamped at the start, a minute's rollup would appear in PromQL a minute
 *   before the data it summarises, and `x @ t` would answer with data from after t.
 * - One millisecond before the end: the sample stays inside its own window [start, start + windowMs), so
 *   floor(t / 60 s) names the same minute as the ClickHouse rows for it, and a `[1m]` range ending on a minute
 *   boundary holds exactly one rollup both in Prometheus 2.x (ranges closed at both ends) and 3.x (open at the
 *   start); stamped exactly on the boundary, a 2.x `x[1m]` would see two consecutive windows.
 */
export function rollupTimestamp(windowStart: number, windowMs = ROLLUP_WINDOW_MS): number {
  return windowStart + windowMs - 1;
}

/**
 * A Prometheus metric name from an OpenTelemetry-style one: every character outside [a-zA-Z0-9_:] becomes '_'
 * (system.cpu.time → system_cpu_time), and a leading digit gets a '_' in front.
 */
export function sanitizeMetricName(name: string): string {
  if (name === '') throw new TypeError('a metric needs a name');
  const s = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[0-9]/.test(s) ? `_${s}` : s;
}

/**
 * A Prometheus label name, [a-zA-Z_][a-zA-Z0-9_]*: other characters become '_', a leading digit gets a '_' in
 * front. Names starting with '__' are Prometheus' own (`__name__`), so an attribute's name keeps only one
 * leading underscore and cannot overwrite them.
 */
export function sanitizeLabelName(name: string): string {
  if (name === '') throw new TypeError('a label needs a name');
  let s = name.replace(/[^a-zA-Z0-9_]/g, '_');
  if (/^[0-9]/.test(s)) s = `_${s}`;
  return s.replace(/^_{2,}/, '_');
}

/**
 * The labels shared by all series of a rollup: its attributes, then `job` from the resource's service.name
 * (prefixed with service.namespace when there is one) and `instance` from host.name (else
 * service.instance.id), as OpenTelemetry's Prometheus exporters do. Resource-derived job and instance win over
 * attributes of the same name. Attributes whose sanitized names collide (`http.method` and `http_method`) are
 * joined with ';' in the order of their original names, so no value is silently lost.
 */
export function rollupLabels(rollup: Pick<MetricRollup, 'attributes' | 'resource'>): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const key of Object.keys(rollup.attributes).sort()) {
    const name = sanitizeLabelName(key);
    const value = String(rollup.attributes[key]);
    labels[name] = name in labels ? `${labels[name]};${value}` : value;
  }
  const { resource } = rollup;
  const service = resource['service.name'];
  if (service !== undefined && service !== '') {
    const ns = resource['service.namespace'];
    labels.job = ns !== undefined && ns !== '' ? `${ns}/${service}` : String(service);
  }
  const instance = resource['host.name'] ?? resource['service.instance.id'];
  if (instance !== undefined && instance !== '') labels.instance = String(instance);
  return labels;
}

/**
 * The remote-write series of one rollup, each with one sample at rollupTimestamp(windowStart):
 *
 * - `<name>` = last, for gauges and sums (the value a scrape at the window's end would have seen);
 * - `<name>_count`, `<name>_sum`, `<name>_min`, `<name>_max` for every type. They describe the window alone
 *   (not running totals), so they are gauges to PromQL: sum_over_time, not rate();
 * - `<name>{quantile="0.5"}`, one per quantile, as Prometheus summaries name them.
 */
export function seriesFromRollup(rollup: MetricRollup, windowMs = ROLLUP_WINDOW_MS): RemoteWriteSeries[] {
  const name = sanitizeMetricName(rollup.name);
  const labels = rollupLabels(rollup);
  const timestamp = rollupTimestamp(rollup.windowStart, windowMs);
  const one = (metric: string, value: number, extra?: Record<string, string>): RemoteWriteSeries => ({
    labels: { ...labels, ...extra, __name__: metric },
    samples: [{ timestamp, value }],
  });
  const out: RemoteWriteSeries[] = [];
  if (rollup.type === 'gauge' || rollup.type === 'sum') out.push(one(name, rollup.last));
  out.push(
    one(`${name}_count`, rollup.count),
    one(`${name}_sum`, rollup.sum),
    one(`${name}_min`, rollup.min),
    one(`${name}_max`, rollup.max),
  );
  for (const q of rollup.quantiles ?? []) out.push(one(name, q.value, { quantile: String(q.quantile) }));
  return out;
}

/**
 * The series of many rollups, with the samples of the same series (several windows of it) gathered into one
 * TimeSeries: a smaller request, and the label set is sent once.
 */
export function seriesFromRollups(rollups: Iterable<MetricRollup>, windowMs = ROLLUP_WINDOW_MS): RemoteWriteSeries[] {
  const bySeries = new Map<string, RemoteWriteSeries>();
  for (const rollup of rollups) {
    for (const s of seriesFromRollup(rollup, windowMs)) {
      const key = JSON.stringify(Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      const seen = bySeries.get(key);
      if (seen) seen.samples.push(...s.samples);
      else bySeries.set(key, s);
    }
  }
  return [...bySeries.values()];
}
