import type { CreatePartitionsRequest, CreatePartitionsResponse } from '../protocol/messages/index.ts';
import { ErrorCode, errorCodeOf } from '../protocol/error-codes.ts';
import type { ApiHandler } from './handler.ts';

export const createPartitionsHandler: ApiHandler<CreatePartitionsRequest, CreatePartitionsResponse> = {
  apiKey: 37,
  minVersion: 0,
  maxVersion: 3,
  handle(req, ctx) {
    const { logs, log, config } = ctx.broker;
    const results = req.topics.map((t) => {
      if (ctx.broker.cluster) {
        return { name: t.name, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'adding partitions to a topic of a replicated cluster is not supported yet' };
      }
      const info = logs.topic(t.name);
      if (!info) return { name: t.name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `topic ${t.name} does not exist` };
      if (t.count <= info.partitions) {
        return { name: t.name, errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: `topic has ${info.partitions} partitions; the new count must be larger, got ${t.count}` };
      }
      if (t.assignments && t.assignments.some((a) => a.brokerIds.some((id) => id !== config.nodeId))) {
        return { name: t.name, errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: `this cluster has one broker (${config.nodeId})` };
      }
      if (req.validateOnly) return { name: t.name, errorCode: ErrorCode.NONE, errorMessage: null };
      try {
        logs.createPartitions(t.name, t.count);
        log.info(`topic ${t.name} now has ${t.count} partitions`);
        return { name: t.name, errorCode: ErrorCode.NONE, errorMessage: null };
      } catch (err) {
        return { name: t.name, errorCode: errorCodeOf(err), errorMessage: (err as Error).message };
      }
    });
    return { throttleTimeMs: 0, results };
  },
};
