// A real Prometheus for tests (Debian's `prometheus` package: 2.42 here, any 2.x/3.x elsewhere). Each call starts
// its own server on a free 127.0.0.1 port with the remote-write receiver on and a throw-away TSDB directory.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable, freePort, releaseDir, removeOnExit, spawnBoundToParent } from './server-processes.ts';

export interface PrometheusOptions {
  /** `scrape_configs` entries, as objects (the config file is written as JSON, which YAML reads). */
  scrapeConfigs?: object[];
  /**
   * A Prometheus duration (`'10m'`) for `storage.tsdb.out_of_order_time_window`: samples up to that much older
   * than a series' newest sample are accepted instead of rejected. A config-file setting since 2.39; no
   * `--enable-feature` flag is needed (2.42 has none for it).
   */
  outOfOrderTimeWindow?: string;
  /** More command-line flags. */
  extraArgs?: string[];
}

/** The `data` member of a query API answer. */
export interface PromQueryData {
  resultType: 'vector' | 'matrix' | 'scalar' | 'string';
  // vector: { metric, value: [seconds, "v"] }[]; matrix: { metric, values: [seconds, "v"][] }[]; scalar: [seconds, "v"].
  result: any;
}

export interface PrometheusServer {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  /** `${url}/api/v1/write` */
  remoteWriteUrl: string;
  /** The temporary directory holding prometheus.yml and the TSDB. */
  dir: string;
  /** An instant query (/api/v1/query); `time` in milliseconds since the epoch, like remote-write timestamps. */
  query(promql: string, time?: number): Promise<PromQueryData>;
  /** A range query (/api/v1/query_range); start, end and step in milliseconds. */
  queryRange(promql: string, start: number, end: number, step: number): Promise<PromQueryData>;
  /** GET a path of the HTTP API and parse the JSON answer (`/api/v1/series?match[]=...`, `/api/v1/targets`). */
  api(path: string): Promise<any>;
  /** SIGTERM, wait for exit (SIGKILL after 10 s), remove the directory. */
  stop(): Promise<void>;
  /** What the server printed so far, for failure messages. */
  logs(): string;
}

const STOP_GRACE_MS = 10_000;
const READY_TIMEOUT_MS = 60_000;


/** One request on its own connection (no keep-alive), so no pooled socket outlives the server or the test. */
function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);

export async function startPrometheus(opts: PrometheusOptions = {}): Promise<PrometheusServer> {
  const binary = process.env.PROMETHEUS ?? findExecutable('prometheus');
  if (!binary) throw new Error("prometheus not found (install Debian's prometheus package or set PROMETHEUS)");
  const dir = mkdtempSync(join(tmpdir(), 'tributary-prometheus-'));
  removeOnExit(dir);
  const removeDir = () => {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    releaseDir(dir);
  };

  const config: Record<string, unknown> = {
    // 1 s instead of the default 1 m, so scrape tests see data quickly.
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    scrape_configs: opts.scrapeConfigs ?? [],
  };
  if (opts.outOfOrderTimeWindow) config.storage = { tsdb: { out_of_order_time_window: opts.outOfOrderTimeWindow } };
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, JSON.stringify(config, null, 2));

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--web.enable-remote-write-receiver',
    '--log.level=warn',
    ...(opts.extraArgs ?? []),
  ];
  let output = '';
  const child = spawnBoundToParent([binary, ...args], dir);
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    resolve();
  }));
  const logs = () => output;

  const terminate = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
  };

  try {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`prometheus exited with ${child.exitCode ?? child.signalCode} before it was ready:\n${logs()}`);
      }
      try {
        if ((await httpGet(port, '/-/ready')).status === 200) break;
      } catch {}
      if (Date.now() > deadline) throw new Error(`prometheus was not ready within ${READY_TIMEOUT_MS} ms:\n${logs()}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  } catch (err) {
    await terminate();
    removeDir();
    throw err;
  }

  const api = async (path: string) => {
    const { status, body } = await httpGet(port, path);
    let json: any;
    try {
      json = JSON.parse(body);
    } catch {
      throw new Error(`Prometheus ${status} for ${path}: ${body.trim()}`);
    }
    if (json.status !== 'success') throw new Error(`Prometheus ${status} for ${path}: ${json.errorType}: ${json.error}`);
    return json.data;
  };

  return {
    url,
    port,
    remoteWriteUrl: `${url}/api/v1/write`,
    dir,
    query(promql, time) {
      const q = new URLSearchParams({ query: promql });
      if (time !== undefined) q.set('time', seconds(time));
      return api(`/api/v1/query?${q}`);
    },
    queryRange(promql, start, end, step) {
      const q = new URLSearchParams({ query: promql, start: seconds(start), end: seconds(end), step: seconds(step) });
      return api(`/api/v1/query_range?${q}`);
    },
    api,
    async stop() {
      await terminate();
      removeDir();
    },
    logs,
  };
}
