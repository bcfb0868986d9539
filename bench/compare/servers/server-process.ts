// One server process for the comparison (redis-server, nats-server): started under a parent-death signal so it
// dies with us, its output kept for failure messages, polled until ready within a bound, stopped with a grace
// period, and its directory removed once it has exited.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { findExecutable, releaseDir, removeOnExit, spawnBoundToParent } from '../../../test/helpers/server-processes.ts';

const READY_TIMEOUT_MS = 30_000;
const READY_POLL_MS = 25;
const STOP_GRACE_MS = 10_000;

export interface ServerProcessOptions {
  /** The executable's name, for messages: `redis-server`. */
  name: string;
  command: string;
  args: string[];
  /** The server's working and data directory, fresh: removed when the server stops or fails to start. */
  dir: string;
  /** One readiness probe with its own timeout, resolving false while the server is not up yet. */
  ready: () => Promise<boolean>;
  /** What `ready` waits for, for messages: `an answer to PING`. */
  awaiting: string;
}

export interface ServerProcess {
  pid: number;
  /** What the server logged so far, for failure messages. */
  output(): string;
  /** SIGTERM (SIGKILL after 10 s), wait for exit, remove the directory. */
  stop(): Promise<void>;
}

/** `name` on PATH or where Debian installs servers; throws naming the package to install. */
export function serverExecutable(name: string): string {
  const path = findExecutable(name);
  if (!path) throw new Error(`${name} not found (install Debian's ${name} package)`);
  return path;
}

/** The version `executable --version` prints: `pattern`'s first group. */
export function serverVersion(executable: string, pattern: RegExp): string {
  const out = execFileSync(executable, ['--version'], { encoding: 'utf8' });
  const m = pattern.exec(out);
  if (!m) throw new Error(`cannot read the version from "${out.trim()}"`);
  return m[1];
}

/** Starts the server and resolves once `ready` answered true; rejects (with its output) if it exits or times out first. */
export async function spawnServer({ name, command, args, dir, ready, awaiting }: ServerProcessOptions): Promise<ServerProcess> {
  removeOnExit(dir);
  const child = spawnBoundToParent([command, ...args], dir);
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let died = false;
  void exited.then(() => (died = true));

  const removeDir = () => {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    releaseDir(dir);
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    removeDir();
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (died) {
      removeDir();
      throw new Error(`${name} exited with ${child.exitCode ?? child.signalCode} while waiting for ${awaiting}:\n${output}`);
    }
    if (await ready()) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${name} timed out after ${READY_TIMEOUT_MS} ms waiting for ${awaiting}:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, READY_POLL_MS));
  }
  return { pid: child.pid!, output: () => output, stop };
}
