// The stream runtime against a real broker: one worker turns a 3-partition input into co-partitioned
// derived topics, dead letters and metrics exactly as a plain in-memory run of the stage would; two
// workers share the partitions and, when one stops, the other takes over its partitions and state
// and the output is still exactly that of an uninterrupted run.
import t, { type Test } from 'tap';
import { Registry } from 'prom-client';
import { runStage, type StageWorker } from '../../../pipelines/runtime/stage-worker.ts';
import { startBroker, removeDir, type BrokerProcess } from '../../helpers/broker-process.ts';
import { createTopics } from '../../helpers/admin.ts';
import { countingStage, makeInput } from './fixtures/counting-stage.ts';
import { byPartition, modelOutputs, produceInput, readTopic, sumPositions, waitFor, type InputRow } from './fixtures/stage-io.ts';

const PARTITIONS = 3;
const quiet = { info: () => {}, warn: (m: string) => process.stderr.write(`${m}\n`) };

let broker: BrokerProcess;
t.before(async () => {
  broker = await startBroker({ args: ['--group-initial-rebalance-delay-ms', '0'] });
});
t.teardown(async () => {
  await broker.stop();
  removeDir(broker.dataDir);
});
const brokers = () => [`127.0.0.1:${broker.port}`];

async function compareWithModel(t: Test, stageName: string, input: string, prefix: string, rows: InputRow[]): Promise<void> {
  const stage = countingStage(stageName, input, prefix);
  const expected = modelOutputs(stage, `${stageName}.dlq`, rows, PARTITIONS);
  for (const [topic, perPartition] of expected) {
    const got = await readTopic(broker.port, topic);
    t.same(byPartition(got, PARTITIONS), perPartition, `${topic}: every partition holds exactly the model's records, in order`);
    t.ok(
      got.every((r) => r.headers['tributary.src'] === `${input}/${r.partition}` && /^\d+$/.test(r.headers['tributary.src_offset'] ?? '')),
      `${topic}: records carry their source partition (the same number) and offset`,
    );
  }
}

t.test('one worker: derived topics, dead letters and metrics', async (t) => {
  const input = 'basic.in';
  await createTopics(broker.port, [{ topic: input, numPartitions: PARTITIONS }]);
  const rows = makeInput(6000, PARTITIONS, 7);
  await produceInput(broker.port, input, rows);
  const registry = new Registry();
  const worker = await runStage(countingStage('basic', input, 'basic'), { brokers: brokers(), registry, log: quiet, batchMaxRecords: 500 });
  t.teardown(() => worker.stop());
  t.equal(worker.registry, registry, 'metrics go to the registry passed in');
  await waitFor('all input processed', 30_000, () => sumPositions(worker.positions()) === rows.length);

  await compareWithModel(t, 'basic', input, 'basic', rows);
  const dlq = await readTopic(broker.port, 'basic.dlq');
  const reasons = dlq.map((r) => r.headers['tributary.error']);
  const bad = reasons.filter((r) => r === 'value is not JSON' || r === 'value needs a string k and a numeric t').length;
  const late = reasons.filter((r) => r?.startsWith('late: ')).length;
  t.ok(bad > 0 && late > 0 && bad + late === dlq.length, `dead letters carry their reason (${bad} bad, ${late} late)`);
  const changelog = await readTopic(broker.port, 'basic.changelog');
  t.same([...new Set(changelog.map((r) => `${r.partition}:${r.key}`))].sort(), ['0:basic.in/0', '1:basic.in/1', '2:basic.in/2'], 'checkpoints are keyed by input partition, in the same partition');

  const text = await registry.metrics();
  const value = (line: string) => Number(text.split('\n').find((l) => l.startsWith(line))?.split(' ').pop());
  t.equal(value('tributary_stage_records_in_total{stage="basic",topic="basic.in"}'), rows.length, 'records in');
  t.equal(value('tributary_stage_records_out_total{stage="basic",topic="basic.dlq"}'), dlq.length, 'records out to the dead-letter topic');
  t.equal(value('tributary_stage_dead_lettered_total{stage="basic",topic="basic.in"}'), bad, 'dead-lettered count');
  t.equal(value('tributary_stage_late_total{stage="basic",topic="basic.in"}'), late, 'late count');
  for (let p = 0; p < PARTITIONS; p++) {
    t.equal(value(`tributary_stage_consumer_lag{stage="basic",topic="basic.in",partition="${p}"}`), 0, `lag of partition ${p}`);
    t.ok(value(`tributary_stage_watermark_delay_seconds{stage="basic",topic="basic.in",partition="${p}"}`) > 0, `watermark delay of partition ${p}`);
  }
  t.ok(value('tributary_stage_processing_seconds_count{stage="basic"}') > 0, 'processing time histogram');
});

t.test('two workers share partitions; stopping one moves its partitions and state to the other', async (t) => {
  const input = 'shared.in';
  await createTopics(broker.port, [{ topic: input, numPartitions: PARTITIONS }]);
  const rows = makeInput(12_000, PARTITIONS, 11);
  // Each step's rows, in input order per partition: the model sees the same sequence.
  const steps = [rows.slice(0, 4000), rows.slice(4000, 8000), rows.slice(8000)];
  const options = { brokers: brokers(), log: quiet, batchMaxRecords: 300, sessionTimeoutMs: 6000 };
  await produceInput(broker.port, input, steps[0]);
  const a: StageWorker = await runStage(countingStage('shared', input, 'shared'), { ...options, clientId: 'worker-a' });
  let aStopped = false;
  t.teardown(() => (aStopped ? undefined : a.stop()));
  await waitFor('worker a to process the first rows', 30_000, () => sumPositions(a.positions()) === 4000);

  // b joins while a is busy with more input: a must finish its batch before the partitions move.
  await produceInput(broker.port, input, steps[1]);
  const b = await runStage(countingStage('shared', input, 'shared'), { ...options, clientId: 'worker-b' });
  let bStopped = false;
  t.teardown(() => (bStopped ? undefined : b.stop()));
  await waitFor('both workers to own partitions', 30_000, () => a.positions().size > 0 && b.positions().size > 0 && a.positions().size + b.positions().size === PARTITIONS);
  t.pass(`a owns ${[...a.positions().keys()].join(', ')}; b owns ${[...b.positions().keys()].join(', ')}`);
  await waitFor('both workers to process the second rows', 30_000, () => sumPositions(a.positions(), b.positions()) === 8000);

  // b stops while busy too: it finishes its batch, checkpoints and leaves; a restores b's partitions.
  await produceInput(broker.port, input, steps[2]);
  await b.stop();
  bStopped = true;
  await waitFor('a to own every partition again', 30_000, () => a.positions().size === PARTITIONS);
  await waitFor('a to process everything', 30_000, () => sumPositions(a.positions()) === rows.length);
  await a.stop();
  aStopped = true;
  await compareWithModel(t, 'shared', input, 'shared', rows);
});
