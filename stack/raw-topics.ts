// The raw topics exist before anything reads them: the pipeline stages wait for their input topics, and
// without the demo (or before the first page view) nothing would create logs.raw or pageviews.raw.
import { Admin } from '@platformatic/kafka';
import { RAW_TOPICS } from '../agents/events/topics.ts';

/** Partitions of each raw topic when first created: room for a few pipelines processes side by side. */
export const RAW_TOPIC_PARTITIONS = 3;

/** Creates the raw topics that do not exist yet; returns the names it created. */
export async function ensureRawTopics(bootstrap: string): Promise<string[]> {
  const admin = new Admin({ clientId: 'tributary-up', bootstrapBrokers: [bootstrap], retries: 3, retryDelay: 200 });
  try {
    const existing = new Set(await admin.listTopics());
    const missing = Object.keys(RAW_TOPICS).filter((t) => !existing.has(t));
    if (missing.length > 0) await admin.createTopics({ topics: missing, partitions: RAW_TOPIC_PARTITIONS, replicas: 1 });
    return missing;
  } finally {
    await admin.close().catch(() => {});
  }
}
