import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCli, type CliProcess } from './cli-process.ts';

export { repoRoot } from './cli-process.ts';

/** stop() is SIGTERM (a clean shutdown), kill() SIGKILL (a crash: nothing flushed or closed). */
export interface BrokerProcess extends CliProcess {
  port: number;
  dataDir: string;
}

const READY = /ready: node \d+ listening on [^ ]+:(\d+)/;

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `tributary-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Starts `tributary broker` as a real child process (the way users run it) on an ephemeral port and
 * resolves once it logged its ready line.
 */
export async function startBroker(opts: { dataDir?: string; port?: number; args?: string[]; nodeArgs?: string[] } = {}): Promise<BrokerProcess> {
  const dataDir = opts.dataDir ?? tempDir('broker');
  const cli = await startCli(
    ['broker', '--node-id', '1', '--listen', `127.0.0.1:${opts.port ?? 0}`, '--data-dir', dataDir, ...(opts.args ?? [])],
    READY,
    30_000,
    opts.nodeArgs,
  );
  const port = Number(READY.exec(cli.output())![1]);
  return { ...cli, port, dataDir };
}
