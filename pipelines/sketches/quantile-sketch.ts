/**
 * DDSketch (Masson, Rim, Lee, VLDB 2019): a quantile sketch with relative-error guarantees that merges
 * exactly, so per-minute sketches roll up into any coarser period and give the same answer as one sketch
 * over all the data.
 *
 * A value v > 0 falls in bucket i = ceil(log_γ(v)), γ = (1 + α)/(1 − α), covering (γ^(i−1), γ^i]; the
 * bucket answers with 2γ^i/(γ + 1), within relative error α of every value in it. Negative values use a
 * mirrored store on |v|; values with |v| below MIN_INDEXABLE count as zero. Buckets are never collapsed:
 * at α = 1% a decade holds ~115 buckets, so even nanoseconds to hours stay a few thousand buckets, and
 * collapsing would make merges order-dependent.
 *
 * Quantile q answers for the value of rank floor(q·(n − 1)) in sorted order (the lower quantile),
 * clamped to the exact minimum and maximum, which the sketch keeps.
 */
import { readVarint, writeVarint } from './sketch-varint.ts';

export const DEFAULT_RELATIVE_ACCURACY = 0.01;
/** Smaller magnitudes are counted as zero: their logarithms would leave the int32 index range. */
export const MIN_INDEXABLE = 1e-300;

const FORMAT_VERSION = 1;

export class DDSketch {
  readonly relativeAccuracy: number;
  private readonly gamma: number;
  private readonly logGamma: number;
  private readonly positive = new Map<number, number>();
  private readonly negative = new Map<number, number>();
  private zeroCount = 0;
  private total = 0;
  private minValue = Infinity;
  private maxValue = -Infinity;

