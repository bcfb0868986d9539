import type { ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { spawnBoundToParent } from './server-processes.ts';

export const repoRoot = resolve(import.meta.dirname, '../..');

export interface CliProcess {
  child: ChildProcess;
  output(): string;
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

/** Runs `tributary <args>` as a child process, the way users run it, and resolves once `ready` appears in its log. */
export async function startCli(args: string[], ready: RegExp, timeoutMs = 60_000, nodeArgs: string[] = []): Promise<CliProcess> {
  // A killed test or benchmark must not leave brokers running.
  const child = spawnBoundToParent([process.execPath, ...nodeArgs, join(repoRoot, 'bin/tributary.js'), ...args]);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Its open pipes would otherwise keep the test process alive.
      child.kill('SIGKILL');
      reject(new Error(`tributary ${args[0]} did not become ready:\n${out}`));
    }, timeoutMs);
    const check = () => {
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tributary ${args[0]} exited with ${code} before ready:\n${out}`));
    });
  });
  return {
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
