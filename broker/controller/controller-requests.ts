/**
 * What brokers ask the active controller, and its answers, on the controller quorum's request channel. JSON
 * checked against TypeBox schemas: these travel between our own brokers only and are few (registrations,
 * heartbeats, topic changes, ISR changes), so readability wins over a binary codec; a frame that does not match
 * its schema is refused with a clear error and changes nothing.
 */
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

const Int = Type.Integer();
const BrokerId = Type.Integer({ minimum: 0 });

const Endpoint = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 64 }),
  host: Type.String({ minLength: 1, maxLength: 255 }),
  port: Type.Integer({ minimum: 1, maximum: 65535 }),
  securityProtocol: Type.Integer({ minimum: 0, maximum: 3 }),
});

const Register = Type.Object({
  type: Type.Literal('register'),
  brokerId: BrokerId,
  incarnationId: Type.String({ minLength: 1, maxLength: 64 }),
  endpoints: Type.Array(Endpoint, { minItems: 1, maxItems: 16 }),
  rack: Type.Union([Type.String({ maxLength: 255 }), Type.Null()]),
});

const Heartbeat = Type.Object({
  type: Type.Literal('heartbeat'),
  brokerId: BrokerId,
  brokerEpoch: Int,
  /** The broker has applied the metadata up to its own registration: it may lead and join ISRs. */
  caughtUp: Type.Boolean(),
  wantShutdown: Type.Boolean(),
  /**
   * Sent until the broker is first unfenced when its data directory was created by this start: it holds no
   * replica data, so ISR memberships left from its previous life must not make it a leader.
   */
  emptyStorage: Type.Boolean(),
});

const CreateTopics = Type.Object({
  type: Type.Literal('create-topics'),
  topics: Type.Array(
    Type.Object({
      name: Type.String({ maxLength: 300 }),
      partitions: Int,
      replicationFactor: Int,
      configs: Type.Record(Type.String(), Type.String()),
    }),
    { maxItems: 10_000 },
  ),
  validateOnly: Type.Boolean(),
});

const DeleteTopics = Type.Object({
  type: Type.Literal('delete-topics'),
  names: Type.Array(Type.String({ maxLength: 300 }), { maxItems: 10_000 }),
});

const AlterPartition = Type.Object({
  type: Type.Literal('alter-partition'),
  brokerId: BrokerId,
  brokerEpoch: Int,
  topicId: Type.String({ maxLength: 64 }),
  partitionId: Type.Integer({ minimum: 0 }),
  leaderEpoch: Int,
  partitionEpoch: Int,
  newIsr: Type.Array(BrokerId, { maxItems: 1000 }),
});

const ElectPreferredLeaders = Type.Object({ type: Type.Literal('elect-preferred-leaders') });

export const ControllerRequestSchema = Type.Union([Register, Heartbeat, CreateTopics, DeleteTopics, AlterPartition, ElectPreferredLeaders]);
export type ControllerRequest = Static<typeof ControllerRequestSchema>;
export type RegisterRequest = Static<typeof Register>;
export type HeartbeatRequest = Static<typeof Heartbeat>;
export type CreateTopicsControllerRequest = Static<typeof CreateTopics>;
export type AlterPartitionControllerRequest = Static<typeof AlterPartition>;

export interface TopicResult {
  name: string;
  code: number;
  message: string | null;
  topicId: string | null;
  partitions: number;
  replicationFactor: number;
}

/**
 * Every answer carries `code` (a Kafka error code, 0 = success) and the Raft index at which the change was
 * committed, so the asking broker can wait until its own copy of the metadata has caught up before it answers
 * its client (a topic it just created must be in its own Metadata response).
 */
export type ControllerResponse =
  | { code: number; message: string | null; leaderId?: number | null; committedIndex: number }
  | ({ code: number; message: string | null; committedIndex: number } & ControllerResult);

export type ControllerResult =
  | { kind: 'register'; brokerEpoch: number }
  | { kind: 'heartbeat'; fenced: boolean; shuttingDown: boolean; remainingLeaderships: number }
  | { kind: 'topics'; topics: TopicResult[] }
  | { kind: 'alter-partition'; leader: number; leaderEpoch: number; isr: number[]; partitionEpoch: number }
  | { kind: 'elections'; elected: number };

const checkRequest = TypeCompiler.Compile(ControllerRequestSchema);

export class ControllerRequestError extends Error {}

export function encodeControllerMessage(value: ControllerRequest | ControllerResponse): Buffer {
  return Buffer.from(JSON.stringify(value));
}

export function decodeControllerRequest(bytes: Buffer): ControllerRequest {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ControllerRequestError('controller request is not JSON');
  }
  if (!checkRequest.Check(value)) {
    const first = checkRequest.Errors(value).First();
    throw new ControllerRequestError(`controller request is malformed${first ? `: ${first.path || '/'} ${first.message}` : ''}`);
  }
  return value;
}

/** Responses come from our own active controller; a minimal shape check guards against a confused peer. */
export function decodeControllerResponse(bytes: Buffer): ControllerResponse {
  const value = JSON.parse(bytes.toString('utf8')) as ControllerResponse;
  if (typeof value !== 'object' || value === null || typeof value.code !== 'number' || typeof value.committedIndex !== 'number') {
    throw new ControllerRequestError('controller response is malformed');
  }
  return value;
}
