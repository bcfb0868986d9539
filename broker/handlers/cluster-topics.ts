// Topic changes in a cluster go through the active controller; these turn its answers into per-topic results.
import { ErrorCode } from '../protocol/error-codes.ts';
import type { TopicResult } from '../controller/controller-requests.ts';
import type { RequestContext } from './handler.ts';

/** How long a broker waits for the controller quorum on a client's behalf (Kafka's request.timeout.ms is 30 s). */
const CONTROLLER_TIMEOUT_MS = 15_000;

export interface TopicToCreate {
  name: string;
  partitions: number;
  /** -1: the cluster default. */
  replicationFactor: number;
  configs: Record<string, string>;
}

function failedAll(names: string[], code: number, message: string | null): TopicResult[] {
  return names.map((name) => ({ name, code, message, topicId: null, partitions: -1, replicationFactor: -1 }));
}

export async function createTopicsThroughController(ctx: RequestContext, topics: TopicToCreate[], validateOnly: boolean): Promise<TopicResult[]> {
  const r = await ctx.broker.cluster!.controller.call({ type: 'create-topics', topics, validateOnly }, CONTROLLER_TIMEOUT_MS);
  if ('kind' in r && r.kind === 'topics') return r.topics;
  return failedAll(topics.map((t) => t.name), r.code === ErrorCode.NONE ? ErrorCode.UNKNOWN_SERVER_ERROR : r.code, r.message);
}

export async function deleteTopicsThroughController(ctx: RequestContext, names: string[]): Promise<TopicResult[]> {
  const r = await ctx.broker.cluster!.controller.call({ type: 'delete-topics', names }, CONTROLLER_TIMEOUT_MS);
  if ('kind' in r && r.kind === 'topics') return r.topics;
  return failedAll(names, r.code === ErrorCode.NONE ? ErrorCode.UNKNOWN_SERVER_ERROR : r.code, r.message);
}
