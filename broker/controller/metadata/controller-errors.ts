import { ErrorCode } from '../../protocol/error-codes.ts';

/**
 * Kafka error codes the controller answers with (org.apache.kafka.common.protocol.Errors; the numbers are
 * part of the wire protocol): the broker's table in protocol/error-codes.ts and the ones only the
 * controller answers with.
 */
export const ControllerErrorCode = {
  ...ErrorCode,
  BROKER_NOT_AVAILABLE: 8,
  NOT_CONTROLLER: 41,
  STALE_BROKER_EPOCH: 77,
  PREFERRED_LEADER_NOT_AVAILABLE: 80,
  ELECTION_NOT_NEEDED: 84,
  INVALID_UPDATE_VERSION: 95,
  BROKER_ID_NOT_REGISTERED: 102,
  INELIGIBLE_REPLICA: 107,
} as const;

/** A request the controller refuses: nothing is written, the caller answers with `code`. */
export interface Refusal {
  readonly ok: false;
  readonly code: number;
  readonly message: string;
}

export function refuse(code: number, message: string): Refusal {
  return { ok: false, code, message };
}
