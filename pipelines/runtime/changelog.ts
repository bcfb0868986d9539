import type { MessageToProduce } from '@platformatic/kafka';
import type { PartitionFetcher } from './partition-fetcher.ts';

/**
 * What a stage worker checkpoints per input partition after each batch, keyed `<inputTopic>/<P>` in
 * partition P of the stage's compacted changelog (`<name>.changelog`), so the newest one survives compaction.
 */
export interface PartitionSnapshot {
  /** The last input offset whose effects are in `state` and whose outputs are acknowledged. */
  offset: number;
  /** -Infinity until the first event time (JSON has no -Infinity: stored as null). */
  watermark: number;
  maxEventTime: number;
  /** Per output topic, an offset of partition P at or before the first output written after this snapshot. */
  outputsEnd: Record<string, number>;
  state: unknown;
}

export function changelogTopic(stageName: string): string {
  return `${stageName}.changelog`;
}

export function snapshotMessage(topic: string, partition: number, key: string, snapshot: PartitionSnapshot): MessageToProduce<Buffer, Buffer, Buffer, Buffer> {
  const stored = { ...snapshot, watermark: finiteOrNull(snapshot.watermark), maxEventTime: finiteOrNull(snapshot.maxEventTime) };
  return { topic, partition, key: Buffer.from(key), value: Buffer.from(JSON.stringify(stored)) };
}

/** The newest snapshot for `key` in partition `partition` of the changelog, or undefined if there is none. */
export async function readSnapshot(fetcher: PartitionFetcher, topic: string, partition: number, key: string): Promise<PartitionSnapshot | undefined> {
  const wanted = Buffer.from(key);
  let last: Buffer | null | undefined;
  // Other input topics of the stage share this partition (their keys differ); the last record of ours wins, as compaction would decide.
  await fetcher.scan(topic, partition, 0, (r) => {
    if (r.key && r.key.equals(wanted)) last = r.value;
  });
  if (!last) return undefined;
  const parsed = JSON.parse(last.toString()) as PartitionSnapshot;
  return {
    offset: parsed.offset,
    watermark: parsed.watermark ?? -Infinity,
    maxEventTime: parsed.maxEventTime ?? -Infinity,
    outputsEnd: parsed.outputsEnd ?? {},
    state: parsed.state,
  };
}

function finiteOrNull(n: number): number | null {
  return Number.isFinite(n) ? n : null;
}
