// Host metrics from procfs: exact values from fixture files, OTel names and attributes, mounts that fail alone,
// and plausible values from this machine's own /proc.
import t, { type Test } from 'tap';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { MetricPoint, checkMetricPoint } from '../../../../agents/events/metric-point.ts';
import { HostMetricsCollector, type HostMetricsSource } from '../../../../agents/agent/metrics/host-metrics.ts';
import type { FsStats } from '../../../../agents/agent/metrics/host/filesystems.ts';

const fixtureProc = join(import.meta.dirname, 'fixtures/proc');
const NOW = 1_700_000_600_000;
const BOOT = 1_700_000_000_000;

const fakeFilesystems: Record<string, FsStats> = {
  '/': { bsize: 4096, blocks: 1_000_000, bfree: 400_000, bavail: 350_000, files: 65_536, ffree: 60_000 },
  '/boot/efi': { bsize: 512, blocks: 1_048_576, bfree: 1_000_000, bavail: 1_000_000, files: 0, ffree: 0 },
  '/mnt/data': { bsize: 4096, blocks: 100, bfree: 50, bavail: 50, files: 10, ffree: 5 },
  '/srv/My Data': { bsize: 1024, blocks: 10, bfree: 10, bavail: 10, files: 4, ffree: 4 },
};
/** /mnt/nas fails like a dead NFS server; /workspace never answers, like a hung one. */
async function fakeStatfs(path: string): Promise<FsStats> {
  if (path === '/mnt/nas') throw Object.assign(new Error('EIO: i/o error, statfs'), { code: 'EIO' });
  if (path === '/workspace') return new Promise(() => {});
  const s = fakeFilesystems[path];
  if (!s) throw new Error(`unexpected statfs of ${path}`);
  return s;
}

function fixtureCollector(procRoot = fixtureProc, errors: [HostMetricsSource, string][] = []) {
  return new HostMetricsCollector({ hostName: 'web-1', procRoot, statfs: fakeStatfs, statfsTimeoutMs: 50, onError: (source, e) => errors.push([source, e.message]) });
}

function pick(points: MetricPoint[], name: string, attributes: Record<string, string> = {}): MetricPoint[] {
  return points.filter((p) => p.name === name && Object.entries(attributes).every(([k, v]) => p.attributes?.[k] === v));
}
function valueOf(points: MetricPoint[], name: string, attributes: Record<string, string> = {}): number | undefined {
  const found = pick(points, name, attributes);
  if (found.length !== 1) throw new Error(`${found.length} points for ${name} ${JSON.stringify(attributes)}`);
  return found[0].value;
}
function assertValid(t: Test, points: MetricPoint[]) {
  const invalid = points.filter((p) => !Value.Check(MetricPoint, p) || checkMetricPoint(p) !== null);
  t.same(invalid, [], 'every point matches the MetricPoint schema');
  t.ok(JSON.parse(JSON.stringify(points)).length === points.length, 'and survives JSON');
}

