import type { MetricPoint } from '../../events/metric-point.ts';
import { attributes, list, nanosToMillis, OtlpShapeError, type OtlpKeyValue } from './otlp-values.ts';

interface NumberPoint {
  attributes?: OtlpKeyValue[];
  startTimeUnixNano?: string;
  timeUnixNano?: string;
  asDouble?: number;
  asInt?: string | number;
}
interface HistogramPoint {
  attributes?: OtlpKeyValue[];
  startTimeUnixNano?: string;
  timeUnixNano?: string;
  count?: string | number;
  sum?: number;
  min?: number;
  max?: number;
  bucketCounts?: (string | number)[];
  explicitBounds?: number[];
}
interface SummaryPoint {
  attributes?: OtlpKeyValue[];
  startTimeUnixNano?: string;
  timeUnixNano?: string;
  count?: string | number;
  sum?: number;
  quantileValues?: { quantile?: number; value?: number }[];
}
interface OtlpMetric {
  name?: string;
  description?: string;
  unit?: string;
  gauge?: { dataPoints?: NumberPoint[] };
  sum?: { dataPoints?: NumberPoint[]; aggregationTemporality?: number; isMonotonic?: boolean };
  histogram?: { dataPoints?: HistogramPoint[]; aggregationTemporality?: number };
  exponentialHistogram?: unknown;
  summary?: { dataPoints?: SummaryPoint[] };
}
interface OtlpMetricsRequest {
  resourceMetrics?: { resource?: { attributes?: OtlpKeyValue[] }; scopeMetrics?: { metrics?: OtlpMetric[] }[] }[];
}

const TEMPORALITY: Record<number, 'delta' | 'cumulative'> = { 1: 'delta', 2: 'cumulative' };

/** An OTLP metrics export (either encoding, in the JSON shape) as metrics.raw points, one per data point. */
export function metricsFromOtlp(request: unknown, now: number): MetricPoint[] {
  if (!request || typeof request !== 'object') throw new OtlpShapeError('the body is not an ExportMetricsServiceRequest');
  const out: MetricPoint[] = [];
  for (const rm of list((request as OtlpMetricsRequest).resourceMetrics, 'resourceMetrics')) {
    const resource = attributes(rm?.resource?.attributes);
    for (const sm of list(rm?.scopeMetrics, 'scopeMetrics')) {
      for (const m of list(sm?.metrics, 'metrics')) {
        if (!m || typeof m.name !== 'string' || m.name === '') throw new OtlpShapeError('a metric has no name');
        const base = { name: m.name, ...(m.description ? { description: m.description } : {}), ...(m.unit ? { unit: m.unit } : {}), resource };
        const times = (p: { startTimeUnixNano?: string; timeUnixNano?: string }) => {
          const timestamp = nanosToMillis(p.timeUnixNano, now);
          const start = nanosToMillis(p.startTimeUnixNano, 0);
          return start > 0 ? { timestamp, startTimestamp: start } : { timestamp };
        };
        const numberValue = (p: NumberPoint) => (p.asDouble !== undefined ? Number(p.asDouble) : p.asInt !== undefined ? Number(p.asInt) : 0);
        if (m.gauge) {
          for (const p of list(m.gauge.dataPoints, 'dataPoints')) out.push({ ...base, ...times(p), type: 'gauge', value: numberValue(p), attributes: attributes(p.attributes) });
        } else if (m.sum) {
          for (const p of list(m.sum.dataPoints, 'dataPoints')) {
            out.push({ ...base, ...times(p), type: 'sum', value: numberValue(p), monotonic: Boolean(m.sum.isMonotonic), temporality: TEMPORALITY[m.sum.aggregationTemporality ?? 2] ?? 'cumulative', attributes: attributes(p.attributes) });
          }
        } else if (m.histogram) {
          for (const p of list(m.histogram.dataPoints, 'dataPoints')) {
            const histogram = {
              count: Number(p.count ?? 0),
              ...(p.sum !== undefined ? { sum: Number(p.sum) } : {}),
              ...(p.min !== undefined ? { min: Number(p.min) } : {}),
              ...(p.max !== undefined ? { max: Number(p.max) } : {}),
              bounds: list(p.explicitBounds, 'explicitBounds').map(Number),
              counts: list(p.bucketCounts, 'bucketCounts').map(Number),
            };
            out.push({ ...base, ...times(p), type: 'histogram', temporality: TEMPORALITY[m.histogram.aggregationTemporality ?? 2] ?? 'cumulative', histogram, attributes: attributes(p.attributes) });
          }
        } else if (m.summary) {
          for (const p of list(m.summary.dataPoints, 'dataPoints')) {
            const quantiles = list(p.quantileValues, 'quantileValues').map((q) => ({ quantile: Number(q.quantile ?? 0), value: Number(q.value ?? 0) }));
            out.push({ ...base, ...times(p), type: 'summary', value: Number(p.sum ?? 0), count: Number(p.count ?? 0), quantiles, attributes: attributes(p.attributes) });
          }
        } else if (m.exponentialHistogram) {
          throw new OtlpShapeError(`metric '${m.name}' is an exponential histogram, which is not supported yet: configure explicit-bucket histograms`);
        }
      }
    }
  }
  return out;
}
