import type { FindCoordinatorRequest, FindCoordinatorResponse } from '../protocol/messages/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { ApiHandler, RequestContext } from './handler.ts';
import { OFFSETS_TOPIC } from '../coordinator/group-coordinator.ts';
import { groupPartition } from '../coordinator/group-partition.ts';
import { NO_LEADER } from '../controller/metadata/records.ts';
import { createTopicsThroughController } from './cluster-topics.ts';

const KEY_TYPE_GROUP = 0;

interface Coordinator {
  nodeId: number;
  host: string;
  port: number;
  errorCode: number;
  errorMessage: string | null;
}

/**
 * A single broker coordinates every group. In a cluster the coordinator of a group is the leader of its
 * __consumer_offsets partition, which is created on the first lookup (as Kafka does) with the cluster's default
 * replication factor. Transactions are not offered, so their coordinator is unavailable.
 */
export const findCoordinatorHandler: ApiHandler<FindCoordinatorRequest, FindCoordinatorResponse> = {
  apiKey: 10,
  minVersion: 0,
  maxVersion: 6,
  async handle(req, ctx) {
    const isGroup = (req.keyType ?? KEY_TYPE_GROUP) === KEY_TYPE_GROUP;
    const keys = ctx.apiVersion >= 4 ? (req.coordinatorKeys ?? []) : [req.key ?? ''];
    const found: Coordinator[] = [];
    for (const key of keys) {
      if (!isGroup) found.push(unavailable(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'transactions are not supported by this broker'));
      else found.push(ctx.broker.cluster ? await clusterCoordinator(key, ctx) : self(ctx));
    }
    if (ctx.apiVersion >= 4) return { throttleTimeMs: 0, coordinators: found.map((c, i) => ({ key: keys[i], ...c })) };
    return { throttleTimeMs: 0, ...found[0] };
  },
};

function self(ctx: RequestContext): Coordinator {
  const { config } = ctx.broker;
  return { nodeId: config.nodeId, host: config.advertised?.host ?? config.host, port: config.advertised?.port ?? config.port, errorCode: ErrorCode.NONE, errorMessage: null };
}

function unavailable(errorCode: number, errorMessage: string): Coordinator {
  return { nodeId: -1, host: '', port: -1, errorCode, errorMessage };
}

async function clusterCoordinator(groupId: string, ctx: RequestContext): Promise<Coordinator> {
  const { controller } = ctx.broker.cluster!;
  let topic = controller.image.topic(OFFSETS_TOPIC);
  if (!topic) {
    const [result] = await createTopicsThroughController(
      ctx,
      [{ name: OFFSETS_TOPIC, partitions: ctx.broker.config.coordinator.offsetsTopicPartitions, replicationFactor: -1, configs: { 'cleanup.policy': 'compact', 'segment.bytes': String(100 * 1024 * 1024) } }],
      false,
    );
    if (result.code === ErrorCode.NONE) ctx.broker.log.info(`created ${OFFSETS_TOPIC} with replication factor ${result.replicationFactor}`);
    topic = controller.image.topic(OFFSETS_TOPIC);
    if (!topic) return unavailable(ErrorCode.COORDINATOR_NOT_AVAILABLE, `${OFFSETS_TOPIC} cannot be created yet: ${result.message}`);
  }
  const partition = topic.partitions[groupPartition(groupId, topic.partitions.length)];
  const leader = partition.leader === NO_LEADER ? undefined : controller.image.broker(partition.leader);
  if (!leader || leader.state === 'fenced') return unavailable(ErrorCode.COORDINATOR_NOT_AVAILABLE, `${OFFSETS_TOPIC}-${partition.partitionId} has no leader`);
  const endpoint = leader.endpoints[0];
  return { nodeId: leader.brokerId, host: endpoint.host, port: endpoint.port, errorCode: ErrorCode.NONE, errorMessage: null };
}
