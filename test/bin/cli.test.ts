import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/broker-process.ts';

const cli = join(repoRoot, 'bin/tributary.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 30_000 });

t.test('--help lists commands and each command has its own --help', async (t) => {
  const top = run('--help');
  t.equal(top.status, 0);
  t.match(top.stdout, /broker\s+run a Kafka-protocol broker/);
  const broker = run('broker', '--help');
  t.equal(broker.status, 0);
  t.match(broker.stdout, /--node-id N/);
  t.match(broker.stdout, /--data-dir DIR/);
});

t.test('bad flags get a clear message and exit code 2', async (t) => {
  const unknown = run('broker', '--node-id', '1', '--data-dir', '/tmp/x', '--bogus');
  t.equal(unknown.status, 2);
  t.match(unknown.stderr, /Unknown option '--bogus'/);
  const missing = run('broker', '--node-id', '1');
  t.equal(missing.status, 2);
  t.match(missing.stderr, /--data-dir is required/);
  const badListen = run('broker', '--node-id', '1', '--data-dir', '/tmp/x', '--listen', 'nope');
  t.equal(badListen.status, 2);
  t.match(badListen.stderr, /--listen expects HOST:PORT, got 'nope'/);
  const badId = run('broker', '--node-id', 'one', '--data-dir', '/tmp/x');
  t.equal(badId.status, 2);
  t.match(badId.stderr, /--node-id expects an integer/);
  const cmd = run('nosuch');
  t.equal(cmd.status, 2);
  t.match(cmd.stderr, /unknown command 'nosuch'/);
});

t.test('agent: --check validates the config; a bad config is refused with the field named, exit code 2', async (t) => {
  const ok = run('agent', '--config', join(repoRoot, 'agents/agent/agent.example.yaml'), '--check');
  t.equal(ok.status, 0, ok.stderr);
  t.match(ok.stdout, /configuration OK: 1 file sources, host metrics on, 1 scrape targets/);
  const dir = mkdtempSync(join(tmpdir(), 'cli-agent-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'bad.yaml'), 'brokers: [127.0.0.1:9092]\nstate_dir: s\nfiles:\n  - include: [x]\n    parser: { type: regex, pattern: "(" }\n');
  const bad = run('agent', '--config', join(dir, 'bad.yaml'));
  t.equal(bad.status, 2);
  t.match(bad.stderr, /bad\.yaml: files\.0\.parser\.pattern: invalid regular expression/);
  const missing = run('agent');
  t.equal(missing.status, 2);
  t.match(missing.stderr, /--config is required/);
});
