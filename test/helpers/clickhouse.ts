// A real clickhouse-server for tests: Debian's 18.16 package here, any current release elsewhere.
// Each call starts its own server on free 127.0.0.1 ports with a throw-away data directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable, reapOnExit, releaseDir, removeOnExit } from './server-processes.ts';

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

/** Distinct free ports: all are bound at once before any is released, so they cannot coincide. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/**
 * The whole configuration, and nothing that current releases reject (`<yandex>` is still accepted as
 * the root element). 18.16 refuses to start without `mark_cache_size` (it has no default) and without
 * the profile and quota its user names. Every path points into the temporary directory, and every port
 * is a free one picked here, so servers of parallel tests never collide.
 */
function configXml(rawDir: string, ports: { http: number; tcp: number; interserver: number }): string {
  const dir = rawDir.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>${dir}/clickhouse-server.log</log>
    <errorlog>${dir}/clickhouse-server.err.log</errorlog>
    <size>10M</size>
    <count>1</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${ports.http}</http_port>
  <tcp_port>${ports.tcp}</tcp_port>
  <interserver_http_port>${ports.interserver}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_concurrent_queries>50</max_concurrent_queries>
  <mlock_executable>false</mlock_executable>
</yandex>
`;
}

const USERS_XML = `<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default></default></quotas>
</yandex>
`;

export async function startClickHouse(): Promise<ClickHouseServer> {
  const command = serverCommand();
  const dir = mkdtempSync(join(tmpdir(), 'tributary-clickhouse-'));
  removeOnExit(dir);
  const [http, tcp, interserver] = await freePorts(3);
  writeFileSync(join(dir, 'config.xml'), configXml(dir, { http, tcp, interserver }));
  writeFileSync(join(dir, 'users.xml'), USERS_XML);
  const url = `http://127.0.0.1:${http}`;

  // setpriv (util-linux) sets a parent-death signal before exec'ing the server, so the server dies
  // with the test process even when that is SIGKILLed. Without setpriv, the 'exit' hook still applies.
  const setpriv = findExecutable('setpriv');
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
    const argv = setpriv ? [setpriv, '--pdeathsig', 'KILL', '--', ...args] : args;
    output = '';
    const c = spawn(argv[0], argv.slice(1), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    reapOnExit(c);
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
