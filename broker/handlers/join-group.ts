import type { JoinGroupRequest, JoinGroupResponse } from '../protocol/messages/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { ApiHandler } from './handler.ts';

const INVALID_GROUP_ID = 24;

export const joinGroupHandler: ApiHandler<JoinGroupRequest, JoinGroupResponse> = {
  apiKey: 11,
  minVersion: 0,
  maxVersion: 9,
  async handle(req, ctx) {
    if (!req.groupId) {
      return { throttleTimeMs: 0, errorCode: INVALID_GROUP_ID, generationId: -1, protocolType: null, protocolName: '', leader: '', skipAssignment: false, memberId: req.memberId, members: [] };
    }
    const coordinatorError = ctx.broker.groups.coordinatorError(req.groupId);
    if (coordinatorError !== ErrorCode.NONE) {
      return { throttleTimeMs: 0, errorCode: coordinatorError, generationId: -1, protocolType: null, protocolName: ctx.apiVersion >= 7 ? null : '', leader: '', skipAssignment: false, memberId: req.memberId, members: [] };
    }
    const group = ctx.broker.groups.group(req.groupId);
    const result = await group.join({
      memberId: req.memberId,
      groupInstanceId: req.groupInstanceId ?? null,
      clientId: ctx.clientId ?? '',
      clientHost: `/${ctx.remote.replace(/:\d+$/, '')}`,
      sessionTimeoutMs: req.sessionTimeoutMs,
      // v0 has no rebalance timeout: Kafka uses the session timeout.
      rebalanceTimeoutMs: ctx.apiVersion >= 1 ? (req.rebalanceTimeoutMs ?? -1) : req.sessionTimeoutMs,
      protocolType: req.protocolType,
      protocols: req.protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) })),
      requireKnownMemberId: ctx.apiVersion >= 4,
    });
    return {
      throttleTimeMs: 0,
      errorCode: result.errorCode,
      generationId: result.generationId,
      protocolType: result.protocolType,
      // Before v7 the protocol name is not nullable.
      protocolName: result.protocolName ?? (ctx.apiVersion >= 7 ? null : ''),
      leader: result.leader,
      skipAssignment: result.skipAssignment,
      memberId: result.memberId,
      members: result.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadata })),
    };
  },
};

