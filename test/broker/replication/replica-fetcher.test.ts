// The follower's fetch loop against a real single-node broker as leader (its Fetch reads up to HW = LEO, which
// is what a leader serves a follower): the follower's log ends byte-identical to the leader's and tracks its
// HW; a divergent tail is truncated first; a follower below the leader's log start restarts at it; a leader
// restart mid-stream costs a reconnect, not a gap or a duplicate.
import t, { type Test } from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KafkaWireClient } from '../../../broker/client/kafka-wire-client.ts';
import { ReplicaFetcher, truncationPoint } from '../../../broker/replication/replica-fetcher.ts';
import { Broker } from '../../../broker/server/broker.ts';
import { defaultBrokerConfig } from '../../../broker/server/broker-config.ts';
import { createLogger, type Logger } from '../../../broker/server/logger.ts';
import { Log } from '../../../broker/storage/log.ts';
import { resolveLogConfig } from '../../../broker/storage/log-config.ts';
import { buildRecordBatch } from '../../../broker/protocol/record-batch/records.ts';
import { BATCH_LENGTH, LAST_OFFSET_DELTA, LOG_OVERHEAD, readInt64 } from '../../../broker/protocol/record-batch/batch-header.ts';
import type { DeleteRecordsResponse, FetchResponse, ProduceResponse } from '../../../broker/protocol/messages/index.ts';

// Small segments where rolling should be exercised; the default (1 GiB) where files must match one for one.
const SMALL_SEGMENTS = '16384';
const root = mkdtempSync(join(tmpdir(), 'tributary-fetcher-'));
const leaderDir = join(root, 'leader');
let broker = new Broker(defaultBrokerConfig({ dataDir: leaderDir, port: 0 }), createLogger('leader', true));
let admin: KafkaWireClient;

t.before(async () => {
  await broker.start();
  admin = await KafkaWireClient.connect('127.0.0.1', broker.port, { timeoutMs: 5000, clientId: 'admin' });
});
t.teardown(async () => {
  admin?.close();
  await broker.stop();
  rmSync(root, { recursive: true, force: true });
});

/** Records what the fetcher logs, so tests can count lines per state change. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`INFO ${m}`), warn: (m) => lines.push(`WARN ${m}`), error: (m) => lines.push(`ERROR ${m}`) };
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function createTopic(name: string, segmentBytes?: string): Promise<void> {
  const res = await admin.request<{ topics: { errorCode: number; errorMessage: string | null }[] }>(19, 7, {
    topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: segmentBytes ? [{ name: 'segment.bytes', value: segmentBytes }] : [] }],
    timeoutMs: 5000,
    validateOnly: false,
  }, 10_000);
  if (res.topics[0].errorCode !== 0) throw new Error(`create ${name}: ${res.topics[0].errorMessage}`);
}

let sequence = 0;
const batch = (records = 1) =>
  buildRecordBatch({ records: Array.from({ length: records }, () => ({ key: Buffer.from(`k${sequence}`), value: Buffer.from(`value-${sequence++}-${'x'.repeat(200)}`) })) });

async function produce(client: KafkaWireClient, topic: string, batches: number, recordsPerBatch = 1): Promise<void> {
  for (let i = 0; i < batches; i++) {
    const res = await client.request<ProduceResponse>(0, 9, {
      transactionalId: null, acks: -1, timeoutMs: 5000,
      topicData: [{ name: topic, partitionData: [{ index: 0, records: batch(recordsPerBatch) }] }],
    }, 10_000);
    const code = res.responses[0].partitionResponses[0].errorCode;
    if (code !== 0) throw new Error(`produce to ${topic} failed with ${code}`);
  }
}

/** The leader's log as a consumer sees it: end offset, HW and start, via a Fetch. */
async function leaderView(topic: string, fetchOffset: number): Promise<{ hw: number; logStart: number; records: Buffer }> {
  const res = await admin.request<FetchResponse>(1, 12, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 64 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 64 << 20 }] }],
    forgottenTopicsData: [], rackId: '',
  }, 10_000);
  const p = res.responses[0].partitions[0];
  if (p.errorCode !== 0) throw new Error(`leader fetch of ${topic} failed with ${p.errorCode}`);
  return { hw: p.highWatermark, logStart: p.logStartOffset ?? -1, records: Buffer.isBuffer(p.records) ? p.records : Buffer.concat((p.records ?? []) as Buffer[]) };
}

function followerLog(name: string, segmentBytes?: string): Log {
  const config = resolveLogConfig(segmentBytes ? { 'segment.bytes': segmentBytes } : {});
  return Log.open(join(root, 'followers', name), config, { replicated: true }).log;
}

