import type { Consumer } from '@platformatic/kafka';

export interface FetchedRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: [Buffer | null, Buffer | null][];
}

export interface PartitionRequest {
  topic: string;
  partition: number;
  offset: number;
}

export interface PartitionData {
  errorCode: number;
  highWatermark: number;
  logStartOffset: number;
  records: FetchedRecord[];
  /** Where the next fetch starts: past the last batch returned (compaction can leave gaps inside it). */
  nextOffset: number;
}

const OFFSET_OUT_OF_RANGE = 1;
const CONTROL_BATCH = 0x20;
const READ_UNCOMMITTED = 0;

/**
 * Reads partitions at exact offsets with Fetch requests to their leaders. The runtime chooses every
 * position itself (restored from its changelog), so it fetches directly rather than through the
 * client's message streams, which pick their own positions after a rebalance.
 */
export class PartitionFetcher {
  // 256 KB per partition by default: the client decodes a response through a chunk list searched from its
  // start on every read, so decoding costs grow with the square of the response size.
  private readonly consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  private readonly partitionMaxBytes: number;

  constructor(consumer: Consumer<Buffer, Buffer, Buffer, Buffer>, partitionMaxBytes = 256 << 10) {
    this.consumer = consumer;
    this.partitionMaxBytes = partitionMaxBytes;
  }

  async fetch(requests: PartitionRequest[], maxWaitMs: number): Promise<Map<string, PartitionData>> {
    const topics = [...new Set(requests.map((r) => r.topic))];
    const metadata = await this.consumer.metadata({ topics });
    const byNode = new Map<number, Map<string, { partition: number; offset: number }[]>>();
    const names = new Map<string, string>();
    for (const r of requests) {
      const t = metadata.topics.get(r.topic);
      if (!t) throw new Error(`topic ${r.topic} is unknown to the broker`);
      const leader = t.partitions[r.partition]?.leader;
      if (leader === undefined || leader < 0) throw new Error(`${r.topic}/${r.partition} has no leader`);
      names.set(t.id, r.topic);
      let node = byNode.get(leader);
      if (!node) byNode.set(leader, (node = new Map()));
      let list = node.get(t.id);
      if (!list) node.set(t.id, (list = []));
      list.push({ partition: r.partition, offset: r.offset });
    }
    const out = new Map<string, PartitionData>();
    await Promise.all(
      [...byNode].map(async ([node, topicsOfNode]) => {
        const response = await this.consumer.fetch({
          node,
          maxWaitTime: maxWaitMs,
          isolationLevel: READ_UNCOMMITTED,
          topics: [...topicsOfNode].map(([topicId, parts]) => ({
            topicId,
            partitions: parts.map((p) => ({ partition: p.partition, currentLeaderEpoch: -1, fetchOffset: BigInt(p.offset), lastFetchedEpoch: -1, partitionMaxBytes: this.partitionMaxBytes })),
          })),
        });
        for (const t of response.responses) {
          const topic = names.get(t.topicId) ?? t.topicId;
          const wanted = topicsOfNode.get(t.topicId) ?? [];
          for (const p of t.partitions) {
            const from = wanted.find((w) => w.partition === p.partitionIndex)?.offset ?? 0;
            out.set(`${topic}/${p.partitionIndex}`, decode(p, from));
          }
        }
      }),
    );
    return out;
  }

  /** Calls `visit` for every record of a partition from `from` up to its high watermark at the time of the first fetch. */
  async scan(topic: string, partition: number, from: number, visit: (record: FetchedRecord) => void): Promise<{ highWatermark: number }> {
    let offset = from;
    let end = -1;
    for (;;) {
      const data = (await this.fetch([{ topic, partition, offset }], 0)).get(`${topic}/${partition}`);
      if (!data) throw new Error(`no fetch answer for ${topic}/${partition}`);
      if (data.errorCode === OFFSET_OUT_OF_RANGE && offset < data.logStartOffset) {
        offset = data.logStartOffset;
        continue;
      }
      if (data.errorCode !== 0) throw new Error(`fetching ${topic}/${partition} at ${offset} failed with error code ${data.errorCode}`);
      // Records appended while scanning belong to whoever appends them now, not to the past being looked at.
      if (end < 0) end = data.highWatermark;
      for (const r of data.records) if (r.offset < end) visit(r);
      if (data.nextOffset <= offset || data.nextOffset >= end) return { highWatermark: end };
      offset = data.nextOffset;
    }
  }
}

export const FETCH_OFFSET_OUT_OF_RANGE = OFFSET_OUT_OF_RANGE;

function decode(
  p: { errorCode: number; highWatermark: bigint; logStartOffset: bigint; records?: { firstOffset: bigint; lastOffsetDelta: number; firstTimestamp: bigint; attributes: number; records: { offsetDelta: number; timestampDelta: bigint; key: Buffer | null; value: Buffer | null; headers: [Buffer | null, Buffer | null][] }[] }[] | null },
  from: number,
): PartitionData {
  const records: FetchedRecord[] = [];
  let nextOffset = from;
  for (const batch of p.records ?? []) {
    const base = Number(batch.firstOffset);
    nextOffset = Math.max(nextOffset, base + batch.lastOffsetDelta + 1);
    if (batch.attributes & CONTROL_BATCH) continue;
    for (const r of batch.records) {
      const offset = base + r.offsetDelta;
      // A fetch answers with whole batches, so the first can start before the requested offset.
      if (offset < from) continue;
      records.push({ offset, timestamp: Number(batch.firstTimestamp + r.timestampDelta), key: r.key, value: r.value, headers: r.headers });
    }
  }
  return { errorCode: p.errorCode, highWatermark: Number(p.highWatermark), logStartOffset: Number(p.logStartOffset), records, nextOffset };
}
