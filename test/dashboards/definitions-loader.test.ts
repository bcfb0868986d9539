// Dashboard definition files: the shipped ones load, a new file adds a dashboard, and a bad file is refused
// with a message naming the file and the field.
import t from 'tap';
import { copyFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DefinitionError, loadDashboards, resolveDashboard } from '../../dashboards/definitions-loader.ts';

const definitions = fileURLToPath(new URL('../../dashboards/definitions', import.meta.url));

const minimal = (panels: object[], variables?: object[]) => ({ title: 'T', description: '', ...(variables && { variables }), panels });
const panel = (over: object = {}) => ({ id: 'p', title: 'P', source: 'clickhouse', query: 'SELECT 1', visualisation: 'table', ...over });

t.test('the shipped dashboards load', async (t) => {
  const dashboards = loadDashboards(definitions);
  t.same(dashboards.map((d) => d.id), ['hosts', 'logs', 'pipeline-health', 'web-analytics']);
  for (const d of dashboards) t.ok(d.panels.length > 0, `${d.id} has panels`);
  const web = dashboards.find((d) => d.id === 'web-analytics')!;
  t.same(web.panels.filter((p) => p.merge === 'hll').map((p) => p.id), ['visitors', 'total-visitors']);
  const all = dashboards.flatMap((d) => d.panels);
  t.notOk(all.some((p) => p.source === 'clickhouse' && /\bsum\(visitors_hll\)|uniq/.test(p.query)), 'visitors are never summed in SQL');
});

t.test('adding a file adds a dashboard', async (t) => {
  const dir = t.testdir({ 'notes.txt': 'not a dashboard' });
  for (const f of readdirSync(definitions)) copyFileSync(join(definitions, f), join(dir, f));
  writeFileSync(join(dir, 'extra.yaml'), 'title: Extra\ndescription: one more\npanels:\n  - { id: n, title: N, source: prometheus, query: up, visualisation: stat }\n');
  t.same(loadDashboards(dir).map((d) => d.id), ['extra', 'hosts', 'logs', 'pipeline-health', 'web-analytics']);
});

t.test('bad definitions are refused with the field path', async (t) => {
  const refuse = (raw: unknown, message: RegExp, why: string) => t.throws(() => resolveDashboard('d', raw), { name: 'DefinitionError', message }, why);
  refuse(minimal([panel({ visualisation: 'pie' })]), /^panels\.0\.visualisation/, 'unknown visualisation');
  refuse(minimal([panel({ source: 'mysql' })]), /^panels\.0\.source/, 'unknown source');
  refuse(minimal([panel({ extra: 1 })]), /^panels\.0/, 'unknown field');
  refuse(minimal([]), /^panels/, 'no panels');
  refuse({ description: '', panels: [panel()] }, /title/, 'no title');
  refuse(minimal([panel(), panel()]), /^panels\.1\.id: duplicate panel id "p"/, 'duplicate panel ids');
  refuse(minimal([panel()], [{ name: 'a', label: 'A', kind: 'text' }, { name: 'a', label: 'A', kind: 'text' }]), /^variables\.1\.name: duplicate/, 'duplicate variables');
  refuse(minimal([panel()], [{ name: 'from', label: 'F', kind: 'text' }]), /reserved/, 'a variable named like a time placeholder');
  refuse(minimal([panel()], [{ name: 's', label: 'S', kind: 'select' }]), /^variables\.0\.options/, 'a select without options');
  refuse(minimal([panel({ query: 'SELECT ${nope}' })]), /^panels\.0\.query: \$\{nope\} names no variable/, 'an undeclared placeholder');
  refuse(minimal([panel({ query: "SELECT '${v}'" })], [{ name: 'v', label: 'V', kind: 'text' }]), /^panels\.0\.query: .*inside quotes/, 'a quoted SQL placeholder');
  refuse(minimal([panel({ source: 'prometheus', query: 'm > ${v}' })], [{ name: 'v', label: 'V', kind: 'text' }]), /label matcher/, 'a bare PromQL placeholder');
  refuse(minimal([panel({ merge: 'hll' })]), /^panels\.0\.merge/, 'merge hll without visitors_hll');
});

t.test('file errors name the file', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['broken.yaml', 'title: [', /broken\.yaml: /],
    ['wrong.yaml', 'title: 1\ndescription: d\npanels: [{ id: p, title: P, source: prometheus, query: up, visualisation: stat }]\n', /wrong\.yaml: title: /],
    ['Bad_Name.yaml', 'x: 1\n', /Bad_Name\.yaml: the file name must be a dashboard id/],
  ];
  for (const [file, content, message] of cases) {
    await t.test(file, async (t) => {
      const dir = t.testdir({ [file]: content });
      t.throws(() => loadDashboards(dir), DefinitionError);
      t.throws(() => loadDashboards(dir), { message });
    });
  }
});
