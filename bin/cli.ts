import { agentCommand } from './commands/agent.ts';
import { brokerCommand } from './commands/broker.ts';
import { collectorCommand } from './commands/collector.ts';
import { dashboardsCommand } from './commands/dashboards.ts';
import { pipelinesCommand } from './commands/pipelines.ts';
import { upCommand } from './commands/up.ts';
import type { Command } from './commands/command.ts';

const commands: Command[] = [brokerCommand, collectorCommand, agentCommand, pipelinesCommand, dashboardsCommand, upCommand];

function usage(): string {
  const lines = commands.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`);
  return ['Usage: tributary <command> [options]', '', 'Commands:', ...lines, '', 'Run `tributary <command> --help` for a command\'s options.'].join('\n');
}

/** Runs one sub-command and returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 1;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(`tributary: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  return command.run(rest);
}
