import type { DeleteTopicsRequest, DeleteTopicsResponse } from '../protocol/messages/index.ts';
import type { DeletableTopicResult } from '../protocol/messages/DeleteTopicsResponse.ts';
import { ErrorCode, errorCodeOf } from '../protocol/error-codes.ts';
import type { ApiHandler } from './handler.ts';
import { ZERO_UUID } from './topic-lookup.ts';
import { deleteTopicsThroughController } from './cluster-topics.ts';
import type { RequestContext } from './handler.ts';

/** Deletes by name (v0–5) or by name or topic id (v6+). */
export const deleteTopicsHandler: ApiHandler<DeleteTopicsRequest, DeleteTopicsResponse> = {
  apiKey: 20,
  minVersion: 0,
  maxVersion: 6,
  handle(req, ctx) {
    const { logs, log } = ctx.broker;
    const wanted =
      ctx.apiVersion >= 6
        ? req.topics!.map((t) => ({ name: t.name ?? null, topicId: t.topicId ?? ZERO_UUID }))
        : req.topicNames!.map((name) => ({ name: name as string | null, topicId: ZERO_UUID }));
    if (ctx.broker.cluster) return deleteInCluster(wanted, ctx);
    const responses: DeletableTopicResult[] = wanted.map((w) => {
      const info = w.name !== null ? logs.topic(w.name) : logs.topicById(w.topicId);
      const result: DeletableTopicResult = { name: info?.name ?? w.name, topicId: info?.topicId ?? w.topicId, errorCode: ErrorCode.NONE, errorMessage: null };
      if (!info) {
        result.errorCode = w.name !== null ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.UNKNOWN_TOPIC_ID;
        return result;
      }
      try {
        logs.deleteTopic(info.name);
        log.info(`deleted topic ${info.name}`);
      } catch (err) {
        result.errorCode = errorCodeOf(err);
        result.errorMessage = (err as Error).message;
      }
      return result;
    });
    return { throttleTimeMs: 0, responses };
  },
};

/** In a cluster the controller removes the topic from the metadata; every replica deletes its data on seeing that. */
async function deleteInCluster(wanted: { name: string | null; topicId: string }[], ctx: RequestContext): Promise<DeleteTopicsResponse> {
  const image = ctx.broker.cluster!.controller.image;
  const responses: DeletableTopicResult[] = [];
  const names: string[] = [];
  const byName = new Map<string, DeletableTopicResult>();
  for (const w of wanted) {
    const topic = w.name !== null ? image.topic(w.name) : image.topicById(w.topicId);
    const result: DeletableTopicResult = { name: topic?.name ?? w.name, topicId: topic?.topicId ?? w.topicId, errorCode: ErrorCode.NONE, errorMessage: null };
    responses.push(result);
    if (!topic) {
      result.errorCode = w.name !== null ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.UNKNOWN_TOPIC_ID;
      continue;
    }
    names.push(topic.name);
    byName.set(topic.name, result);
  }
  if (names.length > 0) {
    for (const answer of await deleteTopicsThroughController(ctx, names)) {
      const result = byName.get(answer.name);
      if (!result) continue;
      result.errorCode = answer.code;
      result.errorMessage = answer.message;
    }
  }
  return { throttleTimeMs: 0, responses };
}
