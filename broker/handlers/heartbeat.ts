import type { HeartbeatRequest, HeartbeatResponse } from '../protocol/messages/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { ApiHandler } from './handler.ts';

const UNKNOWN_MEMBER_ID = 25;

export const heartbeatHandler: ApiHandler<HeartbeatRequest, HeartbeatResponse> = {
  apiKey: 12,
  minVersion: 0,
  maxVersion: 4,
  handle(req, ctx) {
    const coordinatorError = ctx.broker.groups.coordinatorError(req.groupId);
    if (coordinatorError !== ErrorCode.NONE) return { throttleTimeMs: 0, errorCode: coordinatorError };
    const group = ctx.broker.groups.existingGroup(req.groupId);
    const errorCode = group ? group.heartbeat(req.memberId, req.groupInstanceId ?? null, req.generationId) : UNKNOWN_MEMBER_ID;
    return { throttleTimeMs: 0, errorCode };
  },
};