function segmentFiles(dir: string): Map<string, Buffer> {
  return new Map(readdirSync(dir).filter((f) => f.endsWith('.log')).sort().map((f) => [f, readFileSync(join(dir, f))]));
}

/**
 * The follower holds exactly the leader's bytes: the segment files concatenated are identical, and with one
 * segment each so are the files. (Segment boundaries may differ: a follower rolls per fetched chunk, a leader
 * per produced batch, as in Kafka.)
 */
function assertSameLog(t: Test, topic: string, follower: Log): void {
  const leader = segmentFiles(join(leaderDir, 'topics', topic, '0'));
  const ours = segmentFiles(follower.dir);
  const all = (files: Map<string, Buffer>) => Buffer.concat([...files.values()]);
  t.ok(all(ours).equals(all(leader)), `${topic}: byte-identical logs (${all(leader).length} bytes in ${leader.size} leader segment(s), ${ours.size} here)`);
  if (leader.size === 1) t.same([...ours.keys()], [...leader.keys()], `${topic}: the same segment file`);
}

/** Offsets of every batch in order, checking each starts right after the previous one. */
function contiguousBatches(bytes: Buffer, from: number): number {
  let next = from;
  for (let pos = 0; pos < bytes.length; pos += LOG_OVERHEAD + bytes.readInt32BE(pos + BATCH_LENGTH)) {
    const base = readInt64(bytes, pos);
    if (base !== next) throw new Error(`batch at ${base}, expected ${next}`);
    next = base + bytes.readInt32BE(pos + LAST_OFFSET_DELTA) + 1;
  }
  return next;
}

function startFetcher(follow: { topic: string; log: Log; leaderEpoch?: number }[], logger: Logger = recordingLogger(), onAppended?: (topic: string, partition: number) => void): ReplicaFetcher {
  const fetcher = new ReplicaFetcher({
    selfId: 2,
    leaderId: 1,
    leaderAddress: () => ({ host: '127.0.0.1', port: broker.port }),
    log: logger,
    maxWaitMs: 200,
    onAppended,
  });
  for (const f of follow) fetcher.addPartition({ topic: f.topic, partition: 0, log: f.log, leaderEpoch: f.leaderEpoch ?? 0 });
  fetcher.start();
  return fetcher;
}

t.test('truncation point rules (KIP-279) on a real log', async (t) => {
  const log = followerLog('rules');
  t.teardown(() => log.close());
  log.append(batch(3), 0); // epoch 0: 0..2
  log.append(batch(3), 2); // epoch 2: 3..5
  log.setHighWatermark(4);
  t.same(truncationPoint(log, 2, { leaderEpoch: 2, endOffset: 4 }), { offset: 4, complete: true }, 'same epoch: the leader’s end');
  t.same(truncationPoint(log, 2, { leaderEpoch: 2, endOffset: 9 }), { offset: 6, complete: true }, 'same epoch, leader ahead: keep all');
  t.same(truncationPoint(log, 2, { leaderEpoch: 0, endOffset: 5 }), { offset: 3, complete: true }, 'a smaller epoch we know: its end here');
  t.same(truncationPoint(log, 2, { leaderEpoch: 0, endOffset: 2 }), { offset: 2, complete: true }, 'a smaller epoch we know: the leader’s end if lower');
  t.same(truncationPoint(log, 2, { leaderEpoch: 1, endOffset: 5 }), { offset: 3, complete: false }, 'an epoch we never saw: end of ours below it, then ask again');
  t.same(truncationPoint(log, 2, { leaderEpoch: -1, endOffset: -1 }), { offset: 4, complete: true }, 'undefined: the high watermark');
  const late = followerLog('rules-late');
  t.teardown(() => late.close());
  late.append(batch(4), 3);
  t.same(truncationPoint(late, 3, { leaderEpoch: 1, endOffset: 2 }), { offset: 2, complete: true }, 'no epoch that old here: the leader’s end');
});

