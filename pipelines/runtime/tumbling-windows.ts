/**
 * Keyed tumbling windows by event time: [start, start + windowMs) with start a multiple of windowMs
 * (epoch-aligned, so every worker and every restart cuts the same minutes).
 *
 * Lateness is the caller's: it passes watermark = max event time − allowed lateness, and a window is
 * closed once its end is at or before that. Closed windows come out sorted by (windowStart, key), never
 * in insertion order, so the output depends only on the records folded in — not on how a restored
 * state's maps happened to be rebuilt.
 */

/** Turns accumulators into JSON values and back, for accumulators that hold sketches or other objects. */
export interface AccumulatorCodec<A> {
  serialize(acc: A): unknown;
  deserialize(json: unknown): A;
}

export interface ClosedWindow<A> {
  windowStart: number;
  key: string;
  acc: A;
}

/** The plain-JSON state: windows by start, each a list of [key, serialised accumulator]. */
export interface TumblingWindowsSnapshot {
  windowMs: number;
  windows: [number, [string, unknown][]][];
}

const identity: AccumulatorCodec<any> = { serialize: (a) => a, deserialize: (j) => j };

export class TumblingWindows<A> {
  readonly windowMs: number;
  private readonly codec: AccumulatorCodec<A>;
  private readonly windows = new Map<number, Map<string, A>>();

  constructor(windowMs: number, codec: AccumulatorCodec<A> = identity) {
    if (!Number.isInteger(windowMs) || windowMs <= 0) throw new RangeError(`windowMs must be a positive integer, got ${windowMs}`);
    this.windowMs = windowMs;
    this.codec = codec;
  }

  windowStart(eventTime: number): number {
    return eventTime - mod(eventTime, this.windowMs);
  }

  /** Whether the window holding eventTime has ended at or before the watermark. */
  isClosed(eventTime: number, watermark: number): boolean {
    return this.windowStart(eventTime) + this.windowMs <= watermark;
  }

  /**
   * Folds into the accumulator of (key, window of eventTime), created with init() on first use. fold may
   * mutate the accumulator in place (return nothing) or return a replacement.
   */
  update(key: string, eventTime: number, init: () => A, fold: (acc: A) => A | void): A {
    const start = this.windowStart(eventTime);
    let byKey = this.windows.get(start);
    if (byKey === undefined) {
      byKey = new Map();
      this.windows.set(start, byKey);
    }
    let acc = byKey.get(key);
    if (acc === undefined) acc = init();
    const next = fold(acc);
    if (next !== undefined) acc = next;
    byKey.set(key, acc);
    return acc;
  }

  /** Removes and returns every window ending at or before the watermark, by windowStart, then key. */
  closeUpTo(watermark: number): ClosedWindow<A>[] {
    const out: ClosedWindow<A>[] = [];
    if (this.windows.size === 0) return out;
    const starts: number[] = [];
    for (const start of this.windows.keys()) if (start + this.windowMs <= watermark) starts.push(start);
    if (starts.length === 0) return out;
    starts.sort((a, b) => a - b);
    for (const start of starts) {
      const byKey = this.windows.get(start)!;
      this.windows.delete(start);
      const keys = [...byKey.keys()].sort(compareStrings);
      for (const key of keys) out.push({ windowStart: start, key, acc: byKey.get(key)! });
    }
    return out;
  }

  /** Open windows (not keys). */
  get size(): number {
    return this.windows.size;
  }

  /** Open (window, key) accumulators. */
  get accumulators(): number {
    let n = 0;
    for (const byKey of this.windows.values()) n += byKey.size;
    return n;
  }

  snapshot(): TumblingWindowsSnapshot {
    const windows: [number, [string, unknown][]][] = [];
    for (const [start, byKey] of this.windows) {
      const entries: [string, unknown][] = [];
      for (const [key, acc] of byKey) entries.push([key, this.codec.serialize(acc)]);
      windows.push([start, entries]);
    }
    return { windowMs: this.windowMs, windows };
  }

  static restore<A>(snapshot: TumblingWindowsSnapshot, codec: AccumulatorCodec<A> = identity): TumblingWindows<A> {
    const w = new TumblingWindows<A>(snapshot.windowMs, codec);
    for (const [start, entries] of snapshot.windows) {
      const byKey = new Map<string, A>();
      for (const [key, json] of entries) byKey.set(key, codec.deserialize(json));
      w.windows.set(start, byKey);
    }
    return w;
  }
}

/** Code-unit order: the same everywhere, unlike localeCompare. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function mod(a: number, b: number): number {
  const r = a % b;
  return r < 0 ? r + b : r;
}
