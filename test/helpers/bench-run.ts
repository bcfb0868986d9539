// Runs `bench/run.ts` as `npm run bench` does and checks what a run must leave behind: every section's table on
// stdout and a results file whose every figure is a median of at least 5 runs, with the peers' versions.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { repoRoot } from './cli-process.ts';
import { MIN_RUNS } from '../../bench/lib/results.ts';

export interface BenchRun {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

export function runBench(args: string[], timeoutMs: number): Promise<BenchRun> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [join(repoRoot, 'bench/run.ts'), ...args], { cwd: repoRoot, timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? null) : 0;
      resolve({ code: typeof code === 'number' ? code : null, stdout, stderr, seconds: (performance.now() - started) / 1000 });
    });
  });
}

/** Checks a finished run: exit code, the printed tables and the results written to `outDir`. */
export function checkBenchRun(t: Test, run: BenchRun, outDir: string, quick: boolean): void {
  // The stderr tail only goes into the log when the run failed.
  if (run.code === 0) t.pass('exit code 0');
  else t.fail(`exit code ${run.code} (stderr tail:\n${run.stderr.slice(-4000)})`);

  for (const heading of ['Broker side by side', 'Broker cost growth', 'Host agent beside rsyslog', 'Pipeline end to end']) {
    t.match(run.stdout, heading, `the table of "${heading}" is printed`);
  }
  t.match(run.stdout, /\| Redis Streams/);
  t.match(run.stdout, /\| NATS JetStream/);
  t.match(run.stdout, /rsyslog/);

  const suffix = quick ? '-quick' : '';
  const files = readdirSync(outDir);
  const json = files.find((f) => new RegExp(`^\\d{4}-\\d{2}-\\d{2}${suffix}\\.json$`).test(f));
  t.ok(json, `results JSON written (${files.join(', ')})`);
  t.ok(files.some((f) => new RegExp(`^\\d{4}-\\d{2}-\\d{2}${suffix}\\.md$`).test(f)), 'Markdown table written');
  if (!json) return;
  const results = JSON.parse(readFileSync(join(outDir, json), 'utf8'));
  t.equal(results.machine.cores > 0, true, 'core count recorded');
  for (const peer of ['redis-server', 'nats-server', 'rsyslogd', 'clickhouse-server']) {
    t.match(results.peers[peer], /^\d+\.\d+/, `${peer} version recorded`);
  }
  // Every measured figure is the median of at least MIN_RUNS (5) runs, with its min and max.
  let figures = 0;
  for (const [name, section] of Object.entries<any>(results.sections)) {
    t.notOk(section.error, `section ${name} ran`);
    for (const table of section.tables ?? []) {
      for (const row of table.rows) {
        for (const cell of row.cells) {
          if (cell === null || typeof cell !== 'object') continue;
          figures++;
          if (cell.runs.length < MIN_RUNS || !(cell.min <= cell.median && cell.median <= cell.max)) t.fail(`${table.id} ${row.label}: ${JSON.stringify(cell)}`);
        }
      }
    }
  }
  t.ok(figures > 20, `${figures} figures, each a median of at least ${MIN_RUNS} runs`);
}
