import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import { RAW_TOPICS } from '../../events/topics.ts';
import type { BrokerWriter } from '../broker-writer.ts';
import { httpError } from '../http-errors.ts';

const ProduceBody = Type.Object(
  {
    records: Type.Array(
      Type.Object(
        {
          key: Type.Optional(Type.Union([Type.String({ maxLength: 4096 }), Type.Null()])),
          value: Type.Unknown(),
          headers: Type.Optional(Type.Record(Type.String({ maxLength: 256 }), Type.String({ maxLength: 65536 }), { maxProperties: 64 })),
        },
        { additionalProperties: false, required: ['value'] },
      ),
      { minItems: 1, maxItems: 10_000 },
    ),
  },
  { additionalProperties: false },
);
type ProduceBody = Static<typeof ProduceBody>;

const TopicParams = Type.Object({ topic: Type.String({ pattern: '^[a-zA-Z0-9._-]{1,249}$' }) });

const checkers = new Map<string, TypeCheck<TSchema>>();
function checkerFor(topic: string): TypeCheck<TSchema> | null {
  const raw = RAW_TOPICS[topic];
  if (!raw) return null;
  let c = checkers.get(topic);
  if (!c) checkers.set(topic, (c = TypeCompiler.Compile(raw.schema)));
  return c;
}

/**
 * `POST /topics/:topic` with `{"records": [{"key"?, "value", "headers"?}]}` (the shape of Confluent's REST
 * proxy v2): values are stored as JSON. Raw topics validate each value against their schema and take
 * their key from it. Every record is checked before anything is written: one bad record rejects the
 * request whole.
 */
export async function restProducePlugin(app: FastifyInstance, opts: { writer: BrokerWriter }): Promise<void> {
  app.post<{ Params: Static<typeof TopicParams>; Body: ProduceBody }>(
    '/topics/:topic',
    { schema: { params: TopicParams, body: ProduceBody } },
    async (req, reply) => {
      const { topic } = req.params;
      const checker = checkerFor(topic);
      const raw = RAW_TOPICS[topic];
      const records = req.body.records.map((r, i) => {
        if (checker && !checker.Check(r.value)) {
          const first = checker.Errors(r.value).First();
          throw httpError(400, 'SCHEMA_VIOLATION', `records[${i}].value does not match the ${topic} schema: ${first?.path || '/'} ${first?.message}`);
        }
        const extra = raw?.check?.(r.value);
        if (extra) throw httpError(400, 'SCHEMA_VIOLATION', `records[${i}].value: ${extra}`);
        return { topic, key: raw ? raw.key(r.value) : (r.key ?? null), value: Buffer.from(JSON.stringify(r.value)), headers: r.headers };
      });
      const offsets = await opts.writer.write(records);
      reply.code(200);
      return { offsets };
    },
  );
}
