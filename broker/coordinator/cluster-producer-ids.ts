import type { ProducerIdSource } from '../server/broker-context.ts';

/** Producer ids one incarnation may hand out before it must re-register for a new epoch (2^24). */
const IDS_PER_EPOCH = 16_777_216;

/**
 * Producer ids unique across a cluster without a round trip to the controller: the high part is this broker's
 * epoch, which the controller gives to exactly one registration ever, the low part a counter. Kafka's
 * controller hands out id blocks through AllocateProducerIds instead; this needs no extra metadata record.
 */
export class ClusterProducerIds implements ProducerIdSource {
  private readonly brokerEpoch: () => number;
  private next = 0;

  constructor(brokerEpoch: () => number) {
    this.brokerEpoch = brokerEpoch;
  }

  allocate(): number {
    const epoch = this.brokerEpoch();
    if (epoch < 0) throw new Error('this broker is not registered with the controller yet');
    if (this.next >= IDS_PER_EPOCH) throw new Error(`this broker handed out all ${IDS_PER_EPOCH} producer ids of its epoch; restart it to register a new one`);
    return epoch * IDS_PER_EPOCH + this.next++;
  }
}
