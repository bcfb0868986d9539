// A nats-server of our own for the comparison (Debian's 2.9 here): JetStream on, file storage in a throw-away
// directory, client port and monitoring port both free ports on 127.0.0.1.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable, freePort, reapOnExit, releaseDir, removeOnExit } from '../../../test/helpers/server-processes.ts';

export interface NatsServer {
  port: number;
  /** The monitoring port (`-m`): /healthz, /varz, /jsz. */
  monitorPort: number;
  /** As the server prints it: `2.9.10`. */
  version: string;
  dataDir: string;
  pid: number;
  /** What the server logged so far, for failure messages. */
  output(): string;
  /** SIGTERM (SIGKILL after 10 s), wait for exit, remove the directory. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;

export function natsVersion(executable = natsExecutable()): string {
  const out = execFileSync(executable, ['--version'], { encoding: 'utf8' });
  const m = /v(\d+\.\d+\.\d+\S*)/.exec(out);
  if (!m) throw new Error(`cannot read the version from "${out.trim()}"`);
  return m[1];
}

function natsExecutable(): string {
  const path = findExecutable('nats-server');
  if (!path) throw new Error('nats-server not found (install Debian\'s nats-server package)');
  return path;
}

/** GET /healthz on its own connection: 200 once the server and JetStream are up. */
function healthy(monitorPort: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port: monitorPort, path: '/healthz', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

export async function startNats(): Promise<NatsServer> {
  const executable = natsExecutable();
  const version = natsVersion(executable);
  const dataDir = mkdtempSync(join(tmpdir(), 'tributary-nats-'));
  removeOnExit(dataDir);
  const port = await freePort();
  let monitorPort = await freePort();
  while (monitorPort === port) monitorPort = await freePort();
  const args = [executable, '-js', '-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort), '-sd', dataDir];
  // setpriv gives the server a parent-death signal, so it dies with us even when we are SIGKILLed.
  const setpriv = findExecutable('setpriv');
  const argv = setpriv ? [setpriv, '--pdeathsig', 'KILL', '--', ...args] : args;
  const child = spawn(argv[0], argv.slice(1), { cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'] });
  reapOnExit(child);
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let died = false;
  void exited.then(() => (died = true));

  const removeData = () => {
    rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 });
    releaseDir(dataDir);
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    removeData();
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (died) {
      removeData();
      throw new Error(`nats-server exited with ${child.exitCode ?? child.signalCode} before /healthz answered:\n${output}`);
    }
    if (await healthy(monitorPort)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`nats-server's /healthz did not answer 200 within ${READY_TIMEOUT_MS} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return { port, monitorPort, version, dataDir, pid: child.pid!, output: () => output, stop };
}
