/**
 * The Prometheus sink: metrics.rollup.1m rows → remote_write, committed after Prometheus answered.
 *
 * At-least-once by design, which is exactly-once in effect: a batch sent again after a crash carries the
 * same samples (same series, timestamp and value), and Prometheus takes an identical sample it already
 * holds without error.
 *
 * Samples Prometheus will never take (out of order, too old, out of bounds; or any other 4xx) are not
 * retried, as its remote-write contract asks. It rejects a whole request for one such sample, so the
 * batch is split in halves until the rejected samples stand alone; those are counted as dropped by
 * reason and the rest is stored. Everything else (5xx, 429, network) is retried by RemoteWriteClient, and
 * when its retries run out, by this sink again without limit while it runs: nothing is committed until
 * Prometheus has the batch, and consumption waits meanwhile.
 *
 * A row that is not a valid rollup (bad JSON, missing fields, an unreadable sketch) is logged, counted
 * and skipped: the ClickHouse sink dead-letters the same record from the same topic.
 */
import { Consumer, MessagesStreamFallbackModes, MessagesStreamModes, type Message, type MessagesStream } from '@platformatic/kafka';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, type Logger } from '../../../broker/server/logger.ts';
import { RemoteWriteClient, RemoteWriteRejectedError, type RemoteWriteSeries } from './remote-write.ts';
import { seriesFromRollups, type MetricRollup } from './series-from-rollup.ts';
import { DDSketch } from '../../sketches/quantile-sketch.ts';

export const PROMETHEUS_SINK_GROUP = 'tributary-sink-prometheus';
export const METRICS_ROLLUP_TOPIC = 'metrics.rollup.1m';
export const SINK_QUANTILES = [0.5, 0.9, 0.99] as const;

export interface PrometheusSinkOptions {
  brokers: string[];
  /** e.g. http://127.0.0.1:9090/api/v1/write */
  remoteWriteUrl: string;
  registry?: Registry;
  log?: Logger;
  /** Rollups per remote-write request. Default 2,000. */
  batchMaxRows?: number;
  /** A batch is sent once its oldest row waited this long. Default 1,000 ms. */
  flushIntervalMs?: number;
  /** Consumer group session timeout. Default 10,000 ms. */
  sessionTimeoutMs?: number;
}

export interface PrometheusSink {
  stop(): Promise<void>;
  registry: Registry;
}

/** What the sink needs of pipelines/sketches/quantile-sketch.ts. */
export interface QuantileSketchClass {
  fromBase64(s: string): { quantile(q: number): number };
}

const ROLLUP_TYPES = new Set(['gauge', 'sum', 'histogram', 'summary']);

/** A metrics_rollup_1m record as a MetricRollup; a string says why it is not one. */
export function rollupFromRecord(value: unknown, sketches: QuantileSketchClass | undefined): MetricRollup | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const r = value as Record<string, unknown>;
  for (const k of ['name', 'type', 'service', 'host', 'sketch'] as const) if (typeof r[k] !== 'string') return `${k} must be a string`;
  for (const k of ['minute', 'count', 'sum', 'min', 'max', 'last'] as const) if (typeof r[k] !== 'number' || !Number.isFinite(r[k])) return `${k} must be a finite number`;
  if (!ROLLUP_TYPES.has(r.type as string)) return `unknown type ${JSON.stringify(r.type)}`;
  const keys = r.label_keys;
  const values = r.label_values;
  if (!Array.isArray(keys) || !Array.isArray(values) || keys.length !== values.length || ![...keys, ...values].every((s) => typeof s === 'string')) {
    return 'label_keys and label_values must be string arrays of the same length';
  }
  const attributes: Record<string, string> = {};
  keys.forEach((k: string, i) => (attributes[k] = values[i] as string));
  const rollup: MetricRollup = {
    name: r.name as string,
    type: r.type as MetricRollup['type'],
    attributes,
    resource: { 'service.name': r.service as string, 'host.name': r.host as string },
    windowStart: r.minute as number,
    count: r.count as number,
    sum: r.sum as number,
    min: r.min as number,
    max: r.max as number,
    last: r.last as number,
  };
  if (r.sketch !== '' && sketches) {
    try {
      const sketch = sketches.fromBase64(r.sketch as string);
      rollup.quantiles = SINK_QUANTILES.map((quantile) => ({ quantile, value: sketch.quantile(quantile) }));
    } catch (err) {
      return `unreadable sketch: ${(err as Error).message}`;
    }
  }
  return rollup;
}

