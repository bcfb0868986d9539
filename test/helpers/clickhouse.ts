// A real clickhouse-server for tests: Debian's 18.16 package here, any current release elsewhere.
// Each call starts its own server on free 127.0.0.1 ports with a throw-away data directory.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable, releaseDir, removeOnExit, spawnBoundToParent } from './server-processes.ts';
import { CLICKHOUSE_USERS_XML, clickHouseConfigXml } from '../../stack/clickhouse-process.ts';
import { freePorts } from '../../stack/ports.ts';

export interface ClickHouseServer {
  /** http://127.0.0.1:<httpPort>, for @clickhouse/client's `url`. */
  url: string;
  httpPort: number;
  tcpPort: number;
  /** The temporary directory holding config, data and logs. */
  dir: string;
  /** POSTs one statement over HTTP; resolves with the response body, rejects with the server's error. */
  query(sql: string): Promise<string>;
  /**
   * SIGTERM, wait for exit (SIGKILL after 10 s), remove the directory. Takes about 1 s on 18.16; close
   * @clickhouse/client instances first, or their idle keep-alive connections delay shutdown by seconds.
   */
  stop(): Promise<void>;
  /** A crash: SIGKILL and wait for exit. The directory stays, for restart() or stop(). */
  kill9(): Promise<void>;
  /** Starts the server again on the same directory and ports (after kill9(), or to restart a live one). */
  restart(): Promise<void>;
  /** What the server printed and wrote to its log files so far, for failure messages. */
  logs(): string;
}

const STOP_GRACE_MS = 10_000;
const READY_TIMEOUT_MS = 60_000;

/** The server command: clickhouse-server (Debian, or the symlink current packages install), else `clickhouse server`. */
function serverCommand(): string[] {
  const fromEnv = process.env.CLICKHOUSE_SERVER;
  if (fromEnv) return [fromEnv];
  const server = findExecutable('clickhouse-server');
  if (server) return [server];
  const multi = findExecutable('clickhouse');
  if (multi) return [multi, 'server'];
  throw new Error('clickhouse-server not found (install Debian\'s clickhouse-server package or set CLICKHOUSE_SERVER)');
}

/**
 * One request on its own connection (no keep-alive): a pooled idle connection would hold the server's
 * graceful shutdown for several seconds.
 */
function httpRequest(method: string, port: number, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

// The server's configuration is the stack's own (stack/clickhouse-process.ts), so tests run what `tributary up` runs;
// here every path points into a temporary directory and every port is a free one, so parallel tests never collide.

export async function startClickHouse(): Promise<ClickHouseServer> {
  const command = serverCommand();
  const dir = mkdtempSync(join(tmpdir(), 'tributary-clickhouse-'));
  removeOnExit(dir);
  const [http, tcp, interserver] = await freePorts(3);
  writeFileSync(join(dir, 'config.xml'), clickHouseConfigXml(dir, dir, { http, tcp, interserver }));
  writeFileSync(join(dir, 'users.xml'), CLICKHOUSE_USERS_XML);
  const url = `http://127.0.0.1:${http}`;

  let output = '';
  let child: ChildProcess;
  let exited: Promise<void>;

  const logs = () => {
    let text = output;
    for (const f of ['clickhouse-server.err.log']) {
      try {
        text += `\n--- ${f}\n` + readFileSync(join(dir, f), 'utf8').slice(-8000);
      } catch {}
    }
    return text;
  };

  const launch = async () => {
    const args = [...command, `--config-file=${join(dir, 'config.xml')}`];
    output = '';
    const c = spawnBoundToParent(args, dir);
    child = c;
    c.stdout!.on('data', (d) => (output += d));
    c.stderr!.on('data', (d) => (output += d));
    exited = new Promise((resolve) => c.once('exit', () => resolve()));
    let died = false;
    void exited.then(() => (died = true));
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (died) throw new Error(`clickhouse-server exited with ${c.exitCode ?? c.signalCode} before answering /ping:\n${logs()}`);
      try {
        if ((await httpRequest('GET', http, '/ping')).body === 'Ok.\n') return;
      } catch {}
      if (Date.now() > deadline) {
        c.kill('SIGKILL');
        await exited;
        throw new Error(`clickhouse-server did not answer /ping within ${READY_TIMEOUT_MS} ms:\n${logs()}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  const removeDir = () => {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    releaseDir(dir);
  };

  const terminate = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };

  try {
    await launch();
  } catch (err) {
    removeDir();
    throw err;
  }

  return {
    url,
    httpPort: http,
    tcpPort: tcp,
    dir,
    async query(sql: string) {
      const { status, body } = await httpRequest('POST', http, '/', sql);
      if (status !== 200) throw new Error(`ClickHouse ${status}: ${body.trim()}\nquery: ${sql.length > 500 ? sql.slice(0, 500) + '…' : sql}`);
      return body;
    },
    async stop() {
      await terminate('SIGTERM');
      removeDir();
    },
    async kill9() {
      await terminate('SIGKILL');
    },
    async restart() {
      await terminate('SIGTERM');
      await launch();
    },
    logs,
  };
}
