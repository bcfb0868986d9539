import type { MetricPoint } from '../../../events/metric-point.ts';
import { gauge, type CollectionContext } from './metric-points.ts';

export interface LoadAverage {
  one: number;
  five: number;
  fifteen: number;
}

/** `/proc/loadavg`: "0.52 0.58 0.59 2/141 812" — the first three fields. */
export function parseLoadAverage(text: string): LoadAverage {
  const [one, five, fifteen] = text.trim().split(/\s+/).map(Number);
  if (![one, five, fifteen].every(Number.isFinite)) throw new Error(`unexpected /proc/loadavg content: ${JSON.stringify(text.slice(0, 80))}`);
  return { one, five, fifteen };
}

export function loadAveragePoints(ctx: CollectionContext, load: LoadAverage): MetricPoint[] {
  return [
    gauge(ctx, 'system.cpu.load_average.1m', '{thread}', load.one),
    gauge(ctx, 'system.cpu.load_average.5m', '{thread}', load.five),
    gauge(ctx, 'system.cpu.load_average.15m', '{thread}', load.fifteen),
  ];
}
