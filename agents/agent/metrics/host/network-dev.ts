import type { MetricPoint } from '../../../events/metric-point.ts';
import { cumulativeSum, type CollectionContext } from './metric-points.ts';

export interface InterfaceCounters {
  bytes: number;
  packets: number;
  errors: number;
  dropped: number;
}

export interface InterfaceStats {
  device: string;
  receive: InterfaceCounters;
  transmit: InterfaceCounters;
}

/**
 * /proc/net/dev: two header lines, then `name: <8 receive columns> <8 transmit columns>`, where each half starts
 * with bytes packets errs drop. Old kernels print no space after the colon, so split on it rather than on blanks.
 */
export function parseNetDev(text: string): InterfaceStats[] {
  const out: InterfaceStats[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const n = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (n.length < 16 || !n.every(Number.isFinite)) continue;
    out.push({
      device: line.slice(0, colon).trim(),
      receive: { bytes: n[0], packets: n[1], errors: n[2], dropped: n[3] },
      transmit: { bytes: n[8], packets: n[9], errors: n[10], dropped: n[11] },
    });
  }
  return out;
}

export function networkPoints(ctx: CollectionContext, interfaces: InterfaceStats[]): MetricPoint[] {
  const out: MetricPoint[] = [];
  for (const { device, receive, transmit } of interfaces) {
    for (const [direction, c] of [['receive', receive], ['transmit', transmit]] as const) {
      // Fresh attribute objects per point: a later stage that decorates one point must not change its neighbours.
      const attributes = () => ({ device, direction });
      out.push(
        cumulativeSum(ctx, 'system.network.io', 'By', c.bytes, attributes()),
        cumulativeSum(ctx, 'system.network.packets', '{packet}', c.packets, attributes()),
        cumulativeSum(ctx, 'system.network.errors', '{error}', c.errors, attributes()),
        cumulativeSum(ctx, 'system.network.dropped', '{packet}', c.dropped, attributes()),
      );
    }
  }
  return out;
}
