import { hostname } from 'node:os';
import { metrics } from '@opentelemetry/api';
import { logs, SeverityNumber } from '@opentelemetry/api-logs';
import { LoggerProvider, BatchLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';

export interface InitOptions {
  /** service.name of everything this process records. */
  serviceName: string;
  /** The collector's OTLP/HTTP base URL (default http://127.0.0.1:4318). */
  endpoint?: string;
  /** More resource attributes (deployment.environment, service.version, ...). */
  resource?: Record<string, string>;
  /** How often metrics are exported (default 10 s). */
  metricExportIntervalMs?: number;
}

export type ActivityProperties = Record<string, string | number | boolean>;

export interface TributarySdk {
  /** Records an activity event (signup, checkout, ...) as an OpenTelemetry log event named `name`. */
  track(name: string, properties?: ActivityProperties): void;
  /** Exports everything recorded so far. */
  flush(): Promise<void>;
  /** Flushes and stops exporting; registered for process exit as well. */
  shutdown(): Promise<void>;
}

let current: TributarySdk | null = null;

/**
 * Sets up OpenTelemetry's own SDK for metrics and logs behind @opentelemetry/api, exporting OTLP/HTTP to the
 * Tributary collector with batching. Apps keep writing plain OpenTelemetry API calls
 * (`metrics.getMeter(...)`, `logs.getLogger(...)`); `track()` adds activity events on top.
 */
export function init(options: InitOptions): TributarySdk {
  if (current) return current;
  const endpoint = (options.endpoint ?? 'http://127.0.0.1:4318').replace(/\/+$/, '');
  const resource = resourceFromAttributes({ 'service.name': options.serviceName, 'host.name': hostname(), ...options.resource });
  const loggerProvider = new LoggerProvider({
    resource,
    processors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `${endpoint}/v1/logs` }), scheduledDelayMillis: 1000 })],
  });
  const meterProvider = new MeterProvider({
    resource,
    readers: [new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: `${endpoint}/v1/metrics` }), exportIntervalMillis: options.metricExportIntervalMs ?? 10_000 })],
  });
  logs.setGlobalLoggerProvider(loggerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  const activity = loggerProvider.getLogger('tributary.activity');
  let stopped: Promise<void> | null = null;
  const sdk: TributarySdk = {
    track(name, properties = {}) {
      activity.emit({ eventName: name, severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: name, attributes: properties });
    },
    async flush() {
      await Promise.all([loggerProvider.forceFlush(), meterProvider.forceFlush()]);
    },
    shutdown() {
      stopped ??= (async () => {
        await sdk.flush();
        await Promise.all([loggerProvider.shutdown(), meterProvider.shutdown()]);
        current = null;
      })();
      return stopped;
    },
  };
  // Flush on the way out so the last batch is not lost when the app simply ends.
  process.once('beforeExit', () => void sdk.shutdown());
  current = sdk;
  return sdk;
}

/** `track()` on the SDK set up by `init()`; a no-op before it. */
export function track(name: string, properties?: ActivityProperties): void {
  current?.track(name, properties);
}
