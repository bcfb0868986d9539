import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/cli-process.ts';
import { reapOnExit } from '../helpers/server-processes.ts';

const cli = join(repoRoot, 'bin/tributary.js');

function httpGet(url: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: body === undefined ? 'GET' : 'POST', agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url}`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function clickhouseCount(url: string, table: string): Promise<number> {
  const res = await httpGet(`${url}/`, `SELECT count() FROM ${table}`);
  if (res.status !== 200) throw new Error(`ClickHouse ${res.status}: ${res.body}`);
  return Number(res.body.trim());
}

/** The processes whose parent is `pid`, from /proc: the stack's components. */
function childrenOf(pid: number): { pid: number; cmdline: string }[] {
  const out: { pid: number; cmdline: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push({ pid: Number(entry), cmdline: readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ') });
    } catch {}
  }
  return out;
}

function stillRunning(p: { pid: number; cmdline: string }): boolean {
  try {
    return readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').replaceAll('\0', ' ') === p.cmdline;
  } catch {
    return false;
  }
}

interface UpRun {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function runUp(args: string[]): UpRun {
  const child = spawn(process.execPath, [cli, 'up', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  reapOnExit(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function waitForStack(run: UpRun, timeoutMs: number): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = /^stack: (.*)$/m.exec(run.output());
    if (m) return JSON.parse(m[1]);
    if (run.child.exitCode !== null) throw new Error(`up exited with ${run.child.exitCode} before the stack was ready:\n${run.output()}`);
    if (Date.now() > deadline) throw new Error(`no stack: line within ${timeoutMs} ms:\n${run.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function eventually<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** SIGTERM; resolves with the exit code, and how long the clean stop took. */
async function stopUp(run: UpRun): Promise<{ code: number | null; ms: number }> {
  const began = Date.now();
  run.child.kill('SIGTERM');
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 90_000);
  const code = await run.exited;
  clearTimeout(timer);
  return { code, ms: Date.now() - began };
}

t.test('bad flags: a clear message and exit code 2', async (t) => {
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'up', ...args], { encoding: 'utf8', timeout: 30_000 });
  const cases: [string[], RegExp][] = [
    [['--bogus'], /tributary up: Unknown option '--bogus'/],
    [['--ports', 'some'], /--ports expects auto or default, got 'some'/],
    [['--without', 'broker'], /--without: 'broker' cannot be left out \(optional: collector, agent, pipelines, dashboards\)/],
    [['--demo-error-burst', '30s:40s'], /--demo-error-burst needs --demo/],
    [['--demo', '--demo-error-burst', 'soon'], /--demo-error-burst expects AFTER:DURATION such as 30s:40s, got 'soon'/],
    [['--demo', '--demo-rate', 'fast'], /--demo-rate expects a number of records per second/],
    [['--dashboards-listen', 'localhost'], /--dashboards-listen expects HOST:PORT, got 'localhost'/],
    [['--webhook', 'ftp://x'], /--webhook expects an http:\/\/ or https:\/\/ URL such as http:\/\/127.0.0.1:8123, got 'ftp:\/\/x'/],
  ];
  for (const [args, message] of cases) {
    const res = run(...args);
    t.equal(res.status, 2, `${args.join(' ')}: exit code 2`);
    t.match(res.stderr, message);
    t.match(res.stderr, /Usage: tributary up/);
  }
  const help = run('--help');
  t.equal(help.status, 0);
  t.match(help.stdout, /--state-dir DIR/);
});

t.test('a port in use: a clear message naming it, exit code 1, nothing started', async (t) => {
  const state = mkdtempSync(join(tmpdir(), 'tributary-up-busy-'));
  t.teardown(() => rmSync(state, { recursive: true, force: true }));
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  t.teardown(() => holder.close());
  const port = (holder.address() as { port: number }).port;
  const res = spawnSync(process.execPath, [cli, 'up', '--state-dir', state, '--without', 'dashboards', '--dashboards-listen', `127.0.0.1:${port}`], { encoding: 'utf8', timeout: 30_000 });
  t.equal(res.status, 1);
  t.match(res.stderr, new RegExp(`tributary up: ports? .*${port} \\(dashboards\\).* already in use: stop what uses (it|them), or run with --ports auto`));
  t.notMatch(res.stdout, /ready on/);
  t.notOk(existsSync(join(state, 'up.pid')), 'no lock left behind');
});

