import t from 'tap';
import { seededRandom as seeded } from '../../lib/seeded-random.ts';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { PageView } from '../../agents/events/page-view.ts';
import { DemoGenerator, parseErrorBurst } from '../../stack/demo-generator.ts';
import { DEMO_SERVICES, logRecord, PLAIN_LINE_PATTERN, PLAIN_RECORD_START } from '../../stack/demo/log-lines.ts';
import { VisitorModel } from '../../stack/demo/page-views.ts';
import { startBroker } from '../helpers/broker-process.ts';
import { startCli } from '../helpers/cli-process.ts';
import { readTopicJson } from '../helpers/topic-reader.ts';

/** A log file's records: JSON lines one per line; plain records a first line and its continuation lines. */
function records(file: string, format: 'json' | 'plain'): { time: number; level: string; text: string }[] {
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  if (format === 'json') {
    return lines.map((l) => {
      const r = JSON.parse(l);
      return { time: Date.parse(r.time), level: r.level.toUpperCase(), text: l };
    });
  }
  const out: { time: number; level: string; text: string }[] = [];
  const start = new RegExp(PLAIN_RECORD_START);
  for (const line of lines) {
    if (start.test(line)) out.push({ time: 0, level: '', text: line });
    else out[out.length - 1].text += `\n${line}`;
  }
  const pattern = new RegExp(PLAIN_LINE_PATTERN);
  for (const r of out) {
    const m = pattern.exec(r.text);
    if (!m) throw new Error(`a plain record the agent's pattern does not parse: ${r.text}`);
    r.time = Date.parse(m.groups!.time);
    r.level = m.groups!.level;
  }
  return out;
}

t.test('--demo-error-burst values', async (t) => {
  t.same(parseErrorBurst('30s:40s'), { afterMs: 30_000, durationMs: 40_000 });
  t.same(parseErrorBurst('2m:500ms'), { afterMs: 120_000, durationMs: 500 });
  t.throws(() => parseErrorBurst('30s'), /expects AFTER:DURATION such as 30s:40s, got '30s'/);
  t.throws(() => parseErrorBurst('1h:1s'), /expects AFTER:DURATION/);
  t.throws(() => parseErrorBurst('1s:0s'), /duration must be more than 0/);
});

t.test('page views reach pageviews.raw through the collector, valid and varied; logs and the error burst land in the files', async (t) => {
  const broker = await startBroker();
  t.teardown(async () => {
    await broker.stop();
  });
  const collector = await startCli(['collector', '--listen', '127.0.0.1:0', '--brokers', `127.0.0.1:${broker.port}`], /ready: listening on/, 30_000);
  t.teardown(async () => {
    await collector.stop();
  });
  const url = /ready: listening on (http:\/\/[^,]+)/.exec(collector.output())![1];
  const logDir = mkdtempSync(join(tmpdir(), 'tributary-demo-logs-'));
  t.teardown(() => rmSync(logDir, { recursive: true, force: true }));

  const demo = new DemoGenerator({
    logDir,
    collectorUrl: url,
    pageViewsPerSecond: 25,
    logRecordsPerSecond: 40,
    errorBurst: { afterMs: 1500, durationMs: 1500, service: 'auth', perSecond: 60 },
    random: seeded(42),
  });
  demo.start();
  await new Promise((r) => setTimeout(r, 4500));
  await demo.stop();
  const window = demo.burstWindow()!;

  t.equal(demo.counters.pageViewsFailed, 0, demo.counters.lastPageViewError);
  t.ok(demo.counters.pageViewsSent >= 80, `${demo.counters.pageViewsSent} page views sent`);

  // Page views: every one that the collector acknowledged is in the topic and matches the schema.
  const views = (await readTopicJson(broker.port, 'pageviews.raw')).map((r) => r.value);
  t.equal(views.length, demo.counters.pageViewsSent);
  const invalid = views.filter((v) => !Value.Check(PageView, v));
  t.same(invalid, [], 'every record validates against the PageView schema');
  t.ok(new Set(views.map((v) => v.site)).size >= 2, 'several sites');
  t.ok(views.every((v) => v.userAgent.startsWith('Mozilla/5.0')), "the browser's User-Agent header, not Node's");
  for (const v of views) t.equal(v.url.startsWith(`https://${v.site}${v.path}`), true, `url ${v.url} belongs to its site and path`);
  const perVisitor = new Map<string, number>();
  for (const v of views) perVisitor.set(v.visitorId, (perVisitor.get(v.visitorId) ?? 0) + 1);
  t.ok([...perVisitor.values()].some((n) => n >= 3), 'visitors return within their session (same visitor id from the collector)');

  // Logs: every service's file has records in its format; levels are mixed.
  const all: { service: string; time: number; level: string; text: string }[] = [];
  for (const s of DEMO_SERVICES) {
    const rs = records(demo.logFile(s.name), s.format);
    t.ok(rs.length > 0, `${s.name} has log records`);
    all.push(...rs.map((r) => ({ ...r, service: s.name })));
  }
  t.equal(all.length, demo.counters.logRecords + demo.counters.errorBurstRecords);

  // The burst: many ERROR records of auth inside its window, hardly any outside it.
  const authErrors = all.filter((r) => r.service === 'auth' && r.level === 'ERROR');
  const inside = authErrors.filter((r) => r.time >= window.start && r.time < window.end);
  const outside = authErrors.filter((r) => r.time < window.start || r.time >= window.end);
  t.ok(inside.length >= 60, `${inside.length} ERROR records of auth inside the window`);
  t.equal(inside.length + outside.length, authErrors.length);
  t.ok(outside.length <= 5, `${outside.length} ERROR records of auth outside the window (baseline)`);
  t.ok(demo.counters.errorBurstRecords >= 60 && demo.counters.errorBurstRecords <= 100, `${demo.counters.errorBurstRecords} burst records`);
  const burstRecords = all.filter((r) => r.text.includes('payment provider unavailable'));
  t.equal(burstRecords.length, demo.counters.errorBurstRecords, 'every burst record is in the file');
  t.ok(burstRecords.every((r) => r.service === 'auth' && r.level === 'ERROR' && r.time >= window.start && r.time < window.end), 'burst records: ERROR, from auth, inside the window only');
});

