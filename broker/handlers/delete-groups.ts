import type { DeleteGroupsRequest, DeleteGroupsResponse } from '../protocol/messages/index.ts';
import type { ApiHandler } from './handler.ts';

export const deleteGroupsHandler: ApiHandler<DeleteGroupsRequest, DeleteGroupsResponse> = {
  apiKey: 42,
  minVersion: 0,
  maxVersion: 2,
  handle(req, ctx) {
    const results = req.groupsNames.map((groupId) => {
      // deleteGroup answers NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS itself for groups not coordinated here.
      const errorCode = ctx.broker.groups.deleteGroup(groupId);
      if (errorCode === 0) ctx.broker.log.info(`deleted consumer group ${groupId}`);
      return { groupId, errorCode };
    });
    return { throttleTimeMs: 0, results };
  },
};
