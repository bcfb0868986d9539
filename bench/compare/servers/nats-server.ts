// A nats-server of our own for the comparison (Debian's 2.9 here): JetStream on, file storage in a throw-away
// directory, client port and monitoring port both free ports on 127.0.0.1.
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../../test/helpers/server-processes.ts';
import { serverExecutable, serverVersion, spawnServer, type ServerProcess } from './server-process.ts';

export interface NatsServer extends ServerProcess {
  port: number;
  /** The monitoring port (`-m`): /healthz, /varz, /jsz. */
  monitorPort: number;
  /** As the server prints it: `2.9.10`. */
  version: string;
  dataDir: string;
}

export function natsVersion(executable = serverExecutable('nats-server')): string {
  return serverVersion(executable, /v(\d+\.\d+\.\d+\S*)/);
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
  const executable = serverExecutable('nats-server');
  const version = natsVersion(executable);
  const port = await freePort();
  let monitorPort = await freePort();
  while (monitorPort === port) monitorPort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'tributary-nats-'));
  const server = await spawnServer({
    name: 'nats-server',
    command: executable,
    args: ['-js', '-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort), '-sd', dataDir],
    dir: dataDir,
    ready: () => healthy(monitorPort),
    awaiting: 'a 200 from /healthz',
  });
  return { ...server, port, monitorPort, version, dataDir };
}
