/**
 * HyperLogLog (Flajolet et al. 2007) over a 64-bit hash, for unique visitors that merge across minutes,
 * paths and sites: the union of two sets' sketches is the register-wise maximum.
 *
 * Standard error: 1.04 / sqrt(m), m = 2^precision registers — 0.8125% at the default precision 14.
 * Small cardinalities use linear counting (m·ln(m/V), V empty registers) while the raw estimate is at most
 * 2.5·m, as in the original paper; with 64-bit hashes no large-range correction is needed, and HLL++'s
 * empirical bias correction is left out (its effect at precision 14 is well inside the standard error
 * beyond ~5·m, and linear counting covers below 2.5·m).
 *
 * Memory: a sketch starts sparse — a sorted array of (index << 8 | rank) words — and turns into one byte
 * per register once that array would be larger than the dense form, because rollups keep one sketch per
 * site, path and minute and most of them hold a handful of visitors.
 */
import { readVarint, varintLength, writeVarint } from './sketch-varint.ts';

export const HLL_DEFAULT_PRECISION = 14;
export const HLL_MIN_PRECISION = 4;
export const HLL_MAX_PRECISION = 18;

/** The relative standard error of the estimate at a precision: 1.04 / sqrt(2^precision). */
export function hllStandardError(precision: number): number {
  return 1.04 / Math.sqrt(2 ** precision);
}

/** 1.04 / sqrt(16384) = 0.008125: the standard error at the default precision. */
export const HLL_STANDARD_ERROR = hllStandardError(HLL_DEFAULT_PRECISION);

const FORMAT_VERSION = 1;
const ENCODING_DENSE = 0;
const ENCODING_SPARSE = 1;

export class HyperLogLog {
  readonly precision: number;
  readonly m: number;
  /** One byte per register once dense; null while sparse. */
  private dense: Uint8Array | null = null;
  /** Sorted by index: index << 8 | rank. */
  private sparse: Uint32Array = new Uint32Array(8);
  private sparseLength = 0;

  constructor(precision = HLL_DEFAULT_PRECISION) {
    if (!Number.isInteger(precision) || precision < HLL_MIN_PRECISION || precision > HLL_MAX_PRECISION) {
      throw new RangeError(`HyperLogLog precision must be an integer in ${HLL_MIN_PRECISION}..${HLL_MAX_PRECISION}, got ${precision}`);
    }
    this.precision = precision;
    this.m = 1 << precision;
  }

  add(value: string): void {
    hash64(value);
    this.addHash(HASH[0], HASH[1]);
  }

  /** Adds a 64-bit hash given as its high and low 32 bits (unsigned). */
  addHash(hi: number, lo: number): void {
    const p = this.precision;
    const index = hi >>> (32 - p);
    // The rank is the position of the first 1 in the remaining 64 - p bits: hi's low bits, then lo.
    const rest = (hi << p) >>> 0;
    const rank = rest !== 0 ? Math.clz32(rest) + 1 : 32 - p + Math.clz32(lo) + 1;
    this.setMax(index, rank);
  }

  /** Register-wise maximum with a sketch of the same precision: afterwards this sketches the union. */
  merge(other: HyperLogLog): this {
    if (other.precision !== this.precision) throw new RangeError(`cannot merge HyperLogLog precision ${other.precision} into ${this.precision}`);
    if (other.dense) {
      const d = this.toDense();
      const o = other.dense;
      for (let i = 0; i < d.length; i++) if (o[i] > d[i]) d[i] = o[i];
    } else {
      const s = other.sparse;
      for (let i = 0; i < other.sparseLength; i++) this.setMax(s[i] >>> 8, s[i] & 0xff);
    }
    return this;
  }

