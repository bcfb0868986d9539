// Known rows for the dashboards' tests: written into a real ClickHouse (with the sink's migrations) and a
// real Prometheus (through remote write), relative to a minute-aligned `base` so the UI's "last hour"
// presets see them. Visitor sketches are real HyperLogLogs built with the pipeline's own code.
import type { ClickHouseClient } from '@clickhouse/client';
import { migrate } from '../../pipelines/sinks/clickhouse/migrations.ts';
import { MIGRATIONS } from '../../pipelines/sinks/clickhouse/schema.ts';
import { encodeWriteRequest, type RemoteWriteSeries } from '../../pipelines/sinks/prometheus/remote-write.ts';
import { HyperLogLog } from '../../pipelines/sketches/hyperloglog.ts';
import type { ClickHouseServer } from '../helpers/clickhouse.ts';
import type { PrometheusServer } from '../helpers/prometheus.ts';

export const MINUTES = 30;

/** The current minute, minus one: every seeded row is in the past. */
export function baseMinute(now = Date.now()): number {
  return Math.floor(now / 60_000) * 60_000 - 60_000;
}

const dateTime = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
const position = (topic: string, offset: number) => ({ _topic: topic, _partition: 0, _offset: offset });

async function insert(ch: ClickHouseServer, table: string, rows: object[]): Promise<void> {
  await ch.query(`INSERT INTO ${table} FORMAT JSONEachRow\n${rows.map((r) => JSON.stringify(r)).join('\n')}`);
}

export interface SeededClickHouse {
  /** Visitor ids per rollup row, to merge sketches independently of the server. */
  visitors: { minute: number; site: string; path: string; ids: string[] }[];
}

export async function seedClickHouse(ch: ClickHouseServer, client: ClickHouseClient, base: number): Promise<SeededClickHouse> {
  await migrate(client, MIGRATIONS);
  const rollup: object[] = [];
  const enriched: object[] = [];
  const pvRollup: object[] = [];
  const pvEnriched: object[] = [];
  const sessions: object[] = [];
  const visitors: SeededClickHouse['visitors'] = [];
  const browsers = ['Firefox', 'Chrome', 'Chrome', 'Safari'];
  for (let k = 0; k < MINUTES; k++) {
    const minute = base - k * 60_000;
    rollup.push({ ...position('logs.rollup.1m', rollup.length), minute: dateTime(minute), service: 'api', severity: 'INFO', count: k + 1 });
    if (k % 5 === 0) rollup.push({ ...position('logs.rollup.1m', rollup.length), minute: dateTime(minute), service: 'api', severity: 'ERROR', count: 2 });
    if (k % 3 === 0) rollup.push({ ...position('logs.rollup.1m', rollup.length), minute: dateTime(minute), service: 'worker', severity: 'WARN', count: 1 });
    for (let j = 0; j < 2; j++) {
      const service = ['api', 'worker', 'checkout'][(k + j) % 3];
      const severity = (k + j) % 7 === 0 ? 'ERROR' : 'INFO';
      const ts = minute + j * 1000 + 500;
      enriched.push({
        ...position('logs.enriched', enriched.length),
        time: dateTime(ts),
        timestamp: ts,
        service,
        host: `web-${(k % 2) + 1}`,
        severity,
        severity_number: severity === 'ERROR' ? 17 : 9,
        body: severity === 'ERROR' ? `disk full on volume ${k}` : `request served in ${k + j} ms`,
      });
    }
    for (const [p, path] of ['/', '/pricing'].entries()) {
      const views = ((k + p) % 4) + 1;
      const ids = Array.from({ length: views }, (_, j) => `visitor-${(k * 3 + j + p * 7) % 40}`);
      const hll = new HyperLogLog();
      for (const id of ids) hll.add(id);
      visitors.push({ minute, site: 'shop.example', path, ids });
      pvRollup.push({ ...position('pageviews.rollup.1m', pvRollup.length), minute: dateTime(minute), site: 'shop.example', path, views, visitors_hll: hll.toBase64() });
    }
    if (k % 2 === 0) {
      pvEnriched.push({
        ...position('pageviews.enriched', pvEnriched.length),
        time: dateTime(minute + 2000),
        timestamp: minute + 2000,
        site: 'shop.example',
        path: k % 4 === 0 ? '/' : '/pricing',
        url: 'https://shop.example/',
        browser: browsers[k % 4],
        device: k % 3 === 0 ? 'mobile' : 'desktop',
        language: k % 3 === 0 ? 'de-DE' : 'en-US',
        country: k % 3 === 0 ? 'DE' : 'US',
        referrer_source: k % 5 === 0 ? 'Google' : '',
        visitor_id: `visitor-${k}`,
      });
    }
    if (k % 5 === 0) {
      sessions.push({
        ...position('pageviews.sessions', sessions.length),
        start: dateTime(minute),
        start_timestamp: minute,
        site: 'shop.example',
        visitor_id: `visitor-${k}`,
        session_id: `s${k}`,
        page_count: k % 10 === 0 ? 1 : 3,
        entry_path: '/',
        exit_path: '/pricing',
        bounce: k % 10 === 0 ? 1 : 0,
        duration_ms: k % 10 === 0 ? 0 : 40_000,
      });
    }
  }
  await insert(ch, 'logs_rollup_1m', rollup);
  await insert(ch, 'logs_enriched', enriched);
  await insert(ch, 'pageviews_rollup_1m', pvRollup);
  await insert(ch, 'pageviews_enriched', pvEnriched);
  await insert(ch, 'pageviews_sessions', sessions);
  return { visitors };
}

