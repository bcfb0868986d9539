import { Type, type Static } from '@sinclair/typebox';

/** OpenTelemetry attribute values: scalars or arrays of scalars. */
export const AttributeValue = Type.Union([
  Type.String({ maxLength: 65536 }),
  Type.Number(),
  Type.Boolean(),
  Type.Array(Type.Union([Type.String({ maxLength: 65536 }), Type.Number(), Type.Boolean()]), { maxItems: 1000 }),
]);

export const Attributes = Type.Record(Type.String({ minLength: 1, maxLength: 256 }), AttributeValue, { maxProperties: 256 });
export type Attributes = Static<typeof Attributes>;

/** The OTel resource: who produced the data. service.name and host.name route records to partitions. */
export const Resource = Type.Intersect([
  Type.Object({
    'service.name': Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    'host.name': Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  }),
  Attributes,
]);
export type Resource = Static<typeof Resource>;

/** Milliseconds since the Unix epoch, within sane bounds (2000-01-01 … 2100-01-01). */
export const EpochMillis = Type.Number({ minimum: 946684800000, maximum: 4102444800000 });
