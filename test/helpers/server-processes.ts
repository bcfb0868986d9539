import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';

// Servers started by tests (ClickHouse, Prometheus, ...), killed and their directories removed when the
// test process exits without stopping them: a failed assertion, an uncaught error. A test process killed
// by a signal runs no handler; starting servers through `setpriv --pdeathsig KILL` covers that case.
const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of liveChildren) c.kill('SIGKILL');
    for (const d of liveDirs) rmSync(d, { recursive: true, force: true, maxRetries: 3 });
  });
}

/** Kills `child` if the test process exits while it still runs. */
export function reapOnExit(child: ChildProcess): void {
  installExitHook();
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

/** Removes `dir` if the test process exits before `releaseDir(dir)`. */
export function removeOnExit(dir: string): void {
  installExitHook();
  liveDirs.add(dir);
}

export function releaseDir(dir: string): void {
  liveDirs.delete(dir);
}

/** The first of `names` found on PATH or in the sbin/bin folders Debian installs servers to. */
export function findExecutable(...names: string[]): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/usr/local/bin'];
  for (const name of names) for (const dir of dirs) if (dir && existsSync(join(dir, name))) return join(dir, name);
  return null;
}

/** A port free on 127.0.0.1 right now (the kernel's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Spawns `argv` with piped output, bound to this process's life: through `setpriv --pdeathsig KILL` (when
 * present) it dies with us even when we are SIGKILLed, and reapOnExit covers a normal exit. setpriv execs,
 * so the child's pid is the server's own.
 */
export function spawnBoundToParent(argv: string[], cwd?: string): ChildProcess {
  const setpriv = findExecutable('setpriv');
  const command = setpriv ? [setpriv, '--pdeathsig', 'KILL', '--', ...argv] : argv;
  const child = spawn(command[0], command.slice(1), { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  reapOnExit(child);
  return child;
}
