/**
 * The `logs` stage: logs.raw → logs.enriched (one row per valid record) and logs.rollup.1m (records per
 * service, severity and minute).
 *
 * A record too late for its minute (the window closed by the watermark) is still enriched — a log line
 * is worth keeping whenever it comes, and enrichment has no window — but it cannot be counted in a rollup
 * row already written, so it also goes to out.late: logs.enriched minus the late count is what
 * logs.rollup.1m adds up to.
 */
import { parseSeverity } from '../../agents/agent/logs/severity.ts';
import { LogRecord } from '../../agents/events/log-record.ts';
import type { Emitter, InputRecord, PartitionProcessor, StageDefinition } from '../runtime/stage.ts';
import { TumblingWindows } from '../runtime/tumbling-windows.ts';
import {
  allowedLateness,
  flattenAttributes,
  RecordDecoder,
  watermarkFromJson,
  watermarkToJson,
  WINDOW_MS,
  type StageOptions,
} from './decode.ts';

export const LOGS_ENRICHED = 'logs.enriched';
export const LOGS_ROLLUP = 'logs.rollup.1m';

/** OTel's six range names, one per four severity numbers (1–4 TRACE … 21–24 FATAL). */
const SEVERITY_RANGES = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;
/** OTel's SEVERITY_NUMBER_UNSPECIFIED, for records with no severity or one we cannot map. */
export const UNSPECIFIED = 'UNSPECIFIED';

export interface NormalisedSeverity {
  severityNumber: number;
  severity: string;
}

/**
 * The number wins when it is in 1–24 (it is what OTel SDKs set); otherwise the text is parsed with the
 * agent's table of level names. Unknown or absent → UNSPECIFIED (0), so rollups group on a fixed set.
 */
export function normaliseSeverity(severityNumber: number | undefined, severityText: string | undefined): NormalisedSeverity {
  if (severityNumber !== undefined && severityNumber >= 1 && severityNumber <= 24) {
    return { severityNumber, severity: SEVERITY_RANGES[(severityNumber - 1) >> 2] };
  }
  if (severityText !== undefined) {
    const parsed = parseSeverity(severityText);
    if (parsed?.severityNumber !== undefined) return { severityNumber: parsed.severityNumber, severity: parsed.severityText };
  }
  return { severityNumber: 0, severity: UNSPECIFIED };
}

interface LogsRollupAcc {
  service: string;
  severity: string;
  count: number;
}

interface LogsSnapshot {
  watermark: number | null;
  windows: ReturnType<TumblingWindows<LogsRollupAcc>['snapshot']>;
}

const decoder = new RecordDecoder(LogRecord);
const increment = (acc: LogsRollupAcc): void => {
  acc.count++;
};

class LogsProcessor implements PartitionProcessor {
  private readonly windows: TumblingWindows<LogsRollupAcc>;
  /** The highest watermark advanced to: windows before it are emitted and must not be reopened. */
  private closedUpTo: number;

  constructor(restored: LogsSnapshot | undefined) {
    this.windows = restored ? TumblingWindows.restore<LogsRollupAcc>(restored.windows) : new TumblingWindows<LogsRollupAcc>(WINDOW_MS);
    this.closedUpTo = watermarkFromJson(restored?.watermark);
  }

  process(record: InputRecord, watermark: number, out: Emitter): number | undefined {
    const r = decoder.decode(record, out);
    if (r === undefined) return undefined;
    const time = Math.floor(r.timestamp);
    const { severityNumber, severity } = normaliseSeverity(r.severityNumber, r.severityText);
    const service = r.resource['service.name'] ?? 'unknown';
    const [attributeKeys, attributeValues] = flattenAttributes(r.attributes);
    const [resourceKeys, resourceValues] = flattenAttributes(r.resource);
    out.emit(LOGS_ENRICHED, service, {
      time,
      timestamp: time,
      observed_timestamp: r.observedTimestamp === undefined ? 0 : Math.floor(r.observedTimestamp),
      service,
      host: r.resource['host.name'] ?? '',
      severity_number: severityNumber,
      severity,
      body: typeof r.body === 'string' ? r.body : JSON.stringify(r.body),
      attribute_keys: attributeKeys,
      attribute_values: attributeValues,
      resource_keys: resourceKeys,
      resource_values: resourceValues,
      trace_id: r.traceId ?? '',
      span_id: r.spanId ?? '',
      source_file: r.source?.file ?? '',
      source_offset: r.source?.offset ?? 0,
    });
    if (this.windows.isClosed(time, Math.max(watermark, this.closedUpTo))) {
      out.late(record, time);
      return time;
    }
    this.windows.update(`${service}|${severity}`, time, () => ({ service, severity, count: 0 }), increment);
    return time;
  }

  advance(watermark: number, out: Emitter): void {
    if (!(watermark > this.closedUpTo)) return;
    this.closedUpTo = watermark;
    for (const { windowStart, acc } of this.windows.closeUpTo(watermark)) {
      out.emit(LOGS_ROLLUP, `${acc.service}|${acc.severity}|${windowStart}`, {
        minute: windowStart,
        service: acc.service,
        severity: acc.severity,
        count: acc.count,
      });
    }
  }

  snapshot(): LogsSnapshot {
    return { watermark: watermarkToJson(this.closedUpTo), windows: this.windows.snapshot() };
  }
}

export function logsStage(opts: StageOptions = {}): StageDefinition {
  return {
    name: 'logs',
    inputs: ['logs.raw'],
    outputs: [LOGS_ENRICHED, LOGS_ROLLUP],
    allowedLatenessMs: allowedLateness(opts),
    createProcessor: (restored) => new LogsProcessor(restored as LogsSnapshot | undefined),
  };
}