function sinkMetrics(registry: Registry) {
  const registers = [registry];
  return {
    rollups: new Counter({ name: 'tributary_sink_prometheus_rollups_total', help: 'Rollups written to Prometheus', registers }),
    samples: new Counter({ name: 'tributary_sink_prometheus_samples_total', help: 'Samples Prometheus accepted', registers }),
    dropped: new Counter({ name: 'tributary_sink_prometheus_samples_dropped_total', help: 'Samples Prometheus rejected for good (out of order, too old, …), by reason; not retried', labelNames: ['reason'], registers }),
    invalid: new Counter({ name: 'tributary_sink_prometheus_invalid_records_total', help: 'Records that are not valid rollups, skipped', registers }),
    writeSeconds: new Histogram({ name: 'tributary_sink_prometheus_write_duration_seconds', help: 'Time to write one batch, retries included', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers }),
    errors: new Counter({ name: 'tributary_sink_prometheus_errors_total', help: 'Failed operations, by kind', labelNames: ['kind'], registers }),
    lag: new Gauge({ name: 'tributary_sink_prometheus_lag_records', help: 'Records in the partition not yet written', labelNames: ['partition'], registers }),
  };
}

interface Pending {
  rollups: MetricRollup[];
  /** Partition → offset to commit, and the leader epoch to commit it with. */
  commits: Map<number, { offset: bigint; leaderEpoch: number }>;
  since: number;
}

