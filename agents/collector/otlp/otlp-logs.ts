import type { LogRecord } from '../../events/log-record.ts';
import type { Attributes } from '../../events/attributes.ts';
import { anyValue, attributes, list, nanosToMillis, OtlpShapeError, type OtlpAnyValue, type OtlpKeyValue } from './otlp-values.ts';

interface OtlpLogRecord {
  timeUnixNano?: string;
  observedTimeUnixNano?: string;
  severityNumber?: number;
  severityText?: string;
  body?: OtlpAnyValue;
  attributes?: OtlpKeyValue[];
  traceId?: string;
  spanId?: string;
  eventName?: string;
}

interface OtlpLogsRequest {
  resourceLogs?: { resource?: { attributes?: OtlpKeyValue[] }; scopeLogs?: { scope?: { name?: string; version?: string }; logRecords?: OtlpLogRecord[] }[] }[];
}

/** An OTLP logs export (either encoding, in the JSON shape) as logs.raw records. */
export function logsFromOtlp(request: unknown, now: number): LogRecord[] {
  if (!request || typeof request !== 'object') throw new OtlpShapeError('the body is not an ExportLogsServiceRequest');
  const out: LogRecord[] = [];
  for (const rl of list((request as OtlpLogsRequest).resourceLogs, 'resourceLogs')) {
    const resource = attributes(rl?.resource?.attributes);
    for (const sl of list(rl?.scopeLogs, 'scopeLogs')) {
      const scope: Attributes = sl?.scope?.name ? { 'otel.scope.name': sl.scope.name } : {};
      for (const lr of list(sl?.logRecords, 'logRecords')) {
        const observed = nanosToMillis(lr.observedTimeUnixNano, now);
        const body = anyValue(lr.body);
        const record: LogRecord = {
          timestamp: nanosToMillis(lr.timeUnixNano, observed),
          observedTimestamp: observed,
          body: body === null ? '' : typeof body === 'object' ? (body as Record<string, unknown>) : String(body),
          attributes: Object.assign({}, scope, attributes(lr.attributes), lr.eventName ? { 'event.name': lr.eventName } : {}) as Attributes,
          resource,
        };
        if (lr.severityNumber !== undefined) record.severityNumber = Number(lr.severityNumber);
        if (lr.severityText) record.severityText = lr.severityText;
        if (lr.traceId && !/^0+$/.test(lr.traceId)) record.traceId = String(lr.traceId).toLowerCase();
        if (lr.spanId && !/^0+$/.test(lr.spanId)) record.spanId = String(lr.spanId).toLowerCase();
        out.push(record);
      }
    }
  }
  return out;
}
