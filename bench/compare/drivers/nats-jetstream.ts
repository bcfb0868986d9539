// NATS JetStream through the @nats-io clients: one file-storage stream per partition (subject
// `<stream>.<partition>`), a batch is `count` js.publish calls awaited together, read back by one durable pull
// consumer per stream with AckPolicy.All that acks the last message of each batch it receives.
import { AckPolicy, jetstream, jetstreamManager, StorageType, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { consumptionOf, packageVersion, sentAtOf, valueFor, type Consumption, type OnRecords, type StreamDriver } from './stream-driver.ts';

const CONSUMER = 'compare';
/** Messages per pull request: the size of one produced batch. */
const PULL_MESSAGES = 1000;
/** Above what one pull can deliver, so acking each received batch keeps delivery going. */
const MAX_ACK_PENDING = 10 * PULL_MESSAGES;

/** nats-server 2.9's file store, as read in its source (server/stream.go, server/filestore.go at v2.9.10). */
export const NATS_DURABILITY =
  'file storage: each message is written to its block file (write(2), page cache) before the PubAck ' +
  '(streams flush in place); fsync only every 2 minutes in the background (stream.go sets SyncInterval, not configurable before 2.10)';

function streamName(stream: string, partition: number): string {
  return `${stream}-${partition}`;
}

export function subjectOf(stream: string, partition: number): string {
  return `${stream}.${partition}`;
}

export class NatsJetStreamDriver implements StreamDriver {
  readonly name = 'NATS JetStream';
  readonly client = `${packageVersion('@nats-io/transport-node')}, ${packageVersion('@nats-io/jetstream')}`;
  readonly durability = NATS_DURABILITY;
  private readonly servers: string;
  private readonly nc: NatsConnection;
  private readonly js: JetStreamClient;
  private readonly jsm: JetStreamManager;

  private constructor(servers: string, nc: NatsConnection, jsm: JetStreamManager) {
    this.servers = servers;
    this.nc = nc;
    this.js = jetstream(nc);
    this.jsm = jsm;
  }

  static async connect(port: number): Promise<NatsJetStreamDriver> {
    const servers = `127.0.0.1:${port}`;
    // noAsyncTraces: nats.js otherwise builds two Errors (stack traces) per request, and js.publish is a request;
    // its docs name this option as the way to fast JetStream publishing. Halves the time per publish here.
    const nc = await connect({ servers, name: 'compare-producer', noAsyncTraces: true });
    return new NatsJetStreamDriver(servers, nc, await jetstreamManager(nc));
  }

  async createStreams(stream: string, partitions: number): Promise<void> {
    for (let p = 0; p < partitions; p++) {
      await this.jsm.streams.add({ name: streamName(stream, p), subjects: [subjectOf(stream, p)], storage: StorageType.File, num_replicas: 1 });
      await this.jsm.consumers.add(streamName(stream, p), { durable_name: CONSUMER, ack_policy: AckPolicy.All, max_ack_pending: MAX_ACK_PENDING });
    }
  }

  async deleteStreams(stream: string, partitions: number): Promise<void> {
    for (let p = 0; p < partitions; p++) await this.jsm.streams.delete(streamName(stream, p));
  }

  async produceBatch(stream: string, partition: number, count: number, recordBytes: number, sentAtMs?: number): Promise<void> {
    const subject = subjectOf(stream, partition);
    const value = valueFor(recordBytes, sentAtMs);
    const acks: Promise<unknown>[] = new Array(count);
    for (let i = 0; i < count; i++) acks[i] = this.js.publish(subject, value);
    await Promise.all(acks);
  }

  async consume(stream: string, partitions: number, onRecords: OnRecords): Promise<Consumption> {
    const nc = await connect({ servers: this.servers, name: 'compare-consumer' });
    const js = jetstream(nc);
    let stopped = false;
    const readers: ConsumerMessages[] = [];
    for (let p = 0; p < partitions; p++) {
      const consumer = await js.consumers.get(streamName(stream, p), CONSUMER);
      // Messages of one socket read arrive in one turn of the event loop; acking the last of them once the
      // turn is over acks, with AckPolicy.All, everything delivered before it.
      let last: JsMsg | null = null;
      const ackLast = () => {
        const m = last;
        last = null;
        if (m && !stopped) m.ack();
      };
      readers.push(await consumer.consume({
        max_messages: PULL_MESSAGES,
        callback: (m) => {
          if (last === null) setImmediate(ackLast);
          last = m;
          onRecords(p, 1, sentAtOf(m.data));
        },
      }));
    }
    // Each reader's closed() resolves with the error that ended it, or nothing when it was stopped.
    const read = async () => {
      const err = await Promise.race(readers.map((r) => r.closed()));
      if (err) throw err;
    };
    return consumptionOf(read, async () => {
      stopped = true; // ackLast acks nothing from here on
      for (const r of readers) r.stop();
      await nc.close();
    });
  }

  async close(): Promise<void> {
    await this.nc.drain();
  }
}
