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
  ];
  handlers.push(apiVersionsHandler(() => handlers));
  return handlers;
}
