import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startCli, type CliProcess } from './cli-process.ts';
import { freePort } from './server-processes.ts';

export interface AgentProcess extends CliProcess {
  metricsUrl: string;
  /** The agent's /metrics, parsed into `name{labels}` → value. */
  metrics(): Promise<Map<string, number>>;
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
export async function startAgent(dir: string, config: Record<string, unknown>, nodeArgs: string[] = []): Promise<AgentProcess> {
  const configPath = join(dir, 'agent.yaml');
  const port = (config.metrics_listen as string | undefined)?.split(':')[1] ?? String(await freePort());
  writeFileSync(configPath, stringify({ metrics_listen: `127.0.0.1:${port}`, ...config }));
  const cli = await startCli(['agent', '--config', configPath], /ready: agent /, 30_000, nodeArgs);
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  return {
    ...cli,
    metricsUrl,
    async metrics() {
      const res = await fetch(metricsUrl);
      return parsePrometheusText(await res.text());
    },
  };
}
