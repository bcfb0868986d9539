// The broker-to-broker client: typed requests on the generated codecs, pipelined on one socket and matched by
// correlation id; per-request timeouts; losing the connection rejects everything still waiting.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Socket } from 'node:net';
import { KafkaWireClient, KafkaConnectionError, KafkaRequestTimeoutError } from '../../../broker/client/kafka-wire-client.ts';
import { Broker } from '../../../broker/server/broker.ts';
import { defaultBrokerConfig } from '../../../broker/server/broker-config.ts';
import { createLogger } from '../../../broker/server/logger.ts';
import type { ApiVersionsResponse, CreateTopicsResponse, FetchResponse, MetadataResponse } from '../../../broker/protocol/messages/index.ts';

const opts = { timeoutMs: 5000, clientId: 'wire-test' };

const dataDir = mkdtempSync(join(tmpdir(), 'tributary-wire-'));
const broker = new Broker(defaultBrokerConfig({ dataDir, port: 0 }), createLogger('wire-test', true));
t.before(async () => {
  await broker.start();
});
t.teardown(async () => {
  await broker.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

t.test('typed requests against a real broker, pipelined on one socket', async (t) => {
  const c = await KafkaWireClient.connect('127.0.0.1', broker.port, opts);
  t.teardown(() => c.close());
  const versions = await c.request<ApiVersionsResponse>(18, 3, { clientSoftwareName: 'wire', clientSoftwareVersion: '1' }, 5000);
  t.equal(versions.errorCode, 0);
  t.ok(versions.apiKeys.some((k) => k.apiKey === 1), 'Fetch advertised');

  const created = await c.request<CreateTopicsResponse>(19, 7, {
    topics: [{ name: 'wire', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 5000,
    validateOnly: false,
  }, 5000);
  t.equal(created.topics[0].errorCode, 0);

  // Mixed APIs and versions in flight at once: each answer decoded with its own request's codec.
  const metadata = () => c.request<MetadataResponse>(3, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false }, 5000);
  const apiVersions = (v: number) => c.request<ApiVersionsResponse>(18, v, { clientSoftwareName: 'wire', clientSoftwareVersion: '1' }, 5000);
  const results = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? metadata() : apiVersions(i % 2 === 0 ? 0 : 3))));
  results.forEach((r, i) => {
    if (i % 3 === 0) t.ok((r as MetadataResponse).topics.some((x) => x.name === 'wire'), `metadata ${i}`);
    else t.ok((r as ApiVersionsResponse).apiKeys.length > 10, `api versions ${i}`);
  });
  t.equal(c.pendingRequests, 0);
});

t.test('a request that outlives its timeout is rejected; the client keeps working', async (t) => {
  const c = await KafkaWireClient.connect('127.0.0.1', broker.port, opts);
  t.teardown(() => c.close());
  // A long-poll fetch on an empty partition parks for maxWaitMs: longer than this request may take.
  const parked = c.request<FetchResponse>(1, 12, {
    replicaId: -1, maxWaitMs: 2000, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: 'wire', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [], rackId: '',
  }, 100);
  await t.rejects(parked, KafkaRequestTimeoutError);
  t.notOk(c.closed);
  const later = await c.request<ApiVersionsResponse>(18, 3, { clientSoftwareName: 'wire', clientSoftwareVersion: '1' }, 10_000);
  t.equal(later.errorCode, 0, 'a later request still answers (the late fetch answer is dropped)');
});

t.test('connection loss rejects every pending request', async (t) => {
  const sockets: Socket[] = [];
  const silent = createServer((s) => {
    sockets.push(s);
    s.on('data', () => {});
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => silent.close(() => resolve())));
  const port = (silent.address() as { port: number }).port;
  const c = await KafkaWireClient.connect('127.0.0.1', port, opts);
  let closedWith = null as Error | null;
  c.onClose((err) => (closedWith = err));
  const pending = [1, 2, 3].map(() => c.request(18, 3, { clientSoftwareName: 'wire', clientSoftwareVersion: '1' }, 30_000));
  for (let i = 0; i < 200 && sockets.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(c.pendingRequests, 3);
  sockets[0].destroy();
  for (const p of pending) await t.rejects(p, KafkaConnectionError);
  t.ok(c.closed);
  t.ok(closedWith instanceof KafkaConnectionError, 'close listeners hear why');
  await t.rejects(c.request(18, 3, {}, 1000), KafkaConnectionError, 'a closed client refuses new requests');
  t.equal(c.pendingRequests, 0);
});

t.test('close() rejects pending requests; connecting to nothing fails', async (t) => {
  const c = await KafkaWireClient.connect('127.0.0.1', broker.port, opts);
  const parked = c.request(1, 12, {
    replicaId: -1, maxWaitMs: 5000, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: 'wire', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [], rackId: '',
  }, 30_000);
  c.close();
  await t.rejects(parked, KafkaConnectionError);
  t.ok(c.closed);

  const unused = createServer();
  await new Promise<void>((resolve) => unused.listen(0, '127.0.0.1', resolve));
  const port = (unused.address() as { port: number }).port;
  await new Promise<void>((resolve) => unused.close(() => resolve()));
  await t.rejects(KafkaWireClient.connect('127.0.0.1', port, opts), KafkaConnectionError);
});
