import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { freePort } from './server-processes.ts';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { repoRoot } from './broker-process.ts';

export interface AgentProcess {
  child: ChildProcess;
  metricsUrl: string;
  output(): string;
  /** The agent's /metrics, parsed into `name{labels}` → value. */
  metrics(): Promise<Map<string, number>>;
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

export { freePort } from './server-processes.ts';

export function parsePrometheusText(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** Writes `config` as agent.yaml in `dir` and starts `tributary agent` as a child process, as users run it. */
export async function startAgent(dir: string, config: Record<string, unknown>): Promise<AgentProcess> {
  const configPath = join(dir, 'agent.yaml');
  const port = (config.metrics_listen as string | undefined)?.split(':')[1] ?? String(await freePort());
  writeFileSync(configPath, stringify({ metrics_listen: `127.0.0.1:${port}`, ...config }));
  const child = spawn(process.execPath, [join(repoRoot, 'bin/tributary.js'), 'agent', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent did not become ready:\n${out}`)), 30_000);
    const check = () => {
      if (/ready: agent /.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`agent exited with ${code} before ready:\n${out}`));
    });
  });
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  return {
    child,
    metricsUrl,
    output: () => out,
    async metrics() {
      const res = await fetch(metricsUrl);
      return parsePrometheusText(await res.text());
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
