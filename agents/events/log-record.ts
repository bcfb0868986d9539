import { Type, type Static } from '@sinclair/typebox';
import { Attributes, EpochMillis, Resource } from './attributes.ts';

/**
 * A record of `logs.raw`, after OpenTelemetry's log data model: time, severity (number 1–24 and text),
 * body (a string or structured value), attributes, resource, optional trace context and, for tailed
 * files, where the line came from.
 */
export const LogRecord = Type.Object(
  {
    timestamp: EpochMillis,
    observedTimestamp: Type.Optional(EpochMillis),
    severityNumber: Type.Optional(Type.Integer({ minimum: 0, maximum: 24 })),
    severityText: Type.Optional(Type.String({ maxLength: 64 })),
    body: Type.Union([Type.String({ maxLength: 1_048_576 }), Type.Record(Type.String(), Type.Unknown()), Type.Array(Type.Unknown())]),
    attributes: Type.Optional(Attributes),
    resource: Resource,
    traceId: Type.Optional(Type.String({ pattern: '^[0-9a-f]{32}$' })),
    spanId: Type.Optional(Type.String({ pattern: '^[0-9a-f]{16}$' })),
    source: Type.Optional(Type.Object({ file: Type.String(), offset: Type.Integer({ minimum: 0 }) }, { additionalProperties: false })),
  },
  { additionalProperties: false, $id: 'LogRecord' },
);
export type LogRecord = Static<typeof LogRecord>;

/** Partition key: the host, else the service, so one source's lines stay in order. */
export function logRecordKey(r: LogRecord): string {
  return r.resource['host.name'] ?? r.resource['service.name'] ?? 'unknown';
}
