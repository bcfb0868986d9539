// agent.yaml: defaults, units, relative paths, and clear errors that name the field.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, resolveConfig } from '../../../agents/agent/config.ts';

const base = { brokers: ['127.0.0.1:9092'], state_dir: 'state', files: [{ include: ['logs/*.log'] }] };

t.test('defaults, units and paths', async (t) => {
  const c = resolveConfig({ ...base, shipping: { linger: '250ms', batch_max_bytes: '2MiB' }, buffer: { max_bytes: '1GiB' }, host_metrics: { interval: '5s' } }, '/etc/tributary');
  t.equal(c.stateDir, '/etc/tributary/state', 'relative to the config file');
  t.same(c.files[0].include, ['/etc/tributary/logs/*.log']);
  t.equal(c.shipping.lingerMs, 250);
  t.equal(c.shipping.batchMaxBytes, 2 << 20);
  t.equal(c.buffer.maxBytes, 1 << 30);
  t.equal(c.hostMetrics.enabled, true, 'a host_metrics section turns them on');
  t.equal(c.hostMetrics.intervalMs, 5000);
  t.equal(c.shipping.compression, 'zstd');
  t.equal(c.files[0].parser.type, 'none');
  t.same(c.metricsListen, { host: '127.0.0.1', port: 9700 });
});

t.test('the example config is valid', async (t) => {
  const c = loadConfig(join(import.meta.dirname, '../../../agents/agent/agent.example.yaml'));
  t.equal(c.files[0].parser.type, 'json');
  t.equal(c.scrape[0].job, 'node');
});

t.test('bad configs are rejected with the field named', async (t) => {
  const bad: [unknown, RegExp][] = [
    [{ ...base, brokers: [] }, /brokers/],
    [{ ...base, brokers: ['nohost'] }, /brokers\.0/],
    [{ ...base, shipping: { linger: 'soon' } }, /shipping\.linger/],
    [{ ...base, shipping: { compression: 'brotli' } }, /shipping\.compression/],
    [{ ...base, files: [{ include: ['x'], parser: { type: 'regex' } }] }, /regex parser needs a pattern/],
    [{ ...base, files: [{ include: ['x'], parser: { type: 'regex', pattern: '(' } }] }, /files\.0\.parser\.pattern: invalid regular expression/],
    [{ ...base, files: [{ include: ['x'], multiline: { start_pattern: '[' } }] }, /multiline\.start_pattern/],
    [{ ...base, unknown_key: 1 }, /unknown_key|additional/i],
    [{ brokers: ['a:1'], state_dir: 's' }, /nothing to collect/],
    [{ ...base, buffer: { max_bytes: 1000 } }, /buffer\.max_bytes/],
    ['just a string', /top level/],
  ];
  for (const [raw, message] of bad) t.throws(() => resolveConfig(raw, '/tmp'), { name: 'ConfigError', message }, JSON.stringify(raw));
});

t.test('file problems name the file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'agent-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.throws(() => loadConfig(join(dir, 'missing.yaml')), { message: /missing\.yaml: cannot read/ });
  writeFileSync(join(dir, 'broken.yaml'), 'brokers: [a\nstate_dir: :\n');
  t.throws(() => loadConfig(join(dir, 'broken.yaml')), { message: /broken\.yaml: not valid YAML/ });
  writeFileSync(join(dir, 'wrong.yaml'), 'brokers: 5\nstate_dir: s\n');
  t.throws(() => loadConfig(join(dir, 'wrong.yaml')), ConfigError);
});
