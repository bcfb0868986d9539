import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { gunzipSync } from 'node:zlib';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { LogRecord, logRecordKey } from '../../events/log-record.ts';
import { MetricPoint, metricPointKey, checkMetricPoint } from '../../events/metric-point.ts';
import { decodeLogsRequest, decodeMetricsRequest, OtlpDecodeError } from '../otlp/otlp-proto.ts';
import { logsFromOtlp } from '../otlp/otlp-logs.ts';
import { metricsFromOtlp } from '../otlp/otlp-metrics.ts';
import { OtlpShapeError } from '../otlp/otlp-values.ts';
import type { BrokerWriter } from '../broker-writer.ts';
import { httpError } from '../http-errors.ts';

const PROTOBUF = 'application/x-protobuf';
const checkLog = TypeCompiler.Compile(LogRecord);
const checkPoint = TypeCompiler.Compile(MetricPoint);

/** Raw bytes, gunzipped when the sender compressed them (OTLP exporters may). */
function bodyBytes(req: FastifyRequest, body: Buffer): Buffer {
  const encoding = req.headers['content-encoding'];
  if (!encoding || encoding === 'identity') return body;
  if (encoding !== 'gzip') throw httpError(415, 'UNSUPPORTED_ENCODING', `content-encoding '${encoding}' is not supported (use gzip or none)`);
  try {
    return gunzipSync(body);
  } catch {
    throw httpError(400, 'BAD_GZIP', 'the body is not valid gzip');
  }
}

/**
 * OTLP/HTTP receivers: `POST /v1/logs` and `/v1/metrics`, protobuf (`application/x-protobuf`) or JSON
 * (`application/json`), gzip or not. Both encodings map through the same code to logs.raw / metrics.raw;
 * every record is checked against its topic's schema before any is written; the answer is the (empty)
 * OTLP export response in the request's encoding, sent after the broker acknowledged.
 */
export async function otlpPlugin(app: FastifyInstance, opts: { writer: BrokerWriter }): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser([PROTOBUF, 'application/json'], { parseAs: 'buffer' }, (req, body, done) => {
    try {
      const bytes = bodyBytes(req, body as Buffer);
      if ((req.headers['content-type'] ?? '').startsWith(PROTOBUF)) return done(null, bytes);
      done(null, JSON.parse(bytes.toString('utf8')));
    } catch (err) {
      done(err instanceof SyntaxError ? httpError(400, 'BAD_JSON', `the body is not valid JSON: ${err.message}`) : (err as Error), undefined);
    }
  });

  const receive = async <T>(
    req: FastifyRequest,
    reply: FastifyReply,
    decodeProtobuf: (b: Buffer) => unknown,
    map: (request: unknown, now: number) => T[],
    check: (record: T, i: number) => void,
    topic: string,
    key: (record: T) => string,
  ) => {
    const isProtobuf = Buffer.isBuffer(req.body);
    let records: T[];
    try {
      records = map(isProtobuf ? decodeProtobuf(req.body as Buffer) : req.body, Date.now());
    } catch (err) {
      if (err instanceof OtlpDecodeError || err instanceof OtlpShapeError) throw httpError(400, 'BAD_OTLP', err.message);
      throw err;
    }
    records.forEach(check);
    if (records.length > 0) await opts.writer.write(records.map((r) => ({ topic, key: key(r), value: Buffer.from(JSON.stringify(r)) })));
    if (isProtobuf) return reply.header('content-type', PROTOBUF).send(Buffer.alloc(0));
    return reply.send({});
  };

  app.post('/v1/logs', async (req, reply) =>
    receive<LogRecord>(req, reply, decodeLogsRequest, logsFromOtlp, (r, i) => {
      if (!checkLog.Check(r)) {
        const e = checkLog.Errors(r).First();
        throw httpError(400, 'SCHEMA_VIOLATION', `log record ${i} is invalid: ${e?.path || '/'} ${e?.message}`);
      }
    }, 'logs.raw', logRecordKey),
  );
  app.post('/v1/metrics', async (req, reply) =>
    receive<MetricPoint>(req, reply, decodeMetricsRequest, metricsFromOtlp, (p, i) => {
      const name = p.name;
      if (!checkPoint.Check(p)) {
        const e = checkPoint.Errors(p).First();
        throw httpError(400, 'SCHEMA_VIOLATION', `metric point ${i} ('${name}') is invalid: ${e?.path || '/'} ${e?.message}`);
      }
      const problem = checkMetricPoint(p);
      if (problem) throw httpError(400, 'SCHEMA_VIOLATION', problem);
    }, 'metrics.raw', metricPointKey),
  );
}
