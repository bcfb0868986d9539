import { BASE_OFFSET, LAST_OFFSET_DELTA, PARTITION_LEADER_EPOCH, writeInt64 } from './batch-header.ts';
import type { BatchSummary } from './validate.ts';

/**
 * Stamps each batch's base offset and partition leader epoch into its header, in place. Both fields lie
 * outside the CRC, so the batch stays valid and its records are never touched. Returns the last offset.
 */
export function assignOffsets(records: Buffer, summary: BatchSummary, firstOffset: number, leaderEpoch: number): number {
  let next = firstOffset;
  for (let i = 0; i < summary.batchCount; i++) {
    const pos = summary.positions[i];
    writeInt64(records, pos + BASE_OFFSET, next);
    records.writeInt32BE(leaderEpoch, pos + PARTITION_LEADER_EPOCH);
    next += records.readInt32BE(pos + LAST_OFFSET_DELTA) + 1;
  }
  return next - 1;
}
