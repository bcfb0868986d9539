// Kill -9 a stage worker at random points while it processes 50,000 records, restart it each time, and
// compare its derived topics with those of an uninterrupted run of the same stage over the same input:
// the same records, none twice, none missing. Set TRIBUTARY_TEST_SEED to replay a run.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { runStage } from '../../../pipelines/runtime/stage-worker.ts';
import { startBroker, removeDir } from '../../helpers/broker-process.ts';
import { createTopics } from '../../helpers/admin.ts';
import { reapOnExit } from '../../helpers/server-processes.ts';
import { countingStage, makeInput } from './fixtures/counting-stage.ts';
import { produceInput, readTopic, sumPositions, waitFor, type TopicRow } from './fixtures/stage-io.ts';

const PARTITIONS = 3;
const RECORDS = 50_000;
const script = join(import.meta.dirname, 'fixtures/run-counting-stage.ts');

const seed = Number(process.env.TRIBUTARY_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
t.comment(`seed ${seed} (TRIBUTARY_TEST_SEED=${seed} replays this run)`);
let state = seed;
const rand = () => {
  state = (Math.imul(state, 1103515245) + 12345) >>> 0;
  return state / 2 ** 32;
};

interface Child {
  process: ChildProcess;
  positions: Map<string, number>;
  log: string;
  exited: Promise<number | null>;
}

function startChild(port: number, batch: number): Child {
  const child = spawn(process.execPath, [script, `127.0.0.1:${port}`, 'crashy', 'crash.in', 'crashy', String(batch)], { stdio: ['ignore', 'pipe', 'pipe'] });
  reapOnExit(child);
  const c: Child = { process: child, positions: new Map(), log: '', exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
  let buffered = '';
  child.stdout!.on('data', (d: Buffer) => {
    buffered += d;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) if (line.startsWith('positions ')) c.positions = new Map(Object.entries(JSON.parse(line.slice(10)) as Record<string, number>));
  });
  child.stderr!.on('data', (d: Buffer) => (c.log += d));
  return c;
}

/** Multiset of `key<TAB>value` (plus the error reason for dead letters) and the duplicates within it. */
function contents(rows: TopicRow[]): { counts: Map<string, number>; duplicates: number } {
  const counts = new Map<string, number>();
  let duplicates = 0;
  for (const r of rows) {
    const id = `${r.partition}\t${r.key}\t${r.value}\t${r.headers['tributary.error'] ?? ''}`;
    const n = (counts.get(id) ?? 0) + 1;
    if (n > 1) duplicates++;
    counts.set(id, n);
  }
  return { counts, duplicates };
}

t.test('kill -9 during processing: the derived topics equal an uninterrupted run', async (t) => {
  const broker = await startBroker({ args: ['--group-initial-rebalance-delay-ms', '0', '--log-cleaner-interval-ms', '1000'] });
  t.teardown(async () => {
    await broker.stop();
    removeDir(broker.dataDir);
  });
  await createTopics(broker.port, [{ topic: 'crash.in', numPartitions: PARTITIONS }]);
  await produceInput(broker.port, 'crash.in', makeInput(RECORDS, PARTITIONS, seed));

  const reference = await runStage(countingStage('reference', 'crash.in', 'reference'), { brokers: [`127.0.0.1:${broker.port}`], log: { info: () => {}, warn: () => {} } });
  await waitFor('the reference run', 60_000, () => sumPositions(reference.positions()) === RECORDS);
  await reference.stop();

  const kills = 3 + Math.floor(rand() * 3);
  let dedupes = 0;
  for (let k = 0; k <= kills; k++) {
    // Batch sizes differ between runs: the output must not depend on where batches end.
    const batch = [50, 200, 1000][Math.floor(rand() * 3)];
    const child = startChild(broker.port, batch);
    t.teardown(() => void child.process.kill('SIGKILL'));
    if (k < kills) {
      await waitFor(`run ${k} to own its partitions`, 30_000, () => child.positions.size === PARTITIONS || child.process.exitCode !== null);
      // Anywhere from during the restore to deep into processing.
      const delay = Math.floor(rand() * 1500);
      await new Promise((r) => setTimeout(r, delay));
      const before = sumPositions(child.positions);
      child.process.kill('SIGKILL');
      await child.exited;
      t.comment(`run ${k}: batch ${batch}, killed after ${delay} ms at about ${before}/${RECORDS} input records`);
    } else {
      await waitFor('the last run to process everything', 60_000, () => sumPositions(child.positions) === RECORDS);
      child.process.kill('SIGTERM');
      t.equal(await child.exited, 0, 'the last run stops cleanly');
    }
    dedupes += (child.log.match(/will not be written again/g) ?? []).length;
    if (/WARN/.test(child.log)) t.comment(child.log.split('\n').filter((l) => l.startsWith('WARN')).join('\n'));
  }
  t.comment(`${kills} kills; ${dedupes} restores found outputs written after the last checkpoint and skipped them`);

  for (const [ours, theirs] of [
    ['crashy.copies', 'reference.copies'],
    ['crashy.counts', 'reference.counts'],
    ['crashy.dlq', 'reference.dlq'],
  ]) {
    const [got, want] = await Promise.all([readTopic(broker.port, ours), readTopic(broker.port, theirs)]);
    const g = contents(got);
    const w = contents(want);
    t.equal(g.duplicates, 0, `${ours}: no duplicates`);
    const missing = [...w.counts].filter(([id, n]) => (g.counts.get(id) ?? 0) < n).length;
    const extra = [...g.counts].filter(([id, n]) => (w.counts.get(id) ?? 0) < n).length;
    t.equal(missing, 0, `${ours}: nothing missing`);
    t.equal(extra, 0, `${ours}: nothing extra`);
    t.equal(got.length, want.length, `${ours}: ${got.length} records, as many as the uninterrupted run`);
  }
});
