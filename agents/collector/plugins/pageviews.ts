import type { FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { transformSync } from 'esbuild';
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { PageView, pageViewKey } from '../../events/page-view.ts';
import type { BrokerWriter } from '../broker-writer.ts';
import type { VisitorIds } from '../visitor-id.ts';
import { httpError } from '../http-errors.ts';

/** What the tracker sends: a page view without the fields only the collector can know. */
const Beacon = Type.Omit(PageView, ['timestamp', 'userAgent', 'visitorId']);
const checkBeacon = TypeCompiler.Compile(Beacon);
const checkPageView = TypeCompiler.Compile(PageView);

const trackerSource = readFileSync(fileURLToPath(new URL('../../browser/tracker.js', import.meta.url)), 'utf8');
/** The tracker, minified once at start (esbuild); its gzipped size is what a visitor downloads. */
export const tracker = transformSync(trackerSource, { minify: true, target: 'es2017' }).code;
export const trackerGzippedBytes = gzipSync(tracker).length;

/**
 * The browser side: `GET /tracker.js` and the beacon endpoint `POST /api/event`. sendBeacon posts a string
 * as text/plain (a CORS-simple request: no preflight), so that content type is accepted as JSON here. The
 * collector stamps the time, adds the user agent and the visitor id, and writes to pageviews.raw.
 */
export async function pageViewsPlugin(app: FastifyInstance, opts: { writer: BrokerWriter; visitors: VisitorIds }): Promise<void> {
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (err) {
      done(httpError(400, 'BAD_JSON', `the beacon is not valid JSON: ${(err as Error).message}`), undefined);
    }
  });
  app.get('/tracker.js', async (_req, reply) => {
    reply.header('content-type', 'application/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').header('access-control-allow-origin', '*');
    return tracker;
  });
  app.options('/api/event', async (_req, reply) => {
    reply.header('access-control-allow-origin', '*').header('access-control-allow-methods', 'POST').header('access-control-allow-headers', 'content-type').code(204);
    return '';
  });
  app.post('/api/event', async (req, reply) => {
    reply.header('access-control-allow-origin', '*');
    if (!checkBeacon.Check(req.body)) {
      const e = checkBeacon.Errors(req.body).First();
      throw httpError(400, 'SCHEMA_VIOLATION', `the page view is invalid: ${e?.path || '/'} ${e?.message}`);
    }
    const now = Date.now();
    const userAgent = String(req.headers['user-agent'] ?? '').slice(0, 2048);
    const beacon = req.body as Omit<PageView, 'timestamp'>;
    const view: PageView = { ...beacon, timestamp: now, userAgent, visitorId: opts.visitors.visitorId(beacon.site, req.ip, userAgent, now) };
    if (!checkPageView.Check(view)) throw httpError(400, 'SCHEMA_VIOLATION', 'the page view is invalid');
    await opts.writer.write([{ topic: 'pageviews.raw', key: pageViewKey(view), value: Buffer.from(JSON.stringify(view)) }]);
    reply.code(202);
    return '';
  });
}
