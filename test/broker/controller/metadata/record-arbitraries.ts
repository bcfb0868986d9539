// fast-check generators of well-formed metadata records, shared by the record and snapshot tests.
import fc from 'fast-check';
import { ZERO_UUID } from '../../../../broker/protocol/primitives.ts';
import type { BrokerEndpoint, MetadataRecord } from '../../../../broker/controller/metadata/records.ts';

// Records are plain objects, as the decoder builds them (fast-check's default is a null prototype).
const record: typeof fc.record = ((model: never) => fc.record(model, { noNullPrototype: true })) as typeof fc.record;

const int32 = fc.integer({ min: 0, max: 2147483647 });
export const brokerIdArb = fc.oneof(fc.integer({ min: 0, max: 10 }), int32);
export const uuidArb = fc.uuid().map((u) => u.toLowerCase()).filter((u) => u !== ZERO_UUID);
const textArb = (minLength: number) => fc.string({ unit: 'grapheme', minLength, maxLength: 24 });
const brokerListArb = fc.uniqueArray(brokerIdArb, { maxLength: 6 });
const brokerEpochArb = fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.maxSafeNat());
const epochArb = fc.oneof(fc.integer({ min: 0, max: 5 }), int32);
const configsArb = fc.uniqueArray(fc.tuple(textArb(1), textArb(0)), { maxLength: 5, selector: ([k]) => k }).map((entries) => new Map(entries));

const endpointArb: fc.Arbitrary<BrokerEndpoint> = record({
  name: textArb(1),
  host: textArb(1),
  port: fc.integer({ min: 0, max: 65535 }),
  securityProtocol: fc.integer({ min: 0, max: 32767 }),
});

export const recordArb: fc.Arbitrary<MetadataRecord> = fc.oneof(
  record({
    type: fc.constant('RegisterBroker' as const),
    brokerId: brokerIdArb,
    incarnationId: uuidArb,
    brokerEpoch: brokerEpochArb,
    endpoints: fc.uniqueArray(endpointArb, { minLength: 1, maxLength: 3, selector: (e) => e.name }),
    rack: fc.option(textArb(1), { nil: null }),
    fenced: fc.boolean(),
  }),
  record({ type: fc.constantFrom('FenceBroker' as const, 'UnfenceBroker' as const, 'BrokerShutdown' as const), brokerId: brokerIdArb, brokerEpoch: brokerEpochArb }),
  record({ type: fc.constant('Topic' as const), name: textArb(1), topicId: uuidArb, configs: configsArb }),
  record({
    type: fc.constant('Partition' as const),
    topicId: uuidArb,
    partitionId: fc.oneof(fc.nat(100), int32),
    replicas: brokerListArb,
    isr: brokerListArb,
    leader: fc.oneof(fc.constant(-1), brokerIdArb),
    leaderEpoch: epochArb,
    partitionEpoch: epochArb,
  }),
  record({
    type: fc.constant('PartitionChange' as const),
    topicId: uuidArb,
    partitionId: fc.oneof(fc.nat(100), int32),
    leader: fc.oneof(fc.constant(-1), brokerIdArb),
    isr: brokerListArb,
    leaderEpoch: epochArb,
    partitionEpoch: epochArb,
  }),
  record({ type: fc.constant('RemoveTopic' as const), topicId: uuidArb }),
  fc.oneof(
    record({ type: fc.constant('Config' as const), resourceType: fc.constant('topic' as const), resourceName: textArb(1), name: textArb(1), value: fc.option(textArb(0), { nil: null }) }),
    record({ type: fc.constant('Config' as const), resourceType: fc.constant('broker' as const), resourceName: textArb(0), name: textArb(1), value: fc.option(textArb(0), { nil: null }) }),
  ),
);
