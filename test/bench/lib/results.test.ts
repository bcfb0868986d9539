import t from 'tap';
import { figure, renderMarkdown, repeatRuns, type ResultTable } from '../../../bench/lib/results.ts';

t.test('a figure is the median of its runs with their min and max', async (t) => {
  t.same(figure([5, 1, 3, 2, 4]), { median: 3, min: 1, max: 5, runs: [5, 1, 3, 2, 4] });
  t.equal(figure([4, 1, 3, 2]).median, 2.5, 'an even count takes the mean of the middle two');
  t.throws(() => figure([]), /at least one run/);
});

t.test('repeatRuns turns each metric of each run into a figure', async (t) => {
  const seen: number[] = [];
  const figures = await repeatRuns('test', 5, async (run) => {
    seen.push(run);
    return { rate: 100 + run, p99: 10 - run };
  });
  t.same(seen, [0, 1, 2, 3, 4]);
  t.same(figures.rate, { median: 102, min: 100, max: 104, runs: [100, 101, 102, 103, 104] });
  t.equal(figures.p99.median, 8);
});

t.test('the Markdown table prints median (min–max), strings as they are and a dash for nothing', async (t) => {
  const table: ResultTable = {
    id: 'x',
    title: 'Produce',
    notes: ['acks=1'],
    columns: [{ name: 'records/s' }, { name: 'p99 ms', digits: 1 }, { name: 'client' }],
    rows: [
      { label: 'Tributary', cells: [figure([1000, 2000, 1500]), figure([1.25, 1.25]), 'raw'] },
      { label: 'Redis', cells: [null, figure([2, 3, 4]), 'node-redis'] },
    ],
  };
  t.equal(renderMarkdown(table), [
    '### Produce',
    '',
    '| | records/s | p99 ms | client |',
    '|---|---:|---:|---:|',
    '| Tributary | 1,500 (1,000–2,000) | 1.3 | raw |',
    '| Redis | – | 3.0 (2.0–4.0) | node-redis |',
    '',
    '- acks=1',
  ].join('\n'));
});
