// A redis-server of our own for the comparison (Debian's 7.0 here): 127.0.0.1, a free port, a throw-away
// directory, AOF on with fsync once a second, no RDB snapshots, so its durability is stated and comparable.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable, freePort, reapOnExit, releaseDir, removeOnExit } from '../../../test/helpers/server-processes.ts';

export interface RedisServer {
  port: number;
  /** As the server prints it: `7.0.15`. */
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

/** The settings the comparison states in its notes; `--save ''` turns RDB snapshots off so only the AOF writes. */
export const REDIS_DURABILITY_ARGS = ['--appendonly', 'yes', '--appendfsync', 'everysec', '--save', ''];

export function redisVersion(executable = redisExecutable()): string {
  const out = execFileSync(executable, ['--version'], { encoding: 'utf8' });
  const m = /v=(\S+)/.exec(out);
  if (!m) throw new Error(`cannot read the version from "${out.trim()}"`);
  return m[1];
}

function redisExecutable(): string {
  const path = findExecutable('redis-server');
  if (!path) throw new Error('redis-server not found (install Debian\'s redis-server package)');
  return path;
}

/** One PING on a fresh connection; resolves true on +PONG, false on anything else (not up yet). */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      reply += d;
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

export async function startRedis(): Promise<RedisServer> {
  const executable = redisExecutable();
  const version = redisVersion(executable);
  const dataDir = mkdtempSync(join(tmpdir(), 'tributary-redis-'));
  removeOnExit(dataDir);
  const port = await freePort();
  const args = [
    executable,
    '--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'no', '--daemonize', 'no',
    '--dir', dataDir, '--logfile', '', ...REDIS_DURABILITY_ARGS,
  ];
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
      throw new Error(`redis-server exited with ${child.exitCode ?? child.signalCode} before answering PING:\n${output}`);
    }
    if (await ping(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server did not answer PING within ${READY_TIMEOUT_MS} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return { port, version, dataDir, pid: child.pid!, output: () => output, stop };
}
