/**
 * A MetadataImage as bytes for a Raft snapshot: a header and the records that rebuild the image from empty
 * (KRaft writes its snapshots as records too). Loading replays them through MetadataImage.apply, so a
 * snapshot is held to the same rules as the log it summarises.
 *
 * Layout: format version (u8), highest broker epoch (varlong), then a record batch (records.ts).
 * Records are written in one canonical order (brokers by epoch, topics by name, partitions by id, broker
 * configs by resource and name), so equal images give equal bytes.
 */
import { ProtocolDecodeError, Reader, Writer } from '../../protocol/primitives.ts';
import { MetadataDecodeError, decodeRecordBatch, encodeRecordBatch } from './record-codec.ts';
import type { MetadataRecord } from './records.ts';
import type { MetadataImage } from './metadata-image.ts';

export const SNAPSHOT_FORMAT_VERSION = 0;

/** The records that rebuild `image` from the empty image, in canonical order. */
export function imageRecords(image: MetadataImage): MetadataRecord[] {
  const records: MetadataRecord[] = [];
  // By epoch: each registration must carry a higher epoch than every one before it.
  const brokers = image.brokers().sort((a, b) => a.brokerEpoch - b.brokerEpoch);
  for (const b of brokers) {
    const { brokerId, incarnationId, brokerEpoch, endpoints, rack } = b;
    records.push({ type: 'RegisterBroker', brokerId, incarnationId, brokerEpoch, endpoints, rack, fenced: b.state === 'fenced' });
    if (b.state === 'shutting-down') records.push({ type: 'BrokerShutdown', brokerId, brokerEpoch });
  }
  for (const topic of image.topics()) {
    records.push({ type: 'Topic', name: topic.name, topicId: topic.topicId, configs: topic.configs });
    for (const p of topic.partitions) records.push({ type: 'Partition', ...p });
  }
  for (const resourceName of image.brokerConfigResources()) {
    const configs = image.brokerConfigs(resourceName);
    for (const name of [...configs.keys()].sort()) {
      records.push({ type: 'Config', resourceType: 'broker', resourceName, name, value: configs.get(name)! });
    }
  }
  return records;
}

function encodeHeader(highestBrokerEpoch: number): Buffer {
  const w = new Writer(16);
  w.int8(SNAPSHOT_FORMAT_VERSION);
  w.varlong(highestBrokerEpoch);
  return w.finishSingle();
}

export function encodeSnapshot(image: MetadataImage): Buffer {
  return Buffer.concat([encodeHeader(image.highestBrokerEpoch), encodeRecordBatch(imageRecords(image))]);
}

export function decodeSnapshot(bytes: Uint8Array): { highestBrokerEpoch: number; records: MetadataRecord[] } {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const reader = new Reader(buf);
  let highestBrokerEpoch: number;
  try {
    const version = reader.int8();
    if (version !== SNAPSHOT_FORMAT_VERSION) throw new MetadataDecodeError(`metadata snapshot format ${version} is not supported (this build reads ${SNAPSHOT_FORMAT_VERSION})`);
    highestBrokerEpoch = reader.varlong();
  } catch (err) {
    if (err instanceof ProtocolDecodeError) throw new MetadataDecodeError(`malformed metadata snapshot header: ${err.message}`, { cause: err });
    throw err;
  }
  if (!Number.isSafeInteger(highestBrokerEpoch) || highestBrokerEpoch < 0) throw new MetadataDecodeError(`metadata snapshot: invalid highest broker epoch ${highestBrokerEpoch}`);
  if (!encodeHeader(highestBrokerEpoch).equals(buf.subarray(0, reader.offset))) throw new MetadataDecodeError('metadata snapshot header is not in canonical form');
  return { highestBrokerEpoch, records: decodeRecordBatch(buf.subarray(reader.offset)) };
}