t.test('the follower ends byte-identical to the leader and tracks its HW', async (t) => {
  await createTopic('copy');
  await produce(admin, 'copy', 40, 3);
  const log = followerLog('copy');
  const appended: string[] = [];
  const logger = recordingLogger();
  const fetcher = startFetcher([{ topic: 'copy', log }], logger, (topic, partition) => appended.push(`${topic}-${partition}`));
  t.teardown(async () => {
    await fetcher.stop();
    log.close();
  });
  t.equal(fetcher.partitionCount, 1);
  await waitFor('first catch-up', () => log.logEndOffset === 120 && log.highWatermark === 120);
  assertSameLog(t, 'copy', log);
  t.ok(appended.length > 0 && appended.every((x) => x === 'copy-0'), 'onAppended reports the partition');
  // Keep producing while it follows: it keeps up.
  await produce(admin, 'copy', 60, 2);
  const { hw } = await leaderView('copy', 0);
  t.equal(hw, 240);
  await waitFor('second catch-up', () => log.logEndOffset === 240 && log.highWatermark === 240);
  assertSameLog(t, 'copy', log);
  t.equal(log.latestEpoch(), 0, 'the leader’s epochs came with its batches');
  t.notOk(logger.lines.some((l) => l.startsWith('WARN')), 'nothing to warn about');
});

t.test('a divergent tail is truncated before fetching', async (t) => {
  await createTopic('diverge');
  await produce(admin, 'diverge', 5);
  const log = followerLog('diverge');
  t.teardown(() => log.close());
  let fetcher = startFetcher([{ topic: 'diverge', log }]);
  await waitFor('first copy', () => log.logEndOffset === 5 && log.highWatermark === 5);
  await fetcher.stop();

  // An extra tail in the leader's epoch that the leader never got: cut back to the leader's end of that epoch.
  for (let i = 0; i < 3; i++) log.append(batch(), 0);
  t.equal(log.logEndOffset, 8);
  let logger = recordingLogger();
  fetcher = startFetcher([{ topic: 'diverge', log }], logger);
  await waitFor('truncation to the leader’s end', () => log.logEndOffset === 5);
  t.ok(logger.lines.some((l) => /truncating from 8 to 5/.test(l)), 'the truncation is logged');
  await produce(admin, 'diverge', 5);
  await waitFor('catch-up after truncation', () => log.logEndOffset === 10 && log.highWatermark === 10);
  await fetcher.stop();
  assertSameLog(t, 'diverge', log);

  // A tail written in an epoch the leader does not know (an old leader's unreplicated writes) while the leader
  // moved on with other records at the same offsets: the leader has no end for that epoch, so back to our HW.
  for (let i = 0; i < 3; i++) log.append(batch(), 1);
  t.equal(log.latestEpoch(), 1);
  await produce(admin, 'diverge', 5);
  logger = recordingLogger();
  fetcher = startFetcher([{ topic: 'diverge', log }], logger);
  t.teardown(() => fetcher.stop());
  await waitFor('catch-up after the epoch tail is dropped', () => log.logEndOffset === 15 && log.highWatermark === 15);
  t.ok(logger.lines.some((l) => /truncating from 13 to 10/.test(l)), 'truncated to the high watermark');
  await fetcher.stop();
  assertSameLog(t, 'diverge', log);
  t.equal(log.latestEpoch(), 0);
});

t.test('a follower that finds itself ahead while fetching goes back to truncation', async (t) => {
  await createTopic('ahead');
  await produce(admin, 'ahead', 5);
  const log = followerLog('ahead');
  const logger = recordingLogger();
  const fetcher = startFetcher([{ topic: 'ahead', log }], logger);
  t.teardown(async () => {
    await fetcher.stop();
    log.close();
  });
  await waitFor('caught up', () => log.logEndOffset === 5 && log.highWatermark === 5);
  // Records the leader never had appear here (as after an unclean restart): the next fetch is out of range.
  for (let i = 0; i < 3; i++) log.append(batch(), 0);
  await waitFor('cut back to the leader’s end', () => log.logEndOffset === 5);
  t.ok(logger.lines.some((l) => /out of range on leader 1; truncating/.test(l)), 'out of range sends it back to truncation');
  await produce(admin, 'ahead', 3);
  await waitFor('caught up again', () => log.logEndOffset === 8 && log.highWatermark === 8);
  assertSameLog(t, 'ahead', log);
});

