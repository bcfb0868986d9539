// A redis-server of our own for the comparison (Debian's 7.0 here): 127.0.0.1, a free port, a throw-away
// directory, AOF on with fsync once a second, no RDB snapshots, so its durability is stated and comparable.
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../../test/helpers/server-processes.ts';
import { serverExecutable, serverVersion, spawnServer, type ServerProcess } from './server-process.ts';

export interface RedisServer extends ServerProcess {
  port: number;
  /** As the server prints it: `7.0.15`. */
  version: string;
  dataDir: string;
}

/** The settings the comparison states in its notes; `--save ''` turns RDB snapshots off so only the AOF writes. */
export const REDIS_DURABILITY_ARGS = ['--appendonly', 'yes', '--appendfsync', 'everysec', '--save', ''];

export function redisVersion(executable = serverExecutable('redis-server')): string {
  return serverVersion(executable, /v=(\S+)/);
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
  const executable = serverExecutable('redis-server');
  const version = redisVersion(executable);
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'tributary-redis-'));
  const server = await spawnServer({
    name: 'redis-server',
    command: executable,
    args: [
      '--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'no', '--daemonize', 'no',
      '--dir', dataDir, '--logfile', '', ...REDIS_DURABILITY_ARGS,
    ],
    dir: dataDir,
    ready: () => ping(port),
    awaiting: 'an answer to PING',
  });
  return { ...server, port, version, dataDir };
}
