import type { DescribeGroupsRequest, DescribeGroupsResponse } from '../protocol/messages/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { ApiHandler } from './handler.ts';
import { metadataFor } from '../coordinator/group-member.ts';

export const describeGroupsHandler: ApiHandler<DescribeGroupsRequest, DescribeGroupsResponse> = {
  apiKey: 15,
  minVersion: 0,
  maxVersion: 5,
  handle(req, ctx) {
    const groups = req.groups.map((groupId) => {
      const coordinatorError = ctx.broker.groups.coordinatorError(groupId);
      if (coordinatorError !== ErrorCode.NONE) {
        return { errorCode: coordinatorError, groupId, groupState: '', protocolType: '', protocolData: '', members: [], authorizedOperations: -2147483648 };
      }
      const g = ctx.broker.groups.existingGroup(groupId);
      if (!g) return { errorCode: ErrorCode.NONE, groupId, groupState: 'Dead', protocolType: '', protocolData: '', members: [], authorizedOperations: -2147483648 };
      const stable = g.state === 'Stable';
      return {
        errorCode: ErrorCode.NONE,
        groupId,
        groupState: g.state,
        protocolType: g.protocolType ?? '',
        protocolData: g.protocolName ?? '',
        members: [...g.members.values()].map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: metadataFor(m, g.protocolName ?? ''),
          // Kafka reports assignments only once the generation is stable.
          memberAssignment: stable ? m.assignment : Buffer.alloc(0),
        })),
        authorizedOperations: -2147483648,
      };
    });
    return { throttleTimeMs: 0, groups };
  },
};