t.test('a follower below the leader’s log start restarts at it and follows it', async (t) => {
  await createTopic('deleted');
  await produce(admin, 'deleted', 10);
  const del = async (offset: number) => {
    const res = await admin.request<DeleteRecordsResponse>(21, 2, { topics: [{ name: 'deleted', partitions: [{ partitionIndex: 0, offset }] }], timeoutMs: 5000 }, 10_000);
    t.equal(res.topics[0].partitions[0].errorCode, 0);
    t.equal(res.topics[0].partitions[0].lowWatermark, offset);
  };
  await del(6);
  const log = followerLog('deleted');
  const logger = recordingLogger();
  const fetcher = startFetcher([{ topic: 'deleted', log }], logger);
  t.teardown(async () => {
    await fetcher.stop();
    log.close();
  });
  await waitFor('copy from the log start', () => log.logEndOffset === 10 && log.highWatermark === 10);
  t.equal(log.logStartOffset, 6);
  t.ok(logger.lines.some((l) => /restarting at its log start 6/.test(l)));
  const leader = await leaderView('deleted', 6);
  const ours = Buffer.concat(log.read(6, 64 << 20, true, log.logEndOffset).records);
  t.ok(ours.equals(leader.records), 'the same batches from the log start on');
  t.equal(contiguousBatches(ours, 6), 10);
  // The leader's log start moves again: the follower's follows once it is committed here.
  await produce(admin, 'deleted', 2);
  await del(11);
  await produce(admin, 'deleted', 1);
  await waitFor('log start followed', () => log.logEndOffset === 13 && log.logStartOffset === 11);
  t.pass('log start followed the leader');
});

t.test('a leader restart mid-stream: reconnect, resume, no gaps or duplicates', async (t) => {
  await createTopic('restart', SMALL_SEGMENTS);
  const log = followerLog('restart', SMALL_SEGMENTS);
  const logger = recordingLogger();
  const fetcher = startFetcher([{ topic: 'restart', log }], logger);
  t.teardown(async () => {
    await fetcher.stop();
    log.close();
  });

  // A producer that keeps going across the restart, reconnecting as a client would.
  let producing = true;
  let acked = 0;
  const producer = (async () => {
    let client: KafkaWireClient | null = null;
    while (producing) {
      try {
        client ??= await KafkaWireClient.connect('127.0.0.1', broker.port, { timeoutMs: 2000, clientId: 'producer' });
        await produce(client, 'restart', 1, 2);
        acked++;
      } catch {
        client?.close();
        client = null;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    client?.close();
  })();

  await waitFor('some replication before the restart', () => log.logEndOffset >= 40);
  const port = broker.port;
  await broker.stop();
  await waitFor('the fetcher notices', () => logger.lines.some((l) => l.startsWith('WARN')), 10_000);
  await new Promise((r) => setTimeout(r, 600)); // several reconnect attempts while the leader is down
  broker = new Broker(defaultBrokerConfig({ dataDir: leaderDir, port }), createLogger('leader', true));
  await broker.start();
  admin.close();
  admin = await KafkaWireClient.connect('127.0.0.1', broker.port, { timeoutMs: 5000, clientId: 'admin' });
  const ackedAtRestart = acked;
  await waitFor('production after the restart', () => acked >= ackedAtRestart + 20);
  producing = false;
  await producer;

  const { hw } = await leaderView('restart', 0);
  await waitFor('the follower catches up after the restart', () => log.logEndOffset === hw && log.highWatermark === hw);
  assertSameLog(t, 'restart', log);
  t.ok(log.segmentCount > 1, 'segments rolled on the follower too');
  t.equal(contiguousBatches(Buffer.concat(log.read(0, 256 << 20, true, log.logEndOffset).records), 0), hw, 'every offset once, in order');
  const warns = logger.lines.filter((l) => l.startsWith('WARN'));
  t.ok(warns.length >= 1 && warns.length <= 2, `one warning per state change, not per retry: ${JSON.stringify(warns)}`);
  t.ok(logger.lines.filter((l) => /fetching from leader 1 at/.test(l)).length >= 2, 'connected, then reconnected');
});

t.test('idle, add/remove and stop', async (t) => {
  let lookups = 0;
  const fetcher = new ReplicaFetcher({ selfId: 2, leaderId: 1, leaderAddress: () => (lookups++, null), log: recordingLogger() });
  fetcher.start();
  await new Promise((r) => setTimeout(r, 100));
  t.equal(fetcher.partitionCount, 0);
  t.equal(lookups, 0, 'idle: not even a connection attempt');
  await fetcher.stop();
  t.pass('an idle fetcher stops at once');

  // A leader that does not know the partition: retried soon (it may just be behind on metadata), reported once
  // it lasts.
  const logger = recordingLogger();
  const log = followerLog('stalled');
  log.append(batch(), 0);
  const stalled = startFetcher([{ topic: 'no-such-topic', log }], logger);
  await new Promise((r) => setTimeout(r, 4500));
  await stalled.stop();
  log.close();
  const stalls = logger.lines.filter((l) => /failed with error 3/.test(l));
  t.equal(stalls.length, 1, `logged once: ${JSON.stringify(logger.lines)}`);
  t.equal(stalled.partitionCount, 1);
  stalled.removePartition('no-such-topic', 0);
  t.equal(stalled.partitionCount, 0);
});