t.test('the visitor model: varied, realistic page views (seeded, so the same in every run)', async (t) => {
  const model = new VisitorModel({ random: seeded(7) });
  const views = Array.from({ length: 600 }, () => model.next());
  const beacons = views.map((v) => v.beacon);
  const Beacon = Type.Omit(PageView, ['timestamp', 'userAgent', 'visitorId']);
  t.same(beacons.filter((b) => !Value.Check(Beacon, b)), [], 'every beacon is what the collector accepts from the tracker');
  t.same(new Set(beacons.map((b) => b.site)), new Set(['shop.example.com', 'blog.example.com', 'docs.example.com']));
  t.ok(new Set(beacons.map((b) => b.path)).size >= 15, 'many paths');
  t.ok(beacons.some((b) => /google|bing|duckduckgo/.test(b.referrer ?? '')), 'search engine referrers');
  t.ok(beacons.some((b) => /t\.co|reddit|facebook|linkedin/.test(b.referrer ?? '')), 'social referrers');
  t.ok(beacons.some((b) => b.referrer === undefined), 'direct visits');
  t.ok(beacons.some((b) => b.utm?.campaign && b.url.includes(`utm_campaign=${b.utm.campaign}`)), 'UTM campaigns, in the URL as the tracker reads them');
  const bots = views.filter((v) => /bot/i.test(v.userAgent));
  t.ok(bots.length >= 3 && bots.length <= 60, `${bots.length} crawler views`);
  t.ok(bots.every((v) => v.beacon.screen === undefined && v.beacon.language === undefined), 'crawlers have no screen or language');
  t.ok(views.some((v) => /iPhone|Android/.test(v.userAgent)) && views.some((v) => /Windows NT/.test(v.userAgent)) && views.some((v) => /iPad/.test(v.userAgent)), 'mobile, tablet and desktop browsers');
  t.ok(new Set(beacons.map((b) => b.language)).size >= 5, 'several languages');
  t.ok(new Set(beacons.map((b) => `${b.screen?.width}x${b.screen?.height}`)).size >= 5, 'several screens');
  t.ok(beacons.some((b) => b.navigation === 'spa') && beacons.some((b) => b.navigation === 'load'), 'page loads and SPA navigations');
  // A visitor is a user agent here (all demo traffic comes from 127.0.0.1): some read several pages.
  const perVisitor = new Map<string, number>();
  for (const v of views.filter((v) => !/bot/i.test(v.userAgent))) perVisitor.set(v.userAgent, (perVisitor.get(v.userAgent) ?? 0) + 1);
  t.ok([...perVisitor.values()].filter((n) => n >= 3).length >= 10, 'visitors who come back for more pages');
  t.ok([...perVisitor.values()].filter((n) => n === 1).length >= 30, 'and visitors who bounce');
});