t.test('up --demo: the whole stack, data in ClickHouse, a clean stop, and a second start that keeps the data', async (t) => {
  const state = mkdtempSync(join(tmpdir(), 'tributary-up-'));
  t.teardown(() => rmSync(state, { recursive: true, force: true }));

  const first = runUp(['--ports', 'auto', '--state-dir', state, '--demo']);
  const stack = await waitForStack(first, 150_000);
  const out = first.output();
  for (const name of ['clickhouse', 'prometheus', 'broker', 'collector', 'agent', 'pipelines', 'dashboards']) {
    t.match(out, new RegExp(`✓ ${name} ready on \\S+.* \\(\\d+\\.\\d s\\)`), `progress line for ${name}`);
  }
  // The progress lines come in start order.
  const order = [...out.matchAll(/✓ (\w+) ready/g)].map((m) => m[1]);
  t.same(order, ['clickhouse', 'prometheus', 'broker', 'collector', 'agent', 'pipelines', 'dashboards']);
  t.match(out, `Tributary is up: open ${stack.dashboards.url}`);
  t.notMatch(out, /INFO \[broker|INFO \[collector/, 'component output goes to the log files, not the terminal');
  t.match(readFileSync(join(state, 'logs', 'broker.log'), 'utf8'), /ready: node 1 listening on/);

  const metricsUrls: [string, string][] = [
    ['broker', stack.broker.metrics],
    ['collector', stack.collector.metrics],
    ['agent', stack.agent.metrics],
    ['pipelines', stack.pipelines.metrics],
    ['stack', stack.stack.metrics],
    ['dashboards', stack.dashboards.metrics],
  ];
  for (const [name, url] of metricsUrls) {
    const res = await httpGet(url);
    t.equal(res.status, 200, `${name} /metrics answers`);
    t.match(res.body, /# HELP /, `${name} /metrics is Prometheus text`);
  }
  t.equal((await httpGet(`${stack.clickhouse.url}/ping`)).body, 'Ok.\n');
  t.equal((await httpGet(`${stack.prometheus.url}/-/ready`)).status, 200);

  // Prometheus scrapes every component, with its job label.
  const jobs = await eventually('every scrape target up', 60_000, async () => {
    const targets = JSON.parse((await httpGet(`${stack.prometheus.url}/api/v1/targets`)).body).data.activeTargets as any[];
    const up = targets.filter((x) => x.health === 'up').map((x) => x.labels.job).sort();
    return up.length === targets.length ? up : undefined;
  });
  t.same(jobs, ['agent', 'broker', 'collector', 'dashboards', 'pipelines', 'prometheus', 'stack']);

  // Prometheus takes the Prometheus sink's remote writes, late ones included.
  const flags = JSON.parse((await httpGet(`${stack.prometheus.url}/api/v1/status/flags`)).body).data;
  t.equal(flags['web.enable-remote-write-receiver'], 'true');
  t.match(flags['storage.tsdb.path'], `${stack.stateDir}/prometheus/data`);
  t.match(JSON.parse((await httpGet(`${stack.prometheus.url}/api/v1/status/config`)).body).data.yaml, /out_of_order_time_window: 10m/);

  // A log file dropped into <state>/logs-in is shipped as service `local`.
  writeFileSync(join(stack.stateDir, 'logs-in', 'mine.log'), 'my own line, dropped in\n');

  // Demo logs go agent → broker → logs stage → ClickHouse sink; demo page views collector → … → ClickHouse.
  const logRows = await eventually('logs_enriched rows', 90_000, async () => {
    const n = await clickhouseCount(stack.clickhouse.url, 'logs_enriched');
    return n > 0 ? n : undefined;
  });
  t.ok(logRows > 0, `${logRows} rows in logs_enriched`);
  // The first batches may all come from one service: the sink loads what the stage has enriched so far.
  const services = await eventually('two demo services in logs_enriched', 60_000, async () => {
    const found = (await httpGet(`${stack.clickhouse.url}/`, "SELECT DISTINCT service FROM logs_enriched WHERE service != 'local' ORDER BY service")).body.trim().split('\n');
    return found.length >= 2 ? found : undefined;
  }).catch(() => [] as string[]);
  t.ok(services.length >= 2, `demo services in ClickHouse: ${services}`);
  const dropped = await eventually('the dropped-in line in ClickHouse', 60_000, async () => {
    const res = await httpGet(`${stack.clickhouse.url}/`, "SELECT body FROM logs_enriched WHERE service = 'local'");
    return res.body.includes('my own line, dropped in') ? res.body.trim() : undefined;
  });
  t.equal(dropped, 'my own line, dropped in');
  const views = await eventually('pageviews_enriched rows', 60_000, async () => {
    const n = await clickhouseCount(stack.clickhouse.url, 'pageviews_enriched');
    return n > 0 ? n : undefined;
  });
  t.ok(views > 0, `${views} rows in pageviews_enriched`);

  // One child process per component (up may have other helpers, such as esbuild's service that modules
  // it imports start, which are not components).
  // A second `up` on the same state directory is refused while the first runs.
  const twice = spawnSync(process.execPath, [cli, 'up', '--ports', 'auto', '--state-dir', state, '--without', 'dashboards'], { encoding: 'utf8', timeout: 30_000 });
  t.equal(twice.status, 1);
  t.match(twice.stderr, `another \`tributary up\` (pid ${first.child.pid}) is using ${stack.stateDir}`);

  const components = childrenOf(first.child.pid!).filter((c) => /clickhouse|prometheus|tributary\.js/.test(c.cmdline));
  const names = components.map((c) => /tributary\.js (\w+)/.exec(c.cmdline)?.[1] ?? /clickhouse|prometheus/.exec(c.cmdline)![0]).sort();
  t.same(names, [...order].sort(), 'one process per component');
  const rowsBeforeStop = await clickhouseCount(stack.clickhouse.url, 'logs_enriched');
  const stopped = await stopUp(first);
  t.equal(stopped.code, 0, 'SIGTERM: exit code 0');
  t.ok(stopped.ms < 60_000, `stopped in ${stopped.ms} ms`);
  const stopLines = [...first.output().matchAll(/■ (\w+) stopped/g)].map((m) => m[1]);
  t.same(stopLines, [...order].reverse(), 'stopped in reverse order');
  t.same(components.filter(stillRunning), [], 'no component left running');
  t.notOk(existsSync(join(state, 'up.pid')), 'the state directory is unlocked');

  // A second start on the same state directory finds the data of the first.
  const second = runUp(['--ports', 'auto', '--state-dir', state, '--without', 'dashboards']);
  const stack2 = await waitForStack(second, 150_000);
  t.ok((await clickhouseCount(stack2.clickhouse.url, 'logs_enriched')) >= rowsBeforeStop, 'the earlier logs_enriched rows are still there');
  t.ok((await clickhouseCount(stack2.clickhouse.url, 'pageviews_enriched')) >= views, 'and the page views');
  const again = await stopUp(second);
  t.equal(again.code, 0);
});

t.test('up --brokers 3: a replicated three-node cluster, scraped by Prometheus, stopped cleanly', async (t) => {
  const state = mkdtempSync(join(tmpdir(), 'tributary-up-cluster-'));
  t.teardown(() => rmSync(state, { recursive: true, force: true }));
  const run = runUp(['--ports', 'auto', '--state-dir', state, '--brokers', '3', '--without', 'collector,agent,pipelines,dashboards']);
  const stack = await waitForStack(run, 150_000);
  for (const name of ['broker-1', 'broker-2', 'broker-3']) t.match(run.output(), new RegExp(`✓ ${name} ready on 127\\.0\\.0\\.1:\\d+`), `progress line for ${name}`);
  const bootstrap: string = stack.broker.bootstrap;
  t.equal(bootstrap.split(',').length, 3, 'the bootstrap list names every broker');

  const md = spawnSync('kcat', ['-b', bootstrap, '-L', '-J'], { encoding: 'utf8', timeout: 30_000 });
  t.equal(md.status, 0, md.stderr);
  const metadata = JSON.parse(md.stdout);
  t.equal(metadata.brokers.length, 3, 'three brokers in Metadata');
  const raw = metadata.topics.filter((topic: any) => topic.topic.endsWith('.raw'));
  t.equal(raw.length, 3, 'the raw topics exist');
  for (const topic of raw) {
    for (const p of topic.partitions) t.equal(p.replicas.length, 3, `${topic.topic}-${p.partition} has three replicas`);
  }

  // Prometheus scrapes every broker under the one `broker` job.
  const brokersUp = await (async () => {
    for (let i = 0; i < 60; i++) {
      const res = JSON.parse((await httpGet(`${stack.prometheus.url}/api/v1/query?query=${encodeURIComponent('sum(up{job="broker"})')}`)).body);
      const n = Number(res.data.result[0]?.value[1] ?? 0);
      if (n === 3) return n;
      await new Promise((r) => setTimeout(r, 1000));
    }
    return -1;
  })();
  t.equal(brokersUp, 3, 'Prometheus scrapes three brokers');

  const stopped = await stopUp(run);
  t.equal(stopped.code, 0, 'SIGTERM: exit code 0');
  t.same([...run.output().matchAll(/■ (broker-\d) stopped/g)].map((m) => m[1]), ['broker-3', 'broker-2', 'broker-1'], 'brokers stop in reverse order');
});
