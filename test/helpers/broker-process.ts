import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '../..');
const cli = join(repoRoot, 'bin/tributary.js');

export interface BrokerProcess {
  port: number;
  dataDir: string;
  child: ChildProcess;
  /** Everything the broker logged so far. */
  output(): string;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: a crash, nothing flushed or closed. */
  kill(): Promise<void>;
}

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
  const child = spawn(
    process.execPath,
    [...(opts.nodeArgs ?? []), cli, 'broker', '--node-id', '1', '--listen', `127.0.0.1:${opts.port ?? 0}`, '--data-dir', dataDir, ...(opts.args ?? [])],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not become ready:\n${out}`)), 30_000);
    const check = () => {
      const m = /ready: node \d+ listening on [^ ]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stderr!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited with ${code} before ready:\n${out}`));
    });
  });
  return {
    port,
    dataDir,
    child,
    output: () => out,
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
