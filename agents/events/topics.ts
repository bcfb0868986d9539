import type { TSchema } from '@sinclair/typebox';
import { LogRecord, logRecordKey } from './log-record.ts';
import { MetricPoint, metricPointKey, checkMetricPoint } from './metric-point.ts';
import { PageView, pageViewKey } from './page-view.ts';

/** The raw topics and the one schema each holds; keys route a source's records to one partition. */
export interface RawTopic {
  name: string;
  schema: TSchema;
  key(record: any): string;
  /** Checks beyond the JSON schema; returns an error message or null. */
  check?(record: any): string | null;
}

export const RAW_TOPICS: Record<string, RawTopic> = {
  'logs.raw': { name: 'logs.raw', schema: LogRecord, key: logRecordKey },
  'metrics.raw': { name: 'metrics.raw', schema: MetricPoint, key: metricPointKey, check: checkMetricPoint },
  'pageviews.raw': { name: 'pageviews.raw', schema: PageView, key: pageViewKey },
};
