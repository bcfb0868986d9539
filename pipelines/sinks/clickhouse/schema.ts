/**
 * The ClickHouse tables the sink loads, one per derived topic, as versioned migrations.
 *
 * Portable between ClickHouse 18.16 (Debian's package) and current releases, so deliberately plain:
 * - Engine `MergeTree() PARTITION BY toYYYYMM(<time>) ORDER BY (…)`: the "new" MergeTree syntax, present
 *   since 1.1.54310. Never Summing/Replacing/AggregatingMergeTree: those merge rows away, and the
 *   exactly-once resume reads max(_offset) from the rows themselves, so every inserted row must stay.
 * - No Map, LowCardinality, DateTime64, JSON, Nullable or Nested: key/value data is two parallel
 *   `Array(String)` columns (read a value with `values[indexOf(keys, 'k')]`); absent values are '' or 0.
 * - Times are `DateTime('UTC')` in whole seconds (for partitioning, ordering and time functions) plus,
 *   where milliseconds matter, the exact epoch milliseconds in a UInt64 next to it.
 * - No DEFAULT/MATERIALIZED expressions: 18.16 fills a column missing from JSONEachRow with the type's
 *   zero, not its DEFAULT, so the sink sends every column itself.
 *
 * Every table carries the record's source position (`_topic`, `_partition`, `_offset`) for
 * exactly-once loading (see exactly-once.ts).
 *
 * Rollup tables hold mergeable partial aggregates: a window may have several rows (a late record
 * yields a further partial row), so queries always aggregate: sum(count), min(min), max(max),
 * argMax(last, last_timestamp), and sketches are merged by the pipeline's own code. Sketches are
 * stored as base64 text of their serialised bytes in a String column, not as ClickHouse
 * AggregateFunction states, so our code can merge them into any coarser period.
 *
 * Migrations run on every sink start, possibly by several sinks at once; every statement must be
 * idempotent (CREATE TABLE IF NOT EXISTS, …) — see migrations.ts.
 */
import type { Migration } from './migrations.ts';

/** The derived topic each table is loaded from. Table names use '_' because '.' separates a database. */
export const TOPIC_TABLES = {
  'logs.enriched': 'logs_enriched',
  'logs.rollup.1m': 'logs_rollup_1m',
  'metrics.rollup.1m': 'metrics_rollup_1m',
  'pageviews.enriched': 'pageviews_enriched',
  'pageviews.sessions': 'pageviews_sessions',
  'pageviews.rollup.1m': 'pageviews_rollup_1m',
} as const;

export type SinkTopic = keyof typeof TOPIC_TABLES;

const SOURCE_POSITION = `
  _topic String,
  _partition UInt32,
  _offset UInt64,`;

const createLogsEnriched = `CREATE TABLE IF NOT EXISTS logs_enriched (${SOURCE_POSITION}
  time DateTime('UTC'),
  timestamp UInt64,
  observed_timestamp UInt64,
  service String,
  host String,
  severity_number UInt8,
  severity String,
  body String,
  attribute_keys Array(String),
  attribute_values Array(String),
  resource_keys Array(String),
  resource_values Array(String),
  trace_id String,
  span_id String,
  source_file String,
  source_offset UInt64
) ENGINE = MergeTree() PARTITION BY toYYYYMM(time) ORDER BY (service, time)`;

const createLogsRollup = `CREATE TABLE IF NOT EXISTS logs_rollup_1m (${SOURCE_POSITION}
  minute DateTime('UTC'),
  service String,
  severity String,
  count UInt64
) ENGINE = MergeTree() PARTITION BY toYYYYMM(minute) ORDER BY (service, severity, minute)`;

const createMetricsRollup = `CREATE TABLE IF NOT EXISTS metrics_rollup_1m (${SOURCE_POSITION}
  minute DateTime('UTC'),
  name String,
  type String,
  unit String,
  service String,
  host String,
  label_keys Array(String),
  label_values Array(String),
  count UInt64,
  sum Float64,
  min Float64,
  max Float64,
  last Float64,
  last_timestamp UInt64,
  sketch String
) ENGINE = MergeTree() PARTITION BY toYYYYMM(minute) ORDER BY (name, service, host, minute)`;

