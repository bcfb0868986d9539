import { Admin } from '@platformatic/kafka';
import { changelogTopic } from './changelog.ts';
import type { StageDefinition } from './stage.ts';

export function deadLetterTopic(stageName: string): string {
  return `${stageName}.dlq`;
}

export interface StageTopicsLog {
  info(message: string): void;
}

/**
 * Waits for the stage's inputs and creates its outputs, changelog and dead-letter topic with the inputs'
 * partition count: outputs of input partition P go to partition P, which is what lets a restarted worker
 * find its own earlier outputs by looking at one partition. Returns the partition count of each input.
 */
export async function ensureStageTopics(stage: StageDefinition, brokers: string[], clientId: string, log: StageTopicsLog): Promise<Map<string, number>> {
  const admin = new Admin({ clientId, bootstrapBrokers: brokers, retries: 3, retryDelay: 200 });
  try {
    const inputs = await waitForTopics(admin, stage.inputs, log);
    const partitions = Math.max(...inputs.values());
    const derived = [...stage.outputs, deadLetterTopic(stage.name), changelogTopic(stage.name)];
    const existing = await existingTopics(admin, derived);
    for (const topic of derived) {
      const count = existing.get(topic);
      if (count !== undefined) {
        if (count < partitions) throw new Error(`${topic} has ${count} partitions but the inputs of stage ${stage.name} have ${partitions}: outputs of input partition P must go to partition P`);
        continue;
      }
      const configs = topic === changelogTopic(stage.name) ? [{ name: 'cleanup.policy', value: 'compact' }] : [];
      try {
        await admin.createTopics({ topics: [topic], partitions, replicas: 1, configs });
        log.info(`created ${topic} with ${partitions} partitions${configs.length ? ' (compacted)' : ''}`);
      } catch (err) {
        // Another worker of the stage may have created it at the same moment.
        if (!(await existingTopics(admin, [topic])).has(topic)) throw err;
      }
    }
    return inputs;
  } finally {
    await admin.close().catch(() => {});
  }
}

async function existingTopics(admin: Admin, topics: string[]): Promise<Map<string, number>> {
  const names = new Set(await admin.listTopics());
  const present = topics.filter((t) => names.has(t));
  const out = new Map<string, number>();
  if (present.length === 0) return out;
  const metadata = await admin.metadata({ topics: present, forceUpdate: true });
  for (const t of present) {
    const count = metadata.topics.get(t)?.partitionsCount;
    if (count) out.set(t, count);
  }
  return out;
}

async function waitForTopics(admin: Admin, topics: string[], log: StageTopicsLog): Promise<Map<string, number>> {
  for (let attempt = 0; ; attempt++) {
    const found = await existingTopics(admin, topics);
    if (found.size === topics.length) return found;
    if (attempt === 0) log.info(`waiting for input topics ${topics.filter((t) => !found.has(t)).join(', ')}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}
