import type { ListGroupsRequest, ListGroupsResponse } from '../protocol/messages/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { ApiHandler } from './handler.ts';


export const listGroupsHandler: ApiHandler<ListGroupsRequest, ListGroupsResponse> = {
  apiKey: 16,
  minVersion: 0,
  maxVersion: 5,
  handle(req, ctx) {
    const { groups } = ctx.broker;
    const states = req.statesFilter && req.statesFilter.length > 0 ? new Set(req.statesFilter.map((s) => s.toLowerCase())) : null;
    const types = req.typesFilter && req.typesFilter.length > 0 ? new Set(req.typesFilter.map((s) => s.toLowerCase())) : null;
    const listed = groups
      .groupIds()
      .map((id) => {
        const g = groups.existingGroup(id);
        return { groupId: id, protocolType: g?.protocolType ?? 'consumer', groupState: g?.state ?? 'Empty', groupType: 'classic' };
      })
      .filter((g) => (states === null || states.has(g.groupState.toLowerCase())) && (types === null || types.has('classic')));
    // Only groups of coordinated partitions are known here; while one is still loading, Kafka says so.
    return { throttleTimeMs: 0, errorCode: groups.isLoading() ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : ErrorCode.NONE, groups: listed };
  },
};
