import type { LeaveGroupRequest, LeaveGroupResponse } from '../protocol/messages/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { ApiHandler } from './handler.ts';

const UNKNOWN_MEMBER_ID = 25;

/** v0–2 name one member; v3+ a batch of members, by member id or (static members) instance id. */
export const leaveGroupHandler: ApiHandler<LeaveGroupRequest, LeaveGroupResponse> = {
  apiKey: 13,
  minVersion: 0,
  maxVersion: 5,
  handle(req, ctx) {
    const leaving = ctx.apiVersion >= 3 ? (req.members ?? []).map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId ?? null })) : [{ memberId: req.memberId ?? '', groupInstanceId: null }];
    const coordinatorError = ctx.broker.groups.coordinatorError(req.groupId);
    // As in Kafka, a group-level error answers for the whole request and names no members.
    if (coordinatorError !== ErrorCode.NONE) return { throttleTimeMs: 0, errorCode: coordinatorError, members: [] };
    const group = ctx.broker.groups.existingGroup(req.groupId);
    const codes = group ? group.leave(leaving) : leaving.map(() => UNKNOWN_MEMBER_ID);
    const members = leaving.map((m, i) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode: codes[i] }));
    const errorCode = ctx.apiVersion >= 3 ? (group ? ErrorCode.NONE : UNKNOWN_MEMBER_ID) : codes[0];
    return { throttleTimeMs: 0, errorCode, members };
  },
};
