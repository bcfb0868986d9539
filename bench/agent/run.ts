// `npm run bench:agent`: the host agent's cost. Writes log lines at fixed rates (default 1,000 and 20,000
// lines/s) into two files the agent tails and ships to a broker (both real processes), and samples the
// agent's CPU (from /proc/<pid>/stat) and RSS (/proc/<pid>/status) once a second after a warm-up.
// Flags: --rates 1000,20000  --seconds N (measured, default 30)  --warmup N (default 5)
//        --line-bytes N (default 200)  --parser none|json (default json)
import { parseArgs } from 'node:util';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBroker, removeDir, tempDir } from '../../test/helpers/broker-process.ts';
import { startAgent } from '../../test/helpers/agent-process.ts';
import { fmt, progress } from '../lib/stats.ts';
import { cpuSeconds, rssMiB } from '../lib/process-usage.ts';

const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '1000,20000' },
    seconds: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '5' },
    'line-bytes': { type: 'string', default: '200' },
    parser: { type: 'string', default: 'json' },
  },
});
const rates = values.rates.split(',').map(Number);
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);
const lineBytes = Number(values['line-bytes']);
function makeLine(i: number, parser: string): string {
  const base = parser === 'json'
    ? `{"time":"${new Date().toISOString()}","level":"info","msg":"request handled","request_id":${i},"path":"/api/orders/${i % 1000}","status":200,"pad":"`
    : `${new Date().toISOString()} INFO request handled id=${i} path=/api/orders/${i % 1000} status=200 pad=`;
  const tail = parser === 'json' ? '"}' : '';
  return base + 'x'.repeat(Math.max(0, lineBytes - base.length - tail.length - 1)) + tail + '\n';
}

interface Result {
  rate: number;
  achieved: number;
  cpuPercent: number;
  rssAvg: number;
  rssMax: number;
  shipped: number;
  written: number;
}

async function measure(rate: number): Promise<Result> {
  const dir = tempDir('bench-agent');
  const logs = join(dir, 'logs');
  mkdirSync(logs);
  const broker = await startBroker();
  const agent = await startAgent(dir, {
    brokers: [`127.0.0.1:${broker.port}`],
    state_dir: join(dir, 'state'),
    host_name: 'bench-host',
    files: [{ include: [join(logs, '*.log')], service: 'bench', ...(values.parser === 'json' ? { parser: { type: 'json' } } : {}) }],
  });
  const pid = agent.child.pid!;
  let written = 0;
  const tickMs = 50;
  const perTick = rate * (tickMs / 1000);
  const started = Date.now();
  let stopWriting = false;
  const writer = (async () => {
    let due = 0;
    while (!stopWriting) {
      due += perTick;
      let a = '';
      let b = '';
      for (; written < Math.floor(due); written++) {
        if (written % 2 === 0) a += makeLine(written, values.parser);
        else b += makeLine(written, values.parser);
      }
      if (a) appendFileSync(join(logs, 'a.log'), a);
      if (b) appendFileSync(join(logs, 'b.log'), b);
      const next = started + (due / perTick) * tickMs;
      await sleep(Math.max(0, next - Date.now()));
    }
  })();
  progress(`agent bench: ${fmt(rate)} lines/s, warming up ${warmup} s`);
  await sleep(warmup * 1000);
  const t0 = performance.now();
  const cpu0 = cpuSeconds(pid);
  const written0 = written;
  const rss: number[] = [];
  for (let s = 0; s < seconds; s++) {
    await sleep(1000);
    rss.push(rssMiB(pid));
    if ((s + 1) % 10 === 0) progress(`  ${s + 1}/${seconds} s, RSS ${fmt(rss.at(-1)!, 1)} MiB`);
  }
  const elapsed = (performance.now() - t0) / 1000;
  const cpuPercent = ((cpuSeconds(pid) - cpu0) / elapsed) * 100;
  const achieved = (written - written0) / elapsed;
  stopWriting = true;
  await writer;
  // Let the agent finish, so the figures describe an agent that keeps up.
  let shipped = 0;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    shipped = (await agent.metrics()).get('tributary_agent_records_shipped_total{topic="logs.raw"}') ?? 0;
    if (shipped >= written) break;
    await sleep(200);
  }
  await agent.stop();
  await broker.stop();
  removeDir(dir);
  removeDir(broker.dataDir);
  return { rate, achieved, cpuPercent, rssAvg: rss.reduce((a, b) => a + b, 0) / rss.length, rssMax: Math.max(...rss), shipped, written };
}

const results: Result[] = [];
for (const rate of rates) results.push(await measure(rate));
console.log(`\nHost agent, ${values.parser} lines of ${lineBytes} bytes into 2 files, ${seconds} s measured after ${warmup} s warm-up; ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}\n`);
console.log('| offered lines/s | written lines/s | agent CPU (% of one core) | RSS avg / max (MiB) | shipped / written |');
console.log('|---:|---:|---:|---:|---:|');
for (const r of results) {
  console.log(`| ${fmt(r.rate)} | ${fmt(r.achieved)} | ${fmt(r.cpuPercent, 1)} | ${fmt(r.rssAvg, 1)} / ${fmt(r.rssMax, 1)} | ${fmt(r.shipped)} / ${fmt(r.written)} |`);
}
