import type { MetricPoint } from '../../events/metric-point.ts';
import type { AgentConfig } from '../config.ts';

/** A periodic source of metric points: host metrics, or one Prometheus scrape target. */
export interface MetricCollector {
  name: string;
  kind: 'host_metrics' | 'scrape';
  intervalMs: number;
  collect(now: number): Promise<MetricPoint[]>;
}

export interface CollectorProblems {
  /** One host source (say /proc/diskstats) failed while the others reported. */
  partialFailure(kind: MetricCollector['kind'], message: string): void;
  /** Samples a scrape could not represent (NaN, ±Inf, out-of-range timestamps), skipped. */
  skipped(kind: MetricCollector['kind'], count: number): void;
}

/** Loads only the sources the config asks for. */
export async function metricCollectors(config: AgentConfig, problems: CollectorProblems): Promise<MetricCollector[]> {
  const out: MetricCollector[] = [];
  if (config.hostMetrics.enabled) {
    const { HostMetricsCollector } = await import('./host-metrics.ts');
    const host = new HostMetricsCollector({
      procRoot: config.hostMetrics.procRoot,
      hostName: config.hostName,
      onError: (source, err) => problems.partialFailure('host_metrics', `${source}: ${err.message}`),
    });
    out.push({ name: 'host metrics', kind: 'host_metrics', intervalMs: config.hostMetrics.intervalMs, collect: (now) => host.collect(now) });
  }
  if (config.scrape.length === 0) return out;
  const { scrapePrometheusTarget } = await import('./prometheus-scraper.ts');
  for (const s of config.scrape) {
    out.push({
      name: `scrape ${s.job} (${s.url})`,
      kind: 'scrape',
      intervalMs: s.intervalMs,
      collect: async (now) => {
        const { points, skippedSamples } = await scrapePrometheusTarget({ url: s.url, job: s.job, timeoutMs: s.timeoutMs, hostName: config.hostName }, now);
        if (skippedSamples > 0) problems.skipped('scrape', skippedSamples);
        return points;
      },
    });
  }
  return out;
}
