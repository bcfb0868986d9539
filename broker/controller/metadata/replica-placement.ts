/**
 * Where a new topic's replicas go (rack-unaware). Kafka's own assigner starts at a random broker and shifts
 * followers randomly; here placement is a pure function of the image, so every controller replaying the log
 * agrees and tests are deterministic. It is greedy on the cluster's current load:
 * - each partition's preferred leader (first replica) is the eligible broker with the fewest preferred
 *   leaderships so far (then fewest replicas, then lowest id). Picking a minimum each time keeps preferred
 *   leader counts within one of each other across all topics placed on the same brokers, which is what
 *   preferred-leader election then turns into actual leadership;
 * - followers are the brokers with the fewest replicas, ties broken by distance after the leader in id order
 *   (as in Kafka's ring), so follower sets differ from partition to partition.
 */
import type { MetadataImage } from './metadata-image.ts';

export interface BrokerLoad {
  preferredLeaders: number;
  replicas: number;
}

/** Preferred leaderships and replicas per eligible broker, counted over every partition in the image. */
export function brokerLoads(image: MetadataImage, brokerIds: readonly number[]): Map<number, BrokerLoad> {
  const loads = new Map(brokerIds.map((id) => [id, { preferredLeaders: 0, replicas: 0 }]));
  for (const { partition } of image.allPartitions()) {
    partition.replicas.forEach((id, i) => {
      const load = loads.get(id);
      if (!load) return;
      load.replicas++;
      if (i === 0) load.preferredLeaders++;
    });
  }
  return loads;
}

/**
 * Replica lists for `partitions` new partitions on `brokerIds` (the eligible brokers), each of length
 * `replicationFactor`, preferred leader first. The caller checks 1 <= replicationFactor <= brokerIds.length.
 */
export function placeReplicas(image: MetadataImage, brokerIds: readonly number[], partitions: number, replicationFactor: number): number[][] {
  const ring = [...brokerIds].sort((a, b) => a - b);
  if (replicationFactor < 1 || replicationFactor > ring.length) {
    throw new RangeError(`replication factor ${replicationFactor} needs between 1 and ${ring.length} brokers`);
  }
  const loads = brokerLoads(image, ring);
  const load = (id: number) => loads.get(id)!;
  const assignments: number[][] = [];
  for (let p = 0; p < partitions; p++) {
    const leader = ring.reduce((best, id) => {
      const a = load(id);
      const b = load(best);
      return a.preferredLeaders < b.preferredLeaders || (a.preferredLeaders === b.preferredLeaders && a.replicas < b.replicas) ? id : best;
    });
    const leaderIndex = ring.indexOf(leader);
    const distance = (id: number) => (ring.indexOf(id) - leaderIndex + ring.length) % ring.length;
    const followers = ring
      .filter((id) => id !== leader)
      .sort((a, b) => load(a).replicas - load(b).replicas || distance(a) - distance(b))
      .slice(0, replicationFactor - 1);
    const replicas = [leader, ...followers];
    load(leader).preferredLeaders++;
    for (const id of replicas) load(id).replicas++;
    assignments.push(replicas);
  }
  return assignments;
}
