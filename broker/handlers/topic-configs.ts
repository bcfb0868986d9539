import type { TopicConfigEntry } from '../storage/log-config.ts';

/** DescribeConfigs ConfigSource values. */
export const CONFIG_SOURCE = {
  DYNAMIC_TOPIC_CONFIG: 1,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
} as const;

/** DescribeConfigs ConfigType values (v3+). */
const CONFIG_TYPE = { BOOLEAN: 1, STRING: 2, INT: 3, SHORT: 4, LONG: 5, DOUBLE: 6, LIST: 7 } as const;

const TYPE_OF: Record<string, number> = {
  'cleanup.policy': CONFIG_TYPE.LIST,
  'message.timestamp.type': CONFIG_TYPE.STRING,
  'max.message.bytes': CONFIG_TYPE.INT,
  'index.interval.bytes': CONFIG_TYPE.INT,
  'segment.bytes': CONFIG_TYPE.INT,
  'min.insync.replicas': CONFIG_TYPE.INT,
};

export interface DescribedConfig {
  name: string;
  value: string | null;
  readOnly: boolean;
  isDefault: boolean;
  configSource: number;
  isSensitive: boolean;
  synonyms: never[];
  configType: number;
  documentation: string | null;
}

/** The topic's effective configs, optionally narrowed to the requested keys (null means all). */
export function describeTopicConfigs(entries: TopicConfigEntry[], keys: string[] | null, _includeDocs: boolean): DescribedConfig[] {
  const wanted = keys === null ? null : new Set(keys);
  return entries
    .filter((e) => wanted === null || wanted.has(e.name))
    .map((e) => ({
      name: e.name,
      value: e.value,
      readOnly: false,
      isDefault: !e.explicit,
      configSource: e.explicit ? CONFIG_SOURCE.DYNAMIC_TOPIC_CONFIG : CONFIG_SOURCE.DEFAULT_CONFIG,
      isSensitive: false,
      synonyms: [],
      configType: TYPE_OF[e.name] ?? CONFIG_TYPE.LONG,
      documentation: null,
    }));
}