  estimate(): number {
    const m = this.m;
    let sum = 0;
    let zeros = 0;
    if (this.dense) {
      const d = this.dense;
      for (let i = 0; i < m; i++) {
        const r = d[i];
        if (r === 0) zeros++;
        sum += POW2_NEG[r];
      }
    } else {
      zeros = m - this.sparseLength;
      sum = zeros;
      for (let i = 0; i < this.sparseLength; i++) sum += POW2_NEG[this.sparse[i] & 0xff];
    }
    const alpha = m >= 128 ? 0.7213 / (1 + 1.079 / m) : m === 64 ? 0.709 : m === 32 ? 0.697 : 0.673;
    const raw = (alpha * m * m) / sum;
    if (raw <= 2.5 * m && zeros > 0) return m * Math.log(m / zeros);
    return raw;
  }

  /** How many registers are non-zero. */
  nonZeroRegisters(): number {
    if (!this.dense) return this.sparseLength;
    let n = 0;
    for (const r of this.dense) if (r !== 0) n++;
    return n;
  }

  clone(): HyperLogLog {
    const c = new HyperLogLog(this.precision);
    if (this.dense) c.dense = this.dense.slice();
    else {
      c.sparse = this.sparse.slice(0, Math.max(8, this.sparseLength));
      c.sparseLength = this.sparseLength;
    }
    return c;
  }

  /**
   * Serialised bytes as base64: [version, precision, encoding, …]. Sparse — varint index deltas, each
   * followed by a rank byte — when that is smaller than one byte per register, else dense. The choice
   * depends only on the registers, so equal sketches serialise identically whatever their history.
   */
  toBase64(): string {
    return this.toBytes().toString('base64');
  }

  toBytes(): Buffer {
    const n = this.nonZeroRegisters();
    // A sparse entry takes at most 1 + ceil(precision / 7) bytes; 4 bounds every precision here.
    if (n * 4 < this.m) {
      const out = Buffer.allocUnsafe(3 + varintLength(n) + n * 4);
      out[0] = FORMAT_VERSION;
      out[1] = this.precision;
      out[2] = ENCODING_SPARSE;
      let pos = writeVarint(out, 3, n);
      let prev = 0;
      const visit = (index: number, rank: number): void => {
        pos = writeVarint(out, pos, index - prev);
        out[pos++] = rank;
        prev = index;
      };
      if (this.dense) {
        const d = this.dense;
        for (let i = 0; i < d.length; i++) if (d[i] !== 0) visit(i, d[i]);
      } else {
        for (let i = 0; i < this.sparseLength; i++) visit(this.sparse[i] >>> 8, this.sparse[i] & 0xff);
      }
      return out.subarray(0, pos);
    }
    const out = Buffer.allocUnsafe(3 + this.m);
    out[0] = FORMAT_VERSION;
    out[1] = this.precision;
    out[2] = ENCODING_DENSE;
    if (this.dense) out.set(this.dense, 3);
    else {
      out.fill(0, 3);
      for (let i = 0; i < this.sparseLength; i++) out[3 + (this.sparse[i] >>> 8)] = this.sparse[i] & 0xff;
    }
    return out;
  }

  static fromBase64(text: string): HyperLogLog {
    return HyperLogLog.fromBytes(Buffer.from(text, 'base64'));
  }

  static fromBytes(bytes: Uint8Array): HyperLogLog {
    if (bytes.length < 3 || bytes[0] !== FORMAT_VERSION) throw new RangeError('not a serialised HyperLogLog (version)');
    const h = new HyperLogLog(bytes[1]);
    const maxRank = 64 - h.precision + 1;
    if (bytes[2] === ENCODING_DENSE) {
      if (bytes.length !== 3 + h.m) throw new RangeError(`dense HyperLogLog needs ${h.m} registers, got ${bytes.length - 3}`);
      const d = bytes.slice(3);
      for (const r of d) if (r > maxRank) throw new RangeError(`HyperLogLog register ${r} exceeds ${maxRank}`);
      h.dense = d;
      return h;
    }
    if (bytes[2] !== ENCODING_SPARSE) throw new RangeError(`unknown HyperLogLog encoding ${bytes[2]}`);
    const cursor = { pos: 3 };
    const n = readVarint(bytes, cursor);
    let index = 0;
    for (let i = 0; i < n; i++) {
      const delta = readVarint(bytes, cursor);
      index += delta;
      if (cursor.pos >= bytes.length) throw new RangeError('truncated HyperLogLog');
      const rank = bytes[cursor.pos++];
      // Indices strictly increase, so only the first delta may be zero.
      if (index >= h.m || rank === 0 || rank > maxRank || (i > 0 && delta === 0)) throw new RangeError('corrupt sparse HyperLogLog');
      h.setMax(index, rank);
    }
    if (cursor.pos !== bytes.length) throw new RangeError('trailing bytes after HyperLogLog');
    return h;
  }

