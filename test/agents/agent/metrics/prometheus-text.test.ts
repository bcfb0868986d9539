// The Prometheus text format 0.0.4: the examples of the format's documentation, escaping, grouping of histogram
// and summary series into one point per label set, values JSON cannot carry, and errors that name the line.
import t from 'tap';
import { Value } from '@sinclair/typebox/value';
import { MetricPoint, checkMetricPoint } from '../../../../agents/events/metric-point.ts';
import { PrometheusParseError, parsePrometheusText } from '../../../../agents/agent/metrics/prometheus-text.ts';

const NOW = 1_700_000_000_000;
const resource = { 'host.name': 'agent-host', 'service.name': 'job', 'service.instance.id': '127.0.0.1:9100' };
const parse = (text: string) => {
  const result = parsePrometheusText(text, { timestamp: NOW, resource });
  for (const p of result.points) {
    if (!Value.Check(MetricPoint, p) || checkMetricPoint(p) !== null) throw new Error(`invalid point ${JSON.stringify(p)}`);
  }
  return result;
};

/** The example of https://prometheus.io/docs/instrumenting/exposition_formats/#text-format-example */
const docsExample = String.raw`# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045

# A histogram, which has a pretty complex representation in the text format:
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="0.1"} 33444
http_request_duration_seconds_bucket{le="0.2"} 100392
http_request_duration_seconds_bucket{le="0.5"} 129389
http_request_duration_seconds_bucket{le="1"} 133988
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320

# Finally a summary, which has a complex representation, too:
# HELP rpc_duration_seconds A summary of the RPC duration in seconds.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.01"} 3102
rpc_duration_seconds{quantile="0.05"} 3272
rpc_duration_seconds{quantile="0.5"} 4773
rpc_duration_seconds{quantile="0.9"} 9001
rpc_duration_seconds{quantile="0.99"} 76656
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
`;

t.test('the documentation example', async (t) => {
  const { points, skippedSamples } = parse(docsExample);
  t.same(points.map((p) => [p.name, p.type]), [
    ['http_requests_total', 'sum'],
    ['http_requests_total', 'sum'],
    ['msdos_file_access_time_seconds', 'gauge'],
    ['metric_without_timestamp_and_labels', 'gauge'],
    ['http_request_duration_seconds', 'histogram'],
    ['rpc_duration_seconds', 'summary'],
  ]);
  t.equal(skippedSamples, 1, 'the +Inf sample has no JSON form and is counted, not emitted');

  t.same(points[0], {
    timestamp: 1395066363000,
    name: 'http_requests_total',
    description: 'The total number of HTTP requests.',
    type: 'sum',
    value: 1027,
    monotonic: true,
    temporality: 'cumulative',
    attributes: { method: 'post', code: '200' },
    resource,
  }, 'a counter: monotonic cumulative sum, _total kept, the exposed timestamp used');
  t.equal(points[1].value, 3);

  t.same(points[2].attributes, { path: 'C:\\DIR\\FILE.TXT', error: 'Cannot find file:\n"FILE.TXT"' }, 'escapes undone');
  t.equal(points[2].value, 1.458255915e9);
  t.equal(points[2].timestamp, NOW, 'no timestamp: the scrape time');
  t.equal(points[2].description, undefined);
  t.same(points[3], { timestamp: NOW, name: 'metric_without_timestamp_and_labels', type: 'gauge', value: 12.47, resource }, 'untyped → gauge, no attributes');

  t.same(points[4], {
    timestamp: NOW,
    name: 'http_request_duration_seconds',
    description: 'A histogram of the request duration.',
    type: 'histogram',
    histogram: {
      count: 144320,
      sum: 53423,
      bounds: [0.05, 0.1, 0.2, 0.5, 1],
      counts: [24054, 33444 - 24054, 100392 - 33444, 129389 - 100392, 133988 - 129389, 144320 - 133988],
    },
    resource,
  }, 'cumulative le buckets → per-bucket counts, the last for +Inf');

  t.same(points[5], {
    timestamp: NOW,
    name: 'rpc_duration_seconds',
    description: 'A summary of the RPC duration in seconds.',
    type: 'summary',
    value: 1.7560473e7,
    count: 2693,
    quantiles: [
      { quantile: 0.01, value: 3102 },
      { quantile: 0.05, value: 3272 },
      { quantile: 0.5, value: 4773 },
      { quantile: 0.9, value: 9001 },
      { quantile: 0.99, value: 76656 },
    ],
    resource,
  }, 'a summary carries its sum as value, its count and quantiles');
});

