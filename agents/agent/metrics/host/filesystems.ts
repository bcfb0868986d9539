import { statfs as nodeStatfs } from 'node:fs/promises';
import type { MetricPoint } from '../../../events/metric-point.ts';
import { gauge, type CollectionContext } from './metric-points.ts';

export interface MountEntry {
  device: string;
  mountpoint: string;
  type: string;
  mode: 'ro' | 'rw';
}

/** The fields of statfs(2) the metrics need; node's StatFs has them. Block counts are in `bsize` units. */
export interface FsStats {
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
}

/** Kernel and pseudo file systems: no disk behind them. tmpfs is here too (RAM, already in memory usage); overlay is not. */
export const DEFAULT_EXCLUDED_FS_TYPES: readonly string[] = [
  'autofs', 'binfmt_misc', 'bpf', 'cgroup', 'cgroup2', 'configfs', 'debugfs', 'devpts', 'devtmpfs', 'efivarfs', 'fusectl',
  'hugetlbfs', 'mqueue', 'nsfs', 'proc', 'pstore', 'ramfs', 'rpc_pipefs', 'securityfs', 'selinuxfs', 'sysfs', 'tmpfs', 'tracefs',
];

/** node_exporter's default: kernel trees, and the per-container mounts of container runtimes (one per container). */
export const DEFAULT_EXCLUDED_MOUNT_POINTS = /^\/(dev|proc|run\/credentials\/.+|sys|var\/lib\/docker\/.+|var\/lib\/containers\/storage\/.+)($|\/)/;

/** /proc/mounts escapes space, tab, newline and backslash in paths as octal (`\040`). */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

export function parseMounts(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    out.push({
      device: unescapeMountField(f[0]),
      mountpoint: unescapeMountField(f[1]),
      type: f[2],
      mode: f[3].split(',').includes('ro') ? 'ro' : 'rw',
    });
  }
  return out;
}

export interface MountFilter {
  excludeFsTypes: readonly string[];
  excludeMountPoints: RegExp;
}

/**
 * The mounts worth reporting. A path mounted over twice shows only the last mount (statfs sees the top one),
 * so earlier entries for the same mount point are dropped.
 */
export function selectMounts(mounts: MountEntry[], filter: MountFilter): MountEntry[] {
  const excludedTypes = new Set(filter.excludeFsTypes);
  const byMountpoint = new Map<string, MountEntry>();
  for (const m of mounts) {
    if (excludedTypes.has(m.type) || filter.excludeMountPoints.test(m.mountpoint)) continue;
    byMountpoint.delete(m.mountpoint);
    byMountpoint.set(m.mountpoint, m);
  }
  return [...byMountpoint.values()];
}

export interface FilesystemUsageOptions {
  /** Prefix for statfs paths when the host's file systems are mounted elsewhere, e.g. `/hostfs` in a container. */
  hostRoot: string;
  statfs: (path: string) => Promise<FsStats>;
  /** A hung network mount can block statfs forever; give up on it after this long. */
  statfsTimeoutMs: number;
}

/** system.filesystem.* for a list of mounts, one statfs each; a mount that fails is reported and skipped. */
export class FilesystemUsage {
  private readonly options: FilesystemUsageOptions;
  /** Paths whose statfs has not returned yet: asking again would pile blocked calls onto libuv's small thread pool. */
  private readonly pending = new Set<string>();

  constructor(options: Partial<FilesystemUsageOptions> = {}) {
    this.options = { hostRoot: '', statfs: (p) => nodeStatfs(p), statfsTimeoutMs: 5000, ...options };
  }

  async points(ctx: CollectionContext, mounts: MountEntry[], onError: (mount: MountEntry, error: Error) => void): Promise<MetricPoint[]> {
    const out: MetricPoint[] = [];
    // One at a time: the agent's file tailing shares the same thread pool.
    for (const mount of mounts) {
      let stats: FsStats;
      try {
        stats = await this.statfs(this.options.hostRoot + mount.mountpoint);
      } catch (e) {
        onError(mount, e as Error);
        continue;
      }
      out.push(...usagePoints(ctx, mount, stats));
    }
    return out;
  }

  private async statfs(path: string): Promise<FsStats> {
    if (this.pending.has(path)) throw new Error(`statfs ${path}: the previous call has not returned yet`);
    this.pending.add(path);
    const call = (async () => this.options.statfs(path))();
    const settled = () => this.pending.delete(path);
    call.then(settled, settled);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`statfs ${path}: no answer within ${this.options.statfsTimeoutMs} ms`)), this.options.statfsTimeoutMs);
    });
    try {
      return await Promise.race([call, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Like df: `free` is what unprivileged users can still use (bavail), `reserved` the blocks kept for root,
 * and utilization is used / (used + free), so a disk at 100% is full for ordinary processes.
 */
function usagePoints(ctx: CollectionContext, mount: MountEntry, s: FsStats): MetricPoint[] {
  const where = { device: mount.device, mountpoint: mount.mountpoint, type: mount.type, mode: mount.mode };
  const used = (s.blocks - s.bfree) * s.bsize;
  const free = s.bavail * s.bsize;
  const reserved = Math.max(0, s.bfree - s.bavail) * s.bsize;
  const out = [
    gauge(ctx, 'system.filesystem.usage', 'By', used, { ...where, state: 'used' }),
    gauge(ctx, 'system.filesystem.usage', 'By', free, { ...where, state: 'free' }),
    gauge(ctx, 'system.filesystem.usage', 'By', reserved, { ...where, state: 'reserved' }),
  ];
  if (used + free > 0) out.push(gauge(ctx, 'system.filesystem.utilization', '1', used / (used + free), { ...where }));
  // File systems without inodes (btrfs reports 0 files, FAT has none) would only add zeros.
  if (s.files > 0) {
    out.push(
      gauge(ctx, 'system.filesystem.inodes.usage', '{inode}', s.files - s.ffree, { ...where, state: 'used' }),
      gauge(ctx, 'system.filesystem.inodes.usage', '{inode}', s.ffree, { ...where, state: 'free' }),
    );
  }
  return out;
}