const createPageviewsEnriched = `CREATE TABLE IF NOT EXISTS pageviews_enriched (${SOURCE_POSITION}
  time DateTime('UTC'),
  timestamp UInt64,
  site String,
  url String,
  path String,
  title String,
  referrer String,
  referrer_host String,
  referrer_source String,
  referrer_medium String,
  utm_source String,
  utm_medium String,
  utm_campaign String,
  utm_term String,
  utm_content String,
  browser String,
  browser_version String,
  os String,
  os_version String,
  device String,
  is_bot UInt8,
  screen_width UInt32,
  screen_height UInt32,
  language String,
  time_zone String,
  visitor_id String,
  navigation String
) ENGINE = MergeTree() PARTITION BY toYYYYMM(time) ORDER BY (site, time)`;

const createPageviewsSessions = `CREATE TABLE IF NOT EXISTS pageviews_sessions (${SOURCE_POSITION}
  start DateTime('UTC'),
  start_timestamp UInt64,
  end_timestamp UInt64,
  duration_ms UInt64,
  site String,
  visitor_id String,
  session_id String,
  page_count UInt32,
  entry_path String,
  exit_path String,
  bounce UInt8,
  referrer_source String,
  referrer_medium String,
  utm_source String,
  utm_medium String,
  utm_campaign String,
  browser String,
  os String,
  device String
) ENGINE = MergeTree() PARTITION BY toYYYYMM(start) ORDER BY (site, start)`;

const createPageviewsRollup = `CREATE TABLE IF NOT EXISTS pageviews_rollup_1m (${SOURCE_POSITION}
  minute DateTime('UTC'),
  site String,
  path String,
  views UInt64,
  visitors_hll String
) ENGINE = MergeTree() PARTITION BY toYYYYMM(minute) ORDER BY (site, minute, path)`;

/**
 * Column notes the DDL cannot carry:
 * - logs_enriched: `severity` is the normalised text (TRACE, DEBUG, INFO, WARN, ERROR, FATAL);
 *   `body` is a string body as is, a structured one as JSON; attribute and resource values are
 *   strings as is, other values as JSON; `observed_timestamp` and `source_offset` are 0 when absent.
 * - metrics_rollup_1m: labels are the point's attributes sorted by key; `sketch` is the base64
 *   quantile sketch of histogram points ('' for others); `last` is the value at `last_timestamp` (ms).
 * - pageviews_rollup_1m: `visitors_hll` is the base64 HyperLogLog sketch of the minute's visitor ids.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'create sink tables',
    up: [createLogsEnriched, createLogsRollup, createMetricsRollup, createPageviewsEnriched, createPageviewsSessions, createPageviewsRollup],
  },
  {
    version: 2,
    name: 'pageviews_enriched.country (from the visitor time zone)',
    up: [`ALTER TABLE pageviews_enriched ADD COLUMN country String DEFAULT '' AFTER time_zone`],
    alreadyApplied: `SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = 'pageviews_enriched' AND name = 'country'`,
  },
];

export interface TableColumn {
  name: string;
  /** As written in the migration, e.g. `DateTime('UTC')`, `Array(String)`. */
  type: string;
  /** Added by a later migration with a DEFAULT: records written before it may lack the field. */
  added?: boolean;
}

/**
 * Every table's columns after all migrations, read from their CREATE TABLE and ALTER TABLE … ADD
 * COLUMN statements, so this file stays the one description of the tables (the sink checks records
 * against it, tests check stage output against it).
 */
export function migratedColumns(migrations: readonly Migration[] = MIGRATIONS): Map<string, TableColumn[]> {
  const tables = new Map<string, TableColumn[]>();
  for (const m of migrations) {
    for (const statement of m.up) {
      const created = /^CREATE TABLE IF NOT EXISTS (\w+) \(([\s\S]*)\) ENGINE/.exec(statement);
      if (created) {
        const columns: TableColumn[] = [];
        for (const raw of created[2].split('\n')) {
          const line = raw.trim().replace(/,$/, '');
          if (!line) continue;
          const space = line.indexOf(' ');
          columns.push({ name: line.slice(0, space), type: line.slice(space + 1) });
        }
        tables.set(created[1], columns);
        continue;
      }
      const added = /^ALTER TABLE (\w+) ADD COLUMN (\w+) (\S+)(?: DEFAULT \S+)?(?: AFTER (\w+))?$/.exec(statement);
      const columns = added && tables.get(added[1]);
      if (!added || !columns) continue;
      const after = added[4] ? columns.findIndex((c) => c.name === added[4]) : columns.length - 1;
      columns.splice(after + 1, 0, { name: added[2], type: added[3], ...(/ DEFAULT /.test(statement) ? { added: true } : {}) });
    }
  }
  return tables;
}
