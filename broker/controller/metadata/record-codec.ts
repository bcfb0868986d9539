/**
 * The wire form of metadata records: binary, not JSON. Every Raft entry is replicated to each voter and kept
 * until the next snapshot, so size matters; the project already has defensive Kafka primitive readers
 * (every length checked before anything is allocated); and a binary layout with exactly one encoding per
 * record lets decoding be strict by construction, where JSON would need a schema validator on top and would
 * still accept many spellings of one record.
 *
 * One record: type (u8), version (u8), then that version's fields, big-endian, ints as zigzag varints,
 * strings and arrays compact (uvarint length + 1). A new field means a new version; a reader refuses
 * versions it does not know rather than guess. Decoding accepts only the canonical encoding of a record that
 * passes checkRecordShape: anything else throws MetadataDecodeError and yields no record.
 */
import { ProtocolDecodeError, Reader, Writer } from '../../protocol/primitives.ts';
import { MetadataRecordError, checkRecordShape, type BrokerEndpoint, type MetadataRecord, type MetadataRecordType } from './records.ts';

/** Wire numbers of the record types: stable forever, never reused. */
const TYPE_CODES: Record<MetadataRecordType, number> = {
  RegisterBroker: 1,
  FenceBroker: 2,
  UnfenceBroker: 3,
  BrokerShutdown: 4,
  Topic: 5,
  Partition: 6,
  PartitionChange: 7,
  RemoveTopic: 8,
  Config: 9,
};
const TYPES_BY_CODE = new Map(Object.entries(TYPE_CODES).map(([type, code]) => [code, type as MetadataRecordType]));

/** The newest version of each record this code writes; decoding refuses any other version. */
export const RECORD_VERSION = 0;

const RESOURCE_TYPE_CODES = { topic: 2, broker: 4 } as const; // Kafka's ConfigResource.Type ids

export class MetadataDecodeError extends Error {
  override name = 'MetadataDecodeError';
}

// ---- encoding ----

function writeBrokerList(w: Writer, ids: readonly number[]): void {
  w.compactArrayLength(ids.length);
  for (const id of ids) w.varint(id);
}

function writeBody(w: Writer, r: MetadataRecord): void {
  switch (r.type) {
    case 'RegisterBroker':
      w.varint(r.brokerId);
      w.uuid(r.incarnationId);
      w.varlong(r.brokerEpoch);
      w.compactArrayLength(r.endpoints.length);
      for (const e of r.endpoints) {
        w.compactString(e.name);
        w.compactString(e.host);
        w.uint16(e.port);
        w.int16(e.securityProtocol);
      }
      w.compactNullableString(r.rack);
      w.bool(r.fenced);
      return;
    case 'FenceBroker':
    case 'UnfenceBroker':
    case 'BrokerShutdown':
      w.varint(r.brokerId);
      w.varlong(r.brokerEpoch);
      return;
    case 'Topic': {
      w.compactString(r.name);
      w.uuid(r.topicId);
      // Sorted, so that equal records have equal bytes whatever order the map was filled in.
      const names = [...r.configs.keys()].sort();
      w.compactArrayLength(names.length);
      for (const name of names) {
        w.compactString(name);
        w.compactString(r.configs.get(name)!);
      }
      return;
    }
    case 'Partition':
      w.uuid(r.topicId);
      w.varint(r.partitionId);
      writeBrokerList(w, r.replicas);
      writeBrokerList(w, r.isr);
      w.varint(r.leader);
      w.varint(r.leaderEpoch);
      w.varint(r.partitionEpoch);
      return;
    case 'PartitionChange':
      w.uuid(r.topicId);
      w.varint(r.partitionId);
      writeBrokerList(w, r.isr);
      w.varint(r.leader);
      w.varint(r.leaderEpoch);
      w.varint(r.partitionEpoch);
      return;
    case 'RemoveTopic':
      w.uuid(r.topicId);
      return;
    case 'Config':
      w.int8(RESOURCE_TYPE_CODES[r.resourceType]);
      w.compactString(r.resourceName);
      w.compactString(r.name);
      w.compactNullableString(r.value);
      return;
  }
}

/** The record's bytes; throws MetadataRecordError for a record with fields out of range. */
export function encodeRecord(r: MetadataRecord): Buffer {
  checkRecordShape(r);
  const w = new Writer(64);
  w.int8(TYPE_CODES[r.type]);
  w.int8(RECORD_VERSION);
  writeBody(w, r);
  return Buffer.from(w.finishSingle());
}

// ---- decoding ----

function readBrokerList(r: Reader): number[] {
  const n = r.compactArrayLength(false, 1);
  const ids: number[] = [];
  for (let i = 0; i < n; i++) ids.push(r.varint());
  return ids;
}

