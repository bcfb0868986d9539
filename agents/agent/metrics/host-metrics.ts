import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Resource } from '../../events/attributes.ts';
import type { MetricPoint } from '../../events/metric-point.ts';
import { cpuTimePoints, cpuUtilizationPoints, parseProcStat, type ProcStat } from './host/cpu-times.ts';
import { diskPoints, parseDiskStats } from './host/disk-stats.ts';
import { DEFAULT_EXCLUDED_FS_TYPES, DEFAULT_EXCLUDED_MOUNT_POINTS, FilesystemUsage, parseMounts, selectMounts, type FsStats } from './host/filesystems.ts';
import { loadAveragePoints, parseLoadAverage } from './host/load-average.ts';
import { memoryPoints, pagingPoints, parseMeminfo } from './host/memory.ts';
import type { CollectionContext } from './host/metric-points.ts';
import { networkPoints, parseNetDev } from './host/network-dev.ts';

export type HostMetricsSource = 'cpu' | 'memory' | 'load' | 'disk' | 'filesystem' | 'network';

export interface HostMetricsOptions {
  hostName: string;
  /** Where procfs is mounted; `/host/proc` when the agent runs in a container watching its host. */
  procRoot?: string;
  /** Prefix for statfs paths of the mounts listed in `<procRoot>/mounts`, e.g. `/hostfs`. */
  hostRoot?: string;
  /** USER_HZ, the unit of /proc/stat. 100 on every mainstream Linux architecture. */
  ticksPerSecond?: number;
  excludeDiskDevices?: RegExp;
  excludeNetworkInterfaces?: readonly string[];
  excludeFsTypes?: readonly string[];
  excludeMountPoints?: RegExp;
  statfs?: (path: string) => Promise<FsStats>;
  statfsTimeoutMs?: number;
  /**
   * A source or a mount that could not be read this time; the other sources still report. Defaults to a process
   * warning, once per distinct message, so a permanently missing file does not flood the log.
   */
  onError?: (source: HostMetricsSource, error: Error) => void;
}

/** RAM disks and loop devices (snaps, images) are not storage anyone watches. */
export const DEFAULT_EXCLUDED_DISK_DEVICES = /^(ram|loop)\d+$/;

/** The oldest instant the MetricPoint schema accepts; a host whose clock said 1970 at boot gets no start time. */
const EPOCH_MILLIS_MIN = 946_684_800_000;

/**
 * Host metrics from Linux procfs and statfs, named as the OpenTelemetry hostmetrics receiver names them.
 * Keeps the previous /proc/stat reading to derive CPU utilization, so one instance serves one collection loop.
 */
export class HostMetricsCollector {
  private readonly procRoot: string;
  private readonly ticksPerSecond: number;
  private readonly resource: Resource;
  private readonly excludeDiskDevices: RegExp;
  private readonly excludeNetworkInterfaces: ReadonlySet<string>;
  private readonly mountFilter: { excludeFsTypes: readonly string[]; excludeMountPoints: RegExp };
  private readonly filesystems: FilesystemUsage;
  private readonly onError: (source: HostMetricsSource, error: Error) => void;
  private previousStat: ProcStat | undefined;

  constructor(options: HostMetricsOptions) {
    this.procRoot = options.procRoot ?? '/proc';
    this.ticksPerSecond = options.ticksPerSecond ?? 100;
    this.resource = { 'host.name': options.hostName, 'os.type': 'linux' };
    this.excludeDiskDevices = options.excludeDiskDevices ?? DEFAULT_EXCLUDED_DISK_DEVICES;
    this.excludeNetworkInterfaces = new Set(options.excludeNetworkInterfaces ?? []);
    this.mountFilter = {
      excludeFsTypes: options.excludeFsTypes ?? DEFAULT_EXCLUDED_FS_TYPES,
      excludeMountPoints: options.excludeMountPoints ?? DEFAULT_EXCLUDED_MOUNT_POINTS,
    };
    this.filesystems = new FilesystemUsage({
      hostRoot: options.hostRoot ?? '',
      ...(options.statfs && { statfs: options.statfs }),
      ...(options.statfsTimeoutMs !== undefined && { statfsTimeoutMs: options.statfsTimeoutMs }),
    });
    this.onError = options.onError ?? warnOnce();
  }

  /** Every source is read independently: one that fails is reported to `onError`; only if all fail does this reject. */
  async collect(now: number): Promise<MetricPoint[]> {
    const ctx: CollectionContext = { timestamp: now, resource: this.resource };
    const failures: Error[] = [];
    let attempted = 0;
    const attempt = async (source: HostMetricsSource, read: () => Promise<MetricPoint[]>): Promise<MetricPoint[]> => {
      attempted++;
      try {
        return await read();
      } catch (e) {
        failures.push(e as Error);
        this.onError(source, e as Error);
        return [];
      }
    };

    // /proc/stat first: its boot time is the start of every cumulative counter below.
    const cpu = await attempt('cpu', async () => {
      const stat = parseProcStat(await this.read('stat'));
      const boot = (stat.bootTimeSeconds ?? 0) * 1000;
      if (boot >= EPOCH_MILLIS_MIN && boot <= now) ctx.startTimestamp = boot;
      const points = cpuTimePoints(ctx, stat, this.ticksPerSecond);
      if (this.previousStat) points.push(...cpuUtilizationPoints(ctx, this.previousStat, stat));
      this.previousStat = stat;
      return points;
    });
    const rest = await Promise.all([
      attempt('memory', async () => {
        const meminfo = parseMeminfo(await this.read('meminfo'));
        return [...memoryPoints(ctx, meminfo), ...pagingPoints(ctx, meminfo)];
      }),
      attempt('load', async () => loadAveragePoints(ctx, parseLoadAverage(await this.read('loadavg')))),
      attempt('disk', async () => diskPoints(ctx, parseDiskStats(await this.read('diskstats')).filter((d) => !this.excludeDiskDevices.test(d.device)))),
      attempt('network', async () => networkPoints(ctx, parseNetDev(await this.read('net/dev')).filter((i) => !this.excludeNetworkInterfaces.has(i.device)))),
      attempt('filesystem', async () => {
        const mounts = selectMounts(parseMounts(await this.read('mounts')), this.mountFilter);
        return this.filesystems.points(ctx, mounts, (mount, error) => this.onError('filesystem', new Error(`${mount.mountpoint} (${mount.type} on ${mount.device}): ${error.message}`, { cause: error })));
      }),
    ]);
    if (failures.length === attempted) throw new AggregateError(failures, `no host metrics could be read from ${this.procRoot}: ${failures[0].message}`);
    return cpu.concat(...rest);
  }

  private read(file: string): Promise<string> {
    return readFile(join(this.procRoot, file), 'utf8');
  }
}

function warnOnce(): (source: HostMetricsSource, error: Error) => void {
  const seen = new Set<string>();
  return (source, error) => {
    const message = `host metrics (${source}): ${error.message}`;
    if (seen.has(message)) return;
    seen.add(message);
    process.emitWarning(message);
  };
}
