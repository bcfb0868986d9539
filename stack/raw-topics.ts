// The raw topics exist before anything reads them: the pipeline stages wait for their input topics, and
// without the demo (or before the first page view) nothing would create logs.raw or pageviews.raw.
import { Admin } from '@platformatic/kafka';
import { RAW_TOPICS } from '../agents/events/topics.ts';

/** Partitions of each raw topic when first created: room for a few pipelines processes side by side. */
export const RAW_TOPIC_PARTITIONS = 3;

/**
 * Creates the raw topics that do not exist yet; returns the names it created. With `brokers` > 1 it first waits
 * until that many brokers are up, so the topics get their full replication factor.
 */
export async function ensureRawTopics(bootstrap: string, brokers = 1): Promise<string[]> {
  const admin = new Admin({ clientId: 'tributary-up', bootstrapBrokers: bootstrap.split(','), retries: 10, retryDelay: 300 });
  try {
    const deadline = Date.now() + 60_000;
    while ((await admin.metadata({ topics: [], forceUpdate: true })).brokers.size < brokers) {
      if (Date.now() > deadline) throw new Error(`only some of the ${brokers} brokers joined the cluster within 60 s`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const existing = new Set(await admin.listTopics());
    const missing = Object.keys(RAW_TOPICS).filter((t) => !existing.has(t));
    // -1: the broker's default replication factor (1 on a single broker, up to 3 in a cluster).
    if (missing.length > 0) await admin.createTopics({ topics: missing, partitions: RAW_TOPIC_PARTITIONS, replicas: -1 });
    return missing;
  } finally {
    await admin.close().catch(() => {});
  }
}
