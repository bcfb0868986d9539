import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/cli-process.ts';

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

function bench(args: string[], timeoutMs: number): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [join(repoRoot, 'bench/run.ts'), ...args], { cwd: repoRoot, timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? null) : 0;
      resolve({ code: typeof code === 'number' ? code : null, stdout, stderr, seconds: (performance.now() - started) / 1000 });
    });
  });
}

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
  t.equal(run.code, 0, `exit code (stderr tail:\n${run.stderr.slice(-4000)})`);
  t.comment(`quick run took ${run.seconds.toFixed(0)} s`);
  t.ok(run.seconds < 300, `the quick suite finished in ${run.seconds.toFixed(0)} s, under 5 minutes`);

  for (const heading of ['Broker side by side', 'Broker cost growth', 'Host agent beside rsyslog', 'Pipeline end to end']) {
    t.match(run.stdout, heading, `the table of "${heading}" is printed`);
  }
  t.match(run.stdout, /\| Redis Streams/);
  t.match(run.stdout, /\| NATS JetStream/);
  t.match(run.stdout, /rsyslog/);

  const files = readdirSync(out);
  const json = files.find((f) => /^\d{4}-\d{2}-\d{2}-quick\.json$/.test(f));
  t.ok(json, `results JSON written (${files.join(', ')})`);
  t.ok(files.some((f) => /^\d{4}-\d{2}-\d{2}-quick\.md$/.test(f)), 'Markdown table written');
  const results = JSON.parse(readFileSync(join(out, json!), 'utf8'));
  t.equal(results.machine.cores > 0, true, 'core count recorded');
  for (const peer of ['redis-server', 'nats-server', 'rsyslogd', 'clickhouse-server']) {
    t.match(results.peers[peer], /^\d+\.\d+/, `${peer} version recorded`);
  }
  // Every measured figure is the median of at least 5 runs, with its min and max.
  let figures = 0;
  for (const [name, section] of Object.entries<any>(results.sections)) {
    t.notOk(section.error, `section ${name} ran`);
    for (const table of section.tables ?? []) {
      for (const row of table.rows) {
        for (const cell of row.cells) {
          if (cell === null || typeof cell !== 'object') continue;
          figures++;
          if (cell.runs.length < 5 || !(cell.min <= cell.median && cell.median <= cell.max)) t.fail(`${table.id} ${row.label}: ${JSON.stringify(cell)}`);
        }
      }
    }
  }
  t.ok(figures > 20, `${figures} figures, each a median of at least 5 runs`);
});