export async function startPrometheusSink(opts: PrometheusSinkOptions): Promise<PrometheusSink> {
  const registry = opts.registry ?? new Registry();
  const log = opts.log ?? createLogger('sink-prometheus');
  const batchMaxRows = opts.batchMaxRows ?? 2_000;
  const flushIntervalMs = opts.flushIntervalMs ?? 1_000;
  const metrics = sinkMetrics(registry);
  const sketches: QuantileSketchClass = DDSketch;
  const client = new RemoteWriteClient({ url: opts.remoteWriteUrl, maxRetries: 5, onRetry: (n, err) => log.warn(`remote write retry ${n}: ${err.message}`) });
  const sessionTimeout = opts.sessionTimeoutMs ?? 10_000;
  const consumer = new Consumer({
    clientId: 'tributary-sink-prometheus',
    groupId: PROMETHEUS_SINK_GROUP,
    bootstrapBrokers: opts.brokers,
    sessionTimeout,
    rebalanceTimeout: sessionTimeout,
    heartbeatInterval: Math.max(100, Math.floor(sessionTimeout / 10)),
    maxWaitTime: 200,
    autocommit: false,
  });

  let pending: Pending = { rollups: [], commits: new Map(), since: 0 };
  /** Partition → next offset expected; re-deliveries after a rebalance are dropped below it. */
  const next = new Map<number, bigint>();
  const written = new Map<number, bigint>();
  let stopping = false;
  let paused = false;
  let wake: (() => void) | undefined;
  const abort = new AbortController();

  consumer.on('consumer:group:join', ({ assignments }) => {
    const mine = new Set((assignments ?? []).filter((a) => a.topic === METRICS_ROLLUP_TOPIC).flatMap((a) => a.partitions));
    // Re-reading from the committed offset is harmless here (identical samples), so on a rebalance only the
    // bookkeeping of lost partitions is dropped; a kept partition keeps its position.
    for (const p of [...next.keys()]) if (!mine.has(p)) next.delete(p);
    pending.rollups = pending.rollups.filter((r) => mine.has((r as RollupWithSource)._partition));
    for (const p of [...pending.commits.keys()]) if (!mine.has(p)) pending.commits.delete(p);
  });

  const stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> = await consumer.consume({
    topics: [METRICS_ROLLUP_TOPIC],
    mode: MessagesStreamModes.COMMITTED,
    fallbackMode: MessagesStreamFallbackModes.EARLIEST,
    autocommit: false,
  });
  stream.on('error', (err) => {
    metrics.errors.inc({ kind: 'consume' });
    log.error(`consuming failed: ${err.message}`);
  });
  stream.on('data', (m: Message) => {
    const expected = next.get(m.partition);
    if (expected !== undefined && m.offset < expected) return;
    next.set(m.partition, m.offset + 1n);
    if (pending.commits.size === 0) pending.since = Date.now();
    pending.commits.set(m.partition, { offset: m.offset + 1n, leaderEpoch: m.leaderEpoch });
    let parsed: unknown;
    let rollup: MetricRollup | string;
    try {
      parsed = JSON.parse(m.value.toString('utf8'));
      rollup = rollupFromRecord(parsed, sketches);
    } catch (err) {
      rollup = `not JSON: ${(err as Error).message}`;
    }
    if (typeof rollup === 'string') {
      metrics.invalid.inc();
      log.warn(`${m.topic}/${m.partition}@${m.offset} is not a valid rollup (${rollup}); skipped`);
    } else {
      pending.rollups.push(Object.assign(rollup, { _partition: m.partition }));
    }
    if (pending.rollups.length >= batchMaxRows) {
      if (!paused) {
        paused = true;
        stream.pause();
      }
      wake?.();
    }
  });

  /** Writes the series; on a final rejection, halves the request until the rejected samples are alone. */
  const writeOrSplit = async (series: RemoteWriteSeries[]): Promise<void> => {
    try {
      await client.write(series, { signal: abort.signal });
      metrics.samples.inc(sampleCount(series));
    } catch (err) {
      if (!(err instanceof RemoteWriteRejectedError)) throw err;
      const n = sampleCount(series);
      if (n === 1) {
        metrics.dropped.inc({ reason: err.reason });
        if (!err.outOfOrder) log.warn(`Prometheus rejected a sample of ${series[0].labels.__name__}: ${err.serverMessage}`);
        return;
      }
      const [a, b] = halve(series);
      await writeOrSplit(a);
      await writeOrSplit(b);
    }
  };

  const flush = async (): Promise<void> => {
    const batch = pending;
    pending = { rollups: [], commits: new Map(), since: 0 };
    const started = performance.now();
    for (let attempt = 1; ; attempt++) {
      try {
        await writeOrSplit(seriesFromRollups(batch.rollups));
        break;
      } catch (err) {
        metrics.errors.inc({ kind: 'write' });
        if (stopping) return; // not committed: read and written again next start
        const delay = Math.min(5_000, 100 * 2 ** Math.min(attempt - 1, 6));
        log.warn(`remote write failed (${(err as Error).message}); retrying the batch in ${delay} ms`);
        await sleep(delay);
      }
    }
    metrics.writeSeconds.observe((performance.now() - started) / 1000);
    metrics.rollups.inc(batch.rollups.length);
    const offsets = [...batch.commits].filter(([p]) => next.has(p)).map(([partition, c]) => ({ topic: METRICS_ROLLUP_TOPIC, partition, ...c }));
    for (const o of offsets) written.set(o.partition, o.offset);
    if (offsets.length === 0) return;
    try {
      await consumer.commit({ offsets });
    } catch (err) {
      metrics.errors.inc({ kind: 'commit' });
      log.warn(`committing offsets failed: ${(err as Error).message}`);
    }
  };

  const loop = (async () => {
    while (!stopping) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, Math.max(10, Math.floor(flushIntervalMs / 4))).unref();
      });
      wake = undefined;
      const due = pending.commits.size > 0 && (pending.rollups.length >= batchMaxRows || Date.now() - pending.since >= flushIntervalMs);
      if (due || (stopping && pending.commits.size > 0)) await flush();
      if (paused && pending.rollups.length < batchMaxRows) {
        paused = false;
        stream.resume();
      }
    }
  })();

  const lagTimer = setInterval(() => {
    consumer.listOffsets({ topics: [METRICS_ROLLUP_TOPIC] }).then((ends) => {
      for (const p of next.keys()) {
        const end = ends.get(METRICS_ROLLUP_TOPIC)?.[p];
        if (end !== undefined) metrics.lag.set({ partition: String(p) }, Number(end - (written.get(p) ?? 0n)));
      }
    }, () => metrics.errors.inc({ kind: 'lag' }));
  }, 5_000).unref();

  log.info(`writing ${METRICS_ROLLUP_TOPIC} to ${opts.remoteWriteUrl}`);
  return {
    registry,
    async stop() {
      if (stopping) return;
      stopping = true;
      clearInterval(lagTimer);
      wake?.();
      // A write still retrying is given up: its rows are not committed and will be written next start.
      const giveUp = setTimeout(() => abort.abort(new Error('sink stopped')), 5_000);
      await loop.catch(() => {});
      clearTimeout(giveUp);
      await stream.close().catch(() => {});
      await consumer.close(true).catch(() => {});
    },
  };
}

type RollupWithSource = MetricRollup & { _partition: number };

function sampleCount(series: readonly RemoteWriteSeries[]): number {
  return series.reduce((n, s) => n + s.samples.length, 0);
}

/** Two halves by sample count; a lone series with several samples is split between its samples. */
function halve(series: RemoteWriteSeries[]): [RemoteWriteSeries[], RemoteWriteSeries[]] {
  if (series.length === 1) {
    const [s] = series;
    const mid = Math.ceil(s.samples.length / 2);
    return [[{ labels: s.labels, samples: s.samples.slice(0, mid) }], [{ labels: s.labels, samples: s.samples.slice(mid) }]];
  }
  const mid = Math.ceil(series.length / 2);
  return [series.slice(0, mid), series.slice(mid)];
}
