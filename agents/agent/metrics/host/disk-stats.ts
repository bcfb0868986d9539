import type { MetricPoint } from '../../../events/metric-point.ts';
import { cumulativeSum, type CollectionContext } from './metric-points.ts';

/** /proc/diskstats counts in 512-byte sectors whatever the device's own sector size (Documentation/admin-guide/iostats.rst). */
const SECTOR_BYTES = 512;

/** One line of /proc/diskstats, the first eleven counters (later kernels append discard and flush counters). */
export interface DiskStats {
  device: string;
  readsCompleted: number;
  readsMerged: number;
  sectorsRead: number;
  readMs: number;
  writesCompleted: number;
  writesMerged: number;
  sectorsWritten: number;
  writeMs: number;
  ioInProgress: number;
  ioMs: number;
  weightedIoMs: number;
}

export function parseDiskStats(text: string): DiskStats[] {
  const out: DiskStats[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 14) continue;
    const n = f.slice(3, 14).map(Number);
    if (!n.every(Number.isFinite)) continue;
    out.push({
      device: f[2],
      readsCompleted: n[0],
      readsMerged: n[1],
      sectorsRead: n[2],
      readMs: n[3],
      writesCompleted: n[4],
      writesMerged: n[5],
      sectorsWritten: n[6],
      writeMs: n[7],
      ioInProgress: n[8],
      ioMs: n[9],
      weightedIoMs: n[10],
    });
  }
  return out;
}

/** The OTel hostmetrics disk scraper's metrics, per device (partitions included, as there). */
export function diskPoints(ctx: CollectionContext, disks: DiskStats[]): MetricPoint[] {
  const out: MetricPoint[] = [];
  for (const d of disks) {
    const device = d.device;
    // Fresh attribute objects per point: a later stage that decorates one point must not change its neighbours.
    const read = () => ({ device, direction: 'read' });
    const write = () => ({ device, direction: 'write' });
    out.push(
      cumulativeSum(ctx, 'system.disk.io', 'By', d.sectorsRead * SECTOR_BYTES, read()),
      cumulativeSum(ctx, 'system.disk.io', 'By', d.sectorsWritten * SECTOR_BYTES, write()),
      cumulativeSum(ctx, 'system.disk.operations', '{operation}', d.readsCompleted, read()),
      cumulativeSum(ctx, 'system.disk.operations', '{operation}', d.writesCompleted, write()),
      cumulativeSum(ctx, 'system.disk.operation_time', 's', d.readMs / 1000, read()),
      cumulativeSum(ctx, 'system.disk.operation_time', 's', d.writeMs / 1000, write()),
      cumulativeSum(ctx, 'system.disk.merged', '{operation}', d.readsMerged, read()),
      cumulativeSum(ctx, 'system.disk.merged', '{operation}', d.writesMerged, write()),
      cumulativeSum(ctx, 'system.disk.io_time', 's', d.ioMs / 1000, { device }),
      cumulativeSum(ctx, 'system.disk.weighted_io_time', 's', d.weightedIoMs / 1000, { device }),
      // A level, not a counter; OTel models it as a non-monotonic sum.
      cumulativeSum(ctx, 'system.disk.pending_operations', '{operation}', d.ioInProgress, { device }, false),
    );
  }
  return out;
}
