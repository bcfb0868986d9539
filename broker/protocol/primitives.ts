/**
 * Kafka's primitive types (protocol.html, "Protocol Primitive Types"): the reader and writer that generated
 * message codecs call field by field. Hand-written and allocation-free apart from the values themselves,
 * because every request and response of the broker goes through them.
 *
 * Decoding is defensive: every length is checked against the bytes left before anything is allocated or
 * sliced, so a hostile frame costs at most its own size, and every malformed input throws
 * ProtocolDecodeError (never a RangeError, never a hang).
 */
export class ProtocolDecodeError extends Error {
  override name = 'ProtocolDecodeError';
}

/** Kafka's Uuid.ZERO_UUID, the default of every uuid field. */
export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;
const TWO_32 = 4294967296;

/** Reads big-endian primitives from a buffer; `limit` bounds reads (narrowed while inside a tagged field). */
export class Reader {
  readonly buf: Buffer;
  offset: number;
  /** Reads never go past this position: the buffer's end, or the end of the tagged field being read. */
  limit: number;

  constructor(buf: Buffer, offset = 0) {
    this.buf = buf;
    this.offset = offset;
    this.limit = buf.length;
  }

  remaining(): number {
    return this.limit - this.offset;
  }

  private need(n: number, what: string): void {
    if (this.offset + n > this.limit) {
      throw new ProtocolDecodeError(`${what}: needs ${n} bytes at offset ${this.offset}, ${this.remaining()} left`);
    }
  }

