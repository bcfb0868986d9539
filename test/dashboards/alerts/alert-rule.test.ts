// Rule files: TypeBox schema errors name the file and the field; duplicate names are rejected; the shipped
// examples load.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { breaches, expandTemplate, humanize, loadRuleDirectory, parseRuleFile, RuleFileError } from '../../../dashboards/alerts/alert-rule.ts';

const EXAMPLES = new URL('../../../dashboards/alerts/examples/', import.meta.url).pathname;

const valid = `
interval: 30s
rules:
  - name: HighErrors
    kind: promql
    expr: sum(rate(errors_total[5m]))
    threshold: { op: '>', value: 5 }
    for: 5m
    labels: { severity: page }
    annotations: { summary: '{{ $value }} errors on {{ $labels.job }}' }
`;

t.test('a valid file resolves durations and defaults', async (t) => {
  const g = parseRuleFile(valid, '/rules/app.yaml');
  t.equal(g.name, 'app');
  t.equal(g.intervalMs, 30_000);
  t.strictSame(g.rules, [{
    name: 'HighErrors', kind: 'promql', expr: 'sum(rate(errors_total[5m]))', threshold: { op: '>', value: 5 }, forMs: 300_000,
    labels: { severity: 'page' }, annotations: { summary: '{{ $value }} errors on {{ $labels.job }}' }, group: 'app', file: '/rules/app.yaml',
  }]);
  const minimal = parseRuleFile('rules: [{ name: A, kind: clickhouse, expr: SELECT 1 AS value, threshold: { op: "==", value: 1 }, for: 1500 }]', 'm.yml');
  t.equal(minimal.intervalMs, 60_000);
  t.equal(minimal.rules[0].forMs, 1500);
  t.strictSame(minimal.rules[0].labels, {});
});

t.test('schema errors name the file and the field', async (t) => {
  const bad = (text: string, pattern: RegExp): void => {
    try {
      parseRuleFile(text, 'bad.yaml');
      t.fail(`accepted: ${text}`);
    } catch (err) {
      t.type(err, RuleFileError);
      t.match((err as Error).message, pattern);
    }
  };
  bad(valid.replace("op: '>'", "op: '=>'"), /^bad\.yaml: rules\.0\.threshold\.op: /);
  bad(valid.replace('value: 5', 'value: five'), /^bad\.yaml: rules\.0\.threshold\.value: /);
  bad(valid.replace('for: 5m', 'for: 5 minutes'), /^bad\.yaml: rules\.0\.for: /);
  bad(valid.replace('kind: promql', 'kind: sql'), /^bad\.yaml: rules\.0\.kind: /);
  bad(valid.replace('interval: 30s', 'interval: soon'), /^bad\.yaml: interval: /);
  bad(valid.replace('    for: 5m\n', '    for: 5m\n    severity: high\n'), /^bad\.yaml: rules\.0\.severity: /);
  bad(valid.replace('    expr: sum(rate(errors_total[5m]))\n', ''), /^bad\.yaml: rules\.0\.expr: /);
  bad(valid.replace('{ severity: page }', '{ severity: 3 }'), /^bad\.yaml: rules\.0\.labels\.severity: /);
  bad(valid.replace('{ severity: page }', '{ alertname: X }'), /^bad\.yaml: rules\.0\.labels\.alertname: /);
  bad(valid.replace('HighErrors', 'High Errors'), /^bad\.yaml: rules\.0\.name: /);
  bad(valid.replace('{{ $value }}', '{{ $value | printf "%.2f" }}'), /^bad\.yaml: rules\.0\.annotations\.summary: unsupported template/);
  bad('rules: []', /^bad\.yaml: rules: /);
  bad('rules: [', /^bad\.yaml: not valid YAML/);
  bad('just text', /^bad\.yaml: the top level: /);
});

