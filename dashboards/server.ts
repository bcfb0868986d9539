/**
 * The dashboards web app: a fastify server for the static UI (bundled once at start, served from memory
 * under content-hashed names), the dashboard definitions, panel data, the live log tail, alerts, and its
 * own /metrics and /health.
 *
 * Errors have one shape, `{statusCode, code, error, message}`: bad input is a 400 with the reason (a
 * QueryBuildError keeps its code), an unknown dashboard or panel a 404, a failing ClickHouse or
 * Prometheus a 502 carrying the upstream's message.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, ClickHouseLogLevel, type ClickHouseClient } from '@clickhouse/client';
import { Type, type Static } from '@sinclair/typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { httpError, HttpError } from '../agents/collector/http-errors.ts';
import { createLogger, type Logger } from '../broker/server/logger.ts';
import type { AlertsProvider } from './alerts/alerts-view.ts';
import { loadDashboards, type DashboardDefinition } from './definitions-loader.ts';
import { logTailPlugin } from './log-tail.ts';
import { runPanel, UpstreamError } from './panel-data.ts';
import { buildQuery, QueryBuildError, MAX_POINTS } from './query-builder.ts';

export const DEFAULT_DEFINITIONS_DIR = fileURLToPath(new URL('./definitions', import.meta.url));
const WEB_DIR = fileURLToPath(new URL('./web', import.meta.url));

export interface DashboardsOptions {
  /** Folder of dashboard files; default: the shipped dashboards/definitions. */
  definitionsDir?: string;
  clickhouseUrl?: string;
  prometheusUrl?: string;
  /** Bootstrap brokers for the live tail; none: the tail answers 503. */
  brokers?: string[];
  /** The alert scheduler's view; none: /api/alerts answers 404. */
  alerts?: AlertsProvider;
  /** Where /metrics comes from: pass one to serve other components' metrics (the alert scheduler's) too. */
  registry?: Registry;
  log?: Logger;
  maxTails?: number;
  tailHeartbeatMs?: number;
}

export interface Dashboards {
  app: FastifyInstance;
  dashboards: DashboardDefinition[];
}

interface Bundle {
  js: { name: string; body: Buffer };
  css: { name: string; body: Buffer };
  html: string;
}

/** Bundles web/app.ts (with its CSS and uPlot's) in memory; file names carry a hash of the content. */
async function bundleUi(): Promise<Bundle> {
  // Loaded here, not at import: every `tributary` command imports this module, and only this one bundles.
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [join(WEB_DIR, 'app.ts')],
    bundle: true,
    write: false,
    minify: true,
    format: 'esm',
    target: ['es2022'],
    outdir: 'assets',
    logLevel: 'silent',
  });
  const file = (ext: string) => {
    const out = result.outputFiles.find((f) => f.path.endsWith(ext));
    if (!out) throw new Error(`the UI bundle has no ${ext} output`);
    const body = Buffer.from(out.contents);
    const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
    return { name: `app.${hash}${ext}`, body };
  };
  const js = file('.js');
  const css = file('.css');
  const html = readFileSync(join(WEB_DIR, 'index.html'), 'utf8').replace('%APP_CSS%', `/assets/${css.name}`).replace('%APP_JS%', `/assets/${js.name}`);
  return { js, css, html };
}

/** A step giving about 300 points, rounded up to a readable width; ClickHouse rollups are per minute. */
const NICE_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
export function defaultStep(fromMs: number, toMs: number, source: 'clickhouse' | 'prometheus'): number {
  const wanted = Math.max(1, (toMs - fromMs) / 1000 / 300);
  let step = NICE_STEPS.find((s) => s >= wanted) ?? 86400;
  if (source === 'clickhouse') step = Math.max(step, 60);
  while ((toMs - fromMs) / 1000 / step > MAX_POINTS && step < 86400) step *= 2;
  return step;
}

const DashboardParams = Type.Object({ id: Type.String({ maxLength: 200 }) });
const PanelParams = Type.Object({ id: Type.String({ maxLength: 200 }), panel: Type.String({ maxLength: 200 }) });
const PanelQuery = Type.Object({
  from: Type.Integer({ description: 'epoch milliseconds, inclusive' }),
  to: Type.Integer({ description: 'epoch milliseconds, exclusive' }),
  step: Type.Optional(Type.Integer({ description: 'bucket width in seconds; default: about 300 points' })),
});

