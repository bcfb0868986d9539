// Tributary as an application sees it: @platformatic/kafka's Producer (acks=LEADER) and its Consumer's fetch,
// the way the pipelines runtime reads (bench/broker/platformatic-client.ts, pipelines/runtime/partition-fetcher.ts).
import { Admin, Consumer, Producer, ProduceAcks, type MessageToProduce } from '@platformatic/kafka';
import { TRIBUTARY_DURABILITY } from './tributary-prebuilt.ts';
import { consumptionOf, packageVersion, sentAtOf, valueFor, type Consumption, type OnRecords, type StreamDriver } from './stream-driver.ts';

const FETCH_MAX_WAIT_MS = 500;
// The client decodes a response through a chunk list searched from its start on every read, so its cost grows
// with the square of the response size (see partition-fetcher.ts): moderate fetches read fastest.
const PARTITION_MAX_BYTES = 1 << 20;

type Message = MessageToProduce<Buffer, Buffer, Buffer, Buffer>;

export class TributaryPlatformaticDriver implements StreamDriver {
  readonly name = 'Tributary (@platformatic/kafka)';
  readonly client = packageVersion('@platformatic/kafka');
  readonly durability = TRIBUTARY_DURABILITY;
  private readonly bootstrapBrokers: string[];
  private readonly admin: Admin;
  private readonly producer: Producer<Buffer, Buffer, Buffer, Buffer>;
  /** One message list per (topic, partition, count, size) for throughput runs: the client encodes it anew each send. */
  private readonly plainMessages = new Map<string, Message[]>();

  constructor(port: number) {
    this.bootstrapBrokers = [`127.0.0.1:${port}`];
    this.admin = new Admin({ clientId: 'compare-admin', bootstrapBrokers: this.bootstrapBrokers });
    this.producer = new Producer({ clientId: 'compare-producer', bootstrapBrokers: this.bootstrapBrokers, autocreateTopics: false });
  }

  async createStreams(stream: string, partitions: number): Promise<void> {
    await this.admin.createTopics({ topics: [stream], partitions, replicas: 1 });
  }

  async deleteStreams(stream: string): Promise<void> {
    for (const key of this.plainMessages.keys()) if (key.startsWith(`${stream}\0`)) this.plainMessages.delete(key);
    await this.admin.deleteTopics({ topics: [stream] });
  }

  async produceBatch(stream: string, partition: number, count: number, recordBytes: number, sentAtMs?: number): Promise<void> {
    let messages: Message[];
    if (sentAtMs === undefined) {
      const key = `${stream}\0${partition}\0${count}\0${recordBytes}`;
      messages = this.plainMessages.get(key) ?? [];
      if (messages.length === 0) this.plainMessages.set(key, (messages = this.messages(stream, partition, count, valueFor(recordBytes, undefined))));
    } else {
      messages = this.messages(stream, partition, count, valueFor(recordBytes, sentAtMs));
    }
    await this.producer.send({ messages, acks: ProduceAcks.LEADER });
  }

  async consume(stream: string, partitions: number, onRecords: OnRecords): Promise<Consumption> {
    const consumer = new Consumer({ clientId: 'compare-consumer', groupId: 'compare-unused', bootstrapBrokers: this.bootstrapBrokers });
    const info = (await consumer.metadata({ topics: [stream] })).topics.get(stream);
    if (!info) throw new Error(`topic ${stream} is unknown to the broker`);
    const offsets = new Array<bigint>(partitions).fill(0n);
    const readLoop = async (stopped: () => boolean) => {
      while (!stopped()) {
        const res = await consumer.fetch({
          node: info.partitions[0].leader,
          maxWaitTime: FETCH_MAX_WAIT_MS,
          topics: [{ topicId: info.id, partitions: offsets.map((fetchOffset, partition) => ({ partition, currentLeaderEpoch: -1, fetchOffset, lastFetchedEpoch: -1, partitionMaxBytes: PARTITION_MAX_BYTES })) }],
        });
        if (stopped()) return;
        for (const p of res.responses[0]?.partitions ?? []) {
          if (p.errorCode !== 0) throw new Error(`fetch ${stream}/${p.partitionIndex} at ${offsets[p.partitionIndex]}: error ${p.errorCode}`);
          for (const batch of p.records ?? []) {
            offsets[p.partitionIndex] = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
            const first = batch.records[0]?.value;
            onRecords(p.partitionIndex, batch.records.length, first ? sentAtOf(first) : undefined);
          }
        }
      }
    };
    return consumptionOf(readLoop, () => consumer.close(true).catch(() => {}));
  }

  async close(): Promise<void> {
    await this.producer.close();
    await this.admin.close();
  }

  private messages(topic: string, partition: number, count: number, value: Buffer): Message[] {
    return Array.from({ length: count }, () => ({ topic, partition, value }));
  }
}
