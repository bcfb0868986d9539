// The demo traffic of `tributary up --demo`: log lines appended to <state>/demo-logs/<service>.log, which
// the stack's agent tails, and page views posted to the collector's beacon endpoint exactly as the browser
// tracker sends them, at a steady rate, so every dashboard has data within a minute. An optional error
// burst (many ERROR lines from one service for a while) gives alert rules something to fire on.
import { appendFileSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_SERVICES, logRecord, type DemoService, type Random } from './demo/log-lines.ts';
import { VisitorModel } from './demo/page-views.ts';

export interface ErrorBurst {
  /** When the burst begins, after the generator starts. */
  afterMs: number;
  durationMs: number;
  /** Which service fails (default checkout). */
  service?: string;
  /** ERROR records per second during the burst (default 20). */
  perSecond?: number;
}

export interface DemoGeneratorOptions {
  /** Where the service log files are written (the agent tails `<logDir>/<service>.log`). */
  logDir: string;
  /** The collector's base URL, e.g. http://127.0.0.1:4318; page views go to `${collectorUrl}/api/event`. */
  collectorUrl: string;
  pageViewsPerSecond?: number;
  /** Log records per second, over all services. */
  logRecordsPerSecond?: number;
  errorBurst?: ErrorBurst;
  /** A log file is renamed to `<service>.log.1` past this size (the agent follows renames). */
  rotateBytes?: number;
  random?: Random;
}

/** What the generator did, for the stack's own metrics and for tests. */
export interface DemoCounters {
  pageViewsSent: number;
  pageViewsFailed: number;
  logRecords: number;
  errorBurstRecords: number;
  /** The last failure sending a page view, for diagnostics. */
  lastPageViewError: string;
}

const TICK_MS = 100;

/** `AFTER:DURATION` as the --demo-error-burst flag takes it: `30s:40s`, `2m:1m`, `500ms:5s`. */
export function parseErrorBurst(value: string): ErrorBurst {
  const m = /^(\d+)(ms|s|m):(\d+)(ms|s|m)$/.exec(value);
  if (!m) throw new Error(`expects AFTER:DURATION such as 30s:40s, got '${value}'`);
  const unit = { ms: 1, s: 1000, m: 60_000 } as const;
  const durationMs = Number(m[3]) * unit[m[4] as keyof typeof unit];
  if (durationMs === 0) throw new Error(`the burst's duration must be more than 0, got '${value}'`);
  return { afterMs: Number(m[1]) * unit[m[2] as keyof typeof unit], durationMs };
}

export class DemoGenerator {
  readonly counters: DemoCounters = { pageViewsSent: 0, pageViewsFailed: 0, logRecords: 0, errorBurstRecords: 0, lastPageViewError: '' };
  readonly services: readonly DemoService[] = DEMO_SERVICES;
  private readonly opts: Required<Omit<DemoGeneratorOptions, 'errorBurst'>> & { errorBurst?: ErrorBurst };
  private readonly visitors: VisitorModel;
  private readonly inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private startedAt = 0;
  private lastTick = 0;
  /** Fractions of a record owed from earlier ticks, so low rates still come out exact over time. */
  private owed = { views: 0, logs: 0, burst: 0 };

  constructor(opts: DemoGeneratorOptions) {
    this.opts = { pageViewsPerSecond: 3, logRecordsPerSecond: 8, rotateBytes: 64 << 20, random: Math.random, ...opts };
    this.visitors = new VisitorModel({ random: this.opts.random });
    if (opts.errorBurst?.service && !DEMO_SERVICES.some((s) => s.name === opts.errorBurst!.service)) {
      throw new Error(`error burst: unknown service '${opts.errorBurst.service}' (demo services: ${DEMO_SERVICES.map((s) => s.name).join(', ')})`);
    }
  }

  /** The file a service's records are appended to. */
  logFile(service: string): string {
    return join(this.opts.logDir, `${service}.log`);
  }

  /** The burst's window in wall-clock milliseconds, once started. */
  burstWindow(): { start: number; end: number } | null {
    const b = this.opts.errorBurst;
    return b && this.startedAt ? { start: this.startedAt + b.afterMs, end: this.startedAt + b.afterMs + b.durationMs } : null;
  }

  start(): void {
    mkdirSync(this.opts.logDir, { recursive: true });
    this.startedAt = this.lastTick = Date.now();
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  /** Stops generating and waits for page views still being sent. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.all(this.inFlight);
  }

  private tick(): void {
    const now = Date.now();
    const dt = (now - this.lastTick) / 1000;
    this.lastTick = now;
    this.owed.views += this.opts.pageViewsPerSecond * dt;
    this.owed.logs += this.opts.logRecordsPerSecond * dt;
    const window = this.burstWindow();
    if (window && now >= window.start && now < window.end) this.owed.burst += (this.opts.errorBurst!.perSecond ?? 20) * dt;
    const chunks = new Map<DemoService, string>();
    const append = (service: DemoService, text: string) => chunks.set(service, (chunks.get(service) ?? '') + text);
    for (; this.owed.logs >= 1; this.owed.logs--) {
      const service = this.services[Math.floor(this.opts.random() * this.services.length)];
      append(service, logRecord(this.opts.random, service, now).text);
      this.counters.logRecords++;
    }
    if (window) {
      const service = this.services.find((s) => s.name === (this.opts.errorBurst!.service ?? 'checkout'))!;
      for (; this.owed.burst >= 1; this.owed.burst--) {
        append(service, logRecord(this.opts.random, service, now, { level: 'ERROR', burst: true }).text);
        this.counters.errorBurstRecords++;
      }
    }
    // One write per file per tick: each record is whole in one append, so the agent never reads half a line
    // for long (and multiline records are never split between two writes).
    for (const [service, text] of chunks) this.appendLog(service, text);
    for (; this.owed.views >= 1; this.owed.views--) this.track(this.sendPageView());
  }

  private appendLog(service: DemoService, text: string): void {
    const file = this.logFile(service.name);
    try {
      if (statSync(file).size > this.opts.rotateBytes) renameSync(file, `${file}.1`);
    } catch {}
    appendFileSync(file, text);
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** POST /api/event as navigator.sendBeacon does: a text/plain JSON body and the browser's User-Agent. */
  private async sendPageView(): Promise<void> {
    const view = this.visitors.next();
    try {
      const res = await fetch(`${this.opts.collectorUrl}/api/event`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': view.userAgent, origin: `https://${view.beacon.site}` },
        body: JSON.stringify(view.beacon),
        signal: AbortSignal.timeout(10_000),
      });
      await res.arrayBuffer();
      if (res.status === 202 || res.status === 200) this.counters.pageViewsSent++;
      else {
        this.counters.pageViewsFailed++;
        this.counters.lastPageViewError = `HTTP ${res.status}`;
      }
    } catch (err) {
      this.counters.pageViewsFailed++;
      this.counters.lastPageViewError = (err as Error).message;
    }
  }
}
