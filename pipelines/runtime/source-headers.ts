/**
 * Headers the runtime puts on every record it writes. They tie a derived record to the input record
 * that produced it, which is what lets a restarted worker recognise outputs it already wrote.
 */
export const SRC_HEADER = 'tributary.src';
export const SRC_OFFSET_HEADER = 'tributary.src_offset';
export const ERROR_HEADER = 'tributary.error';

const srcKey = Buffer.from(SRC_HEADER);
const srcOffsetKey = Buffer.from(SRC_OFFSET_HEADER);
const errorKey = Buffer.from(ERROR_HEADER);

/** `<topic>/<partition>`: names an input partition in headers and changelog keys. */
export function sourceId(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

export function sourceHeaders(source: Buffer, offset: number, error?: string): Map<Buffer, Buffer> {
  const headers = new Map<Buffer, Buffer>([
    [srcKey, source],
    [srcOffsetKey, Buffer.from(String(offset))],
  ]);
  if (error !== undefined) headers.set(errorKey, Buffer.from(error));
  return headers;
}

/** The input offset a record was derived from, if it came from `source`; -1 otherwise. */
export function sourceOffsetOf(headers: [Buffer | null, Buffer | null][], source: Buffer): number {
  let ours = false;
  let offset = -1;
  for (const [k, v] of headers) {
    if (!k || !v) continue;
    if (k.equals(srcKey)) ours = v.equals(source);
    else if (k.equals(srcOffsetKey)) offset = Number(v.toString());
  }
  return ours ? offset : -1;
}
