import type { MetricPoint } from '../../events/metric-point.ts';
import { parsePrometheusText, type PrometheusParseResult } from './prometheus-text.ts';

export interface ScrapeTarget {
  url: string;
  /** Becomes `service.name`, as Prometheus's `job` label does. */
  job: string;
  timeoutMs: number;
  /** The agent's host: `host.name` of every point. */
  hostName: string;
}

/** A scrape that produced nothing: the target answered badly, too slowly, not at all, or with an unparsable body. */
export class ScrapeError extends Error {
  override name = 'ScrapeError';
  readonly kind: 'http_status' | 'timeout' | 'network' | 'parse';
  readonly url: string;

  constructor(kind: ScrapeError['kind'], url: string, message: string, cause?: unknown) {
    super(`scrape of ${url} failed: ${message}`, { cause });
    this.kind = kind;
    this.url = url;
  }
}

/** What Prometheus would name the target: host and port, the port made explicit when the URL leaves it implied. */
export function instanceOf(url: URL): string {
  return `${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;
}

/** One scrape, with the count of samples left out because JSON cannot carry them (NaN, ±Inf). */
export async function scrapePrometheusTarget(target: ScrapeTarget, now: number): Promise<PrometheusParseResult> {
  const url = new URL(target.url);
  let body: string;
  try {
    const response = await fetch(url, {
      headers: {
        // The classic text format is the only one parsed here: ask for it rather than OpenMetrics or protobuf.
        accept: 'text/plain;version=0.0.4',
        'x-prometheus-scrape-timeout-seconds': String(target.timeoutMs / 1000),
      },
      signal: AbortSignal.timeout(target.timeoutMs),
    });
    if (!response.ok) {
      // Release the connection now rather than when the unread body is garbage-collected.
      await response.body?.cancel();
      throw new ScrapeError('http_status', target.url, `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`);
    }
    // The signal covers the body too, so a target that stalls mid-response still times out.
    body = await response.text();
  } catch (e) {
    if (e instanceof ScrapeError) throw e;
    const err = e as Error;
    if (err.name === 'TimeoutError') throw new ScrapeError('timeout', target.url, `no complete answer within ${target.timeoutMs} ms`, e);
    const reason = (err.cause as Error | undefined)?.message ?? err.message;
    throw new ScrapeError('network', target.url, reason, e);
  }
  try {
    return parsePrometheusText(body, {
      timestamp: now,
      resource: { 'host.name': target.hostName, 'service.name': target.job, 'service.instance.id': instanceOf(url) },
    });
  } catch (e) {
    throw new ScrapeError('parse', target.url, (e as Error).message, e);
  }
}

/** One scrape of a Prometheus endpoint as MetricPoints; rejects with a ScrapeError when the scrape yields nothing. */
export async function scrapePrometheus(target: ScrapeTarget, now: number): Promise<MetricPoint[]> {
  return (await scrapePrometheusTarget(target, now)).points;
}
