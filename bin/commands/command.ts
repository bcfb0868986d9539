import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

export interface Command {
  name: string;
  summary: string;
  run(argv: string[]): Promise<number>;
}

export interface OptionHelp {
  flag: string;
  description: string;
}

export class UsageError extends Error {}

/**
 * Strict flag parsing shared by every sub-command: unknown flags and missing values are usage errors
 * (exit code 2 with the command's help), never silently ignored.
 */
export function parseFlags<T extends ParseArgsOptionsConfig>(
  argv: string[],
  options: T,
): ReturnType<typeof parseArgs<{ options: T; strict: true; allowPositionals: false }>>['values'] {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function formatHelp(usage: string, summary: string, options: OptionHelp[]): string {
  const width = Math.max(...options.map((o) => o.flag.length));
  return [`Usage: ${usage}`, '', summary, '', 'Options:', ...options.map((o) => `  ${o.flag.padEnd(width)}  ${o.description}`)].join('\n');
}
