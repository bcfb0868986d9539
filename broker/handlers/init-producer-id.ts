import type { InitProducerIdRequest, InitProducerIdResponse } from '../protocol/messages/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { ApiHandler } from './handler.ts';

const TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53;

/**
 * Idempotent producers get a fresh producer id with epoch 0. Transactions are not offered: a transactional
 * id is refused clearly instead of being treated as idempotence only.
 */
export const initProducerIdHandler: ApiHandler<InitProducerIdRequest, InitProducerIdResponse> = {
  apiKey: 22,
  minVersion: 0,
  maxVersion: 5,
  handle(req, ctx) {
    if (req.transactionalId !== null) {
      ctx.broker.log.warn(`refused InitProducerId for transactional id '${req.transactionalId}' from ${ctx.clientId}: transactions are not supported`);
      return { throttleTimeMs: 0, errorCode: TRANSACTIONAL_ID_AUTHORIZATION_FAILED, producerId: -1, producerEpoch: -1 };
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: ctx.broker.producerIds.allocate(), producerEpoch: 0 };
  },
};
