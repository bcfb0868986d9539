// Prometheus for the stack: the installed binary with its TSDB in <state>/prometheus/data (kept across
// starts), the remote-write receiver on for the pipelines' Prometheus sink, and a scrape job per
// Tributary component so the pipeline observes itself.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpGet } from './http-probe.ts';
import type { ComponentSpec } from './supervisor.ts';

export interface ScrapeTarget {
  /** The `job` label: broker, collector, agent, pipelines, dashboards, prometheus, up. */
  job: string;
  /** HOST:PORT serving /metrics. */
  address: string;
}

export interface PrometheusConfigOptions {
  targets: ScrapeTarget[];
  /** How often every component is scraped; short, so dashboards fill within a minute. */
  scrapeInterval?: string;
  /**
   * The Prometheus sink writes per-minute rollups after their window closes (plus allowed lateness), so
   * samples arrive older than the newest one of their series; this window accepts them.
   */
  outOfOrderTimeWindow?: string;
}

/** prometheus.yml as JSON (which YAML reads), so no YAML quoting can go wrong. */
export function prometheusConfig(opts: PrometheusConfigOptions): object {
  return {
    global: { scrape_interval: opts.scrapeInterval ?? '5s', scrape_timeout: '4s', evaluation_interval: '15s' },
    storage: { tsdb: { out_of_order_time_window: opts.outOfOrderTimeWindow ?? '10m' } },
    // One job per component, with every instance of it (a broker cluster has several) as its targets.
    scrape_configs: [...new Set(opts.targets.map((t) => t.job))].map((job) => ({
      job_name: job,
      metrics_path: '/metrics',
      static_configs: [{ targets: opts.targets.filter((t) => t.job === job).map((t) => t.address), labels: { component: job } }],
    })),
  };
}

export function prometheusComponent(opts: { binary: string; stateDir: string; port: number } & PrometheusConfigOptions): ComponentSpec {
  const dir = join(opts.stateDir, 'prometheus');
  mkdirSync(join(dir, 'data'), { recursive: true });
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, `# Written by \`tributary up\` at every start (stack/prometheus-process.ts).\n${JSON.stringify(prometheusConfig(opts), null, 2)}\n`);
  const url = `http://127.0.0.1:${opts.port}`;
  return {
    name: 'prometheus',
    command: opts.binary,
    args: [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${opts.port}`,
      '--web.enable-remote-write-receiver',
      '--storage.tsdb.retention.time=15d',
      '--log.level=info',
    ],
    cwd: dir,
    address: url,
    ready: { probe: async () => (await httpGet(`${url}/-/ready`)).status === 200 },
    readyTimeoutMs: 90_000,
    stopTimeoutMs: 20_000,
  };
}