t.test('duplicate rule names are rejected, in a file and across a folder', async (t) => {
  const rule = (name: string): string => `  - { name: ${name}, kind: promql, expr: up, threshold: { op: '==', value: 0 } }\n`;
  t.throws(() => parseRuleFile(`rules:\n${rule('A')}${rule('B')}${rule('A')}`, 'dup.yaml'), /^dup\.yaml: rules\.2\.name: duplicate rule name "A"/);
  const dir = mkdtempSync(join(tmpdir(), 'alert-rules-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'a.yaml'), `rules:\n${rule('A')}`);
  writeFileSync(join(dir, 'b.yml'), `rules:\n${rule('B')}${rule('A')}`);
  writeFileSync(join(dir, 'notes.txt'), 'not a rule file');
  t.throws(() => loadRuleDirectory(dir), new RegExp(`^${join(dir, 'b.yml')}: rules\\.1\\.name: duplicate rule name "A", also in ${join(dir, 'a.yaml')}`));
  writeFileSync(join(dir, 'b.yml'), `rules:\n${rule('B')}`);
  t.strictSame(loadRuleDirectory(dir).map((g) => [g.name, g.rules.map((r) => r.name)]), [['a', ['A']], ['b', ['B']]]);
  t.throws(() => loadRuleDirectory(join(dir, 'missing')), /cannot read the rules folder/);
});

t.test('templates expand as Prometheus does', async (t) => {
  const labels = { job: 'api', instance: 'h1' };
  t.equal(expandTemplate('{{ $value }} on {{$labels.job}}/{{ .Labels.instance }} ({{ .Value }})', labels, 12.5), '12.5 on api/h1 (12.5)');
  t.equal(expandTemplate('{{ $labels.missing }}|{{ $value | humanize }}', labels, 1234567), '|1.235M');
  t.equal(humanize(0.00125), '1.25m');
  t.equal(humanize(999), '999');
  t.equal(humanize(0), '0');
});

t.test('thresholds', async (t) => {
  const r = (op: '>' | '>=' | '<' | '<=' | '==' | '!=') => ({ threshold: { op, value: 1 } });
  t.strictSame([0, 1, 2].map((v) => breaches(r('>'), v)), [false, false, true]);
  t.strictSame([0, 1, 2].map((v) => breaches(r('>='), v)), [false, true, true]);
  t.strictSame([0, 1, 2].map((v) => breaches(r('<'), v)), [true, false, false]);
  t.strictSame([0, 1, 2].map((v) => breaches(r('<='), v)), [true, true, false]);
  t.strictSame([0, 1, 2].map((v) => breaches(r('=='), v)), [false, true, false]);
  t.strictSame([0, 1, 2].map((v) => breaches(r('!='), v)), [true, false, true]);
  for (const op of ['>', '>=', '<', '<=', '==', '!='] as const) t.equal(breaches(r(op), NaN), false, `NaN never breaches ${op}`);
});

t.test('the shipped examples load', async (t) => {
  const groups = loadRuleDirectory(EXAMPLES);
  const rules = groups.flatMap((g) => g.rules);
  t.strictSame(rules.map((r) => [r.name, r.kind]).sort(), [
    ['HighErrorLogRate', 'clickhouse'],
    ['HostDiskAlmostFull', 'promql'],
    ['HostHighCpu', 'promql'],
    ['IngestStalled', 'promql'],
    ['PageViewsDroppedToZero', 'clickhouse'],
  ]);
  const byName = new Map(rules.map((r) => [r.name, r]));
  t.match(byName.get('HighErrorLogRate')!.expr, /FROM logs_rollup_1m/);
  t.match(byName.get('PageViewsDroppedToZero')!.expr, /FROM pageviews_rollup_1m/);
  t.match(byName.get('HostHighCpu')!.expr, /system_cpu_time/);
  t.match(byName.get('IngestStalled')!.expr, /tributary_broker_consumer_group_lag/);
  for (const r of rules) {
    t.ok(r.forMs > 0, `${r.name} has a for duration`);
    t.ok(r.annotations.summary, `${r.name} has a summary`);
    t.ok(r.labels.severity, `${r.name} has a severity`);
  }
  for (const g of groups) t.equal(g.intervalMs, 60_000);
});