t.test('histograms and summaries: one point per label set, whatever the order of lines', async (t) => {
  const { points } = parse(`# TYPE req_seconds histogram
req_seconds_bucket{path="/a",le="1"} 1
req_seconds_bucket{le="1",path="/b"} 0
req_seconds_bucket{path="/a",le="+Inf"} 3
req_seconds_bucket{path="/a",le="0.5"} 1
req_seconds_sum{path="/a"} 4.5
req_seconds_count{path="/a"} 3
req_seconds_bucket{path="/b",le="0.5"} 0
req_seconds_bucket{path="/b",le="+Inf"} 2
req_seconds_count{path="/b"} 2
req_seconds_sum{path="/b"} 7
# TYPE lat summary
lat{quantile="0.9",region="eu"} 12
lat{region="eu",quantile="0.5"} NaN
lat_sum{region="eu"} 30
lat_count{region="eu"} 4
lat{quantile="0.5",region="us"} 1
`);
  t.same(points.map((p) => [p.name, p.attributes]), [
    ['req_seconds', { path: '/a' }],
    ['req_seconds', { path: '/b' }],
    ['lat', { region: 'eu' }],
    ['lat', { region: 'us' }],
  ], 'le and quantile are not attributes');
  t.same(points[0].histogram, { count: 3, sum: 4.5, bounds: [0.5, 1], counts: [1, 0, 2] }, 'buckets sorted by bound');
  t.same(points[1].histogram, { count: 2, sum: 7, bounds: [0.5, 1], counts: [0, 0, 2] });
  t.same(points[2].quantiles, [{ quantile: 0.9, value: 12 }], 'a NaN quantile is left out, the rest of the summary kept');
  t.equal(points[2].value, 30);
  t.equal(points[2].count, 4);
  t.same(points[3].quantiles, [{ quantile: 0.5, value: 1 }]);
  t.equal(points[3].count, undefined, 'no _count exposed, none invented');
});

t.test('histogram edge cases', async (t) => {
  const noInf = parse('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="2"} 3\nh_count 5\nh_sum 9\n').points[0];
  t.same(noInf.histogram, { count: 5, sum: 9, bounds: [1, 2], counts: [2, 1, 2] }, 'without a +Inf bucket, _count gives the total');
  const onlyCount = parse('# TYPE h histogram\nh_count 4\nh_sum 1\n').points[0];
  t.same(onlyCount.histogram, { count: 4, sum: 1, bounds: [], counts: [4] }, 'no buckets: one bucket holding everything');
  const nanSum = parse('# TYPE h histogram\nh_bucket{le="+Inf"} 0\nh_sum NaN\nh_count 0\n');
  t.same(nanSum.points[0].histogram, { count: 0, bounds: [], counts: [0] }, 'a NaN sum is left out of the point');
  t.equal(nanSum.skippedSamples, 1);
  const exponent = parse('# TYPE h histogram\nh_bucket{le="1e-3"} 1\nh_bucket{le="+Inf"} 1\n').points[0];
  t.same(exponent.histogram?.bounds, [0.001]);
});

t.test('syntax the format allows', async (t) => {
  const { points, skippedSamples } = parse([
    '  # a plain comment, indented',
    '#HELP no_space Blanks after # are optional.',
    'no_space 1',
    '# HELP spaced   Help with \\\\ backslash and \\n newline',
    '# TYPE spaced gauge',
    'spaced { a = "1" , b="2", } \t 5   ',
    'trailing_comma{a="x",} 1',
    'empty_braces{} 2',
    'neg -1.5e-3',
    'big 1E+10',
    'nan_value NaN',
    'minus_inf -Inf',
    'upper +INF',
    'ancient 1 123',
    'with_ts 7 1700000001000',
    'crlf 3\r',
    'colon:name:sub 4',
    'unicode{city="Zürich",emoji="🦀"} 5',
    '',
  ].join('\n'));
  const byName = new Map(points.map((p) => [p.name, p]));
  t.same(byName.get('spaced'), { timestamp: NOW, name: 'spaced', description: 'Help with \\ backslash and \n newline', type: 'gauge', value: 5, attributes: { a: '1', b: '2' }, resource });
  t.equal(byName.get('no_space')?.description, 'Blanks after # are optional.');
  t.same(byName.get('trailing_comma')?.attributes, { a: 'x' });
  t.equal(byName.get('empty_braces')?.attributes, undefined);
  t.equal(byName.get('neg')?.value, -0.0015);
  t.equal(byName.get('big')?.value, 1e10);
  t.equal(byName.get('with_ts')?.timestamp, 1700000001000);
  t.equal(byName.get('crlf')?.value, 3);
  t.equal(byName.get('colon:name:sub')?.value, 4);
  t.same(byName.get('unicode')?.attributes, { city: 'Zürich', emoji: '🦀' });
  t.notOk(byName.has('nan_value') || byName.has('minus_inf') || byName.has('upper'), 'NaN and ±Inf left out');
  t.notOk(byName.has('ancient'), 'a timestamp before 2000 cannot be represented');
  t.equal(skippedSamples, 4);
});

