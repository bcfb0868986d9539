// `npm run bench [-- --quick] [--runs N] [--only brokers,growth,agent,pipeline] [--cpu-prof] [--out DIR]`:
// the side-by-side suite. Runs Tributary and its nearest alternatives (Redis Streams, NATS JetStream, rsyslog with
// omkafka) on this machine, one section after another, and prints one Markdown table per workload, each figure
// the median of --runs runs (at least 5) with min and max. Writes <out>/<date>.json and <date>.md
// (`-quick` added for --quick, which keeps the whole suite under 5 minutes).
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import os from 'node:os';
import { MIN_RUNS, renderMarkdown, type Section, type SectionOptions, type SectionResult } from './lib/results.ts';
import { renderProfileSummary, summarizeCpuProfile, type ProfileSummary } from './lib/cpu-profile-summary.ts';
import { fmt, progress } from './lib/stats.ts';

const repoRoot = resolve(import.meta.dirname, '..');

/** Loaded only when selected, so `--only` does not pay for (or depend on) the other sections. */
const SECTIONS: Record<string, { title: string; load: () => Promise<Section> }> = {
  brokers: { title: 'Broker side by side: Tributary, Redis Streams, NATS JetStream', load: async () => (await import('./compare/brokers.ts')).brokers },
  growth: { title: 'Broker cost growth: partitions, connections, retained data', load: async () => (await import('./growth/broker-growth.ts')).growth },
  agent: { title: 'Host agent beside rsyslog (imfile, omkafka)', load: async () => (await import('./agent/versus-rsyslog.ts')).agentVersusRsyslog },
  pipeline: { title: 'Pipeline end to end: agent to ClickHouse rows', load: async () => (await import('./pipelines/end-to-end.ts')).pipelineEndToEnd },
};

function usage(message: string): never {
  process.stderr.write(`bench: ${message}\nusage: npm run bench -- [--quick] [--runs N] [--only ${Object.keys(SECTIONS).join(',')}] [--cpu-prof] [--out DIR]\n`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      runs: { type: 'string', default: '5' },
      only: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      out: { type: 'string', default: join(repoRoot, 'bench/results') },
    },
  }));
} catch (err) {
  usage((err as Error).message);
}
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < MIN_RUNS) usage(`--runs must be an integer of at least ${MIN_RUNS} (each figure is a median of runs), got ${values.runs}`);
const selected = values.only ? values.only.split(',').map((s) => s.trim()) : Object.keys(SECTIONS);
for (const name of selected) if (!(name in SECTIONS)) usage(`unknown section ${JSON.stringify(name)} in --only`);

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

const startedAt = new Date();
const suiteStarted = performance.now();
const date = startedAt.toISOString().slice(0, 10);
const outDir = resolve(values.out);
const profileDir = join(outDir, `profiles-${date}`);
mkdirSync(outDir, { recursive: true });
if (values['cpu-prof']) mkdirSync(profileDir, { recursive: true });
const machine = {
  cores: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  kernel: `${os.type()} ${os.release()}`,
  node: process.version,
};
const tributary = { version: JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version as string, commit: gitCommit() };
const header = `Tributary ${tributary.version} (${tributary.commit}) on ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, ${machine.kernel}, Node ${machine.node}; ${values.quick ? 'quick run' : 'full run'}, ${runs} runs per figure`;
progress(`bench: ${header}`);
progress(`bench: sections ${selected.join(', ')}`);

const opts: SectionOptions = { quick: values.quick, runs, profileDir, cpuProfile: values['cpu-prof'] };
const results: Record<string, (SectionResult & { seconds: number }) | { error: string; seconds: number }> = {};
const peers: Record<string, string> = {};
for (const name of selected) {
  const started = performance.now();
  progress(`bench: ${name}: ${SECTIONS[name].title}`);
  try {
    const result = await (await SECTIONS[name].load())(opts);
    Object.assign(peers, result.peers);
    results[name] = { ...result, seconds: (performance.now() - started) / 1000 };
  } catch (err) {
    // One section failing (a peer missing, say) must not throw away the others' figures.
    const error = (err as Error).stack ?? String(err);
    progress(`bench: ${name} FAILED: ${error}`);
    results[name] = { error, seconds: (performance.now() - started) / 1000 };
  }
  progress(`bench: ${name} took ${fmt(results[name].seconds, 1)} s`);
}

const profiles: { file: string; summary: ProfileSummary }[] = [];
if (values['cpu-prof']) {
  for (const file of readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'))) profiles.push({ file, summary: summarizeCpuProfile(join(profileDir, file)) });
}

const elapsedSeconds = (performance.now() - suiteStarted) / 1000;

const markdown: string[] = [`# Benchmark results ${date}`, '', header + '.', '', `Peers: ${Object.entries(peers).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}.`, ''];
for (const name of selected) {
  const r = results[name];
  markdown.push(`## ${SECTIONS[name].title} (\`${name}\`, ${fmt(r.seconds, 0)} s)`, '');
  if ('error' in r) markdown.push(`FAILED: ${r.error.split('\n')[0]}`, '');
  if (!('error' in r)) for (const table of r.tables) markdown.push(renderMarkdown(table), '');
}
markdown.push(`Whole run: ${fmt(elapsedSeconds, 0)} s.`);
const text = markdown.join('\n');
const base = join(outDir, `${date}${values.quick ? '-quick' : ''}`);
writeFileSync(`${base}.json`, JSON.stringify({ date, startedAt: startedAt.toISOString(), quick: values.quick, runs, machine, tributary, peers, sections: results, profiles, elapsedSeconds }, null, 2) + '\n');
writeFileSync(`${base}.md`, text + '\n');
console.log(text);
for (const p of profiles) progress('\n' + renderProfileSummary(p.file, p.summary));
progress(`bench: wrote ${base}.json and ${base}.md in ${fmt(elapsedSeconds, 0)} s`);
const failed = Object.entries(results).filter(([, r]) => 'error' in r).map(([n]) => n);
if (failed.length) {
  progress(`bench: failed sections: ${failed.join(', ')}`);
  process.exitCode = 1;
}
