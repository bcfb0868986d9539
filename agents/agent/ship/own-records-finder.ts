import type { Consumer } from '@platformatic/kafka';

/** Record headers that let an agent recognise its own records on the broker. */
export const AGENT_HEADER = 'tributary.agent';
export const SEQ_HEADER = 'tributary.seq';

/**
 * After a send whose acknowledgement was lost (timeout, broken connection, agent crash), looks at what
 * the partition holds past our last acknowledged offset and returns the highest seq of ours found there,
 * so those records are not sent twice. This works on any Kafka broker, with no state kept server-side.
 */
export async function highestOwnSeq(
  consumer: Consumer<Buffer, Buffer, Buffer, Buffer>,
  topic: string,
  partition: number,
  fromOffset: number,
  agentId: string,
): Promise<{ seq: number; nextOffset: number }> {
  const metadata = await consumer.metadata({ topics: [topic] });
  const topicMeta = metadata.topics.get(topic);
  if (!topicMeta) throw new Error(`topic ${topic} is unknown to the broker`);
  const leader = topicMeta.partitions[partition]?.leader;
  if (leader === undefined || leader < 0) throw new Error(`${topic}/${partition} has no leader`);
  const agent = Buffer.from(agentId);
  let offset = fromOffset;
  let highest = -1;
  let nextOffset = fromOffset;
  for (;;) {
    const response = await consumer.fetch({
      node: leader,
      maxWaitTime: 0,
      topics: [{ topicId: topicMeta.id, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: BigInt(offset), lastFetchedEpoch: -1, partitionMaxBytes: 4 << 20 }] }],
    });
    const p = response.responses[0]?.partitions[0];
    if (!p) throw new Error(`no fetch answer for ${topic}/${partition}`);
    if (p.errorCode !== 0) throw new Error(`fetching ${topic}/${partition} at ${offset} failed with error code ${p.errorCode}`);
    const highWatermark = Number(p.highWatermark);
    let last = offset - 1;
    for (const batch of p.records ?? []) {
      const base = Number(batch.firstOffset);
      for (const r of batch.records) {
        const at = base + r.offsetDelta;
        if (at < offset) continue;
        last = at;
        let ours = false;
        let seq = -1;
        for (const [k, v] of r.headers) {
          if (!k || !v) continue;
          if (k.toString() === AGENT_HEADER) ours = v.equals(agent);
          else if (k.toString() === SEQ_HEADER) seq = Number(v.toString());
        }
        if (ours && seq > highest) {
          highest = seq;
          nextOffset = at + 1;
        }
      }
    }
    if (last + 1 >= highWatermark || last < offset) break;
    offset = last + 1;
  }
  return { seq: highest, nextOffset };
}
