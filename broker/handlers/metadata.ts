import type { MetadataRequest, MetadataResponse } from '../protocol/messages/index.ts';
import type { MetadataResponseTopic } from '../protocol/messages/MetadataResponse.ts';
import { ErrorCode, errorCodeOf } from '../protocol/error-codes.ts';
import type { ApiHandler, RequestContext } from './handler.ts';
import type { TopicInfo } from '../storage/log-manager.ts';
import { ZERO_UUID } from './topic-lookup.ts';

export const metadataHandler: ApiHandler<MetadataRequest, MetadataResponse> = {
  apiKey: 3,
  minVersion: 0,
  maxVersion: 12,
  handle(req, ctx) {
    const { broker } = ctx;
    const { config } = broker;
    // v0 asks for every topic with an empty list; v1+ with null.
    const all = req.topics === null || (ctx.apiVersion === 0 && req.topics.length === 0);
    const topics: MetadataResponseTopic[] = [];
    if (all) {
      for (const info of broker.logs.topics()) topics.push(describeTopic(info, ctx));
    } else {
      const autoCreate = config.autoCreateTopics && (ctx.apiVersion < 4 || req.allowAutoTopicCreation);
      for (const wanted of req.topics ?? []) {
        if (wanted.name === null || wanted.name === undefined) {
          const info = wanted.topicId ? broker.logs.topicById(wanted.topicId) : undefined;
          topics.push(info ? describeTopic(info, ctx) : missingTopic(null, wanted.topicId ?? ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_ID));
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
        topics.push(info ? describeTopic(info, ctx) : missingTopic(wanted.name, ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
      }
    }
    return {
      throttleTimeMs: 0,
      brokers: [{ nodeId: config.nodeId, host: config.advertised?.host ?? config.host, port: config.advertised?.port ?? config.port, rack: null }],
      clusterId: broker.clusterId,
      controllerId: config.nodeId,
      topics,
      clusterAuthorizedOperations: -2147483648,
    };
  },
};

function describeTopic(info: TopicInfo, ctx: RequestContext): MetadataResponseTopic {
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
    topicAuthorizedOperations: -2147483648,
  };
}

function missingTopic(name: string | null, topicId: string, errorCode: number): MetadataResponseTopic {
  return { errorCode, name: name as string, topicId, isInternal: false, partitions: [], topicAuthorizedOperations: -2147483648 };
}
