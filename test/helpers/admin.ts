import { Kafka, logLevel } from 'kafkajs';

/** Creates topics through the Kafka admin API (kafkajs), as a user's tooling would. */
export async function createTopics(port: number, topics: { topic: string; numPartitions: number; configEntries?: { name: string; value: string }[] }[]): Promise<void> {
  const kafka = new Kafka({ clientId: 'test-admin', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics, waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}
