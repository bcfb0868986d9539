import type { ApiHandler } from './handler.ts';
import { apiVersionsHandler } from './api-versions.ts';
import { metadataHandler } from './metadata.ts';
import { produceHandler } from './produce.ts';
import { fetchHandler } from './fetch.ts';
import { listOffsetsHandler } from './list-offsets.ts';
import { createTopicsHandler } from './create-topics.ts';
import { deleteTopicsHandler } from './delete-topics.ts';
import { createPartitionsHandler } from './create-partitions.ts';
import { describeConfigsHandler } from './describe-configs.ts';
import { findCoordinatorHandler } from './find-coordinator.ts';
import { joinGroupHandler } from './join-group.ts';
import { syncGroupHandler } from './sync-group.ts';
import { heartbeatHandler } from './heartbeat.ts';
import { leaveGroupHandler } from './leave-group.ts';
import { offsetCommitHandler } from './offset-commit.ts';
import { offsetFetchHandler } from './offset-fetch.ts';
import { describeGroupsHandler } from './describe-groups.ts';
import { listGroupsHandler } from './list-groups.ts';
import { deleteGroupsHandler } from './delete-groups.ts';
import { deleteRecordsHandler } from './delete-records.ts';
import { initProducerIdHandler } from './init-producer-id.ts';
import { offsetForLeaderEpochHandler } from './offset-for-leader-epoch.ts';

/** The broker's handler table: one entry per API key it serves. */
export function allHandlers(): ApiHandler[] {
  const handlers: ApiHandler[] = [
    produceHandler,
    fetchHandler,
    listOffsetsHandler,
    metadataHandler,
    describeConfigsHandler,
    createTopicsHandler,
    deleteTopicsHandler,
    createPartitionsHandler,
    findCoordinatorHandler,
    joinGroupHandler,
    syncGroupHandler,
    heartbeatHandler,
    leaveGroupHandler,
    offsetCommitHandler,
    offsetFetchHandler,
    describeGroupsHandler,
    listGroupsHandler,
    deleteGroupsHandler,
    deleteRecordsHandler,
    initProducerIdHandler,
    offsetForLeaderEpochHandler,
  ];
  handlers.push(apiVersionsHandler(() => handlers));
  return handlers;
}
