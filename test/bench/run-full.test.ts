import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkBenchRun, runBench } from '../helpers/bench-run.ts';

// The other promise: the full side-by-side suite (`npm run bench`, 5 runs of every figure) finishes in
// under 60 minutes. It runs alone in the serial phase of the tests; it is the longest test there is (~33 min).
// Its limit is a little over the promise, so a run that is too slow fails on the assertion, not the kill.
const LIMIT_MINUTES = 60;
// The run outlasts the tests' usual 10-minute limit per file: tell tap's runner this file may take longer.
t.setTimeout((LIMIT_MINUTES + 5) * 60_000);

t.test('the full run finishes in under 60 minutes, prints every table and writes 5-run figures', { timeout: (LIMIT_MINUTES + 4) * 60_000 }, async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'tributary-bench-full-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const run = await runBench(['--out', out], (LIMIT_MINUTES + 2) * 60_000);
  t.comment(`full run took ${run.seconds.toFixed(0)} s`);
  t.ok(run.seconds < LIMIT_MINUTES * 60, `the full suite finished in ${(run.seconds / 60).toFixed(1)} min, under ${LIMIT_MINUTES} minutes`);
  checkBenchRun(t, run, out, false);
});
