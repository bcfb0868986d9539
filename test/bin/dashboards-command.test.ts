// `tributary dashboards` as users run it: bad flags are refused with a clear message and exit code 2; a good
// command line prints its ready line with the URL, serves there, and stops cleanly on SIGTERM.
import t from 'tap';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, startCli } from '../helpers/cli-process.ts';

const cli = join(repoRoot, 'bin/tributary.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'dashboards', ...args], { encoding: 'utf8', timeout: 30_000 });

t.test('--help names every option', async (t) => {
  const help = run('--help');
  t.equal(help.status, 0);
  for (const flag of ['--listen HOST:PORT', '--clickhouse URL', '--prometheus URL', '--brokers LIST', '--definitions DIR']) t.match(help.stdout, flag);
  t.match(spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' }).stdout, /dashboards\s+run the dashboards web app/);
});

t.test('bad flags: exit code 2, the reason and the help', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--bogus'], /Unknown option '--bogus'/],
    [['--listen', 'nope'], /--listen expects HOST:PORT, got 'nope'/],
    [['--listen', '127.0.0.1:70000'], /--listen: port must be 0-65535/],
    [['--clickhouse', 'localhost:8123'], /--clickhouse expects an http:\/\/ or https:\/\/ URL such as http:\/\/127.0.0.1:8123, got 'localhost:8123'/],
    [['--prometheus', 'not a url'], /--prometheus expects an http:\/\/ or https:\/\/ URL/],
    [['--brokers', '127.0.0.1'], /--brokers expects HOST:PORT, got '127.0.0.1'/],
    [['--definitions', '/no/such/dir'], /--definitions: '\/no\/such\/dir' is not a folder/],
    [['--listen'], /argument missing|requires an argument|--listen/],
    [['--rules', '/no/such/dir'], /--rules: '\/no\/such\/dir' is not a folder/],
    [['--webhook', 'http://127.0.0.1:9/hook'], /--webhook and --alertmanager need --rules/],
    [['--rules', '.', '--webhook', 'ftp://x'], /--webhook expects an http:\/\/ or https:\/\/ URL/],
  ];
  // Each run loads the whole CLI (about 2 s): run them side by side.
  const runAsync = (args: string[]) =>
    new Promise<{ status: number | null; stderr: string }>((resolve) => {
      execFile(process.execPath, [cli, 'dashboards', ...args], { encoding: 'utf8', timeout: 30_000 }, (err, _stdout, stderr) => resolve({ status: err ? ((err as { code?: number }).code ?? null) : 0, stderr }));
    });
  const results = await Promise.all(cases.map(([args]) => runAsync(args)));
  for (const [i, [args, message]] of cases.entries()) {
    const res = results[i];
    t.equal(res.status, 2, args.join(' '));
    t.match(res.stderr, message, args.join(' '));
    t.match(res.stderr, /Usage: tributary dashboards/, `${args.join(' ')}: with the help`);
  }
});

t.test('a bad dashboard file: exit code 1 naming the file and field', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-defs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'broken.yaml'), 'title: Broken\ndescription: x\npanels: []\n');
  const res = run('--listen', '127.0.0.1:0', '--definitions', dir);
  t.equal(res.status, 1);
  t.match(res.stderr, /bad dashboard definition: .*broken\.yaml: panels/);
});

t.test('a bad alert rule file: exit code 1 naming the file and field', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-rules-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'broken.yaml'), 'interval: 1m\nrules:\n  - name: NoExpr\n    kind: promql\n');
  const res = run('--listen', '127.0.0.1:0', '--rules', dir);
  t.equal(res.status, 1);
  t.match(res.stderr, /bad alert rule file: .*broken\.yaml/);
});

t.test('with --rules the alert scheduler runs in the same process: its rules at /api/alerts, its metrics at /metrics', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-rules-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // No Prometheus is configured, so the rule is evaluated and reported as failing, with the reason.
  writeFileSync(join(dir, 'up.yaml'), "interval: 1s\nrules:\n  - name: Down\n    kind: promql\n    expr: up\n    threshold: { op: '<', value: 1 }\n    for: 0s\n");
  const READY = /ready: dashboards on (http:\/\/127\.0\.0\.1:\d+\/)/;
  const proc = await startCli(['dashboards', '--listen', '127.0.0.1:0', '--brokers', '127.0.0.1:9', '--rules', dir, '--webhook', 'http://127.0.0.1:9/hook'], READY, 30_000);
  const url = READY.exec(proc.output())![1];
  let rule: { name: string; health: string; lastError: string | null } | undefined;
  for (let i = 0; i < 50 && rule?.health !== 'err'; i++) {
    const view = (await (await fetch(new URL('/api/alerts', url))).json()) as { rules: (typeof rule)[] };
    rule = view.rules.find((r) => r?.name === 'Down');
    await new Promise((r) => setTimeout(r, 200));
  }
  t.equal(rule?.health, 'err');
  t.match(rule?.lastError, /Prometheus/);
  t.match(await (await fetch(new URL('/metrics', url))).text(), /tributary_alert_group_evaluations_total\{group="up"\} \d+/);
  t.equal(await proc.stop(), 0, 'exit code 0 after SIGTERM');
});

t.test('ready line, serving, clean stop on SIGTERM', async (t) => {
  const READY = /ready: dashboards on (http:\/\/127\.0\.0\.1:\d+\/)/;
  const proc = await startCli(['dashboards', '--listen', '127.0.0.1:0', '--brokers', '127.0.0.1:9'], READY, 30_000);
  const url = READY.exec(proc.output())![1];
  const health = (await (await fetch(new URL('/health', url))).json()) as { status: string; dashboards: number };
  t.equal(health.status, 'ok');
  t.equal(health.dashboards, 4);
  const page = await fetch(url);
  t.equal(page.status, 200);
  t.equal(await proc.stop(), 0, 'exit code 0 after SIGTERM');
  t.match(proc.output(), /SIGTERM received, shutting down/);
  t.match(proc.output(), /stopped/);
});
