// Unsigned LEB128 varints for the sketches' compact serialisations. Values go up to 2^53 (counts, not
// 32-bit ints), so the arithmetic divides instead of shifting.

export function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

export function writeVarint(out: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    out[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  out[pos++] = n;
  return pos;
}

export function readVarint(bytes: Uint8Array, cursor: { pos: number }): number {
  let n = 0;
  let scale = 1;
  for (let i = 0; i < 8; i++) {
    if (cursor.pos >= bytes.length) throw new RangeError('truncated varint');
    const b = bytes[cursor.pos++];
    n += (b & 0x7f) * scale;
    if (b < 0x80) return n;
    scale *= 128;
  }
  throw new RangeError('varint too long');
}
