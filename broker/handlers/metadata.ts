import type { MetadataRequest, MetadataResponse } from '../protocol/messages/index.ts';
import type { MetadataResponseTopic, MetadataResponseBroker } from '../protocol/messages/MetadataResponse.ts';
import { ErrorCode, errorCodeOf } from '../protocol/error-codes.ts';
import type { ApiHandler, RequestContext } from './handler.ts';
import type { TopicInfo } from '../storage/log-manager.ts';
import type { TopicImage } from '../controller/metadata/metadata-image.ts';
import { NO_LEADER } from '../controller/metadata/records.ts';
import { ZERO_UUID } from './topic-lookup.ts';
import { createTopicsThroughController } from './cluster-topics.ts';

const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

/**
 * Brokers, the controller and every partition's leader, replicas and ISR. A single broker describes itself; in
 * a cluster the answer comes from this broker's copy of the metadata image, listing only unfenced brokers
 * (as KRaft does) and LEADER_NOT_AVAILABLE for partitions without a leader.
 */
export const metadataHandler: ApiHandler<MetadataRequest, MetadataResponse> = {
  apiKey: 3,
  minVersion: 0,
  maxVersion: 12,
  handle(req, ctx) {
    return ctx.broker.cluster ? clusterMetadata(req, ctx) : singleNodeMetadata(req, ctx);
  },
};

function wantsAllTopics(req: MetadataRequest, ctx: RequestContext): boolean {
  // v0 asks for every topic with an empty list; v1+ with null.
  return req.topics === null || (ctx.apiVersion === 0 && req.topics.length === 0);
}

function autoCreateAllowed(req: MetadataRequest, ctx: RequestContext): boolean {
  return ctx.broker.config.autoCreateTopics && (ctx.apiVersion < 4 || req.allowAutoTopicCreation === true);
}

function singleNodeMetadata(req: MetadataRequest, ctx: RequestContext): MetadataResponse {
  const { broker } = ctx;
  const { config } = broker;
  const topics: MetadataResponseTopic[] = [];
  if (wantsAllTopics(req, ctx)) {
    for (const info of broker.logs.topics()) topics.push(describeLocalTopic(info, ctx));
  } else {
    const autoCreate = autoCreateAllowed(req, ctx);
    for (const wanted of req.topics ?? []) {
      if (wanted.name === null || wanted.name === undefined) {
        const info = wanted.topicId ? broker.logs.topicById(wanted.topicId) : undefined;
        topics.push(info ? describeLocalTopic(info, ctx) : missingTopic(null, wanted.topicId ?? ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_ID));
        continue;
      }
      let info = broker.logs.topic(wanted.name);
      if (!info && autoCreate) {
        try {
          info = broker.logs.createTopic(wanted.name, config.defaultPartitions, {});
          broker.log.info(`auto-created topic ${wanted.name} with ${config.defaultPartitions} partition(s)`);
        } catch (err) {
          topics.push(missingTopic(wanted.name, ZERO_UUID, errorCodeOf(err)));
          continue;
        }
      }
      topics.push(info ? describeLocalTopic(info, ctx) : missingTopic(wanted.name, ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
    }
  }
  return {
    throttleTimeMs: 0,
    brokers: [{ nodeId: config.nodeId, host: config.advertised?.host ?? config.host, port: config.advertised?.port ?? config.port, rack: null }],
    clusterId: broker.clusterId,
    controllerId: config.nodeId,
    topics,
    clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  };
}

async function clusterMetadata(req: MetadataRequest, ctx: RequestContext): Promise<MetadataResponse> {
  const { controller } = ctx.broker.cluster!;
  if (!wantsAllTopics(req, ctx) && autoCreateAllowed(req, ctx)) {
    const missing = (req.topics ?? []).map((t) => t.name).filter((n): n is string => typeof n === 'string' && !controller.image.topic(n));
    if (missing.length > 0) {
      const results = await createTopicsThroughController(ctx, missing.map((name) => ({ name, partitions: ctx.broker.config.defaultPartitions, replicationFactor: -1, configs: {} })), false);
      for (const r of results) if (r.code === ErrorCode.NONE) ctx.broker.log.info(`auto-created topic ${r.name} with ${r.partitions} partition(s), replication factor ${r.replicationFactor}`);
    }
  }
  const image = controller.image;
  const topics: MetadataResponseTopic[] = [];
  if (wantsAllTopics(req, ctx)) {
    for (const topic of image.topics()) topics.push(describeClusterTopic(topic, ctx));
  } else {
    for (const wanted of req.topics ?? []) {
      const topic = wanted.name !== null && wanted.name !== undefined ? image.topic(wanted.name) : wanted.topicId ? image.topicById(wanted.topicId) : undefined;
      if (topic) topics.push(describeClusterTopic(topic, ctx));
      else if (wanted.name === null || wanted.name === undefined) topics.push(missingTopic(null, wanted.topicId ?? ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_ID));
      // While an auto-created topic is still on its way here, clients retry on LEADER_NOT_AVAILABLE.
      else topics.push(missingTopic(wanted.name, ZERO_UUID, autoCreateAllowed(req, ctx) ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
    }
  }
  const brokers: MetadataResponseBroker[] = [];
  for (const b of image.brokers()) {
    if (b.state === 'fenced') continue;
    const endpoint = b.endpoints[0];
    brokers.push({ nodeId: b.brokerId, host: endpoint.host, port: endpoint.port, rack: b.rack });
  }
  return {
    throttleTimeMs: 0,
    brokers,
    clusterId: ctx.broker.clusterId,
    // Admin clients send controller-bound requests here; any broker forwards them to the active controller.
    controllerId: controller.leaderId ?? -1,
    topics,
    clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  };
}

function describeClusterTopic(topic: TopicImage, ctx: RequestContext): MetadataResponseTopic {
  const image = ctx.broker.cluster!.controller.image;
  const partitions = topic.partitions.map((p) => ({
    errorCode: p.leader === NO_LEADER ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.NONE,
    partitionIndex: p.partitionId,
    leaderId: p.leader,
    leaderEpoch: p.leaderEpoch,
    replicaNodes: [...p.replicas],
    isrNodes: [...p.isr],
    offlineReplicas: p.replicas.filter((id) => image.broker(id)?.state === 'fenced' || !image.broker(id)),
  }));
  return {
    errorCode: ErrorCode.NONE,
    name: topic.name,
    topicId: topic.topicId,
    isInternal: topic.name.startsWith('__'),
    partitions,
    topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  };
}

function describeLocalTopic(info: TopicInfo, ctx: RequestContext): MetadataResponseTopic {
  const nodeId = ctx.broker.config.nodeId;
  const partitions = [];
  for (let p = 0; p < info.partitions; p++) {
    partitions.push({
      errorCode: ErrorCode.NONE,
      partitionIndex: p,
      leaderId: nodeId,
      leaderEpoch: 0,
      replicaNodes: [nodeId],
      isrNodes: [nodeId],
      offlineReplicas: [],
    });
  }
  return {
    errorCode: ErrorCode.NONE,
    name: info.name,
    topicId: info.topicId,
    isInternal: info.name.startsWith('__'),
    partitions,
    topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  };
}

function missingTopic(name: string | null, topicId: string, errorCode: number): MetadataResponseTopic {
  return { errorCode, name: name as string, topicId, isInternal: false, partitions: [], topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED };
}
