// `npm run bench:pipelines`: end to end from logs.raw to rows in ClickHouse, through `tributary pipelines`
// (all stages and the ClickHouse sink, one process), with the broker and ClickHouse 18.16 as real processes.
// (1) throughput: N log records already in logs.raw, time until all are rows in logs_enriched;
// (2) freshness at a fixed offered load: per record, from the broker's acknowledgement of the append to the
//     first poll (every 50 ms) that finds its row in ClickHouse.
// Flags: --records N (default 500000), --rate N (records/s for freshness, default 10000), --seconds N (30),
//        --split (stages and sink as two processes)
import { parseArgs } from 'node:util';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Producer, ProduceAcks, type MessageToProduce } from '@platformatic/kafka';
import { startBroker, removeDir } from '../../test/helpers/broker-process.ts';
import { startClickHouse } from '../../test/helpers/clickhouse.ts';
import { startCli } from '../../test/helpers/cli-process.ts';
import { fmt, percentile, progress } from '../lib/stats.ts';

const { values } = parseArgs({ options: { records: { type: 'string', default: '500000' }, rate: { type: 'string', default: '10000' }, seconds: { type: 'string', default: '30' }, split: { type: 'boolean', default: false } } });
const total = Number(values.records);
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const PARTITIONS = 3;

function logRecord(i: number, prefix: string): Buffer {
  return Buffer.from(JSON.stringify({ timestamp: Date.now(), severityText: i % 10 === 0 ? 'error' : 'info', body: `${prefix}${i}`, attributes: { 'http.route': `/api/orders/${i % 100}`, 'http.status_code': 200 }, resource: { 'service.name': `svc-${i % 8}`, 'host.name': `host-${i % 12}` } }));
}