t.test('counters exposed under the base name of their TYPE', async (t) => {
  const { points } = parse('# HELP jobs Jobs done.\n# TYPE jobs counter\njobs_total 4\n');
  t.same(points[0], { timestamp: NOW, name: 'jobs_total', description: 'Jobs done.', type: 'sum', value: 4, monotonic: true, temporality: 'cumulative', resource });
});

t.test('samples named like parts of a histogram but untyped stay gauges', async (t) => {
  const { points } = parse('x_bucket{le="1"} 1\nx_sum 2\nx_count 3\n');
  t.same(points.map((p) => [p.name, p.type, p.attributes]), [['x_bucket', 'gauge', { le: '1' }], ['x_sum', 'gauge', undefined], ['x_count', 'gauge', undefined]]);
});

t.test('malformed expositions are rejected with the line number', async (t) => {
  const cases: [string, number, RegExp][] = [
    ['ok 1\n1bad 2', 2, /expected a metric name/],
    ['ok 1\nfoo-bar 2', 2, /invalid character "-" in metric name foo/],
    ['foo{a="1" 2', 1, /expected ',' or '}' after label a/],
    ['foo{a="1\\x"} 2', 1, /invalid escape "\\\\x"/],
    ['foo{a="1} 2', 1, /unterminated value of label a/],
    ['foo{a=1} 2', 1, /expected '"'/],
    ['foo{a="1",a="2"} 2', 1, /label a appears twice/],
    ['foo{1a="1"} 2', 1, /expected a label name/],
    ['\n\nfoo', 3, /foo has no value/],
    ['foo bar', 1, /invalid value "bar"/],
    ['foo 1 2 3', 1, /unexpected "3"/],
    ['foo 1 1.5', 1, /invalid timestamp "1.5"/],
    ['# TYPE foo', 1, /unknown metric type "" for foo/],
    ['# TYPE foo info', 1, /unknown metric type "info"/],
    ['# TYPE foo gauge\n# TYPE foo counter', 2, /second TYPE line for foo/],
    ['# HELP foo a\n# HELP foo b', 2, /second HELP line for foo/],
    ['# HELP', 1, /# HELP needs a metric name/],
    ['# TYPE 9x gauge', 1, /invalid metric name "9x"/],
    ['foo 1\n# TYPE foo gauge', 2, /TYPE line for foo comes after its samples/],
    ['h_sum 1\n# TYPE h histogram', 2, /TYPE line for h comes after its samples/],
    ['# TYPE h histogram\nh 1', 2, /histogram h has a sample without a _bucket, _sum or _count suffix/],
    ['# TYPE h histogram\nh_bucket 1', 2, /h_bucket has no le label/],
    ['# TYPE h histogram\nh_bucket{le="x"} 1', 2, /invalid le="x"/],
    ['# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="1.0"} 2', 3, /bucket le="1.0" of h appears twice/],
    ['# TYPE h histogram\nh_bucket{le="1"} NaN', 2, /expected a non-negative number/],
    ['# TYPE h histogram\nh_bucket{le="1"} 5\nh_bucket{le="2"} 3', 3, /counts 3, fewer than the bucket below it \(5\)/],
    ['# TYPE h histogram\nh_bucket{le="1"} 5\nh_bucket{le="+Inf"} 3', 3, /h counts 3 observations in all, fewer than its finite buckets \(5\)/],
    ['# TYPE h histogram\nh_count -1', 2, /a count cannot be negative/],
    ['# TYPE s summary\ns 1', 2, /s has no quantile label/],
    ['# TYPE s summary\ns{quantile="1.5"} 1', 2, /invalid quantile="1.5"/],
  ];
  for (const [text, line, message] of cases) {
    const error = t.throws(() => parsePrometheusText(text, { timestamp: NOW, resource }), PrometheusParseError, JSON.stringify(text)) as PrometheusParseError;
    t.equal(error?.line, line, `line of ${JSON.stringify(text)}`);
    t.match(error?.message, message);
    t.match(error?.message, new RegExp(`^line ${line}: `));
  }
});
