import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isAbsolute, resolve, dirname } from 'node:path';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { LineParserConfig } from './logs/line-parser.ts';
import { DurationSchema, parseDuration } from '../../lib/durations.ts';

/** A bad agent.yaml: the message names the file and the field, and the agent does not start. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const Duration = DurationSchema;
/** `64MiB`, `512KB`, `1GiB` or a number of bytes. */
const ByteSize = Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: '^\\d+(\\.\\d+)?\\s*(B|KB|KiB|MB|MiB|GB|GiB)$' })]);
const HostPort = Type.String({ pattern: '^[^\\s:]+:\\d{1,5}$' });
const ScalarAttributes = Type.Record(Type.String({ minLength: 1 }), Type.Union([Type.String(), Type.Number(), Type.Boolean()]));

const ParserConfig = Type.Object(
  {
    type: Type.Union([Type.Literal('none'), Type.Literal('json'), Type.Literal('logfmt'), Type.Literal('regex')]),
    pattern: Type.Optional(Type.String({ minLength: 1 })),
    timestamp_field: Type.Optional(Type.String({ minLength: 1 })),
    severity_field: Type.Optional(Type.String({ minLength: 1 })),
    message_field: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

const MultilineConfig = Type.Object(
  {
    start_pattern: Type.String({ minLength: 1 }),
    mode: Type.Optional(Type.Union([Type.Literal('continue_through'), Type.Literal('halt_before')])),
    timeout: Type.Optional(Duration),
    max_lines: Type.Optional(Type.Integer({ minimum: 1 })),
    max_bytes: Type.Optional(ByteSize),
  },
  { additionalProperties: false },
);

const FileSourceConfig = Type.Object(
  {
    include: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
    exclude: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    read_from: Type.Optional(Type.Union([Type.Literal('beginning'), Type.Literal('end')])),
    service: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    parser: Type.Optional(ParserConfig),
    multiline: Type.Optional(MultilineConfig),
    attributes: Type.Optional(ScalarAttributes),
    max_line_bytes: Type.Optional(ByteSize),
  },
  { additionalProperties: false },
);

const ScrapeConfig = Type.Object(
  {
    job: Type.String({ minLength: 1, maxLength: 256 }),
    url: Type.String({ pattern: '^https?://' }),
    interval: Type.Optional(Duration),
    timeout: Type.Optional(Duration),
  },
  { additionalProperties: false },
);

export const AgentConfigSchema = Type.Object(
  {
    brokers: Type.Array(HostPort, { minItems: 1 }),
    state_dir: Type.String({ minLength: 1 }),
    host_name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    metrics_listen: Type.Optional(Type.Union([HostPort, Type.Literal('off')])),
    files: Type.Optional(Type.Array(FileSourceConfig)),
    host_metrics: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(Type.Boolean()),
          interval: Type.Optional(Duration),
          proc_root: Type.Optional(Type.String({ minLength: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    scrape: Type.Optional(Type.Array(ScrapeConfig)),
    shipping: Type.Optional(
      Type.Object(
        {
          logs_topic: Type.Optional(Type.String({ minLength: 1 })),
          metrics_topic: Type.Optional(Type.String({ minLength: 1 })),
          batch_max_records: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
          batch_max_bytes: Type.Optional(ByteSize),
          linger: Type.Optional(Duration),
          compression: Type.Optional(Type.Union([Type.Literal('zstd'), Type.Literal('lz4'), Type.Literal('gzip'), Type.Literal('snappy'), Type.Literal('none')])),
          request_timeout: Type.Optional(Duration),
          min_backoff: Type.Optional(Duration),
          max_backoff: Type.Optional(Duration),
        },
        { additionalProperties: false },
      ),
    ),
    buffer: Type.Optional(
      Type.Object(
        {
          max_bytes: Type.Optional(ByteSize),
          segment_bytes: Type.Optional(ByteSize),
          when_full: Type.Optional(Type.Object({ metrics: Type.Optional(Type.Union([Type.Literal('drop_newest'), Type.Literal('block')])) }, { additionalProperties: false })),
        },
        { additionalProperties: false },
      ),
    ),
    tail: Type.Optional(
      Type.Object(
        {
          poll_interval: Type.Optional(Duration),
          glob_interval: Type.Optional(Duration),
          rotate_wait: Type.Optional(Duration),
          read_chunk_bytes: Type.Optional(ByteSize),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
type RawConfig = Static<typeof AgentConfigSchema>;

export type ParserSettings = LineParserConfig;

export interface MultilineSettings {
  startPattern: string;
  mode: 'continue_through' | 'halt_before';
  timeoutMs: number;
  maxLines: number;
  maxBytes: number;
}

export interface FileSourceSettings {
  include: string[];
  exclude: string[];
  readFrom: 'beginning' | 'end';
  service?: string;
  parser: ParserSettings;
  multiline?: MultilineSettings;
  attributes: Record<string, string | number | boolean>;
  maxLineBytes: number;
}

export interface AgentConfig {
  brokers: string[];
  stateDir: string;
  hostName: string;
  metricsListen: { host: string; port: number } | null;
  files: FileSourceSettings[];
  hostMetrics: { enabled: boolean; intervalMs: number; procRoot: string };
  scrape: { job: string; url: string; intervalMs: number; timeoutMs: number }[];
  shipping: {
    logsTopic: string;
    metricsTopic: string;
    batchMaxRecords: number;
    batchMaxBytes: number;
    lingerMs: number;
    compression: 'zstd' | 'lz4' | 'gzip' | 'snappy' | 'none';
    requestTimeoutMs: number;
    minBackoffMs: number;
    maxBackoffMs: number;
  };
  buffer: { maxBytes: number; segmentBytes: number; metricsWhenFull: 'drop_newest' | 'block' };
  tail: { pollIntervalMs: number; globIntervalMs: number; rotateWaitMs: number; readChunkBytes: number };
}

const UNIT_BYTES: Record<string, number> = { B: 1, KB: 1000, KiB: 1024, MB: 1e6, MiB: 1 << 20, GB: 1e9, GiB: 1 << 30 };

export { parseDuration };

export function parseByteSize(value: number | string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number') return value;
  const m = /^(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)$/.exec(value)!;
  return Math.round(Number(m[1]) * UNIT_BYTES[m[2]]);
}

function firstSchemaError(schema: TSchema, value: unknown): string | null {
  const error = Value.Errors(schema, value).First();
  if (!error) return null;
  const where = error.path === '' ? 'the top level' : error.path.slice(1).replaceAll('/', '.');
  return `${where}: ${error.message}`;
}

function checkPattern(pattern: string, where: string): void {
  try {
    new RegExp(pattern);
  } catch (err) {
    throw new ConfigError(`${where}: invalid regular expression ${JSON.stringify(pattern)}: ${(err as Error).message}`);
  }
}

/** Validates parsed YAML and fills every default; relative paths are taken from `baseDir` (the file's folder). */
export function resolveConfig(raw: unknown, baseDir: string): AgentConfig {
  const error = firstSchemaError(AgentConfigSchema, raw);
  if (error) throw new ConfigError(error);
  const c = raw as RawConfig;
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const files = (c.files ?? []).map((f, i): FileSourceSettings => {
    const parser = f.parser ?? { type: 'none' as const };
    if (parser.type === 'regex') {
      if (!parser.pattern) throw new ConfigError(`files.${i}.parser: a regex parser needs a pattern`);
      checkPattern(parser.pattern, `files.${i}.parser.pattern`);
    }
    if (f.multiline) checkPattern(f.multiline.start_pattern, `files.${i}.multiline.start_pattern`);
    return {
      include: f.include.map(abs),
      exclude: (f.exclude ?? []).map(abs),
      readFrom: f.read_from ?? 'beginning',
      service: f.service,
      parser: {
        ...(parser.type === 'regex' ? { type: 'regex' as const, pattern: parser.pattern! } : { type: parser.type }),
        timestampField: parser.timestamp_field,
        severityField: parser.severity_field,
        messageField: parser.message_field,
      },
      multiline: f.multiline && {
        startPattern: f.multiline.start_pattern,
        mode: f.multiline.mode ?? 'continue_through',
        timeoutMs: parseDuration(f.multiline.timeout, 1000),
        maxLines: f.multiline.max_lines ?? 500,
        maxBytes: parseByteSize(f.multiline.max_bytes, 1 << 20),
      },
      attributes: f.attributes ?? {},
      maxLineBytes: parseByteSize(f.max_line_bytes, 1 << 20),
    };
  });
  let metricsListen: AgentConfig['metricsListen'] = { host: '127.0.0.1', port: 9700 };
  if (c.metrics_listen === 'off') metricsListen = null;
  else if (c.metrics_listen) {
    const i = c.metrics_listen.lastIndexOf(':');
    const port = Number(c.metrics_listen.slice(i + 1));
    if (port > 65535) throw new ConfigError(`metrics_listen: port ${port} is out of range`);
    metricsListen = { host: c.metrics_listen.slice(0, i), port };
  }
  const s = c.shipping ?? {};
  const b = c.buffer ?? {};
  const t = c.tail ?? {};
  const config: AgentConfig = {
    brokers: c.brokers,
    stateDir: abs(c.state_dir),
    hostName: c.host_name ?? hostname(),
    metricsListen,
    files,
    hostMetrics: {
      enabled: c.host_metrics?.enabled ?? c.host_metrics !== undefined,
      intervalMs: parseDuration(c.host_metrics?.interval, 10_000),
      procRoot: c.host_metrics?.proc_root ?? '/proc',
    },
    scrape: (c.scrape ?? []).map((sc) => ({ job: sc.job, url: sc.url, intervalMs: parseDuration(sc.interval, 15_000), timeoutMs: parseDuration(sc.timeout, 5_000) })),
    shipping: {
      logsTopic: s.logs_topic ?? 'logs.raw',
      metricsTopic: s.metrics_topic ?? 'metrics.raw',
      batchMaxRecords: s.batch_max_records ?? 5000,
      batchMaxBytes: parseByteSize(s.batch_max_bytes, 1 << 20),
      lingerMs: parseDuration(s.linger, 100),
      compression: s.compression ?? 'zstd',
      requestTimeoutMs: parseDuration(s.request_timeout, 10_000),
      minBackoffMs: parseDuration(s.min_backoff, 100),
      maxBackoffMs: parseDuration(s.max_backoff, 10_000),
    },
    buffer: {
      maxBytes: parseByteSize(b.max_bytes, 256 << 20),
      segmentBytes: parseByteSize(b.segment_bytes, 16 << 20),
      metricsWhenFull: b.when_full?.metrics ?? 'drop_newest',
    },
    tail: {
      pollIntervalMs: parseDuration(t.poll_interval, 250),
      globIntervalMs: parseDuration(t.glob_interval, 1000),
      rotateWaitMs: parseDuration(t.rotate_wait, 5000),
      readChunkBytes: parseByteSize(t.read_chunk_bytes, 256 << 10),
    },
  };
  if (config.buffer.segmentBytes > config.buffer.maxBytes) throw new ConfigError('buffer.segment_bytes: must not exceed buffer.max_bytes');
  if (config.buffer.maxBytes < config.shipping.batchMaxBytes * 2) throw new ConfigError('buffer.max_bytes: must hold at least two batches (2 × shipping.batch_max_bytes)');
  if (config.shipping.minBackoffMs > config.shipping.maxBackoffMs) throw new ConfigError('shipping.min_backoff: must not exceed shipping.max_backoff');
  if (files.length === 0 && !config.hostMetrics.enabled && config.scrape.length === 0) {
    throw new ConfigError('nothing to collect: configure files, host_metrics or scrape');
  }
  return config;
}

/** Reads and validates agent.yaml; every problem is a ConfigError naming the file. */
export function loadConfig(path: string): AgentConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${path}: cannot read the config file: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    if (err instanceof YAMLParseError) throw new ConfigError(`${path}: not valid YAML: ${err.message}`);
    throw err;
  }
  try {
    return resolveConfig(raw, dirname(resolve(path)));
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`${path}: ${err.message}`);
    throw err;
  }
}
