import type { HeartbeatRequest, HeartbeatResponse } from '../protocol/messages/index.ts';
import type { ApiHandler } from './handler.ts';

const UNKNOWN_MEMBER_ID = 25;

export const heartbeatHandler: ApiHandler<HeartbeatRequest, HeartbeatResponse> = {
  apiKey: 12,
  minVersion: 0,
  maxVersion: 4,
  handle(req, ctx) {
    const group = ctx.broker.groups.existingGroup(req.groupId);
    const errorCode = group ? group.heartbeat(req.memberId, req.groupInstanceId ?? null, req.generationId) : UNKNOWN_MEMBER_ID;
    return { throttleTimeMs: 0, errorCode };
  },
};
