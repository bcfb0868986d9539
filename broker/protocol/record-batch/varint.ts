/** Zigzag varints as used inside records (not the protocol's unsigned varints). */
export function readVarint(buf: Buffer, pos: number): [value: number, next: number] {
  let result = 0;
  let shift = 0;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new RangeError('varint runs past the end of the record data');
    const b = buf[pos++];
    result += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [result % 2 === 0 ? result / 2 : -(result + 1) / 2, pos];
    shift += 7;
  }
  throw new RangeError('varint longer than 10 bytes');
}

export function varintSize(v: number): number {
  let z = v >= 0 ? v * 2 : -v * 2 - 1;
  let n = 1;
  while (z >= 0x80) {
    z = Math.floor(z / 128);
    n++;
  }
  return n;
}

export function writeVarint(buf: Buffer, pos: number, v: number): number {
  let z = v >= 0 ? v * 2 : -v * 2 - 1;
  while (z >= 0x80) {
    buf[pos++] = (z % 128) | 0x80;
    z = Math.floor(z / 128);
  }
  buf[pos++] = z;
  return pos;
}