  int8(): number {
    this.need(1, 'int8');
    return this.buf.readInt8(this.offset++);
  }
  bool(): boolean {
    this.need(1, 'bool');
    return this.buf[this.offset++] !== 0;
  }
  int16(): number {
    this.need(2, 'int16');
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  uint16(): number {
    this.need(2, 'uint16');
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  int32(): number {
    this.need(4, 'int32');
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  uint32(): number {
    this.need(4, 'uint32');
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  /**
   * int64 as a JS number (offsets, timestamps and ids fit in 2^53). Two 32-bit halves give the same
   * correctly rounded result as Number(readBigInt64BE()) without allocating a BigInt per read.
   */
  int64(): number {
    this.need(8, 'int64');
    const hi = this.buf.readInt32BE(this.offset);
    const lo = this.buf.readUInt32BE(this.offset + 4);
    this.offset += 8;
    return hi * TWO_32 + lo;
  }
  float64(): number {
    this.need(8, 'float64');
    const v = this.buf.readDoubleBE(this.offset);
    this.offset += 8;
    return v;
  }
  /** Unsigned varint of at most 5 bytes (Kafka's readUnsignedVarint); values up to 2^35 - 1. */
  uvarint(): number {
    const buf = this.buf;
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 5; i++) {
      if (this.offset >= this.limit) throw new ProtocolDecodeError(`varint: truncated at offset ${this.offset}`);
      const b = buf[this.offset++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw new ProtocolDecodeError(`varint: longer than 5 bytes at offset ${this.offset - 5}`);
  }
  /** Zigzag-encoded signed varint (int32 range). */
  varint(): number {
    const u = this.uvarint();
    if (u > 0xffffffff) throw new ProtocolDecodeError(`varint: ${u} is outside the int32 range`);
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }
  /**
   * Zigzag-encoded signed varlong (up to 10 bytes) as a number. The first 7 bytes (49 bits) are summed
   * exactly as doubles; only longer encodings (beyond ±2^48) go through BigInt.
   */
  varlong(): number {
    const buf = this.buf;
    const start = this.offset;
    let u = 0;
    let scale = 1;
    for (let i = 0; i < 7; i++) {
      if (this.offset >= this.limit) throw new ProtocolDecodeError(`varlong: truncated at offset ${this.offset}`);
      const b = buf[this.offset++];
      u += (b & 0x7f) * scale;
      if (b < 0x80) return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
      scale *= 128;
    }
    this.offset = start;
    return this.bigVarlong();
  }
  private bigVarlong(): number {
    let u = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.offset >= this.limit) throw new ProtocolDecodeError(`varlong: truncated at offset ${this.offset}`);
      const b = this.buf[this.offset++];
      u |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return Number(BigInt.asIntN(64, (u >> 1n) ^ -(u & 1n)));
      shift += 7n;
    }
    throw new ProtocolDecodeError(`varlong: longer than 10 bytes at offset ${this.offset - 10}`);
  }
  /** 16 bytes as the canonical lower-case 8-4-4-4-12 form. */
  uuid(): string {
    this.need(16, 'uuid');
    const hex = this.buf.toString('hex', this.offset, this.offset + 16);
    this.offset += 16;
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  private utf8(length: number, what: string): string {
    this.need(length, what);
    const start = this.offset;
    this.offset += length;
    return this.buf.toString('utf8', start, this.offset);
  }
  /** Zero-copy: the returned buffer shares memory with the input frame. */
  private slice(length: number, what: string): Buffer {
    this.need(length, what);
    const start = this.offset;
    this.offset += length;
    return this.buf.subarray(start, this.offset);
  }
  string(): string {
    const n = this.int16();
    if (n < 0) throw new ProtocolDecodeError(`string: non-nullable string has length ${n}`);
    return this.utf8(n, 'string');
  }
  nullableString(): string | null {
    const n = this.int16();
    if (n === -1) return null;
    if (n < -1) throw new ProtocolDecodeError(`nullable string: invalid length ${n}`);
    return this.utf8(n, 'nullable string');
  }
  compactString(): string {
    const n = this.uvarint() - 1;
    if (n < 0) throw new ProtocolDecodeError('compact string: non-nullable string is null');
    return this.utf8(n, 'compact string');
  }
  compactNullableString(): string | null {
    const n = this.uvarint() - 1;
    return n < 0 ? null : this.utf8(n, 'compact nullable string');
  }
  bytes(): Buffer {
    const n = this.int32();
    if (n < 0) throw new ProtocolDecodeError(`bytes: non-nullable bytes have length ${n}`);
    return this.slice(n, 'bytes');
  }
  nullableBytes(): Buffer | null {
    const n = this.int32();
    if (n === -1) return null;
    if (n < -1) throw new ProtocolDecodeError(`nullable bytes: invalid length ${n}`);
    return this.slice(n, 'nullable bytes');
  }
  compactBytes(): Buffer {
    const n = this.uvarint() - 1;
    if (n < 0) throw new ProtocolDecodeError('compact bytes: non-nullable bytes are null');
    return this.slice(n, 'compact bytes');
  }
  compactNullableBytes(): Buffer | null {
    const n = this.uvarint() - 1;
    return n < 0 ? null : this.slice(n, 'compact nullable bytes');
  }

  /**
   * An int32 array length; -1 is null (returned as -1 when `nullable`, refused otherwise). `minElementSize`
   * is the fewest bytes one element can take (the generator computes it per field), so a count that the
   * bytes left cannot hold is refused before any array is allocated.
   */
  arrayLength(nullable: boolean, minElementSize = 1): number {
    return this.checkCount(this.int32(), nullable, minElementSize, 'array');
  }
  /** A compact array length (uvarint of length + 1; 0 is null). */
  compactArrayLength(nullable: boolean, minElementSize = 1): number {
    return this.checkCount(this.uvarint() - 1, nullable, minElementSize, 'compact array');
  }
  private checkCount(n: number, nullable: boolean, minElementSize: number, what: string): number {
    if (n < 0) {
      if (n === -1 && nullable) return -1;
      throw new ProtocolDecodeError(`${what}: ${n === -1 ? 'non-nullable array is null' : `invalid length ${n}`}`);
    }
    if (n * (minElementSize > 0 ? minElementSize : 1) > this.remaining()) {
      throw new ProtocolDecodeError(`${what}: ${n} elements cannot fit in the ${this.remaining()} bytes left`);
    }
    return n;
  }

  // Tagged fields (flexible versions): uvarint count, then per field uvarint tag, uvarint size, data.

  /** The count of a tagged-field section; every field takes at least 2 bytes (tag and size). */
  taggedFieldCount(): number {
    const n = this.uvarint();
    if (n * 2 > this.remaining()) throw new ProtocolDecodeError(`tagged fields: ${n} fields cannot fit in the ${this.remaining()} bytes left`);
    return n;
  }
  /**
   * After the tag: reads the field's size and narrows `limit` to the field, so a field's reader cannot run
   * into the next one. Returns the previous limit for endTaggedField.
   */
  beginTaggedField(): number {
    const size = this.uvarint();
    this.need(size, 'tagged field');
    const outer = this.limit;
    this.limit = this.offset + size;
    return outer;
  }
  /** Skips whatever of the field was not read (unknown tags, newer sub-fields) and restores the limit. */
  endTaggedField(outer: number): void {
    this.offset = this.limit;
    this.limit = outer;
  }
  /** A tagged-field section none of whose tags the struct knows: every field is skipped. */
  skipTaggedFields(): void {
    for (let n = this.taggedFieldCount(); n > 0; n--) {
      this.uvarint();
      this.endTaggedField(this.beginTaggedField());
    }
  }
  /** For hand-written codecs: calls onTag for each tagged field with the reader bounded to that field. */
  taggedFields(onTag: (tag: number, r: Reader, size: number) => void): void {
    for (let n = this.taggedFieldCount(); n > 0; n--) {
      const tag = this.uvarint();
      const outer = this.beginTaggedField();
      onTag(tag, this, this.limit - this.offset);
      this.endTaggedField(outer);
    }
  }
}

function uvarintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Where each byte's two hex digits start in the 36-character uuid form. */
const UUID_PAIRS = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

function nibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

function clampInt64(v: number, what: string): bigint {
  if (Number.isNaN(v)) throw new Error(`${what}: NaN cannot be encoded`);
  const b = v === Infinity ? INT64_MAX : v === -Infinity ? INT64_MIN : BigInt(Math.trunc(v));
  return b > INT64_MAX ? INT64_MAX : b < INT64_MIN ? INT64_MIN : b;
}

/**
 * Growable writer. Fields go into one scratch buffer; `records` data is not copied but noted as a chunk of
 * its own between scratch segments, so fetched record batches go from the log to the socket untouched.
 * `finish()` returns the scratch segments and record chunks in order; `size` counts every byte written.
 */
export class Writer {
  private buf: Buffer;
  private pos = 0;
  /**
   * The output in order: a number ends a scratch segment (which starts where the previous one ended), a
   * Buffer is a record chunk. Segments are cut into Buffers only in finish(), so appending a record costs
   * no allocation, and positions in the scratch stay valid when it grows (growth copies all of it).
   */
  private readonly parts: (number | Buffer)[] = [];
  /** Scratch offset where the segment not yet in `parts` starts. */
  private mark = 0;
  private recordBytes = 0;

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(Math.max(16, initialSize));
  }

  /** Total bytes written so far. */
  get size(): number {
    return this.pos + this.recordBytes;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  int8(v: number): void {
    this.ensure(1);
    this.buf.writeInt8(v, this.pos++);
  }
  bool(v: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }
  int16(v: number): void {
    this.ensure(2);
    this.pos = this.buf.writeInt16BE(v, this.pos);
  }
  uint16(v: number): void {
    this.ensure(2);
    this.pos = this.buf.writeUInt16BE(v, this.pos);
  }
  int32(v: number): void {
    this.ensure(4);
    this.pos = this.buf.writeInt32BE(v, this.pos);
  }
  uint32(v: number): void {
    this.ensure(4);
    this.pos = this.buf.writeUInt32BE(v, this.pos);
  }
  /**
   * int64 from a number. Values beyond int64 (Number(Long.MAX_VALUE) is 2^63, one past it) clamp to the
   * int64 range so such sentinels round-trip; fractions truncate; NaN is a caller bug and throws.
   */
  int64(v: number): void {
    this.ensure(8);
    if (Number.isSafeInteger(v)) {
      const hi = Math.floor(v / TWO_32);
      this.buf.writeInt32BE(hi, this.pos);
      this.buf.writeUInt32BE(v - hi * TWO_32, this.pos + 4);
    } else {
      this.buf.writeBigInt64BE(clampInt64(v, 'int64'), this.pos);
    }
    this.pos += 8;
  }
  float64(v: number): void {
    this.ensure(8);
    this.pos = this.buf.writeDoubleBE(v, this.pos);
  }
  /** Unsigned varint; v must be an integer in [0, 2^35). */
  uvarint(v: number): void {
    this.ensure(5);
    const buf = this.buf;
    while (v >= 0x80) {
      buf[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    buf[this.pos++] = v;
  }
  /** Zigzag signed varint (int32). */
  varint(v: number): void {
    this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }
  /** Zigzag signed varlong; numbers only go through BigInt beyond ±2^52 (clamped to int64 like int64()). */
  varlong(v: number): void {
    if (v >= -4503599627370496 && v < 4503599627370496 && Number.isInteger(v)) {
      let z = v >= 0 ? v * 2 : -v * 2 - 1;
      this.ensure(8);
      const buf = this.buf;
      while (z >= 0x80) {
        buf[this.pos++] = (z % 128) | 0x80;
        z = Math.floor(z / 128);
      }
      buf[this.pos++] = z;
      return;
    }
    const b = clampInt64(v, 'varlong');
    let z = BigInt.asUintN(64, (b << 1n) ^ (b >> 63n));
    this.ensure(10);
    while (z >= 0x80n) {
      this.buf[this.pos++] = Number(z & 0x7fn) | 0x80;
      z >>= 7n;
    }
    this.buf[this.pos++] = Number(z);
  }
  /** A uuid in 8-4-4-4-12 hex form (either case), parsed by hand: no substrings, no regular expressions. */
  uuid(v: string): void {
    if (v.length !== 36 || v.charCodeAt(8) !== 45 || v.charCodeAt(13) !== 45 || v.charCodeAt(18) !== 45 || v.charCodeAt(23) !== 45) {
      throw new Error(`invalid uuid '${v}'`);
    }
    this.ensure(16);
    const buf = this.buf;
    for (let k = 0; k < 16; k++) {
      const i = UUID_PAIRS[k];
      const hi = nibble(v.charCodeAt(i));
      const lo = nibble(v.charCodeAt(i + 1));
      if ((hi | lo) < 0) throw new Error(`invalid uuid '${v}'`);
      buf[this.pos + k] = (hi << 4) | lo;
    }
    this.pos += 16;
  }

  /** Copies bytes into the scratch buffer (small byte fields; record data goes through `records`). */
  raw(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  string(v: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit: reserve that, write once, then fill in the length.
    this.ensure(2 + v.length * 3);
    const n = this.buf.write(v, this.pos + 2, 'utf8');
    if (n > 32767) throw new Error(`string of ${n} bytes does not fit an int16 length`);
    this.buf.writeInt16BE(n, this.pos);
    this.pos += 2 + n;
  }
  nullableString(v: string | null): void {
    if (v === null) this.int16(-1);
    else this.string(v);
  }
  compactString(v: string): void {
    if (v.length < 42) {
      // At most 123 bytes, so the uvarint length (n + 1 < 128) is one byte: write once, no byteLength pass.
      this.ensure(1 + v.length * 3);
      const n = this.buf.write(v, this.pos + 1, 'utf8');
      this.buf[this.pos] = n + 1;
      this.pos += 1 + n;
      return;
    }
    const n = Buffer.byteLength(v, 'utf8');
    this.uvarint(n + 1);
    this.ensure(n);
    this.pos += this.buf.write(v, this.pos, 'utf8');
  }
  compactNullableString(v: string | null): void {
    if (v === null) this.uvarint(0);
    else this.compactString(v);
  }
  bytes(v: Uint8Array): void {
    this.int32(v.length);
    this.raw(v);
  }
  nullableBytes(v: Uint8Array | null): void {
    if (v === null) this.int32(-1);
    else this.bytes(v);
  }
  compactBytes(v: Uint8Array): void {
    this.uvarint(v.length + 1);
    this.raw(v);
  }
  compactNullableBytes(v: Uint8Array | null): void {
    if (v === null) this.uvarint(0);
    else this.compactBytes(v);
  }
  /** int32 array length, -1 for null. */
  arrayLength(n: number | null): void {
    this.int32(n === null ? -1 : n);
  }
  /** Compact array length (n + 1, 0 for null). */
  compactArrayLength(n: number | null): void {
    this.uvarint(n === null ? 0 : n + 1);
  }

  /**
   * A records field: the length prefix (int32, or compact uvarint length + 1; null as -1 / 0), then the
   * buffers appended as chunks of their own, never copied. The fetch hot path relies on this.
   */
  records(v: Buffer | readonly Buffer[] | null, compact: boolean): void {
    if (v === null) {
      if (compact) this.uvarint(0);
      else this.int32(-1);
      return;
    }
    if (Buffer.isBuffer(v)) {
      if (compact) this.uvarint(v.length + 1);
      else this.int32(v.length);
      if (v.length > 0) this.appendChunk(v);
      return;
    }
    let total = 0;
    for (let i = 0; i < v.length; i++) total += v[i].length;
    if (compact) this.uvarint(total + 1);
    else this.int32(total);
    for (let i = 0; i < v.length; i++) if (v[i].length > 0) this.appendChunk(v[i]);
  }
  private appendChunk(b: Buffer): void {
    if (this.pos > this.mark) {
      this.parts.push(this.pos);
      this.mark = this.pos;
    }
    this.parts.push(b);
    this.recordBytes += b.length;
  }

  /** A tagged-field section with no fields. */
  emptyTaggedFields(): void {
    this.ensure(1);
    this.buf[this.pos++] = 0;
  }
  /**
   * Starts one tagged field: writes the tag and reserves a one-byte size. Returns a position for
   * endTaggedField, which fills in the size (moving the data along in the rare case it needs more bytes).
   * Callers write the section's field count first, then the fields in ascending tag order.
   */
  beginTaggedField(tag: number): number {
    this.uvarint(tag);
    this.ensure(1);
    const at = this.pos;
    this.buf[this.pos++] = 0;
    return at;
  }
  endTaggedField(at: number): void {
    // The size is patched in the scratch: record chunks in between would not be counted, nor could be moved.
    if (this.mark > at) throw new Error('tagged field: records cannot be written inside a tagged field');
    const length = this.pos - at - 1;
    if (length < 0x80) {
      this.buf[at] = length;
      return;
    }
    const extra = uvarintSize(length) - 1;
    this.ensure(extra);
    this.buf.copyWithin(at + 1 + extra, at + 1, this.pos);
    const end = this.pos + extra;
    this.pos = at;
    this.uvarint(length);
    this.pos = end;
  }
  /** For hand-written codecs: a whole tagged-field section from [tag, encoder] pairs in any order. */
  taggedFields(fields: readonly (readonly [number, (w: Writer) => void])[]): void {
    const sorted = [...fields].sort((a, b) => a[0] - b[0]);
    this.uvarint(sorted.length);
    for (const [tag, encode] of sorted) {
      const at = this.beginTaggedField(tag);
      encode(this);
      this.endTaggedField(at);
    }
  }

  /**
   * Reserves 4 bytes (e.g. a frame size) to fill in later with patchInt32. Returns an opaque position:
   * the server writes a placeholder, the header and body (record chunks included), then the size.
   */
  reserveInt32(): number {
    this.ensure(4);
    const at = this.pos;
    this.pos += 4;
    return at;
  }
  /** Writes v into the 4 bytes reserved at `at` (they are always in the scratch, whatever came after). */
  patchInt32(at: number, v: number): void {
    if (at < 0 || at + 4 > this.pos) throw new RangeError(`patchInt32: no reserved int at ${at}`);
    this.buf.writeInt32BE(v, at);
  }
  /** The bytes written, as chunks in order (record data among them, uncopied). The writer is done. */
  finish(): Buffer[] {
    if (this.pos > this.mark) {
      this.parts.push(this.pos);
      this.mark = this.pos;
    }
    const chunks: Buffer[] = new Array(this.parts.length);
    let start = 0;
    for (let i = 0; i < this.parts.length; i++) {
      const p = this.parts[i];
      if (typeof p === 'number') {
        chunks[i] = this.buf.subarray(start, p);
        start = p;
      } else {
        chunks[i] = p;
      }
    }
    return chunks;
  }
  /** finish() as one buffer (copies only when record chunks were appended). */
  finishSingle(): Buffer {
    if (this.recordBytes === 0) return this.buf.subarray(0, this.pos);
    return Buffer.concat(this.finish(), this.size);
  }
}
