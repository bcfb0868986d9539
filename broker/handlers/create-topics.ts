import type { CreateTopicsRequest, CreateTopicsResponse } from '../protocol/messages/index.ts';
import type { CreatableTopicResult } from '../protocol/messages/CreateTopicsResponse.ts';
import { ErrorCode, errorCodeOf } from '../protocol/error-codes.ts';
import type { ApiHandler } from './handler.ts';
import { ZERO_UUID } from './topic-lookup.ts';
import { describeTopicConfigs, CONFIG_SOURCE } from './topic-configs.ts';
import { createTopicsThroughController } from './cluster-topics.ts';
import { describeConfigEntries } from '../storage/log-config.ts';
import type { RequestContext } from './handler.ts';

/** A topic's result before anything is known: filled in on success, or given an error. */
function emptyResult(name: string): CreatableTopicResult {
  return { name, topicId: ZERO_UUID, errorCode: ErrorCode.NONE, errorMessage: null, numPartitions: -1, replicationFactor: -1, configs: null };
}

export const createTopicsHandler: ApiHandler<CreateTopicsRequest, CreateTopicsResponse> = {
  apiKey: 19,
  minVersion: 0,
  maxVersion: 7,
  handle(req, ctx) {
    if (ctx.broker.cluster) return createInCluster(req, ctx);
    const { broker } = ctx;
    const topics: CreatableTopicResult[] = [];
    const seen = new Set<string>();
    for (const t of req.topics) {
      const result = emptyResult(t.name);
      topics.push(result);
      const fail = (code: number, message: string) => {
        result.errorCode = code;
        result.errorMessage = message;
      };
      if (seen.has(t.name)) {
        fail(ErrorCode.INVALID_REQUEST, `topic ${t.name} appears more than once in the request`);
        continue;
      }
      seen.add(t.name);
      const nodeId = broker.config.nodeId;
      let partitions = t.numPartitions === -1 ? broker.config.defaultPartitions : t.numPartitions;
      const rf = t.replicationFactor === -1 ? 1 : t.replicationFactor;
      if (t.assignments.length > 0) {
        if (t.numPartitions !== -1 || t.replicationFactor !== -1) {
          fail(ErrorCode.INVALID_REQUEST, 'both numPartitions/replicationFactor and replica assignments were given');
          continue;
        }
        if (t.assignments.some((a) => a.brokerIds.length !== 1 || a.brokerIds[0] !== nodeId)) {
          fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `this cluster has one broker (${nodeId}); assignments must name only it`);
          continue;
        }
        partitions = t.assignments.length;
      }
      if (partitions <= 0) {
        fail(ErrorCode.INVALID_PARTITIONS, `number of partitions must be larger than 0, got ${partitions}`);
        continue;
      }
      if (rf !== 1) {
        fail(ErrorCode.INVALID_REPLICATION_FACTOR, `replication factor ${rf} is larger than the number of brokers (1)`);
        continue;
      }
      const configs: Record<string, string> = {};
      for (const c of t.configs) if (c.value !== null) configs[c.name] = c.value;
      try {
        const info = req.validateOnly
          ? broker.logs.validateTopic(t.name, partitions, configs)
          : broker.logs.createTopic(t.name, partitions, configs);
        result.topicId = info.topicId;
        result.numPartitions = info.partitions;
        result.replicationFactor = 1;
        result.configs = describeTopicConfigs(info.configs, null, false).map((c) => ({
          name: c.name,
          value: c.value,
          readOnly: false,
          configSource: c.configSource ?? CONFIG_SOURCE.DEFAULT_CONFIG,
          isSensitive: false,
        }));
        if (!req.validateOnly) broker.log.info(`created topic ${t.name} with ${partitions} partition(s)`);
      } catch (err) {
        fail(errorCodeOf(err), (err as Error).message);
      }
    }
    return { throttleTimeMs: 0, topics };
  },
};

/**
 * In a cluster the active controller places the replicas and records the topic; this broker answers once its
 * own metadata has the topic. Explicit replica assignments are not supported yet and are refused clearly.
 */
async function createInCluster(req: CreateTopicsRequest, ctx: RequestContext): Promise<CreateTopicsResponse> {
  const results = req.topics.map((t) => emptyResult(t.name));
  const seen = new Set<string>();
  const toCreate: { index: number; configs: Record<string, string> }[] = [];
  req.topics.forEach((t, index) => {
    const result = results[index];
    if (seen.has(t.name)) {
      result.errorCode = ErrorCode.INVALID_REQUEST;
      result.errorMessage = `topic ${t.name} appears more than once in the request`;
      return;
    }
    seen.add(t.name);
    if (t.assignments.length > 0) {
      result.errorCode = ErrorCode.INVALID_REPLICA_ASSIGNMENT;
      result.errorMessage = 'explicit replica assignments are not supported; give numPartitions and replicationFactor';
      return;
    }
    const configs: Record<string, string> = {};
    for (const c of t.configs) if (c.value !== null) configs[c.name] = c.value;
    toCreate.push({ index, configs });
  });
  const answers = await createTopicsThroughController(
    ctx,
    toCreate.map(({ index, configs }) => ({
      name: req.topics[index].name,
      partitions: req.topics[index].numPartitions === -1 ? ctx.broker.config.defaultPartitions : req.topics[index].numPartitions,
      replicationFactor: req.topics[index].replicationFactor,
      configs,
    })),
    req.validateOnly === true,
  );
  answers.forEach((answer, i) => {
    const { index, configs } = toCreate[i];
    const result = results[index];
    result.errorCode = answer.code;
    result.errorMessage = answer.message;
    if (answer.code !== ErrorCode.NONE) return;
    result.topicId = answer.topicId ?? ZERO_UUID;
    result.numPartitions = answer.partitions;
    result.replicationFactor = answer.replicationFactor;
    result.configs = describeTopicConfigs(describeConfigEntries(configs, ctx.broker.config.topicDefaults), null, false).map((c) => ({
      name: c.name,
      value: c.value,
      readOnly: false,
      configSource: c.configSource ?? CONFIG_SOURCE.DEFAULT_CONFIG,
      isSensitive: false,
    }));
  });
  return { throttleTimeMs: 0, topics: results };
}
