/**
 * Kafka's primitive types (protocol.html, "Protocol Primitive Types"): readers and writers that generated
 * message codecs call field by field. Every length is checked against the bytes left before anything is
 * allocated or sliced, so a hostile frame costs at most its own size.
 */
export class ProtocolDecodeError extends Error {
  override name = 'ProtocolDecodeError';
}

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';
const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

export class Reader {
  readonly buf: Buffer;
  offset: number;

  constructor(buf: Buffer, offset = 0) {
    this.buf = buf;
    this.offset = offset;
  }

  remaining(): number {
    return this.buf.length - this.offset;
  }

  private need(n: number, what: string): void {
    if (n < 0 || this.offset + n > this.buf.length) {
      throw new ProtocolDecodeError(`${what}: needs ${n} bytes at offset ${this.offset}, ${this.remaining()} left`);
    }
  }

  int8(): number {
    this.need(1, 'int8');
    return this.buf.readInt8(this.offset++);
  }
  bool(): boolean {
    return this.int8() !== 0;
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
  int64(): number {
    this.need(8, 'int64');
    // Offsets and timestamps fit in 2^53; the two halves avoid a BigInt per read.
    const hi = this.buf.readInt32BE(this.offset);
    const lo = this.buf.readUInt32BE(this.offset + 4);
    this.offset += 8;
    return hi * 4294967296 + lo;
  }
  float64(): number {
    this.need(8, 'float64');
    const v = this.buf.readDoubleBE(this.offset);
    this.offset += 8;
    return v;
  }
  uvarint(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      this.need(1, 'varint');
      const b = this.buf[this.offset++];
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
    }
    throw new ProtocolDecodeError(`unsigned varint longer than 5 bytes at offset ${this.offset}`);
  }
  varint(): number {
    const u = this.uvarint();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }
  varlong(): number {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      this.need(1, 'varlong');
      const b = this.buf[this.offset++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return Number((result >> 1n) ^ -(result & 1n));
      shift += 7n;
    }
    throw new ProtocolDecodeError(`varlong longer than 10 bytes at offset ${this.offset}`);
  }
  uuid(): string {
    this.need(16, 'uuid');
    const hex = this.buf.toString('hex', this.offset, this.offset + 16);
    this.offset += 16;
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  private utf8(length: number, what: string): string {
    this.need(length, what);
    const s = this.buf.toString('utf8', this.offset, this.offset + length);
    this.offset += length;
    return s;
  }
  private slice(length: number, what: string): Buffer {
    this.need(length, what);
    const b = this.buf.subarray(this.offset, this.offset + length);
    this.offset += length;
    return b;
  }
  string(): string {
    const n = this.int16();
    if (n < 0) throw new ProtocolDecodeError(`non-nullable string has length ${n}`);
    return this.utf8(n, 'string');
  }
  nullableString(): string | null {
    const n = this.int16();
    if (n === -1) return null;
    if (n < -1) throw new ProtocolDecodeError(`string length ${n}`);
    return this.utf8(n, 'string');
  }
  compactString(): string {
    const n = this.uvarint() - 1;
    if (n < 0) throw new ProtocolDecodeError('non-nullable compact string is null');
    return this.utf8(n, 'compact string');
  }
  compactNullableString(): string | null {
    const n = this.uvarint() - 1;
    return n < 0 ? null : this.utf8(n, 'compact string');
  }
  bytes(): Buffer {
    const n = this.int32();
    if (n < 0) throw new ProtocolDecodeError(`non-nullable bytes have length ${n}`);
    return this.slice(n, 'bytes');
  }
  nullableBytes(): Buffer | null {
    const n = this.int32();
    if (n === -1) return null;
    if (n < -1) throw new ProtocolDecodeError(`bytes length ${n}`);
    return this.slice(n, 'bytes');
  }
  compactBytes(): Buffer {
    const n = this.uvarint() - 1;
    if (n < 0) throw new ProtocolDecodeError('non-nullable compact bytes are null');
    return this.slice(n, 'compact bytes');
  }
  compactNullableBytes(): Buffer | null {
    const n = this.uvarint() - 1;
    return n < 0 ? null : this.slice(n, 'compact bytes');
  }
  /**
   * An array length; -1 is null. Each element takes at least one byte, so a count above the bytes left
   * is malformed and is refused before any array is allocated.
   */
  arrayLength(nullable: boolean): number {
    const n = this.int32();
    return this.checkCount(n, nullable);
  }
  compactArrayLength(nullable: boolean): number {
    const n = this.uvarint() - 1;
    return this.checkCount(n, nullable);
  }
  private checkCount(n: number, nullable: boolean): number {
    if (n < -1 || (n === -1 && !nullable)) throw new ProtocolDecodeError(`array length ${n}`);
    if (n > this.remaining()) throw new ProtocolDecodeError(`array of ${n} elements with ${this.remaining()} bytes left`);
    return n;
  }
  /** Skips a tagged-field section, calling onTag for each field (unknown tags are skipped). */
  taggedFields(onTag?: (tag: number, r: Reader, size: number) => void): void {
    const count = this.uvarint();
    if (count > this.remaining()) throw new ProtocolDecodeError(`${count} tagged fields with ${this.remaining()} bytes left`);
    for (let i = 0; i < count; i++) {
      const tag = this.uvarint();
      const size = this.uvarint();
      this.need(size, 'tagged field');
      const end = this.offset + size;
      if (onTag) {
        const sub = new Reader(this.buf.subarray(0, end), this.offset);
        onTag(tag, sub, size);
      }
      this.offset = end;
    }
  }
}

/**
 * Growable writer. Small fields go into a scratch buffer; `records` fields are appended as separate chunks
 * so fetched record data goes from the log to the socket without being copied into a response buffer.
 */
export class Writer {
  private chunks: Buffer[] = [];
  private buf: Buffer;
  private pos = 0;
  private flushedBytes = 0;
  /** Absolute position → [chunk index or -1 for the current scratch, offset within] is resolved on patch. */
  private chunkStarts: number[] = [];

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  /** Total bytes written so far. */
  get size(): number {
    return this.flushedBytes + this.pos;
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
    this.int8(v ? 1 : 0);
  }
  int16(v: number): void {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
  }
  uint16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }
  int32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
  }
  uint32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }
  int64(v: number): void {
    this.ensure(8);
    if (Number.isSafeInteger(v)) {
      const hi = Math.floor(v / 4294967296);
      this.buf.writeInt32BE(hi, this.pos);
      this.buf.writeUInt32BE(v - hi * 4294967296, this.pos + 4);
    } else {
      let b = BigInt(Math.trunc(Number.isFinite(v) ? v : v > 0 ? Number.MAX_VALUE : -Number.MAX_VALUE));
      if (b > INT64_MAX) b = INT64_MAX;
      if (b < INT64_MIN) b = INT64_MIN;
      this.buf.writeBigInt64BE(b, this.pos);
    }
    this.pos += 8;
  }
  float64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }
  uvarint(v: number): void {
    this.ensure(5);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }
  varint(v: number): void {
    this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }
  varlong(v: number): void {
    let z = (BigInt(v) << 1n) ^ (BigInt(v) >> 63n);
    z &= 0xffffffffffffffffn;
    this.ensure(10);
    while (z >= 0x80n) {
      this.buf[this.pos++] = Number(z & 0x7fn) | 0x80;
      z >>= 7n;
    }
    this.buf[this.pos++] = Number(z);
  }
  uuid(v: string): void {
    const hex = v.replace(/-/g, '');
    if (hex.length !== 32 || !/^[0-9a-fA-F]+$/.test(hex)) throw new Error(`invalid uuid '${v}'`);
    this.ensure(16);
    this.buf.write(hex, this.pos, 16, 'hex');
    this.pos += 16;
  }
  private raw(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }
  string(v: string): void {
    const n = Buffer.byteLength(v);
    this.int16(n);
    this.ensure(n);
    this.pos += this.buf.write(v, this.pos, 'utf8');
  }
  nullableString(v: string | null): void {
    if (v === null) this.int16(-1);
    else this.string(v);
  }
  compactString(v: string): void {
    const n = Buffer.byteLength(v);
    this.uvarint(n + 1);
    this.ensure(n);
    this.pos += this.buf.write(v, this.pos, 'utf8');
  }
  compactNullableString(v: string | null): void {
    if (v === null) this.uvarint(0);
    else this.compactString(v);
  }
  bytes(v: Buffer): void {
    this.int32(v.length);
    this.raw(v);
  }
  nullableBytes(v: Buffer | null): void {
    if (v === null) this.int32(-1);
    else this.bytes(v);
  }
  compactBytes(v: Buffer): void {
    this.uvarint(v.length + 1);
    this.raw(v);
  }
  compactNullableBytes(v: Buffer | null): void {
    if (v === null) this.uvarint(0);
    else this.compactBytes(v);
  }
  arrayLength(n: number | null): void {
    this.int32(n === null ? -1 : n);
  }
  compactArrayLength(n: number | null): void {
    this.uvarint(n === null ? 0 : n + 1);
  }
  /** Records: length prefix, then the data as zero-copy chunks (small pieces are copied; big ones are not). */
  records(v: Buffer | readonly Buffer[] | null, compact: boolean): void {
    if (v === null) {
      if (compact) this.uvarint(0);
      else this.int32(-1);
      return;
    }
    const parts = Buffer.isBuffer(v) ? [v] : v;
    let total = 0;
    for (const p of parts) total += p.length;
    if (compact) this.uvarint(total + 1);
    else this.int32(total);
    for (const p of parts) {
      if (p.length < 1024) this.raw(p);
      else this.appendChunk(p);
    }
  }
  private appendChunk(b: Buffer): void {
    if (this.pos > 0) {
      this.chunkStarts.push(this.flushedBytes);
      this.chunks.push(this.buf.subarray(0, this.pos));
      this.flushedBytes += this.pos;
      this.buf = this.buf.length - this.pos >= 256 ? this.buf.subarray(this.pos) : Buffer.allocUnsafe(256);
      this.pos = 0;
    }
    this.chunkStarts.push(this.flushedBytes);
    this.chunks.push(b);
    this.flushedBytes += b.length;
  }
  /** Empty tagged-field section (no tagged fields to write). */
  emptyTaggedFields(): void {
    this.uvarint(0);
  }
  /** Writes the tagged fields given as [tag, encoder] pairs, sorted by tag as the protocol requires. */
  taggedFields(fields: [number, (w: Writer) => void][]): void {
    this.uvarint(fields.length);
    fields.sort((a, b) => a[0] - b[0]);
    for (const [tag, encode] of fields) {
      const sub = new Writer(64);
      encode(sub);
      const data = sub.finishSingle();
      this.uvarint(tag);
      this.uvarint(data.length);
      this.raw(data);
    }
  }
  /** Reserves 4 bytes (e.g. a frame size) to fill in later with patchInt32. Returns their position. */
  reserveInt32(): number {
    const at = this.size;
    this.int32(0);
    return at;
  }
  /** Writes v at an absolute position reserved earlier (reserved ints never straddle a zero-copy chunk). */
  patchInt32(at: number, v: number): void {
    if (at >= this.flushedBytes) {
      this.buf.writeInt32BE(v, at - this.flushedBytes);
      return;
    }
    for (let i = this.chunks.length - 1; i >= 0; i--) {
      if (this.chunkStarts[i] <= at) {
        this.chunks[i].writeInt32BE(v, at - this.chunkStarts[i]);
        return;
      }
    }
  }
  /** The bytes written, as chunks in order (zero-copy record data among them). */
  finish(): Buffer[] {
    if (this.pos > 0) {
      this.chunks.push(this.buf.subarray(0, this.pos));
      this.chunkStarts.push(this.flushedBytes);
      this.flushedBytes += this.pos;
      this.buf = Buffer.alloc(0);
      this.pos = 0;
    }
    return this.chunks;
  }
  finishSingle(): Buffer {
    const chunks = this.finish();
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
  }
}

export { ZERO_UUID };
