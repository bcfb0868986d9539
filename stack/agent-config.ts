// The agent.yaml `tributary up` writes for this host: one file source per demo service (each has its own
// service name and line format), a drop-in folder for the user's own logs, and host metrics.
import { DEMO_SERVICES, PLAIN_LINE_PATTERN, PLAIN_RECORD_START } from './demo/log-lines.ts';

export interface StackAgentConfig {
  brokers: string[];
  /** Absolute paths; the agent keeps checkpoints and its disk buffer in stateDir. */
  stateDir: string;
  demoLogDir: string;
  /** Any *.log dropped here is shipped too, as service `local`, line by line. */
  dropInLogDir: string;
  metricsListen: string;
}

/** As JSON, which is YAML: paths with spaces or colons need no quoting rules. */
export function stackAgentConfig(c: StackAgentConfig): string {
  const files: object[] = DEMO_SERVICES.map((s) =>
    s.format === 'json'
      ? { include: [`${c.demoLogDir}/${s.name}.log`], service: s.name, parser: { type: 'json' }, attributes: { env: 'demo' } }
      : {
          include: [`${c.demoLogDir}/${s.name}.log`],
          service: s.name,
          parser: { type: 'regex', pattern: PLAIN_LINE_PATTERN },
          multiline: { start_pattern: PLAIN_RECORD_START, timeout: '1s' },
          attributes: { env: 'demo' },
        },
  );
  files.push({ include: [`${c.dropInLogDir}/*.log`], service: 'local' });
  const config = {
    brokers: c.brokers,
    state_dir: c.stateDir,
    metrics_listen: c.metricsListen,
    files,
    host_metrics: { interval: '10s' },
    shipping: { linger: '200ms' },
  };
  return `# Written by \`tributary up\` at every start (stack/agent-config.ts); put your own *.log files in\n# ${c.dropInLogDir}, or run \`tributary agent\` with a config of your own.\n${JSON.stringify(config, null, 2)}\n`;
}
