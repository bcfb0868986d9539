import { ErrorCode } from '../protocol/error-codes.ts';

export class InvalidConfigError extends Error {
  readonly code = ErrorCode.INVALID_CONFIG;
  override name = 'InvalidConfigError';
}

/** Per-topic settings with Kafka's names and defaults. */
export interface LogConfig {
  segmentBytes: number;
  segmentMs: number;
  retentionMs: number;
  retentionBytes: number;
  cleanupPolicy: ('delete' | 'compact')[];
  maxMessageBytes: number;
  indexIntervalBytes: number;
  flushMessages: number;
  flushMs: number;
  messageTimestampType: 'CreateTime' | 'LogAppendTime';
  minInsyncReplicas: number;
  deleteRetentionMs: number;
  minCompactionLagMs: number;
  minCleanableDirtyRatio: number;
}

interface Definition {
  key: keyof LogConfig;
  default: string;
  parse(value: string, name: string): LogConfig[keyof LogConfig];
}

const LONG_MAX = '9223372036854775807';

function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string, name: string): number => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidConfigError(`${name} must be an integer, got '${value}'`);
    // Kafka's "never" is Long.MAX_VALUE; anything beyond 2^53 means the same here.
    const n = Math.min(Number(value), Number.MAX_SAFE_INTEGER);
    if (n < min || n > max) throw new InvalidConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
    return n;
  };
}

function oneOf<T extends string>(allowed: readonly T[]) {
  return (value: string, name: string): T => {
    if (!allowed.includes(value as T)) throw new InvalidConfigError(`${name} must be one of ${allowed.join(', ')}, got '${value}'`);
    return value as T;
  };
}

function ratio(value: string, name: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidConfigError(`${name} must be a number between 0 and 1, got '${value}'`);
  return n;
}

function cleanupPolicy(value: string, name: string): ('delete' | 'compact')[] {
  const parts = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0 || parts.some((p) => p !== 'delete' && p !== 'compact')) {
    throw new InvalidConfigError(`${name} must be delete, compact or compact,delete, got '${value}'`);
  }
  return [...new Set(parts)] as ('delete' | 'compact')[];
}

/** Every topic config this broker understands, by Kafka name; DescribeConfigs lists them in this order. */
export const TOPIC_CONFIGS: Record<string, Definition> = {
  'cleanup.policy': { key: 'cleanupPolicy', default: 'delete', parse: cleanupPolicy },
  'delete.retention.ms': { key: 'deleteRetentionMs', default: '86400000', parse: integer(0) },
  'flush.messages': { key: 'flushMessages', default: LONG_MAX, parse: integer(1) },
  'flush.ms': { key: 'flushMs', default: '1000', parse: integer(0) },
  'index.interval.bytes': { key: 'indexIntervalBytes', default: '4096', parse: integer(0, 2147483647) },
  'max.message.bytes': { key: 'maxMessageBytes', default: '1048588', parse: integer(0, 2147483647) },
  'message.timestamp.type': { key: 'messageTimestampType', default: 'CreateTime', parse: oneOf(['CreateTime', 'LogAppendTime'] as const) },
  'min.cleanable.dirty.ratio': { key: 'minCleanableDirtyRatio', default: '0.5', parse: ratio },
  'min.compaction.lag.ms': { key: 'minCompactionLagMs', default: '0', parse: integer(0) },
  'min.insync.replicas': { key: 'minInsyncReplicas', default: '1', parse: integer(1, 2147483647) },
  'retention.bytes': { key: 'retentionBytes', default: '-1', parse: integer(-1) },
  'retention.ms': { key: 'retentionMs', default: '604800000', parse: integer(-1) },
  'segment.bytes': { key: 'segmentBytes', default: '1073741824', parse: integer(14, 2147483647) },
  'segment.ms': { key: 'segmentMs', default: '604800000', parse: integer(1) },
};

/** A config as DescribeConfigs reports it: its value and whether the topic (or broker default) set it. */
export interface TopicConfigEntry {
  name: string;
  value: string;
  explicit: boolean;
}

/**
 * Validates overrides (throwing InvalidConfigError for unknown keys or bad values) and returns the
 * effective config on top of broker-level defaults (which are themselves validated the same way).
 */
export function resolveLogConfig(overrides: Record<string, string>, brokerDefaults: Record<string, string> = {}): LogConfig {
  const config = {} as Record<string, unknown>;
  for (const [name, def] of Object.entries(TOPIC_CONFIGS)) config[def.key] = def.parse(def.default, name);
  for (const source of [brokerDefaults, overrides]) {
    for (const [name, value] of Object.entries(source)) {
      const def = TOPIC_CONFIGS[name];
      if (!def) throw new InvalidConfigError(`unknown topic config '${name}'`);
      config[def.key] = def.parse(String(value), name);
    }
  }
  return config as unknown as LogConfig;
}

export function describeConfigEntries(overrides: Record<string, string>, brokerDefaults: Record<string, string> = {}): TopicConfigEntry[] {
  return Object.entries(TOPIC_CONFIGS).map(([name, def]) => ({
    name,
    value: overrides[name] ?? brokerDefaults[name] ?? def.default,
    explicit: name in overrides,
  }));
}
