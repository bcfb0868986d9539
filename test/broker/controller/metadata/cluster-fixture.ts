// Helpers for metadata tests: commit a decision's records the way the controller host will (all or none),
// and bring up a cluster of registered, unfenced brokers.
import { MetadataImage } from '../../../../broker/controller/metadata/metadata-image.ts';
import { registerBroker, unfenceBroker, type Decision } from '../../../../broker/controller/metadata/controller-decisions.ts';
import { SecurityProtocol, type BrokerEndpoint } from '../../../../broker/controller/metadata/records.ts';

export function endpointsOf(brokerId: number): BrokerEndpoint[] {
  return [{ name: 'PLAINTEXT', host: `broker-${brokerId}.local`, port: 9092 + brokerId, securityProtocol: SecurityProtocol.PLAINTEXT }];
}

/** A deterministic incarnation id per (broker, start number). */
export function incarnation(brokerId: number, start: number): string {
  const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
  return `${hex(brokerId, 8)}-0000-4000-8000-${hex(start + 1, 12)}`;
}

/** Applies an accepted decision's records; throws with the refusal or the image's reason otherwise. */
export function commit<T extends object>(image: MetadataImage, decision: Decision<T>): { image: MetadataImage; decision: Decision<T> & { ok: true } } {
  if (!decision.ok) throw new Error(`decision refused: ${decision.code} ${decision.message}`);
  const result = image.applyAll(decision.records);
  if (!result.ok) throw new Error(`decision records rejected by the image: ${result.reason}`);
  return { image: result.image, decision };
}

/** Registers and unfences a broker (a new incarnation each call, numbered by `start`). */
export function startBroker(image: MetadataImage, brokerId: number, start = 0): MetadataImage {
  const registered = commit(image, registerBroker(image, { brokerId, incarnationId: incarnation(brokerId, start), endpoints: endpointsOf(brokerId), rack: null }));
  return commit(registered.image, unfenceBroker(registered.image, brokerId, registered.decision.brokerEpoch)).image;
}

/** Brokers 1..n, registered and unfenced. */
export function cluster(n: number): MetadataImage {
  let image = MetadataImage.EMPTY;
  for (let id = 1; id <= n; id++) image = startBroker(image, id);
  return image;
}

/** Leaders per broker id (offline partitions not counted). */
export function leaderCounts(image: MetadataImage): Map<number, number> {
  const counts = new Map(image.brokers().map((b) => [b.brokerId, 0]));
  for (const { partition } of image.allPartitions()) {
    if (partition.leader >= 0) counts.set(partition.leader, (counts.get(partition.leader) ?? 0) + 1);
  }
  return counts;
}
