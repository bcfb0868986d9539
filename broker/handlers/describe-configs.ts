import type { DescribeConfigsRequest, DescribeConfigsResponse } from '../protocol/messages/index.ts';
import type { DescribeConfigsResult } from '../protocol/messages/DescribeConfigsResponse.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { ApiHandler } from './handler.ts';
import { describeTopicConfigs, CONFIG_SOURCE } from './topic-configs.ts';

const RESOURCE_TOPIC = 2;
const RESOURCE_BROKER = 4;

export const describeConfigsHandler: ApiHandler<DescribeConfigsRequest, DescribeConfigsResponse> = {
  apiKey: 32,
  minVersion: 0,
  maxVersion: 4,
  handle(req, ctx) {
    const { logs, config } = ctx.broker;
    const results: DescribeConfigsResult[] = req.resources.map((r) => {
      const base = { errorCode: ErrorCode.NONE, errorMessage: null as string | null, resourceType: r.resourceType, resourceName: r.resourceName, configs: [] as DescribeConfigsResult['configs'] };
      if (r.resourceType === RESOURCE_TOPIC) {
        const info = logs.topic(r.resourceName);
        if (!info) return { ...base, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `topic ${r.resourceName} does not exist` };
        return { ...base, configs: describeTopicConfigs(info.configs, r.configurationKeys, req.includeDocumentation ?? false) };
      }
      if (r.resourceType === RESOURCE_BROKER) {
        if (r.resourceName !== '' && r.resourceName !== String(config.nodeId)) {
          return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `this is broker ${config.nodeId}, not ${r.resourceName}` };
        }
        const entries: [string, string][] = [
          ['broker.id', String(config.nodeId)],
          ['auto.create.topics.enable', String(config.autoCreateTopics)],
          ['num.partitions', String(config.defaultPartitions)],
          ['socket.request.max.bytes', String(config.socketRequestMaxBytes)],
          ['log.dirs', config.dataDir],
        ];
        const wanted = r.configurationKeys === null ? null : new Set(r.configurationKeys);
        return {
          ...base,
          configs: entries
            .filter(([name]) => wanted === null || wanted.has(name))
            .map(([name, value]) => ({ name, value, readOnly: true, isDefault: false, configSource: CONFIG_SOURCE.STATIC_BROKER_CONFIG, isSensitive: false, synonyms: [], configType: 2, documentation: null })),
        };
      }
      return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `unsupported resource type ${r.resourceType}` };
    });
    return { throttleTimeMs: 0, results };
  },
};
