import type { MetricPoint } from '../../../events/metric-point.ts';
import { gauge, type CollectionContext } from './metric-points.ts';

/** /proc/meminfo as bytes by field name (`MemTotal`, `SReclaimable`, ...). Its `kB` means KiB. */
export function parseMeminfo(text: string): Map<string, number> {
  const fields = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([^:\s]+):\s+(\d+)(\s+kB)?\s*$/.exec(line);
    if (m) fields.set(m[1], Number(m[2]) * (m[3] ? 1024 : 1));
  }
  return fields;
}

/**
 * system.memory.usage by state, and its utilization. The states partition MemTotal, so they sum to it:
 * `used` is what procps `free` calls used (total − free − buffers − cache, where cache includes reclaimable slab),
 * which leaves unreclaimable slab inside `used` rather than double-counting it as a state of its own.
 */
export function memoryPoints(ctx: CollectionContext, meminfo: Map<string, number>): MetricPoint[] {
  const total = meminfo.get('MemTotal');
  if (total === undefined) return [];
  const free = meminfo.get('MemFree') ?? 0;
  const buffered = meminfo.get('Buffers') ?? 0;
  const cached = meminfo.get('Cached') ?? 0;
  const slabReclaimable = meminfo.get('SReclaimable') ?? 0;
  // Containers with odd accounting can report caches above total; a negative usage would be nonsense.
  const used = Math.max(0, total - free - buffered - cached - slabReclaimable);
  const states: [string, number][] = [
    ['used', used],
    ['free', free],
    ['buffered', buffered],
    ['cached', cached],
    ['slab_reclaimable', slabReclaimable],
  ];
  const out = [gauge(ctx, 'system.memory.limit', 'By', total)];
  for (const [state, bytes] of states) out.push(gauge(ctx, 'system.memory.usage', 'By', bytes, { state }));
  if (total > 0) for (const [state, bytes] of states) out.push(gauge(ctx, 'system.memory.utilization', '1', bytes / total, { state }));
  return out;
}

/** system.paging.usage: swap in use and free. Always reported, as zeros on hosts without swap, so dashboards show "none" rather than "unknown". */
export function pagingPoints(ctx: CollectionContext, meminfo: Map<string, number>): MetricPoint[] {
  const total = meminfo.get('SwapTotal');
  if (total === undefined) return [];
  const free = meminfo.get('SwapFree') ?? 0;
  const used = Math.max(0, total - free);
  const out = [gauge(ctx, 'system.paging.usage', 'By', used, { state: 'used' }), gauge(ctx, 'system.paging.usage', 'By', free, { state: 'free' })];
  if (total > 0) {
    out.push(gauge(ctx, 'system.paging.utilization', '1', used / total, { state: 'used' }), gauge(ctx, 'system.paging.utilization', '1', free / total, { state: 'free' }));
  }
  return out;
}