t.test('log records: mixed levels, stack traces in both formats, lines the agent parses', async (t) => {
  const random = seeded(11);
  for (const service of DEMO_SERVICES) {
    const rs = Array.from({ length: 400 }, (_, i) => logRecord(random, service, 1_790_000_000_000 + i));
    const levels = new Set(rs.map((r) => r.level));
    t.same([...levels].sort(), ['DEBUG', 'ERROR', 'INFO', 'WARN'], `${service.name}: every level`);
    t.ok(rs.filter((r) => r.level === 'INFO').length > rs.length / 2, `${service.name}: mostly INFO`);
    t.ok(rs.every((r) => r.text.endsWith('\n')), 'whole lines');
    if (service.format === 'json') {
      const parsed = rs.map((r) => JSON.parse(r.text));
      t.ok(rs.every((r) => r.text.indexOf('\n') === r.text.length - 1), `${service.name}: one line per record`);
      t.ok(parsed.every((p, i) => p.level === rs[i].level.toLowerCase() && typeof p.msg === 'string' && p.time === new Date(1_790_000_000_000 + i).toISOString()));
      t.ok(parsed.some((p) => typeof p.err?.stack === 'string' && p.err.stack.includes('\n    at ')), `${service.name}: errors with a stack`);
    } else {
      const pattern = new RegExp(PLAIN_LINE_PATTERN);
      const start = new RegExp(PLAIN_RECORD_START);
      for (const r of rs) {
        const [first, ...rest] = r.text.trimEnd().split('\n');
        t.ok(start.test(first) && rest.every((l) => !start.test(l)), 'one record: a first line and continuation lines');
        t.equal(pattern.exec(r.text.trimEnd())?.groups?.level, r.level, 'the agent reads the level');
      }
      t.ok(rs.some((r) => r.text.includes('\n    at ')), `${service.name}: stack traces`);
    }
  }
  const burst = logRecord(random, DEMO_SERVICES[0], 0, { level: 'ERROR', burst: true });
  t.equal(burst.level, 'ERROR');
  t.match(burst.text, /payment provider unavailable/);
});

t.test('a log file past its size limit is renamed to .1 (rotation the agent follows) and a new one begun', async (t) => {
  const logDir = mkdtempSync(join(tmpdir(), 'tributary-demo-rotate-'));
  t.teardown(() => rmSync(logDir, { recursive: true, force: true }));
  const demo = new DemoGenerator({ logDir, collectorUrl: 'http://127.0.0.1:1', pageViewsPerSecond: 0, logRecordsPerSecond: 400, rotateBytes: 4000, random: seeded(3) });
  demo.start();
  await new Promise((r) => setTimeout(r, 1000));
  await demo.stop();
  t.equal(demo.counters.pageViewsSent + demo.counters.pageViewsFailed, 0, 'no page views at rate 0');
  for (const s of DEMO_SERVICES) {
    const rotated = statSync(`${demo.logFile(s.name)}.1`).size;
    t.ok(rotated > 4000, `${s.name}.log.1 holds the older records (${rotated} bytes)`);
    // The current file begins where the rotated one ends: whole records, later times.
    const older = records(`${demo.logFile(s.name)}.1`, s.format);
    const newer = records(demo.logFile(s.name), s.format);
    t.ok(newer.length > 0 && newer[0].time >= older[older.length - 1].time, `${s.name}.log was begun again after the rotation`);
  }
});

t.test('an unknown service for the error burst is refused', async (t) => {
  t.throws(() => new DemoGenerator({ logDir: '/nonexistent', collectorUrl: 'http://127.0.0.1:1', errorBurst: { afterMs: 0, durationMs: 1, service: 'nope' } }), /error burst: unknown service 'nope' \(demo services: checkout, api-gateway, auth, billing-worker\)/);
});
