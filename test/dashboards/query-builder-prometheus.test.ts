// Injection attempts against a real Prometheus (Debian's 2.42 here): a hostile value rendered into an equality
// or a regex label matcher selects exactly the series whose label holds that value, never more (no
// `vector(1)` smuggled in, no regex widening the match), and every shipped PromQL panel still parses with it.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { loadDashboards, type VariableDefinition } from '../../dashboards/definitions-loader.ts';
import { buildQuery, type TimeRange } from '../../dashboards/query-builder.ts';
import { encodeWriteRequest } from '../../pipelines/sinks/prometheus/remote-write.ts';
import { startPrometheus } from '../helpers/prometheus.ts';

const prom = await startPrometheus();
t.teardown(() => prom.stop());

const PAYLOADS = [
  '"} or vector(1) #',
  '"} or vector(1)',
  '\\"} or vector(1) #',
  '\\',
  '\\\\',
  "' OR 1=1 --",
  '.*',
  '.+|x',
  '(a)[b]{1}^$?',
  'a\nb"} or vector(1) #',
  '\r\t\x07\x1b[31m',
  '\0',
  'nul\0"}',
  'ünïcödé 日本語 🎉 \u2028\u2029',
  '${v}',
  '`',
  'x'.repeat(10 * 1024),
  '"'.repeat(10 * 1024),
];
const DECOYS = ['other', 'a', 'x'];

const now = Date.now();
const RANGE: TimeRange = { fromMs: now - 3_600_000, toMs: now + 60_000, stepSeconds: 60 };
const label = (payload: string) => JSON.stringify(payload.slice(0, 40)).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

const body = encodeWriteRequest([...PAYLOADS, ...DECOYS].map((v, i) => ({ labels: { __name__: 'injection_probe', v }, samples: [{ timestamp: now, value: i }] })));
const response = await fetch(prom.remoteWriteUrl, {
  method: 'POST',
  headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' },
  body,
});
if (response.status >= 300) throw new Error(`remote write: ${response.status} ${await response.text()}`);

const variables: VariableDefinition[] = [{ name: 'v', label: 'V', kind: 'text' }];
const probe = async (query: string, value: string) => {
  const built = buildQuery({ source: 'prometheus', query }, variables, { v: value }, RANGE);
  const data = await prom.query(built.query, now);
  return (data.result as { metric: Record<string, string> }[]).map((r) => r.metric.v ?? '(no v label)').sort();
};

t.test('the probe series are there', async (t) => {
  t.equal((await probe('injection_probe{v!="${v}"}', 'none of them')).length, PAYLOADS.length + DECOYS.length);
});

t.test('a hostile value in an equality matcher selects its own series only', async (t) => {
  for (const payload of PAYLOADS) t.same(await probe('injection_probe{v="${v}"}', payload), [payload], label(payload));
});

t.test('a hostile value in a regex matcher matches itself literally', async (t) => {
  for (const payload of PAYLOADS) {
    t.same(await probe('injection_probe{v=~"${v}"}', payload), [payload], `${label(payload)} =~`);
    t.equal((await probe('injection_probe{v!~"${v}"}', payload)).length, PAYLOADS.length + DECOYS.length - 1, `${label(payload)} !~`);
  }
});

t.test('every shipped PromQL panel parses and runs with hostile values', async (t) => {
  for (const d of loadDashboards(fileURLToPath(new URL('../../dashboards/definitions', import.meta.url)))) {
    for (const p of d.panels.filter((p) => p.source === 'prometheus')) {
      for (const payload of PAYLOADS) {
        const values = Object.fromEntries(d.variables.filter((v) => v.kind === 'text').map((v) => [v.name, payload]));
        const built = buildQuery(p, d.variables, values, RANGE);
        const data = await prom.query(built.query, now);
        // Nothing here exposes these metrics, so any answer but "no series" (or a scalar-free empty vector) is an injection.
        t.same(data.result, [], `${d.id}/${p.id} ${label(payload)}`);
      }
    }
  }
});
