// The comparison's workloads, written once over StreamDriver: produce at saturation, read everything back,
// and a fixed offered load with a consumer reading at the same time. Each returns plain numbers for one run.
import type { Consumption, StreamDriver } from './drivers/stream-driver.ts';

/** Latency samples in ms, kept in one growing typed array (a fixed-load run takes one per record). */
export class LatencySamples {
  private values = new Float64Array(1024);
  private length = 0;
  private sorted = true;

  add(ms: number, times = 1): void {
    if (this.length + times > this.values.length) {
      const grown = new Float64Array(Math.max(this.values.length * 2, this.length + times));
      grown.set(this.values.subarray(0, this.length));
      this.values = grown;
    }
    this.values.fill(ms, this.length, this.length + times);
    this.length += times;
    this.sorted = false;
  }

  get count(): number {
    return this.length;
  }

  /** Nearest rank, like bench/lib/stats.ts percentile(); sorts once for all the percentiles asked. */
  percentile(p: number): number {
    if (this.length === 0) return NaN;
    if (!this.sorted) {
      this.values.subarray(0, this.length).sort();
      this.sorted = true;
    }
    return this.values[Math.min(this.length - 1, Math.max(0, Math.ceil((p / 100) * this.length) - 1))];
  }
}

/** Counts what a consumer received per partition; `reached` resolves once the counts equal the target. */
class ReceivedTally {
  readonly perPartition: number[];
  total = 0;
  private target = Infinity;
  private onReached: (() => void) | null = null;

  constructor(partitions: number) {
    this.perPartition = new Array<number>(partitions).fill(0);
  }

  add(partition: number, count: number): void {
    this.perPartition[partition] += count;
    this.total += count;
    if (this.total >= this.target) this.onReached?.();
  }

