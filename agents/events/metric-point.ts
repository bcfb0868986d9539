import { Type, type Static } from '@sinclair/typebox';
import { Attributes, EpochMillis, Resource } from './attributes.ts';

/**
 * A record of `metrics.raw`: one data point after OpenTelemetry's metric model. Gauges and sums carry
 * `value`; histograms carry bucket bounds and counts (explicit-bucket, OTel style); summaries quantiles.
 */
export const MetricPoint = Type.Object(
  {
    timestamp: EpochMillis,
    startTimestamp: Type.Optional(EpochMillis),
    name: Type.String({ minLength: 1, maxLength: 256, pattern: '^[A-Za-z_:][A-Za-z0-9_:./-]*$' }),
    description: Type.Optional(Type.String({ maxLength: 1024 })),
    unit: Type.Optional(Type.String({ maxLength: 64 })),
    type: Type.Union([Type.Literal('gauge'), Type.Literal('sum'), Type.Literal('histogram'), Type.Literal('summary')]),
    value: Type.Optional(Type.Number()),
    monotonic: Type.Optional(Type.Boolean()),
    temporality: Type.Optional(Type.Union([Type.Literal('cumulative'), Type.Literal('delta')])),
    histogram: Type.Optional(
      Type.Object(
        {
          count: Type.Number({ minimum: 0 }),
          sum: Type.Optional(Type.Number()),
          min: Type.Optional(Type.Number()),
          max: Type.Optional(Type.Number()),
          bounds: Type.Array(Type.Number(), { maxItems: 1000 }),
          counts: Type.Array(Type.Number({ minimum: 0 }), { maxItems: 1001 }),
        },
        { additionalProperties: false },
      ),
    ),
    /** Summaries: how many observations `value` (their sum) and the quantiles cover. */
    count: Type.Optional(Type.Number({ minimum: 0 })),
    quantiles: Type.Optional(Type.Array(Type.Object({ quantile: Type.Number({ minimum: 0, maximum: 1 }), value: Type.Number() }, { additionalProperties: false }), { maxItems: 100 })),
    attributes: Type.Optional(Attributes),
    resource: Resource,
  },
  { additionalProperties: false, $id: 'MetricPoint' },
);
export type MetricPoint = Static<typeof MetricPoint>;

export function metricPointKey(p: MetricPoint): string {
  return p.resource['host.name'] ?? p.resource['service.name'] ?? 'unknown';
}

/** Shape rules JSON schema cannot say: a point's payload must match its type. */
export function checkMetricPoint(p: MetricPoint): string | null {
  if ((p.type === 'gauge' || p.type === 'sum') && p.value === undefined) return `${p.type} point '${p.name}' has no value`;
  if (p.type === 'histogram') {
    if (!p.histogram) return `histogram point '${p.name}' has no histogram`;
    if (p.histogram.counts.length !== p.histogram.bounds.length + 1) return `histogram '${p.name}' needs one more count than bounds`;
  }
  if (p.type === 'summary' && !p.quantiles) return `summary point '${p.name}' has no quantiles`;
  return null;
}
