// The query builder without servers: every shipped query renders, values become exactly one literal of the
// target language, and bad input (unknown variables, values a select does not offer, bad ranges) is refused.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { loadDashboards, type VariableDefinition } from '../../dashboards/definitions-loader.ts';
import {
  buildQuery,
  checkTimeRange,
  escapePromQLString,
  escapeRegex,
  MAX_VALUE_LENGTH,
  QueryBuildError,
  templateProblems,
  type TimeRange,
} from '../../dashboards/query-builder.ts';

const definitions = fileURLToPath(new URL('../../dashboards/definitions', import.meta.url));
const HOUR: TimeRange = { fromMs: Date.UTC(2026, 0, 1, 12), toMs: Date.UTC(2026, 0, 1, 13), stepSeconds: 60 };
const text = (name: string): VariableDefinition => ({ name, label: name, kind: 'text' });

t.test('every shipped panel renders, with defaults and with values for every variable', async (t) => {
  for (const d of loadDashboards(definitions)) {
    const values = Object.fromEntries(d.variables.map((v) => [v.name, v.kind === 'select' ? v.options!.at(-1)! : `x'"\\y`]));
    for (const p of d.panels) {
      for (const input of [{}, values]) {
        const built = buildQuery(p, d.variables, input, HOUR);
        t.notMatch(built.query, /\$\{/, `${d.id}/${p.id}: no placeholder left`);
        t.equal(built.source, p.source);
        t.same([built.start, built.end, built.step], [HOUR.fromMs / 1000, HOUR.toMs / 1000, 60]);
      }
    }
  }
});

t.test('ClickHouse: values through literal(), times as toDateTime(seconds), step as an integer', async (t) => {
  const q = buildQuery(
    { source: 'clickhouse', query: 'SELECT 1 WHERE a = ${v} AND t >= ${from} AND t < ${to} GROUP BY intDiv(x, ${step})' },
    [text('v')],
    { v: "' OR 1=1 --\n\\\0" },
    { fromMs: 1_000_500, toMs: 2_000_500, stepSeconds: 10 },
  );
  t.equal(q.query, "SELECT 1 WHERE a = '\\' OR 1=1 --\\n\\\\\\0' AND t >= toDateTime(1000) AND t < toDateTime(2001) GROUP BY intDiv(x, 10)");
});

t.test('PromQL: equality matchers escape the string, regex matchers escape RE2 first', async (t) => {
  const vars = [text('a'), text('b')];
  const q = buildQuery({ source: 'prometheus', query: 'sum(rate(m{x="${a}", y=~".*${b}.*"}[${step}])) @ ${to}' }, vars, { a: '"} or vector(1) #\n\\', b: 'a.b(c)|*\\' }, HOUR);
  t.equal(q.query, `sum(rate(m{x="\\"} or vector(1) #\\n\\\\", y=~".*a\\\\.b\\\\(c\\\\)\\\\|\\\\*\\\\\\\\.*"}[60s])) @ ${HOUR.toMs / 1000}`);
  t.equal(escapePromQLString('a\u0000b\tc\u00e9\u{1F600}'), 'a\\x00b\\x09c\u00e9\u{1F600}');
  t.equal(escapeRegex('^$.+*?()[]{}|\\'), '\\^\\$\\.\\+\\*\\?\\(\\)\\[\\]\\{\\}\\|\\\\');
});

t.test('templates that would splice a value raw are refused', async (t) => {
  const v = [text('v')];
  t.same(templateProblems('clickhouse', "SELECT '${v}'", v).length, 1, 'inside a SQL string');
  t.same(templateProblems('clickhouse', 'SELECT 1 -- ${v}', v).length, 1, 'inside a SQL comment');
  t.same(templateProblems('clickhouse', 'SELECT `${v}`', v).length, 1, 'inside a quoted identifier');
  t.same(templateProblems('clickhouse', "SELECT 'a\\'${v}'", v).length, 1, 'after an escaped quote');
  t.same(templateProblems('clickhouse', "SELECT ${v}, 'x'", v), []);
  t.same(templateProblems('prometheus', 'm > ${v}', v).length, 1, 'bare in PromQL');
  t.same(templateProblems('prometheus', "m{x='${v}'}", v).length, 1, 'single-quoted matcher');
  t.same(templateProblems('prometheus', 'm{x=`${v}`}', v).length, 1, 'raw-string matcher');
  t.same(templateProblems('prometheus', 'label_replace(m, "d", "${v}", "s", ".*")', v).length, 1, 'a string that is no matcher');
  t.same(templateProblems('prometheus', 'm{x="${from}"}', v).length, 1, 'time inside a string');
  t.same(templateProblems('prometheus', 'm{x="a${v}", y!~"${v}"}[${step}]', v), []);
  t.same(templateProblems('clickhouse', 'SELECT ${nope}, ${Bad-Name}', v).length, 2, 'unknown and malformed placeholders');
  t.throws(() => buildQuery({ source: 'prometheus', query: 'm > ${v}' }, v, { v: '1' }, HOUR), { code: 'UNSAFE_PLACEHOLDER' });
  t.throws(() => buildQuery({ source: 'clickhouse', query: 'SELECT ${w}' }, v, {}, HOUR), { code: 'UNKNOWN_VARIABLE' });
});

t.test('values: unknown variables, select options, length, surrogates, types', async (t) => {
  const vars: VariableDefinition[] = [text('v'), { name: 's', label: 'S', kind: 'select', options: ['', 'ERROR'] }];
  const panel = { source: 'clickhouse' as const, query: 'SELECT ${v}, ${s}' };
  t.throws(() => buildQuery(panel, vars, { w: 'x' }, HOUR), QueryBuildError);
  t.throws(() => buildQuery(panel, vars, { w: 'x' }, HOUR), { code: 'UNKNOWN_VARIABLE' });
  t.throws(() => buildQuery(panel, vars, { s: "ERROR' OR 1=1" }, HOUR), { code: 'INVALID_VALUE' });
  t.equal(buildQuery(panel, vars, { s: 'ERROR' }, HOUR).query, "SELECT '', 'ERROR'");
  t.throws(() => buildQuery(panel, vars, { v: 'x'.repeat(MAX_VALUE_LENGTH + 1) }, HOUR), { code: 'INVALID_VALUE' });
  t.throws(() => buildQuery(panel, vars, { v: 'a\ud800b' }, HOUR), { code: 'INVALID_VALUE' });
  t.throws(() => buildQuery(panel, vars, { v: 1 }, HOUR), { code: 'INVALID_VALUE' });
  t.throws(() => buildQuery(panel, vars, { v: ['a'] }, HOUR), { code: 'INVALID_VALUE' });
  t.throws(() => buildQuery(panel, vars, JSON.parse('{"__proto__": "x"}'), HOUR), { code: 'UNKNOWN_VARIABLE' });
});

t.test('the time range is validated', async (t) => {
  const bad = (r: Partial<TimeRange>, why: string) => t.throws(() => checkTimeRange({ ...HOUR, ...r }), { code: 'INVALID_TIME_RANGE' }, why);
  bad({ fromMs: HOUR.toMs }, 'empty');
  bad({ fromMs: HOUR.toMs + 1 }, 'reversed');
  bad({ fromMs: -1 }, 'before 1970');
  bad({ toMs: 2 ** 32 * 1000 }, 'after DateTime');
  bad({ fromMs: 0.5 }, 'fractional');
  bad({ fromMs: Number.NaN }, 'NaN');
  bad({ fromMs: HOUR.toMs - 401 * 86_400_000 }, 'too wide');
  bad({ stepSeconds: 0 }, 'zero step');
  bad({ stepSeconds: 1.5 }, 'fractional step');
  bad({ stepSeconds: 86_401 }, 'step above a day');
  bad({ fromMs: HOUR.toMs - 30 * 86_400_000, stepSeconds: 60 }, 'too many points');
  t.doesNotThrow(() => checkTimeRange({ fromMs: HOUR.toMs - 30 * 86_400_000, toMs: HOUR.toMs, stepSeconds: 3600 }));
});