export async function buildDashboards(opts: DashboardsOptions = {}): Promise<Dashboards> {
  const log = opts.log ?? createLogger('dashboards');
  const definitionsDir = opts.definitionsDir ?? DEFAULT_DEFINITIONS_DIR;
  const dashboards = loadDashboards(definitionsDir);
  const byId = new Map(dashboards.map((d) => [d.id, d]));
  log.info(`loaded ${dashboards.length} dashboards from ${definitionsDir}: ${dashboards.map((d) => d.id).join(', ')}`);

  const started = Date.now();
  const bundle = await bundleUi();
  log.info(`bundled the UI in ${Date.now() - started} ms (${bundle.js.name} ${(bundle.js.body.length / 1024).toFixed(0)} KiB, ${bundle.css.name} ${(bundle.css.body.length / 1024).toFixed(0)} KiB)`);

  const clickhouse: ClickHouseClient | undefined = opts.clickhouseUrl
    ? createClient({
        url: opts.clickhouseUrl,
        log: { level: ClickHouseLogLevel.OFF },
        request_timeout: 30_000,
        // Panels only read. Escaping keeps user input out of the SQL; readonly=2 (reads, and settings
        // changes the client needs) makes sure no query from here can write, even a bad definition file.
        clickhouse_settings: { readonly: '2' },
      })
    : undefined;
  const sources = { clickhouse, prometheusUrl: opts.prometheusUrl };

  const app = Fastify({ logger: false, return503OnClosing: true });
  const registry = opts.registry ?? new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tributary_dashboards_process_' });
  const requests = new Counter({ name: 'tributary_dashboards_requests_total', help: 'HTTP requests by route and status code', labelNames: ['route', 'status'], registers: [registry] });
  const latency = new Histogram({ name: 'tributary_dashboards_request_seconds', help: 'HTTP request duration by route', labelNames: ['route'], registers: [registry], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30] });
  const panelSeconds = new Histogram({ name: 'tributary_dashboards_panel_query_seconds', help: 'Panel query duration by dashboard, panel and source', labelNames: ['dashboard', 'panel', 'source'], registers: [registry], buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30] });
  const panelErrors = new Counter({ name: 'tributary_dashboards_panel_query_errors_total', help: 'Panel queries that failed, by reason (bad_request, upstream)', labelNames: ['dashboard', 'panel', 'source', 'reason'], registers: [registry] });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    requests.inc({ route, status: String(reply.statusCode) });
    latency.observe({ route }, reply.elapsedTime / 1000);
  });
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validation?: unknown }, req, reply) => {
    if (err instanceof QueryBuildError) return reply.code(400).send({ statusCode: 400, code: err.code, error: 'Bad Request', message: err.message });
    if (err instanceof UpstreamError) return reply.code(502).send({ statusCode: 502, code: 'UPSTREAM_ERROR', error: 'Bad Gateway', message: err.message });
    if (err.validation) return reply.code(400).send({ statusCode: 400, code: 'INVALID_REQUEST', error: 'Bad Request', message: err.message });
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500 && !(err instanceof HttpError)) log.error(`${req.method} ${req.url}: ${err.stack ?? err.message}`);
    return reply.code(status).send({ statusCode: status, code: err.code ?? 'INTERNAL', error: status >= 500 ? 'Internal Server Error' : 'Bad Request', message: status >= 500 && !(err instanceof HttpError) ? 'internal error' : err.message });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ statusCode: 404, code: 'NOT_FOUND', error: 'Not Found', message: `no route ${req.method} ${req.url.split('?')[0]}` }));

  // ---- the UI ----
  // One page for every view: the client reads the view and its state from the query string.
  app.get('/', async (_req, reply) => reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(bundle.html));
  for (const asset of [bundle.js, bundle.css]) {
    app.get(`/assets/${asset.name}`, async (_req, reply) =>
      reply
        .header('cache-control', 'public, max-age=31536000, immutable')
        .type(asset.name.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8')
        .send(asset.body),
    );
  }

  // ---- definitions ----
  app.get('/api/dashboards', async () =>
    dashboards.map((d) => ({ id: d.id, title: d.title, description: d.description, panels: d.panels.length })),
  );
  const dashboardOr404 = (id: string) => {
    const d = byId.get(id);
    if (!d) throw httpError(404, 'UNKNOWN_DASHBOARD', `no dashboard ${JSON.stringify(id)}; known: ${[...byId.keys()].join(', ')}`);
    return d;
  };
  app.get<{ Params: Static<typeof DashboardParams> }>('/api/dashboards/:id', { schema: { params: DashboardParams } }, async (req) => dashboardOr404(req.params.id));

  // ---- panel data ----
  app.get<{ Params: Static<typeof PanelParams>; Querystring: Static<typeof PanelQuery> & Record<string, unknown> }>(
    '/api/dashboards/:id/panels/:panel',
    { schema: { params: PanelParams, querystring: PanelQuery } },
    async (req) => {
      const d = dashboardOr404(req.params.id);
      const panel = d.panels.find((p) => p.id === req.params.panel);
      if (!panel) throw httpError(404, 'UNKNOWN_PANEL', `dashboard ${d.id} has no panel ${JSON.stringify(req.params.panel)}; its panels: ${d.panels.map((p) => p.id).join(', ')}`);
      const values: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(req.query)) {
        if (key === 'from' || key === 'to' || key === 'step') continue;
        if (!key.startsWith('var.')) throw httpError(400, 'UNKNOWN_PARAMETER', `unknown parameter ${JSON.stringify(key)}: expected from, to, step or var.<name>`);
        if (typeof value !== 'string') throw httpError(400, 'INVALID_VALUE', `${key} must be given once`);
        values[key.slice(4)] = value;
      }
      const { from, to } = req.query;
      const step = req.query.step ?? (from < to ? defaultStep(from, to, panel.source) : 60);
      const labels = { dashboard: d.id, panel: panel.id, source: panel.source };
      let built;
      try {
        built = buildQuery(panel, d.variables, values, { fromMs: from, toMs: to, stepSeconds: step });
      } catch (err) {
        panelErrors.inc({ ...labels, reason: 'bad_request' });
        throw err;
      }
      const timer = panelSeconds.startTimer(labels);
      try {
        const data = await runPanel(panel, built, sources);
        return { dashboard: d.id, panel: panel.id, source: panel.source, visualisation: panel.visualisation, range: { from, to, step }, data };
      } catch (err) {
        panelErrors.inc({ ...labels, reason: 'upstream' });
        if (err instanceof UpstreamError) log.warn(`panel ${d.id}/${panel.id}: ${err.message}`);
        throw err;
      } finally {
        timer();
      }
    },
  );

  // ---- alerts ----
  app.get('/api/alerts', async () => {
    if (!opts.alerts) throw httpError(404, 'ALERTS_NOT_CONFIGURED', 'alerts are not enabled on this dashboards server (no alert scheduler was started with it)');
    return opts.alerts.view();
  });

  // ---- live tail, own health ----
  await app.register(logTailPlugin, { brokers: opts.brokers ?? [], maxTails: opts.maxTails, heartbeatMs: opts.tailHeartbeatMs, registry, log });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  app.get('/health', async () => ({
    status: 'ok',
    dashboards: dashboards.length,
    clickhouse: opts.clickhouseUrl ? 'configured' : 'absent',
    prometheus: opts.prometheusUrl ? 'configured' : 'absent',
    brokers: (opts.brokers ?? []).length > 0 ? 'configured' : 'absent',
    alerts: opts.alerts ? 'configured' : 'absent',
  }));

  app.addHook('onClose', async () => {
    await clickhouse?.close();
  });
  return { app, dashboards };
}

export interface RunningDashboards extends Dashboards {
  /** http://HOST:PORT/ */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Builds the app and listens; what `tributary dashboards` and `tributary up` run. */
export async function startDashboards(opts: DashboardsOptions & { host?: string; port?: number }): Promise<RunningDashboards> {
  const built = await buildDashboards(opts);
  const host = opts.host ?? '127.0.0.1';
  await built.app.listen({ host, port: opts.port ?? 3000 });
  const address = built.app.server.address();
  const port = address && typeof address === 'object' ? address.port : (opts.port ?? 3000);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return { ...built, port, url: `http://${shownHost}:${port}/`, close: () => built.app.close() };
}