t.test('fixture /proc: cpu, memory, paging, load', async (t) => {
  const errors: [HostMetricsSource, string][] = [];
  const points = await fixtureCollector(fixtureProc, errors).collect(NOW);
  assertValid(t, points);
  t.ok(points.every((p) => p.timestamp === NOW && p.resource['host.name'] === 'web-1'), 'timestamp and host on every point');

  const cpu = pick(points, 'system.cpu.time');
  t.equal(cpu.length, 16, 'two CPUs × eight states; the aggregate cpu line is not repeated');
  t.ok(cpu.every((p) => p.type === 'sum' && p.monotonic === true && p.temporality === 'cumulative' && p.unit === 's' && p.startTimestamp === BOOT), 'monotonic sums in seconds since boot');
  t.equal(valueOf(points, 'system.cpu.time', { cpu: 'cpu0', state: 'user' }), 123.45, '12345 ticks at USER_HZ 100');
  t.equal(valueOf(points, 'system.cpu.time', { cpu: 'cpu0', state: 'nice' }), 0.67);
  t.equal(valueOf(points, 'system.cpu.time', { cpu: 'cpu0', state: 'system' }), 23.45);
  t.equal(valueOf(points, 'system.cpu.time', { cpu: 'cpu0', state: 'idle' }), 4567.89);
  t.equal(valueOf(points, 'system.cpu.time', { cpu: 'cpu0', state: 'iowait' }), 12.34);
  t.equal(valueOf(points, 'system.cpu.time', { cpu: 'cpu0', state: 'interrupt' }), 0);
  t.equal(valueOf(points, 'system.cpu.time', { cpu: 'cpu0', state: 'softirq' }), 0.89);
  t.equal(valueOf(points, 'system.cpu.time', { cpu: 'cpu0', state: 'steal' }), 0.1);
  t.equal(valueOf(points, 'system.cpu.time', { cpu: 'cpu1', state: 'user' }), 111.11);
  t.equal(pick(points, 'system.cpu.utilization').length, 0, 'utilization needs a previous reading');

  const kib = 1024;
  const mem = { total: 16314468 * kib, free: 8123456 * kib, buffers: 234560 * kib, cached: 4567890 * kib, sreclaimable: 345678 * kib };
  const used = mem.total - mem.free - mem.buffers - mem.cached - mem.sreclaimable;
  t.equal(valueOf(points, 'system.memory.limit'), mem.total);
  t.equal(valueOf(points, 'system.memory.usage', { state: 'used' }), used);
  t.equal(valueOf(points, 'system.memory.usage', { state: 'free' }), mem.free);
  t.equal(valueOf(points, 'system.memory.usage', { state: 'buffered' }), mem.buffers);
  t.equal(valueOf(points, 'system.memory.usage', { state: 'cached' }), mem.cached);
  t.equal(valueOf(points, 'system.memory.usage', { state: 'slab_reclaimable' }), mem.sreclaimable);
  const usage = pick(points, 'system.memory.usage');
  t.ok(usage.every((p) => p.type === 'gauge' && p.unit === 'By'), 'memory usage: gauges in bytes');
  t.equal(usage.reduce((s, p) => s + p.value!, 0), mem.total, 'the states partition MemTotal');
  t.equal(valueOf(points, 'system.memory.utilization', { state: 'free' }), mem.free / mem.total);

  t.equal(valueOf(points, 'system.paging.usage', { state: 'used' }), (2097148 - 1572860) * kib);
  t.equal(valueOf(points, 'system.paging.usage', { state: 'free' }), 1572860 * kib);

  t.equal(valueOf(points, 'system.cpu.load_average.1m'), 0.52);
  t.equal(valueOf(points, 'system.cpu.load_average.5m'), 0.58);
  t.equal(valueOf(points, 'system.cpu.load_average.15m'), 0.59);
  t.equal(pick(points, 'system.cpu.load_average.1m')[0].type, 'gauge');
});