  constructor(relativeAccuracy = DEFAULT_RELATIVE_ACCURACY) {
    if (!(relativeAccuracy > 0 && relativeAccuracy < 1)) throw new RangeError(`relative accuracy must be in (0, 1), got ${relativeAccuracy}`);
    this.relativeAccuracy = relativeAccuracy;
    this.gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy);
    this.logGamma = Math.log(this.gamma);
  }

  get count(): number {
    return this.total;
  }

  /** The exact minimum added (Infinity when empty). */
  get min(): number {
    return this.minValue;
  }

  /** The exact maximum added (−Infinity when empty). */
  get max(): number {
    return this.maxValue;
  }

  add(value: number, count = 1): void {
    if (!Number.isFinite(value)) throw new RangeError(`DDSketch takes finite values, got ${value}`);
    if (!(count > 0) || !Number.isFinite(count)) {
      if (count === 0) return;
      throw new RangeError(`DDSketch count must be positive and finite, got ${count}`);
    }
    if (value > MIN_INDEXABLE) {
      const i = this.index(value);
      this.positive.set(i, (this.positive.get(i) ?? 0) + count);
    } else if (value < -MIN_INDEXABLE) {
      const i = this.index(-value);
      this.negative.set(i, (this.negative.get(i) ?? 0) + count);
    } else {
      this.zeroCount += count;
    }
    this.total += count;
    if (value < this.minValue) this.minValue = value;
    if (value > this.maxValue) this.maxValue = value;
  }

  /** Adds every bucket of a sketch with the same relative accuracy. */
  merge(other: DDSketch): this {
    if (other.relativeAccuracy !== this.relativeAccuracy) {
      throw new RangeError(`cannot merge DDSketch accuracy ${other.relativeAccuracy} into ${this.relativeAccuracy}`);
    }
    for (const [i, c] of other.positive) this.positive.set(i, (this.positive.get(i) ?? 0) + c);
    for (const [i, c] of other.negative) this.negative.set(i, (this.negative.get(i) ?? 0) + c);
    this.zeroCount += other.zeroCount;
    this.total += other.total;
    if (other.minValue < this.minValue) this.minValue = other.minValue;
    if (other.maxValue > this.maxValue) this.maxValue = other.maxValue;
    return this;
  }

  /** The q-quantile (0 ≤ q ≤ 1) within the relative accuracy; NaN when empty. */
  quantile(q: number): number {
    if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be in [0, 1], got ${q}`);
    if (this.total === 0) return NaN;
    const rank = Math.floor(q * (this.total - 1));
    // The extremes are known exactly.
    if (rank <= 0) return this.minValue;
    if (rank >= this.total - 1) return this.maxValue;
    let seen = 0;
    let answer = 0;
    let found = false;
    // Most negative first: the largest magnitudes of the negative store.
    if (this.negative.size > 0) {
      for (const i of sortedKeys(this.negative, true)) {
        seen += this.negative.get(i)!;
        if (seen > rank) {
          answer = -this.value(i);
          found = true;
          break;
        }
      }
    }
    if (!found) {
      seen += this.zeroCount;
      if (seen > rank) found = true;
    }
    if (!found) {
      const keys = sortedKeys(this.positive, false);
      for (const i of keys) {
        seen += this.positive.get(i)!;
        if (seen > rank) {
          answer = this.value(i);
          found = true;
          break;
        }
      }
      // Floating-point counts can leave the sum a hair under rank; the top bucket holds the maximum.
      if (!found && keys.length > 0) answer = this.value(keys[keys.length - 1]);
    }
    return Math.min(Math.max(answer, this.minValue), this.maxValue);
  }

  /** How many buckets are in use (positive, negative and the zero bucket). */
  bucketCount(): number {
    return this.positive.size + this.negative.size + (this.zeroCount > 0 ? 1 : 0);
  }

  clone(): DDSketch {
    return new DDSketch(this.relativeAccuracy).merge(this);
  }

  /**
   * Bytes as base64: version, α, zero count, min, max (float64), then each store as a varint length and
   * (zigzag varint index delta, float64 count) pairs in index order. Only contents determine the bytes, so
   * a merge and the sketch of the combined data serialise identically.
   */
  toBase64(): string {
    return this.toBytes().toString('base64');
  }

  toBytes(): Buffer {
    const size = 1 + 8 * 4 + 2 * 5 + (this.positive.size + this.negative.size) * (5 + 8);
    const out = Buffer.allocUnsafe(size);
    out[0] = FORMAT_VERSION;
    out.writeDoubleLE(this.relativeAccuracy, 1);
    out.writeDoubleLE(this.zeroCount, 9);
    out.writeDoubleLE(this.total === 0 ? 0 : this.minValue, 17);
    out.writeDoubleLE(this.total === 0 ? 0 : this.maxValue, 25);
    let pos = 33;
    for (const store of [this.positive, this.negative]) {
      pos = writeVarint(out, pos, store.size);
      let prev = 0;
      for (const i of sortedKeys(store, false)) {
        pos = writeVarint(out, pos, zigzag(i - prev));
        prev = i;
        out.writeDoubleLE(store.get(i)!, pos);
        pos += 8;
      }
    }
    return out.subarray(0, pos);
  }

  static fromBase64(text: string): DDSketch {
    return DDSketch.fromBytes(Buffer.from(text, 'base64'));
  }

  static fromBytes(bytes: Buffer): DDSketch {
    if (bytes.length < 33 || bytes[0] !== FORMAT_VERSION) throw new RangeError('not a serialised DDSketch');
    const s = new DDSketch(bytes.readDoubleLE(1));
    s.zeroCount = bytes.readDoubleLE(9);
    s.total = s.zeroCount;
    const min = bytes.readDoubleLE(17);
    const max = bytes.readDoubleLE(25);
    const cursor = { pos: 33 };
    for (const store of [s.positive, s.negative]) {
      const n = readVarint(bytes, cursor);
      let i = 0;
      for (let k = 0; k < n; k++) {
        i += unzigzag(readVarint(bytes, cursor));
        if (cursor.pos + 8 > bytes.length) throw new RangeError('truncated DDSketch');
        const c = bytes.readDoubleLE(cursor.pos);
        cursor.pos += 8;
        if (!(c > 0)) throw new RangeError('corrupt DDSketch bucket count');
        store.set(i, c);
        s.total += c;
      }
    }
    if (cursor.pos !== bytes.length) throw new RangeError('trailing bytes after DDSketch');
    if (s.total > 0) {
      s.minValue = min;
      s.maxValue = max;
    }
    return s;
  }

  private index(magnitude: number): number {
    return Math.ceil(Math.log(magnitude) / this.logGamma);
  }

  private value(index: number): number {
    return (2 * Math.pow(this.gamma, index)) / (this.gamma + 1);
  }
}

function sortedKeys(store: Map<number, number>, descending: boolean): number[] {
  const keys = [...store.keys()];
  return descending ? keys.sort((a, b) => b - a) : keys.sort((a, b) => a - b);
}

function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

function unzigzag(n: number): number {
  return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
}