function readBody(type: MetadataRecordType, r: Reader): MetadataRecord {
  switch (type) {
    case 'RegisterBroker': {
      const brokerId = r.varint();
      const incarnationId = r.uuid();
      const brokerEpoch = r.varlong();
      const count = r.compactArrayLength(false, 6);
      const endpoints: BrokerEndpoint[] = [];
      for (let i = 0; i < count; i++) {
        endpoints.push({ name: r.compactString(), host: r.compactString(), port: r.uint16(), securityProtocol: r.int16() });
      }
      return { type, brokerId, incarnationId, brokerEpoch, endpoints, rack: r.compactNullableString(), fenced: r.bool() };
    }
    case 'FenceBroker':
    case 'UnfenceBroker':
    case 'BrokerShutdown':
      return { type, brokerId: r.varint(), brokerEpoch: r.varlong() };
    case 'Topic': {
      const name = r.compactString();
      const topicId = r.uuid();
      const count = r.compactArrayLength(false, 2);
      const configs = new Map<string, string>();
      for (let i = 0; i < count; i++) configs.set(r.compactString(), r.compactString());
      return { type, name, topicId, configs };
    }
    case 'Partition': {
      const topicId = r.uuid();
      const partitionId = r.varint();
      const replicas = readBrokerList(r);
      const isr = readBrokerList(r);
      return { type, topicId, partitionId, replicas, isr, leader: r.varint(), leaderEpoch: r.varint(), partitionEpoch: r.varint() };
    }
    case 'PartitionChange': {
      const topicId = r.uuid();
      const partitionId = r.varint();
      const isr = readBrokerList(r);
      return { type, topicId, partitionId, isr, leader: r.varint(), leaderEpoch: r.varint(), partitionEpoch: r.varint() };
    }
    case 'RemoveTopic':
      return { type, topicId: r.uuid() };
    case 'Config': {
      const code = r.int8();
      const resourceType = code === RESOURCE_TYPE_CODES.topic ? 'topic' : code === RESOURCE_TYPE_CODES.broker ? 'broker' : null;
      if (resourceType === null) throw new MetadataDecodeError(`Config record: unknown resource type ${code}`);
      return { type, resourceType, resourceName: r.compactString(), name: r.compactString(), value: r.compactNullableString() };
    }
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * One record from its bytes. Throws MetadataDecodeError for anything but the canonical encoding of a
 * well-formed record: unknown type or version, truncation, trailing bytes, fields out of range, invalid
 * UTF-8, non-minimal varints, unsorted or repeated config names.
 */
export function decodeRecord(bytes: Uint8Array): MetadataRecord {
  const buf = asBuffer(bytes);
  const reader = new Reader(buf);
  let record: MetadataRecord;
  try {
    const code = reader.int8();
    const type = TYPES_BY_CODE.get(code);
    if (type === undefined) throw new MetadataDecodeError(`unknown metadata record type ${code}`);
    const version = reader.int8();
    if (version !== RECORD_VERSION) throw new MetadataDecodeError(`${type} record version ${version} is not supported (this build reads version ${RECORD_VERSION})`);
    record = readBody(type, reader);
    if (reader.remaining() !== 0) throw new MetadataDecodeError(`${type} record has ${reader.remaining()} trailing byte(s)`);
    checkRecordShape(record);
  } catch (err) {
    if (err instanceof MetadataDecodeError) throw err;
    if (err instanceof ProtocolDecodeError || err instanceof MetadataRecordError) {
      throw new MetadataDecodeError(`malformed metadata record: ${err.message}`, { cause: err });
    }
    throw err;
  }
  // Re-encoding must give the input back: this refuses invalid UTF-8 (decoded as U+FFFD), over-long
  // varints and config maps with repeated or unsorted names, which no writer of this format produces.
  if (!encodeRecord(record).equals(buf)) throw new MetadataDecodeError(`malformed metadata record: ${record.type} is not in canonical form`);
  return record;
}

/**
 * Several records as one unit (one Raft entry): a decision such as creating a topic yields a Topic record
 * and one Partition record per partition, which must be applied together or not at all.
 * Layout: uvarint count, then per record uvarint length and its bytes.
 */
export function encodeRecordBatch(records: readonly MetadataRecord[]): Buffer {
  const encoded = records.map(encodeRecord);
  const w = new Writer(16 + encoded.reduce((n, b) => n + b.length + 2, 0));
  w.uvarint(encoded.length);
  for (const b of encoded) {
    w.uvarint(b.length);
    w.raw(b);
  }
  return Buffer.from(w.finishSingle());
}

/** Every record of a batch, or MetadataDecodeError (never some of them). */
export function decodeRecordBatch(bytes: Uint8Array): MetadataRecord[] {
  const reader = new Reader(asBuffer(bytes));
  const records: MetadataRecord[] = [];
  try {
    // Each record takes at least 3 bytes: its length and its two header bytes.
    const count = reader.uvarint();
    if (count * 3 > reader.remaining()) throw new MetadataDecodeError(`record batch: ${count} records cannot fit in ${reader.remaining()} bytes`);
    for (let i = 0; i < count; i++) {
      const length = reader.uvarint();
      if (length > reader.remaining()) throw new MetadataDecodeError(`record batch: record ${i} needs ${length} bytes, ${reader.remaining()} left`);
      const start = reader.offset;
      reader.offset += length;
      try {
        records.push(decodeRecord(reader.buf.subarray(start, start + length)));
      } catch (err) {
        if (err instanceof MetadataDecodeError) throw new MetadataDecodeError(`record batch: record ${i}: ${err.message}`, { cause: err });
        throw err;
      }
    }
    if (reader.remaining() !== 0) throw new MetadataDecodeError(`record batch has ${reader.remaining()} trailing byte(s)`);
  } catch (err) {
    if (err instanceof ProtocolDecodeError) throw new MetadataDecodeError(`malformed record batch: ${err.message}`, { cause: err });
    throw err;
  }
  return records;
}