  /** Resolves once `target` records arrived; rejects when the consumer fails or after `timeoutMs`. */
  async reached(target: number, consumption: Consumption, timeoutMs: number, what: string): Promise<void> {
    this.target = target;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        new Promise<void>((resolve) => {
          this.onReached = resolve;
          if (this.total >= target) resolve();
        }),
        consumption.failed.then((err) => Promise.reject(new Error(`${what}: the consumer failed: ${err.message}`, { cause: err }))),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${what}: ${this.total} of ${target} records arrived within ${timeoutMs / 1000} s (per partition: ${this.perPartition.join(', ')}); records were lost`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      this.onReached = null;
    }
  }

  /** Throws when the consumer saw more than was acknowledged to it: duplicates. */
  checkExact(expected: number[], what: string): void {
    for (let p = 0; p < expected.length; p++) {
      if (this.perPartition[p] !== expected[p]) {
        throw new Error(`${what}: partition ${p} delivered ${this.perPartition[p]} records, ${expected[p]} were acknowledged (all partitions: ${this.perPartition.join(', ')} of ${expected.join(', ')})`);
      }
    }
  }
}

function mb(bytes: number): number {
  return bytes / 1e6;
}

export interface SaturationOptions {
  stream: string;
  partitions: number;
  total: number;
  /** No batch is started after this many seconds: bounds the run for a system much slower than the rest. */
  maxSeconds: number;
  batchRecords: number;
  inFlight: number;
  recordBytes: number;
}

export interface SaturationRun {
  /** Records sent and acknowledged: `total`, or fewer when `maxSeconds` cut the run short. */
  records: number;
  recordsPerSec: number;
  mbPerSec: number;
  ackP50: number;
  ackP99: number;
  ackP999: number;
  /** Records acknowledged per partition, what the consume workload must read back. */
  produced: number[];
}

/**
 * `total` records (or as many as `maxSeconds` allow) in batches of `batchRecords`, round robin over the
 * partitions, `inFlight` batches unacknowledged at any time; ack latency is per batch.
 */
export async function produceAtSaturation(driver: StreamDriver, o: SaturationOptions): Promise<SaturationRun> {
  const batches = Math.ceil(o.total / o.batchRecords);
  const produced = new Array<number>(o.partitions).fill(0);
  const latency = new LatencySamples();
  let next = 0;
  const started = performance.now();
  const deadline = started + o.maxSeconds * 1000;
  const worker = async () => {
    while (next < batches && performance.now() < deadline) {
      const i = next++;
      const partition = i % o.partitions;
      const count = Math.min(o.batchRecords, o.total - i * o.batchRecords);
      const t0 = performance.now();
      await driver.produceBatch(o.stream, partition, count, o.recordBytes);
      latency.add(performance.now() - t0);
      produced[partition] += count;
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.inFlight, batches) }, worker));
  const seconds = (performance.now() - started) / 1000;
  const records = produced.reduce((a, b) => a + b, 0);
  return {
    records,
    recordsPerSec: records / seconds,
    mbPerSec: mb(records * o.recordBytes) / seconds,
    ackP50: latency.percentile(50),
    ackP99: latency.percentile(99),
    ackP999: latency.percentile(99.9),
    produced,
  };
}

export interface ConsumeRun {
  recordsPerSec: number;
  mbPerSec: number;
}

/**
 * Reads back everything `produced` holds (records per partition) from all partitions with one consumer. The
 * time includes opening the consumer (a connection and, for NATS, one consumer lookup per stream).
 */
export async function consumeEverything(driver: StreamDriver, o: { stream: string; recordBytes: number; produced: number[]; timeoutMs: number }): Promise<ConsumeRun> {
  const tally = new ReceivedTally(o.produced.length);
  const total = o.produced.reduce((a, b) => a + b, 0);
  const started = performance.now();
  const consumption = await driver.consume(o.stream, o.produced.length, (partition, count) => tally.add(partition, count));
  try {
    await tally.reached(total, consumption, o.timeoutMs, `${driver.name}: consume`);
  } finally {
    await consumption.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  tally.checkExact(o.produced, `${driver.name}: consume`);
  return { recordsPerSec: total / seconds, mbPerSec: mb(total * o.recordBytes) / seconds };
}

export interface FixedLoadOptions {
  stream: string;
  partitions: number;
  /** Offered records per second, sent as one small batch per partition every TICK_MS. */
  rate: number;
  seconds: number;
  recordBytes: number;
  /** How long to wait for the last acks and records after the sending window. */
  drainTimeoutMs: number;
}

export interface FixedLoadRun {
  /** Records acknowledged per second, from the first send to the last acknowledgement. */
  achievedRate: number;
  ackP50: number;
  ackP99: number;
  ackP999: number;
  e2eP50: number;
  e2eP99: number;
  e2eP999: number;
}

export const TICK_MS = 10;

/**
 * Offers `rate` records/s for `seconds`: every TICK_MS one batch per partition carrying its send time, with a
 * consumer reading all partitions at the same time. End-to-end latency is one sample per record, send to
 * consumer callback (same process, same clock). A tick is skipped while a second's worth of records is
 * unacknowledged, so a system that cannot keep up shows a lower achieved rate instead of an unbounded queue.
 */
export async function fixedLoad(driver: StreamDriver, o: FixedLoadOptions): Promise<FixedLoadRun> {
  const perTick = Math.round((o.rate * TICK_MS) / 1000);
  if (perTick < o.partitions) throw new Error(`${o.rate} records/s is less than one record per partition per ${TICK_MS} ms tick`);
  const ticks = Math.round((o.seconds * 1000) / TICK_MS);
  const ack = new LatencySamples();
  const e2e = new LatencySamples();
  const tally = new ReceivedTally(o.partitions);
  let unstamped = 0;
  const consumption = await driver.consume(o.stream, o.partitions, (partition, count, sentAtMs) => {
    const now = performance.now();
    tally.add(partition, count);
    if (sentAtMs === undefined) unstamped += count;
    else e2e.add(now - sentAtMs, count);
  });
  try {
    const acked = new Array<number>(o.partitions).fill(0);
    let unacknowledged = 0;
    let failure: Error | null = null;
    let lastAckAt = 0;
    const pending = new Set<Promise<void>>();
    const send = (partition: number, count: number) => {
      const sentAt = performance.now();
      unacknowledged += count;
      const p: Promise<void> = driver.produceBatch(o.stream, partition, count, o.recordBytes, sentAt).then(
        () => {
          lastAckAt = performance.now();
          ack.add(lastAckAt - sentAt);
          acked[partition] += count;
        },
        (err: Error) => void (failure ??= err),
      ).finally(() => {
        unacknowledged -= count;
        pending.delete(p);
      });
      pending.add(p);
    };

    const started = performance.now();
    for (let tick = 0; tick < ticks; tick++) {
      const due = started + tick * TICK_MS;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (failure) throw failure;
      if (unacknowledged >= o.rate) continue;
      // The tick's records split over the partitions; the remainder goes to a different partition each tick.
      const base = Math.floor(perTick / o.partitions);
      const extra = perTick - base * o.partitions;
      for (let i = 0; i < o.partitions; i++) {
        const partition = (tick + i) % o.partitions;
        send(partition, base + (i < extra ? 1 : 0));
      }
    }
    await withTimeout(Promise.all(pending), o.drainTimeoutMs, `${driver.name}: fixed load: acknowledgements still missing after ${o.drainTimeoutMs / 1000} s`);
    if (failure) throw failure;
    const total = acked.reduce((a, b) => a + b, 0);
    await tally.reached(total, consumption, o.drainTimeoutMs, `${driver.name}: fixed load`);
    tally.checkExact(acked, `${driver.name}: fixed load`);
    if (unstamped > 0) throw new Error(`${driver.name}: fixed load: ${unstamped} records arrived without their send time`);
    return {
      achievedRate: total / ((lastAckAt - started) / 1000),
      ackP50: ack.percentile(50),
      ackP99: ack.percentile(99),
      ackP999: ack.percentile(99.9),
      e2eP50: e2e.percentile(50),
      e2eP99: e2e.percentile(99),
      e2eP999: e2e.percentile(99.9),
    };
  } finally {
    await consumption.stop();
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