  private setMax(index: number, rank: number): void {
    if (this.dense) {
      if (rank > this.dense[index]) this.dense[index] = rank;
      return;
    }
    const s = this.sparse;
    let lo = 0;
    let hi = this.sparseLength;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (s[mid] >>> 8 < index) lo = mid + 1;
      else hi = mid;
    }
    if (lo < this.sparseLength && s[lo] >>> 8 === index) {
      if (rank > (s[lo] & 0xff)) s[lo] = ((index << 8) | rank) >>> 0;
      return;
    }
    // Past m/4 entries the sparse words (4 bytes each) would outgrow the dense bytes.
    if (this.sparseLength + 1 > this.m >>> 2) {
      this.toDense()[index] = rank;
      return;
    }
    if (this.sparseLength === s.length) {
      const grown = new Uint32Array(Math.min(s.length * 2, this.m >>> 2));
      grown.set(s);
      this.sparse = grown;
    }
    const t = this.sparse;
    t.copyWithin(lo + 1, lo, this.sparseLength);
    t[lo] = ((index << 8) | rank) >>> 0;
    this.sparseLength++;
  }

  private toDense(): Uint8Array {
    if (this.dense) return this.dense;
    const d = new Uint8Array(this.m);
    for (let i = 0; i < this.sparseLength; i++) d[this.sparse[i] >>> 8] = this.sparse[i] & 0xff;
    this.dense = d;
    this.sparse = new Uint32Array(0);
    this.sparseLength = 0;
    return d;
  }
}

const POW2_NEG = new Float64Array(66);
for (let i = 0; i < POW2_NEG.length; i++) POW2_NEG[i] = 2 ** -i;

// ---------------------------------------------------------------------------------------------------------
// 64-bit string hash: two MurmurHash3 x86_32 passes with different seeds over the UTF-8 bytes. Murmur3's
// finaliser avalanches well, which HyperLogLog needs (FNV-1a's high bits are weak on short ids), and it
// runs on 32-bit integer arithmetic, which is what JavaScript does fast (no BigInt).

/** The last hash64 result: [high 32 bits, low 32 bits]. Reused so hashing allocates nothing. */
const HASH = new Uint32Array(2);
const encoder = new TextEncoder();
let scratch = new Uint8Array(256);

function utf8(s: string): number {
  const n = s.length;
  if (scratch.length < n * 3) scratch = new Uint8Array(n * 3);
  let ascii = true;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) {
      ascii = false;
      break;
    }
    scratch[i] = c;
  }
  if (ascii) return n;
  return encoder.encodeInto(s, scratch).written;
}

function murmur3(bytes: Uint8Array, len: number, seed: number): number {
  let h = seed;
  const tail = len & ~3;
  for (let i = 0; i < tail; i += 4) {
    let k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rem = len & 3;
  if (rem !== 0) {
    let k = bytes[tail];
    if (rem > 1) k ^= bytes[tail + 1] << 8;
    if (rem > 2) k ^= bytes[tail + 2] << 16;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hashes a string to 64 bits, left in HASH (returned for convenience; read it before the next call). */
export function hash64(s: string): Uint32Array {
  const len = utf8(s);
  HASH[0] = murmur3(scratch, len, 0x9747b28c);
  HASH[1] = murmur3(scratch, len, 0x5bd1e995);
  return HASH;
}

/** The 64-bit hash as 16 hex digits: a stable id from any string (session ids). */
export function hash64Hex(s: string): string {
  const h = hash64(s);
  return h[0].toString(16).padStart(8, '0') + h[1].toString(16).padStart(8, '0');
}
