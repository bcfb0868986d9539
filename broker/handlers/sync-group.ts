import type { SyncGroupRequest, SyncGroupResponse } from '../protocol/messages/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { ApiHandler } from './handler.ts';

const UNKNOWN_MEMBER_ID = 25;

export const syncGroupHandler: ApiHandler<SyncGroupRequest, SyncGroupResponse> = {
  apiKey: 14,
  minVersion: 0,
  maxVersion: 5,
  async handle(req, ctx) {
    const fail = (errorCode: number) => ({ throttleTimeMs: 0, errorCode, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) });
    const coordinatorError = ctx.broker.groups.coordinatorError(req.groupId);
    if (coordinatorError !== ErrorCode.NONE) return fail(coordinatorError);
    const group = ctx.broker.groups.existingGroup(req.groupId);
    if (!group) return fail(UNKNOWN_MEMBER_ID);
    const result = await group.sync({
      memberId: req.memberId,
      groupInstanceId: req.groupInstanceId ?? null,
      generationId: req.generationId,
      protocolType: req.protocolType ?? null,
      protocolName: req.protocolName ?? null,
      assignments: req.assignments.map((a) => ({ memberId: a.memberId, assignment: Buffer.from(a.assignment) })),
    });
    return { throttleTimeMs: 0, ...result };
  },
};
