import type { FindCoordinatorRequest, FindCoordinatorResponse } from '../protocol/messages/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { ApiHandler } from './handler.ts';

const KEY_TYPE_GROUP = 0;

/** This broker coordinates every group; transactions are not offered, so their coordinator is unavailable. */
export const findCoordinatorHandler: ApiHandler<FindCoordinatorRequest, FindCoordinatorResponse> = {
  apiKey: 10,
  minVersion: 0,
  maxVersion: 6,
  handle(req, ctx) {
    const { nodeId } = ctx.broker.config;
    const host = ctx.broker.config.advertised?.host ?? ctx.broker.config.host;
    const port = ctx.broker.config.advertised?.port ?? ctx.broker.config.port;
    const isGroup = (req.keyType ?? KEY_TYPE_GROUP) === KEY_TYPE_GROUP;
    const errorCode = isGroup ? ErrorCode.NONE : ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const errorMessage = isGroup ? null : 'transactions are not supported by this broker';
    if (ctx.apiVersion >= 4) {
      return {
        throttleTimeMs: 0,
        coordinators: (req.coordinatorKeys ?? []).map((key) => ({ key, nodeId: isGroup ? nodeId : -1, host: isGroup ? host : '', port: isGroup ? port : -1, errorCode, errorMessage })),
      };
    }
    return { throttleTimeMs: 0, errorCode, errorMessage, nodeId: isGroup ? nodeId : -1, host: isGroup ? host : '', port: isGroup ? port : -1 };
  },
};
