import { Consumer, Producer, ProduceAcks } from '@platformatic/kafka';

/**
 * What an application gets: @platformatic/kafka's Producer sending `perSend` messages per call with several
 * sends in flight, and its Consumer fetching the partition back by offset.
 */
export async function produceWithPlatformatic(port: number, topic: string, opts: { total: number; recordBytes: number; perSend: number; inFlight: number }) {
  const producer = new Producer({ clientId: 'bench-producer', bootstrapBrokers: [`127.0.0.1:${port}`], autocreateTopics: false });
  const value = Buffer.alloc(opts.recordBytes, 0x62);
  const messages = Array.from({ length: opts.perSend }, () => ({ topic, partition: 0, value }));
  const sends = Math.ceil(opts.total / opts.perSend);
  const latenciesMs: number[] = [];
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < sends) {
      next++;
      const t0 = performance.now();
      await producer.send({ messages, acks: ProduceAcks.LEADER });
      latenciesMs.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: opts.inFlight }, worker));
  const seconds = (performance.now() - started) / 1000;
  await producer.close();
  return { records: sends * opts.perSend, seconds, latenciesMs };
}

export async function consumeWithPlatformatic(port: number, topic: string, endOffset: number, fetchBytes: number) {
  const consumer = new Consumer({ clientId: 'bench-consumer', groupId: 'bench-unused', bootstrapBrokers: [`127.0.0.1:${port}`] });
  const metadata = await consumer.metadata({ topics: [topic] });
  const info = metadata.topics.get(topic)!;
  let offset = 0n;
  let records = 0;
  const started = performance.now();
  while (offset < BigInt(endOffset)) {
    const res = await consumer.fetch({
      node: info.partitions[0].leader,
      maxWaitTime: 500,
      maxBytes: fetchBytes,
      topics: [{ topicId: info.id, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: offset, lastFetchedEpoch: -1, partitionMaxBytes: fetchBytes }] }],
    });
    const batches = res.responses[0].partitions[0].records ?? [];
    if (batches.length === 0) throw new Error(`fetch at ${offset} returned nothing`);
    for (const b of batches) {
      records += b.records.length;
      offset = b.firstOffset + BigInt(b.lastOffsetDelta) + 1n;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  await consumer.close();
  return { records, seconds };
}
