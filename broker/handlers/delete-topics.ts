import type { DeleteTopicsRequest, DeleteTopicsResponse } from '../protocol/messages/index.ts';
import type { DeletableTopicResult } from '../protocol/messages/DeleteTopicsResponse.ts';
import { ErrorCode, errorCodeOf } from '../protocol/error-codes.ts';
import type { ApiHandler } from './handler.ts';
import { ZERO_UUID } from './topic-lookup.ts';

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