async function measure(): Promise<void> {
  const broker = await startBroker({ args: ['--num-partitions', String(PARTITIONS)] });
  const clickhouse = await startClickHouse();
  const brokers = `127.0.0.1:${broker.port}`;
  const producer = new Producer({ clientId: 'bench-pipelines', bootstrapBrokers: [brokers], idempotent: true, acks: ProduceAcks.ALL, autocreateTopics: true });
  const count = async () => Number((await clickhouse.query('SELECT count() FROM logs_enriched').catch(() => '0')).trim());
  try {
    // Every stage's input must exist before `tributary pipelines` is ready.
    await producer.send({ messages: [
      { topic: 'metrics.raw', key: Buffer.from('h'), value: Buffer.from(JSON.stringify({ timestamp: Date.now(), name: 'x', type: 'gauge', value: 1, resource: { 'host.name': 'h' } })) },
      { topic: 'pageviews.raw', key: Buffer.from('s'), value: Buffer.from(JSON.stringify({ timestamp: Date.now(), site: 's', url: 'https://s/', path: '/' })) },
    ] });
    progress(`pipelines bench: loading ${fmt(total)} records into logs.raw`);
    for (let start = 0; start < total; start += 10_000) {
      const messages: MessageToProduce<Buffer, Buffer, Buffer, Buffer>[] = [];
      for (let i = start; i < Math.min(total, start + 10_000); i++) messages.push({ topic: 'logs.raw', partition: i % PARTITIONS, key: Buffer.from(`host-${i % 12}`), value: logRecord(i, 't') });
      await producer.send({ messages });
    }
    // --split: stages and the ClickHouse sink in two processes (two cores) instead of one.
    const processes = values.split
      ? [
          await startCli(['pipelines', '--brokers', brokers, '--metrics-listen', '127.0.0.1:0'], /ready: stages/),
          await startCli(['pipelines', '--brokers', brokers, '--stages', 'none', '--clickhouse', clickhouse.url, '--metrics-listen', '127.0.0.1:0'], /ready: stages/),
        ]
      : [await startCli(['pipelines', '--brokers', brokers, '--clickhouse', clickhouse.url, '--metrics-listen', '127.0.0.1:0'], /ready: stages/)];
    const t0 = performance.now();
    let loaded = 0;
    let lastReport = 0;
    while (loaded < total) {
      await sleep(100);
      loaded = await count();
      if (performance.now() - lastReport > 5000) {
        progress(`  ${fmt(loaded)} / ${fmt(total)} rows`);
        lastReport = performance.now();
      }
    }
    const throughputSeconds = (performance.now() - t0) / 1000;

    progress(`pipelines bench: freshness at ${fmt(rate)} records/s for ${seconds} s`);
    const ackedAt = new Map<number, number>();
    const visibleAfter: number[] = [];
    const next = new Array(PARTITIONS).fill(0);
    const offsets = (await clickhouse.query('SELECT _partition, max(_offset) + 1 FROM logs_enriched GROUP BY _partition FORMAT TSV')).trim().split('\n');
    for (const line of offsets) {
      const [p, o] = line.split('\t').map(Number);
      next[p] = o;
    }
    let stop = false;
    let stopAt = 0;
    const poller = (async () => {
      while (!stop || visibleAfter.length < ackedAt.size) {
        const where = next.map((o, p) => `(_partition = ${p} AND _offset >= ${o})`).join(' OR ');
        const rows = (await clickhouse.query(`SELECT _partition, _offset, body FROM logs_enriched WHERE ${where} FORMAT TSV`)).trim();
        const now = performance.now();
        if (rows) {
          for (const line of rows.split('\n')) {
            const [p, o, body] = line.split('\t');
            next[Number(p)] = Math.max(next[Number(p)], Number(o) + 1);
            const acked = ackedAt.get(Number(body.slice(1)));
            if (acked !== undefined) visibleAfter.push(now - acked);
          }
        }
        if (stop && performance.now() - stopAt > 30_000) break;
        await sleep(50);
      }
    })();
    const tickMs = 20;
    const started = performance.now();
    let sent = 0;
    while (performance.now() - started < seconds * 1000) {
      const due = Math.floor(((performance.now() - started) / 1000) * rate);
      if (due > sent) {
        const messages: MessageToProduce<Buffer, Buffer, Buffer, Buffer>[] = [];
        const ids: number[] = [];
        for (; sent < due; sent++) {
          messages.push({ topic: 'logs.raw', partition: sent % PARTITIONS, key: Buffer.from(`host-${sent % 12}`), value: logRecord(sent, 'f') });
          ids.push(sent);
        }
        await producer.send({ messages });
        const now = performance.now();
        for (const id of ids) ackedAt.set(id, now);
      }
      await sleep(Math.max(1, tickMs - ((performance.now() - started) % tickMs)));
    }
    stop = true;
    stopAt = performance.now();
    await poller;
    for (const p of processes) await p.stop();
    console.log(`\nPipelines end to end: logs.raw → logs stage → logs.enriched → ClickHouse sink → ClickHouse 18.16 (plus the rollup, metrics and page-view stages running); ${values.split ? 'stages and sink in two processes' : 'one process'}; ${PARTITIONS} partitions; ${os.cpus().length} cores, Node ${process.version}\n`);
    console.log('| measure | result |');
    console.log('|---|---:|');
    console.log(`| throughput, ${fmt(total)} records already in logs.raw | ${fmt(total / throughputSeconds)} records/s (${fmt(throughputSeconds, 1)} s) |`);
    console.log(`| freshness at ${fmt(rate)} records/s, p50 / p99 / max | ${fmt(percentile(visibleAfter, 50))} / ${fmt(percentile(visibleAfter, 99))} / ${fmt(visibleAfter.reduce((a, b) => Math.max(a, b), 0))} ms |`);
    console.log(`| freshness sample | ${fmt(visibleAfter.length)} of ${fmt(ackedAt.size)} records seen |`);
  } finally {
    await producer.close();
    await broker.stop();
    removeDir(broker.dataDir);
    await clickhouse.stop();
  }
}

await measure();