t.test('fixture /proc: disks and network', async (t) => {
  const points = await fixtureCollector().collect(NOW);
  const devices = new Set(pick(points, 'system.disk.io').map((p) => p.attributes!.device));
  t.same([...devices], ['nvme0n1', 'nvme0n1p1', 'nvme0n1p2', 'sda'], 'loop and ram devices left out; partitions kept');
  t.equal(valueOf(points, 'system.disk.io', { device: 'nvme0n1', direction: 'read' }), 12656410 * 512, 'sectors × 512');
  t.equal(valueOf(points, 'system.disk.io', { device: 'nvme0n1', direction: 'write' }), 37391256 * 512);
  t.equal(valueOf(points, 'system.disk.operations', { device: 'nvme0n1', direction: 'read' }), 499090);
  t.equal(valueOf(points, 'system.disk.operations', { device: 'nvme0n1', direction: 'write' }), 475526);
  t.equal(valueOf(points, 'system.disk.operation_time', { device: 'nvme0n1', direction: 'read' }), 1716.299);
  t.equal(valueOf(points, 'system.disk.merged', { device: 'nvme0n1', direction: 'write' }), 876041);
  t.equal(valueOf(points, 'system.disk.io_time', { device: 'nvme0n1' }), 241.24);
  t.equal(valueOf(points, 'system.disk.weighted_io_time', { device: 'nvme0n1' }), 2146.64);
  const pending = pick(points, 'system.disk.pending_operations', { device: 'nvme0n1' })[0];
  t.equal(pending.value, 3);
  t.equal(pending.monotonic, false, 'in-flight operations are a level, not a counter');
  t.equal(valueOf(points, 'system.disk.io', { device: 'sda', direction: 'write' }), 40000 * 512, 'old kernels with 11 counters');
  t.ok(pick(points, 'system.disk.io').every((p) => p.type === 'sum' && p.monotonic && p.unit === 'By'));

  t.same([...new Set(pick(points, 'system.network.io').map((p) => p.attributes!.device))], ['lo', 'eth0', 'docker0']);
  t.equal(valueOf(points, 'system.network.io', { device: 'eth0', direction: 'receive' }), 2537823331);
  t.equal(valueOf(points, 'system.network.io', { device: 'eth0', direction: 'transmit' }), 12453230);
  t.equal(valueOf(points, 'system.network.packets', { device: 'eth0', direction: 'receive' }), 89497);
  t.equal(valueOf(points, 'system.network.packets', { device: 'eth0', direction: 'transmit' }), 76099);
  t.equal(valueOf(points, 'system.network.errors', { device: 'eth0', direction: 'receive' }), 3);
  t.equal(valueOf(points, 'system.network.errors', { device: 'eth0', direction: 'transmit' }), 1);
  t.equal(valueOf(points, 'system.network.dropped', { device: 'eth0', direction: 'receive' }), 7);
  t.equal(valueOf(points, 'system.network.dropped', { device: 'eth0', direction: 'transmit' }), 2);
  t.ok(pick(points, 'system.network.io').every((p) => p.type === 'sum' && p.monotonic && p.unit === 'By' && p.startTimestamp === BOOT));

  const filtered = await new HostMetricsCollector({ hostName: 'web-1', procRoot: fixtureProc, statfs: fakeStatfs, statfsTimeoutMs: 50, onError: () => {}, excludeNetworkInterfaces: ['lo', 'docker0'], excludeDiskDevices: /^sda/ }).collect(NOW);
  t.same([...new Set(pick(filtered, 'system.network.io').map((p) => p.attributes!.device))], ['eth0'], 'interfaces can be excluded');
  t.notOk(pick(filtered, 'system.disk.io').some((p) => p.attributes!.device === 'sda'), 'and disks');
});

t.test('fixture /proc: file systems, one failing mount does not hide the others', async (t) => {
  const errors: [HostMetricsSource, string][] = [];
  const collector = fixtureCollector(fixtureProc, errors);
  const points = await collector.collect(NOW);
  const mountpoints = [...new Set(pick(points, 'system.filesystem.usage').map((p) => p.attributes!.mountpoint))];
  t.same(mountpoints, ['/', '/boot/efi', '/mnt/data', '/srv/My Data'], 'pseudo, tmpfs and per-container mounts left out; \\040 decoded');

  const root = { mountpoint: '/' };
  t.equal(valueOf(points, 'system.filesystem.usage', { ...root, state: 'used' }), 600_000 * 4096);
  t.equal(valueOf(points, 'system.filesystem.usage', { ...root, state: 'free' }), 350_000 * 4096, 'free is what non-root users can still use');
  t.equal(valueOf(points, 'system.filesystem.usage', { ...root, state: 'reserved' }), 50_000 * 4096);
  t.equal(valueOf(points, 'system.filesystem.utilization', root), 600_000 / 950_000);
  t.equal(valueOf(points, 'system.filesystem.inodes.usage', { ...root, state: 'used' }), 5536);
  t.same(pick(points, 'system.filesystem.usage', { ...root, state: 'used' })[0].attributes, { device: '/dev/nvme0n1p2', mountpoint: '/', type: 'ext4', mode: 'rw', state: 'used' });
  t.equal(pick(points, 'system.filesystem.usage', { mountpoint: '/boot/efi', state: 'used' })[0].attributes!.mode, 'ro');
  t.equal(pick(points, 'system.filesystem.inodes.usage', { mountpoint: '/boot/efi' }).length, 0, 'no inode points for a file system without inodes');
  t.equal(pick(points, 'system.filesystem.usage', { mountpoint: '/mnt/data', state: 'used' })[0].attributes!.type, 'xfs', 'a path mounted over twice reports the top mount');
  t.equal(pick(points, 'system.filesystem.usage', { mountpoint: '/mnt/data' }).length, 3, 'once');

  t.same(errors.map(([s]) => s), ['filesystem', 'filesystem']);
  t.match(errors[0][1], /^\/mnt\/nas \(nfs4 on nas:\/export\): EIO/);
  t.match(errors[1][1], /^\/workspace \(overlay on overlay\): statfs \/workspace: no answer within 50 ms/);

  errors.length = 0;
  await collector.collect(NOW + 10_000);
  t.match(errors[1][1], /previous call has not returned yet/, 'a hung mount is not asked again while its call is outstanding');
});

