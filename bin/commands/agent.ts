import { Agent, AgentLockedError } from '../../agents/agent/agent.ts';
import { StateFileError } from '../../agents/agent/agent-state.ts';
import { ConfigError, loadConfig, type AgentConfig } from '../../agents/agent/config.ts';
import { createLogger } from '../../broker/server/logger.ts';
import { formatHelp, parseFlags, UsageError, type Command } from './command.ts';
import { waitForShutdownSignal } from './shutdown.ts';

const options = {
  config: { type: 'string', short: 'c' },
  check: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const help = formatHelp(
  'tributary agent --config agent.yaml [--check]',
  'Runs the host agent in the foreground: tails log files, collects host metrics and scrapes Prometheus endpoints, buffers on disk and ships to the broker (acks=all, idempotent). See agents/agent/agent.example.yaml.',
  [
    { flag: '-c, --config PATH', description: 'the agent configuration file (YAML)' },
    { flag: '--check', description: 'validate the configuration and exit' },
    { flag: '-h, --help', description: 'show this help' },
  ],
);

export const agentCommand: Command = {
  name: 'agent',
  summary: 'run the host agent (file tailing, host metrics, Prometheus scraping)',
  async run(argv) {
    let config: AgentConfig;
    let check = false;
    try {
      const flags = parseFlags(argv, options);
      if (flags.help) {
        console.log(help);
        return 0;
      }
      if (!flags.config) throw new UsageError('--config is required');
      check = flags.check ?? false;
      config = loadConfig(flags.config);
    } catch (err) {
      if (err instanceof UsageError) {
        console.error(`tributary agent: ${err.message}\n\n${help}`);
        return 2;
      }
      if (err instanceof ConfigError) {
        console.error(`tributary agent: invalid configuration: ${err.message}`);
        return 2;
      }
      throw err;
    }
    if (check) {
      console.log(`configuration OK: ${config.files.length} file sources, host metrics ${config.hostMetrics.enabled ? 'on' : 'off'}, ${config.scrape.length} scrape targets`);
      return 0;
    }
    const log = createLogger('agent');
    let agent: Agent;
    try {
      agent = await Agent.start(config, log);
    } catch (err) {
      if (err instanceof AgentLockedError || err instanceof StateFileError) {
        console.error(`tributary agent: ${err.message}`);
        return 1;
      }
      console.error(`tributary agent: failed to start: ${(err as Error).message}`);
      return 1;
    }
    const signal = await waitForShutdownSignal();
    log.info(`${signal} received, shutting down`);
    await agent.stop();
    return 0;
  },
};
