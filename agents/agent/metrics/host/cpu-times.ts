import type { MetricPoint } from '../../../events/metric-point.ts';
import { cumulativeSum, gauge, type CollectionContext } from './metric-points.ts';

/**
 * The columns of a `cpuN` line of /proc/stat, in order, named as the OTel hostmetrics receiver names CPU states.
 * guest and guest_nice follow but are already counted in user and nice, so they are left out.
 */
const CPU_STATES = ['user', 'nice', 'system', 'idle', 'iowait', 'interrupt', 'softirq', 'steal'] as const;
export type CpuState = (typeof CPU_STATES)[number];

/** Cumulative ticks per state for one logical CPU. Older kernels have fewer columns: missing states are absent. */
export interface CpuTicks {
  cpu: string;
  ticks: Partial<Record<CpuState, number>>;
}

export interface ProcStat {
  cpus: CpuTicks[];
  /** When the host booted, seconds since the epoch (`btime`). */
  bootTimeSeconds?: number;
}

export function parseProcStat(text: string): ProcStat {
  const cpus: CpuTicks[] = [];
  let bootTimeSeconds: number | undefined;
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    const key = fields[0];
    if (key === 'btime') bootTimeSeconds = Number(fields[1]);
    // The aggregate `cpu` line is the sum of the others; per-CPU points carry the same information.
    if (!/^cpu\d+$/.test(key)) continue;
    const ticks: CpuTicks['ticks'] = {};
    CPU_STATES.forEach((state, i) => {
      const n = Number(fields[i + 1]);
      if (fields[i + 1] !== undefined && Number.isFinite(n)) ticks[state] = n;
    });
    cpus.push({ cpu: key, ticks });
  }
  return { cpus, bootTimeSeconds };
}

/** system.cpu.time: seconds per CPU and state. /proc/stat counts in USER_HZ ticks. */
export function cpuTimePoints(ctx: CollectionContext, stat: ProcStat, ticksPerSecond: number): MetricPoint[] {
  const out: MetricPoint[] = [];
  for (const { cpu, ticks } of stat.cpus) {
    for (const state of CPU_STATES) {
      const t = ticks[state];
      if (t !== undefined) out.push(cumulativeSum(ctx, 'system.cpu.time', 's', t / ticksPerSecond, { cpu, state }));
    }
  }
  return out;
}

/**
 * system.cpu.utilization: the share of each state in the ticks that elapsed since the previous collection.
 * Needs two readings, so the first collection has none; a CPU whose counters went backwards (hot-plugged) is skipped.
 */
export function cpuUtilizationPoints(ctx: CollectionContext, previous: ProcStat, current: ProcStat): MetricPoint[] {
  const out: MetricPoint[] = [];
  const before = new Map(previous.cpus.map((c) => [c.cpu, c.ticks]));
  for (const { cpu, ticks } of current.cpus) {
    const prev = before.get(cpu);
    if (!prev) continue;
    const deltas: [CpuState, number][] = [];
    let total = 0;
    for (const state of CPU_STATES) {
      const now = ticks[state];
      const then = prev[state];
      if (now === undefined || then === undefined) continue;
      deltas.push([state, now - then]);
      total += now - then;
    }
    if (total <= 0 || deltas.some(([, d]) => d < 0)) continue;
    for (const [state, d] of deltas) out.push(gauge(ctx, 'system.cpu.utilization', '1', d / total, { cpu, state }));
  }
  return out;
}
