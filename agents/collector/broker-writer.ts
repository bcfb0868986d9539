import { Producer, ProduceAcks } from '@platformatic/kafka';

export interface OutgoingRecord {
  topic: string;
  key: string | null;
  value: Buffer;
  headers?: Record<string, string>;
}

/** The broker could not take the write (down, unreachable, timed out): the HTTP answer is 503. */
export class BrokerUnavailableError extends Error {
  override name = 'BrokerUnavailableError';
}

/**
 * Writes records to the broker with a real Kafka client (idempotent, acks=all), so the collector works the
 * same against Tributary's broker, Apache Kafka or Redpanda. Resolves only once the broker acknowledged.
 */
export class BrokerWriter {
  private readonly producer: Producer<Buffer, Buffer, Buffer, Buffer>;

  constructor(brokers: string[], clientId = 'tributary-collector') {
    this.producer = new Producer({
      clientId,
      bootstrapBrokers: brokers,
      idempotent: true,
      acks: ProduceAcks.ALL,
      autocreateTopics: true,
      retries: 2,
      retryDelay: 200,
      timeout: 5000,
    });
  }

  async write(records: OutgoingRecord[]): Promise<{ topic: string; partition: number; offset: number }[]> {
    try {
      const result = await this.producer.send({
        messages: records.map((r) => ({
          topic: r.topic,
          key: r.key === null ? undefined : Buffer.from(r.key),
          value: r.value,
          headers: r.headers ? new Map(Object.entries(r.headers).map(([k, v]) => [Buffer.from(k), Buffer.from(v)])) : undefined,
        })),
      });
      return (result.offsets ?? []).map((o) => ({ topic: o.topic, partition: o.partition, offset: Number(o.offset) }));
    } catch (err) {
      throw new BrokerUnavailableError(`the broker did not acknowledge the write: ${(err as Error).message}`);
    }
  }

  async close(): Promise<void> {
    await this.producer.close();
  }
}