t.test('cpu utilization from two readings; a missing file fails only its source', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'host-metrics-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(fixtureProc, dir, { recursive: true });
  const errors: [HostMetricsSource, string][] = [];
  const collector = fixtureCollector(dir, errors);
  await collector.collect(NOW);

  // 100 ticks pass on cpu0: 30 user, 10 system, 60 idle. cpu1's counters go backwards (hot-plugged).
  const stat = readFileSync(join(dir, 'stat'), 'utf8')
    .replace('cpu0 12345 67 2345 456789', 'cpu0 12375 67 2355 456849')
    .replace('cpu1 11111', 'cpu1 11');
  writeFileSync(join(dir, 'stat'), stat);
  rmSync(join(dir, 'diskstats'));
  const points = await collector.collect(NOW + 10_000);
  assertValid(t, points);
  t.equal(valueOf(points, 'system.cpu.utilization', { cpu: 'cpu0', state: 'user' }), 0.3);
  t.equal(valueOf(points, 'system.cpu.utilization', { cpu: 'cpu0', state: 'system' }), 0.1);
  t.equal(valueOf(points, 'system.cpu.utilization', { cpu: 'cpu0', state: 'idle' }), 0.6);
  t.equal(valueOf(points, 'system.cpu.utilization', { cpu: 'cpu0', state: 'nice' }), 0);
  t.equal(pick(points, 'system.cpu.utilization', { cpu: 'cpu1' }).length, 0, 'no utilization from counters that went backwards');
  t.equal(pick(points, 'system.cpu.utilization', { cpu: 'cpu0' })[0].unit, '1');

  t.equal(pick(points, 'system.disk.io').length, 0, 'no disk points without diskstats');
  t.ok(pick(points, 'system.memory.usage').length > 0, 'but everything else');
  t.same(errors.filter(([s]) => s === 'disk').length, 1);
  t.match(errors.find(([s]) => s === 'disk')![1], /ENOENT/);
});

t.test('a proc root with nothing in it is an error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'host-metrics-empty-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await t.rejects(new HostMetricsCollector({ hostName: 'h', procRoot: dir, onError: () => {} }).collect(NOW), /no host metrics could be read from/);
});

t.test("this machine's /proc", async (t) => {
  const errors: string[] = [];
  const collector = new HostMetricsCollector({ hostName: 'this-host', onError: (s, e) => errors.push(`${s}: ${e.message}`) });
  const first = await collector.collect(Date.now());
  const until = Date.now() + 300;
  while (Date.now() < until) Math.sqrt(Math.random()); // burn CPU so the counters move
  const second = await collector.collect(Date.now());
  assertValid(t, [...first, ...second]);

  const cpuSeconds = (points: MetricPoint[]) => pick(points, 'system.cpu.time').reduce((s, p) => s + p.value!, 0);
  t.ok(cpuSeconds(first) > 0, 'cpu time is counted');
  t.ok(cpuSeconds(second) > cpuSeconds(first), 'and grows between collections');
  t.ok(pick(second, 'system.cpu.utilization').length > 0, 'the second collection has utilization');
  t.ok(pick(second, 'system.cpu.utilization').every((p) => p.value! >= 0 && p.value! <= 1));
  t.ok(valueOf(second, 'system.memory.limit')! > 0, 'memory total');
  t.ok(pick(second, 'system.memory.usage').every((p) => p.value! >= 0));
  t.ok(valueOf(second, 'system.memory.usage', { state: 'used' })! > 0);
  t.equal(pick(second, 'system.paging.usage').length, 2, 'swap reported, even when there is none');
  t.ok(valueOf(second, 'system.cpu.load_average.1m')! >= 0);
  t.ok(pick(second, 'system.network.io').length > 0, 'network interfaces');
  const root = pick(second, 'system.filesystem.usage', { mountpoint: '/', state: 'used' });
  t.equal(root.length, 1, 'the root file system is reported');
  t.ok(root[0].value! > 0, 'with used bytes');
  t.ok(valueOf(second, 'system.filesystem.utilization', { mountpoint: '/' })! > 0);
  t.same(errors, [], 'nothing failed');
});
