import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';

/** How many leading bytes identify a file's content: enough to tell a truncated-and-rewritten file apart. */
export const FINGERPRINT_BYTES = 256;

export interface Fingerprint {
  hash: string;
  bytes: number;
}

/** Hashes the first `bytes` bytes (or fewer, if the file is shorter: `bytes` in the result says how many). */
export async function fingerprintOf(handle: FileHandle, bytes: number): Promise<Fingerprint> {
  const buf = Buffer.alloc(bytes);
  const { bytesRead } = await handle.read(buf, 0, bytes, 0);
  return { hash: bytesRead === 0 ? '' : createHash('sha256').update(buf.subarray(0, bytesRead)).digest('hex').slice(0, 32), bytes: bytesRead };
}

export function fileKey(st: { dev: number | bigint; ino: number | bigint }): string {
  return `${st.dev}:${st.ino}`;
}
