import t from 'tap';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkBenchRun, runBench as bench } from '../helpers/bench-run.ts';

t.test('bad flags are refused with exit code 2 and a clear message, writing nothing', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'tributary-bench-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const fewRuns = await bench(['--runs', '3', '--out', out], 60_000);
  t.equal(fewRuns.code, 2);
  t.match(fewRuns.stderr, /--runs must be an integer of at least 5/);
  const unknown = await bench(['--only', 'kafka', '--out', out], 60_000);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /unknown section "kafka"/);
  const typo = await bench(['--quik', '--out', out], 60_000);
  t.equal(typo.code, 2);
  t.match(typo.stderr, /Unknown option '--quik'/);
  t.same(readdirSync(out), []);
});

// The promise: `npm run bench -- --quick` prints the whole side-by-side table in under 5 minutes.
t.test('--quick runs every section against the real peers, prints the tables and writes the results', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'tributary-bench-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const run = await bench(['--quick', '--out', out], 8 * 60_000);
  t.comment(`quick run took ${run.seconds.toFixed(0)} s`);
  t.ok(run.seconds < 300, `the quick suite finished in ${run.seconds.toFixed(0)} s, under 5 minutes`);
  checkBenchRun(t, run, out, true);
});
