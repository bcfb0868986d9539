import type { Attributes, Resource } from '../../../events/attributes.ts';
import type { MetricPoint } from '../../../events/metric-point.ts';

/** What every point of one collection shares: when it was taken, since when counters count, who produced it. */
export interface CollectionContext {
  timestamp: number;
  /** Boot time: host counters start from zero there, so it is the start of every cumulative sum. */
  startTimestamp?: number;
  resource: Resource;
}

export function gauge(ctx: CollectionContext, name: string, unit: string, value: number, attributes?: Attributes): MetricPoint {
  const p: MetricPoint = { timestamp: ctx.timestamp, name, unit, type: 'gauge', value, resource: ctx.resource };
  if (attributes) p.attributes = attributes;
  return p;
}

/** A counter since boot. Non-monotonic sums (e.g. pending disk operations) are levels OTel still models as sums. */
export function cumulativeSum(ctx: CollectionContext, name: string, unit: string, value: number, attributes?: Attributes, monotonic = true): MetricPoint {
  const p: MetricPoint = { timestamp: ctx.timestamp, name, unit, type: 'sum', value, monotonic, temporality: 'cumulative', resource: ctx.resource };
  if (ctx.startTimestamp !== undefined) p.startTimestamp = ctx.startTimestamp;
  if (attributes) p.attributes = attributes;
  return p;
}