/** Host and pipeline metrics, one sample every 15 s for the last 20 minutes before `now`. */
export async function seedPrometheus(prom: PrometheusServer, now: number): Promise<void> {
  const series: RemoteWriteSeries[] = [];
  const times = Array.from({ length: 80 }, (_, i) => Math.floor((now - i * 15_000) / 1000) * 1000).reverse();
  for (const [h, instance] of ['web-1', 'web-2'].entries()) {
    series.push({ labels: { __name__: 'system_cpu_utilization', instance, state: 'idle', cpu: '0' }, samples: times.map((t, i) => ({ timestamp: t, value: 0.5 + 0.1 * h + 0.001 * (i % 10) })) });
    series.push({ labels: { __name__: 'system_cpu_utilization', instance, state: 'idle', cpu: '1' }, samples: times.map((t, i) => ({ timestamp: t, value: 0.6 + 0.1 * h - 0.001 * (i % 7) })) });
    series.push({ labels: { __name__: 'system_memory_utilization', instance, state: 'used' }, samples: times.map((t) => ({ timestamp: t, value: 0.3 + 0.2 * h })) });
    for (const mountpoint of ['/', '/var']) {
      series.push({ labels: { __name__: 'system_filesystem_utilization', instance, mountpoint, device: 'sda1' }, samples: times.map((t) => ({ timestamp: t, value: mountpoint === '/' ? 0.25 + h * 0.5 : 0.125 })) });
    }
    series.push({ labels: { __name__: 'tributary_agent_backpressure', instance }, samples: times.map((t) => ({ timestamp: t, value: h })) });
  }
  for (const topic of ['logs.raw', 'pageviews.raw']) {
    series.push({ labels: { __name__: 'tributary_broker_records_in_total', topic, node_id: '1' }, samples: times.map((t, i) => ({ timestamp: t, value: i * (topic === 'logs.raw' ? 150 : 30) })) });
  }
  const response = await fetch(prom.remoteWriteUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' },
    body: new Uint8Array(encodeWriteRequest(series)),
  });
  if (response.status >= 300) throw new Error(`remote write: ${response.status} ${await response.text()}`);
}

/** Every table's row count and the list of tables: what an injection could change. */
export async function databaseFingerprint(ch: ClickHouseServer): Promise<string> {
  const tables = (await ch.query("SELECT database, name FROM system.tables WHERE database != 'system' ORDER BY database, name FORMAT TSV")).trim().split('\n');
  const counts: string[] = [(await ch.query('SELECT count() FROM system.tables')).trim()];
  for (const line of tables) {
    if (!line) continue;
    const [db, name] = line.split('\t');
    counts.push(`${db}.${name}=${(await ch.query(`SELECT count() FROM \`${db}\`.\`${name}\``)).trim()}`);
  }
  return counts.join(' ');
}
