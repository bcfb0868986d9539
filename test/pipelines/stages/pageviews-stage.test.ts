// The pageviews stage driven directly: enrichment (user agent, bots, referrer, UTM, paths), sessions by
// inactivity in event time, per-minute views and unique visitors, restarts from a snapshot.
import t from 'tap';
import fc from 'fast-check';
import { pageviewsStage } from '../../../pipelines/stages/index.ts';
import { attribute, classifyReferrer, isBotUserAgent, normalisePath, parseUserAgent, utmOf } from '../../../pipelines/stages/pageview-enrichment.ts';
import { HLL_STANDARD_ERROR, HyperLogLog } from '../../../pipelines/sketches/hyperloglog.ts';
import { allRowProblems, CollectingEmitter, Driver, record, runAll } from './fixtures/harness.ts';

const T0 = Date.UTC(2024, 0, 1, 12, 0);
const S = 1000;
const MIN = 60 * S;
const SITE = 'example.com';
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0';
const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1';
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const visitor = (n: number) => n.toString(16).padStart(16, '0');

function view(offset: number, ms: number, path: string, fields: Record<string, unknown> = {}) {
  return record('pageviews.raw', offset, { timestamp: T0 + ms, site: SITE, url: `https://${SITE}${path}`, path, userAgent: CHROME, ...fields });
}

t.test('user agents and bots', async (t) => {
  t.strictSame(parseUserAgent(CHROME), { browser: 'Chrome', browserVersion: '120.0.0.0', os: 'Windows', osVersion: '10', device: 'desktop', isBot: false });
  t.match(parseUserAgent(IPHONE), { browser: 'Mobile Safari', os: 'iOS', osVersion: '17.1', device: 'mobile', isBot: false });
  t.match(parseUserAgent(undefined), { browser: '', device: '', isBot: false });
  for (const ua of [GOOGLEBOT, 'Mozilla/5.0 (compatible; bingbot/2.0)', 'facebookexternalhit/1.1', 'curl/8.4.0', 'python-requests/2.31', 'Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0 Safari/537.36', 'Mozilla/5.0 (compatible; AhrefsBot/7.0)', 'Baiduspider+(+http://www.baidu.com/search/spider.htm)']) {
    t.ok(isBotUserAgent(ua), ua);
  }
  for (const ua of [CHROME, FIREFOX, IPHONE, 'Mozilla/5.0 (Linux; Android 10; CUBOT_X30) AppleWebKit/537.36 Chrome/96.0 Mobile Safari/537.36']) t.notOk(isBotUserAgent(ua), ua);
});

t.test('referrer source and medium, UTM override', async (t) => {
  const c = (ref: string | undefined) => classifyReferrer(ref, SITE, `https://${SITE}/`);
  t.strictSame(c(undefined), { host: '', source: 'direct', medium: '(none)' });
  t.strictSame(c('not a url'), { host: '', source: 'direct', medium: '(none)' });
  t.strictSame(c('https://www.google.co.uk/search?q=x'), { host: 'www.google.co.uk', source: 'google', medium: 'organic' });
  t.strictSame(c('https://duckduckgo.com/'), { host: 'duckduckgo.com', source: 'duckduckgo', medium: 'organic' });
  t.strictSame(c('https://yandex.ru/'), { host: 'yandex.ru', source: 'yandex', medium: 'organic' });
  t.strictSame(c('https://t.co/abc'), { host: 't.co', source: 'twitter', medium: 'social' });
  t.strictSame(c('https://x.com/someone'), { host: 'x.com', source: 'twitter', medium: 'social' });
  t.strictSame(c('https://l.facebook.com/l.php'), { host: 'l.facebook.com', source: 'facebook', medium: 'social' });
  t.strictSame(c('https://www.youtube.com/watch'), { host: 'www.youtube.com', source: 'youtube', medium: 'social' });
  t.strictSame(c('https://www.example.com/docs'), { host: 'www.example.com', source: '', medium: '(none)' });
  t.strictSame(c('https://news.ycombinator.com/item?id=1'), { host: 'news.ycombinator.com', source: 'news.ycombinator.com', medium: 'referral' });
  t.strictSame(c('https://notgoogle.com/'), { host: 'notgoogle.com', source: 'notgoogle.com', medium: 'referral' });

  t.strictSame(utmOf(undefined, 'https://a.com/?utm_source=nl&utm_medium=email&utm_campaign=jan'), { source: 'nl', medium: 'email', campaign: 'jan', term: '', content: '' });
  t.strictSame(utmOf({ source: 'x' }, 'https://a.com/?utm_source=nl'), { source: 'x', medium: '', campaign: '', term: '', content: '' });
  const google = c('https://google.com/');
  t.strictSame(attribute(google, utmOf({ source: 'nl', medium: 'email' }, '')), { source: 'nl', medium: 'email' });
  t.strictSame(attribute(google, utmOf({ source: 'nl' }, '')), { source: 'nl', medium: '(not set)' });
  t.strictSame(attribute(google, utmOf({ medium: 'cpc' }, '')), { source: 'google', medium: 'cpc' });
  t.strictSame(attribute(google, utmOf(undefined, '')), { source: 'google', medium: 'organic' });
});

t.test('path normalisation', async (t) => {
  const cases: [string, string][] = [
    ['/', '/'],
    ['', '/'],
    ['docs', '/docs'],
    ['/docs/', '/docs'],
    ['/docs//intro///x/', '/docs/intro/x'],
    ['/a?b=1#c', '/a'],
    ['/a#frag?x', '/a'],
    ['/?x=1', '/'],
    ['/blog/%E2%9C%93', '/blog/✓'],
    ['/a%2Fb', '/a%2Fb'],
    ['/bad%E2%9C/%41%zz', '/bad%E2%9C/A%zz'],
    ['/Case/Kept', '/Case/Kept'],
  ];
  for (const [raw, want] of cases) t.equal(normalisePath(raw), want, raw);
});

const V1 = visitor(1);
const V2 = visitor(2);
const V3 = visitor(3);
const V4 = visitor(4);
const FIXED = [
  view(0, 0, '/', { visitorId: V1, referrer: 'https://www.google.com/search?q=tributary' }),
  view(1, 2 * MIN, '/blog/%E2%9C%93', { visitorId: V2, userAgent: FIREFOX, utm: { source: 'newsletter', medium: 'email', campaign: 'jan' } }),
  view(2, 5 * MIN, '/docs/', { visitorId: V1, referrer: 'https://example.com/' }),
  view(3, 5 * MIN + S, '/', { visitorId: visitor(99), userAgent: GOOGLEBOT }),
  view(4, 6 * MIN, '/docs'), // no visitor id
  view(5, 10 * MIN, '/docs//intro?x=1#top', { visitorId: V1, referrer: 'https://example.com/docs' }),
  view(6, 20 * MIN + 30 * S, '/b', { visitorId: V3, userAgent: IPHONE, referrer: 'https://news.ycombinator.com/item?id=1' }),
  view(7, 20 * MIN + 10 * S, '/a', { visitorId: V3, userAgent: IPHONE }), // out of order, minute still open
  view(8, 1 * MIN, '/late', { visitorId: V4 }), // late: watermark is at 19:30
  record('pageviews.raw', 9, '{"timestamp": "yesterday"}'),
  view(10, 50 * MIN, '/pricing/', { visitorId: V1, referrer: 'https://t.co/xyz' }),
  view(11, 51 * MIN, '/', { visitorId: V4 }),
];

t.test('fixed input: enriched views, sessions and rollups', async (t) => {
  const out = new CollectingEmitter();
  const d = new Driver(pageviewsStage());
  d.feed(FIXED, out);
  t.strictSame(
    out.rows('pageviews.sessions').map((s) => s.visitor_id),
    [V1, V2],
    'the watermark (50:00) closed the sessions whose last view is over 30 minutes before it',
  );
  d.finish(out);
  t.strictSame(allRowProblems(out.outputs), []);

  const enriched = out.rows('pageviews.enriched');
  t.equal(enriched.length, 11, 'every valid view, bot and late one included');
  t.ok(out.keys('pageviews.enriched').every((k) => k === SITE));
  t.strictSame(enriched[0], {
    time: T0,
    timestamp: T0,
    site: SITE,
    url: 'https://example.com/',
    path: '/',
    title: '',
    referrer: 'https://www.google.com/search?q=tributary',
    referrer_host: 'www.google.com',
    referrer_source: 'google',
    referrer_medium: 'organic',
    utm_source: '',
    utm_medium: '',
    utm_campaign: '',
    utm_term: '',
    utm_content: '',
    browser: 'Chrome',
    browser_version: '120.0.0.0',
    os: 'Windows',
    os_version: '10',
    device: 'desktop',
    is_bot: 0,
    screen_width: 0,
    screen_height: 0,
    language: '',
    time_zone: '',
    country: '',
    visitor_id: V1,
    navigation: '',
  });
  t.match(enriched[1], { path: '/blog/✓', referrer_source: 'newsletter', referrer_medium: 'email', utm_campaign: 'jan', browser: 'Firefox' });
  t.match(enriched[2], { path: '/docs', referrer_source: '', referrer_medium: '(none)' });
  t.match(enriched[3], { is_bot: 1, browser: '' });
  t.match(enriched[5], { path: '/docs/intro' });
  t.match(enriched[6], { device: 'mobile', os: 'iOS', referrer_source: 'news.ycombinator.com', referrer_medium: 'referral' });
  t.strictSame(out.of('late'), [{ kind: 'late', offset: 8, eventTime: T0 + MIN }]);
  t.strictSame(out.of('dead').map((o) => (o as { offset: number }).offset), [9]);

  const sessions = out.rows('pageviews.sessions');
  t.strictSame(
    sessions.map((s) => [s.visitor_id, s.start - T0, s.duration_ms, s.page_count, s.entry_path, s.exit_path, s.bounce, s.referrer_source, s.referrer_medium]),
    [
      [V1, 0, 10 * MIN, 3, '/', '/docs/intro', 0, 'google', 'organic'],
      [V2, 2 * MIN, 0, 1, '/blog/✓', '/blog/✓', 1, 'newsletter', 'email'],
      [V3, 20 * MIN + 10 * S, 20 * S, 2, '/a', '/b', 0, 'direct', '(none)'],
      [V1, 50 * MIN, 0, 1, '/pricing', '/pricing', 1, 'twitter', 'social'],
      [V4, 51 * MIN, 0, 1, '/', '/', 1, 'direct', '(none)'],
    ],
  );
  t.match(sessions[0], { start_timestamp: T0, end_timestamp: T0 + 10 * MIN, browser: 'Chrome', os: 'Windows', device: 'desktop', utm_source: '' });
  t.match(sessions[1], { utm_source: 'newsletter', utm_medium: 'email', utm_campaign: 'jan', browser: 'Firefox' });
  t.match(sessions[2], { device: 'mobile', os: 'iOS' });
  t.match(sessions[0].session_id, /^[0-9a-f]{16}$/);
  t.equal(new Set(sessions.map((s) => s.session_id)).size, 5);

  const rollups = out.rows('pageviews.rollup.1m');
  t.strictSame(
    rollups.map((r) => [(r.minute - T0) / MIN, r.path, r.views, Math.round(HyperLogLog.fromBase64(r.visitors_hll).estimate())]),
    [
      [0, '/', 1, 1],
      [2, '/blog/✓', 1, 1],
      [5, '/docs', 1, 1],
      [6, '/docs', 1, 0],
      [10, '/docs/intro', 1, 1],
      [20, '/a', 1, 1],
      [20, '/b', 1, 1],
      [50, '/pricing', 1, 1],
      [51, '/', 1, 1],
    ],
  );
});

t.test('the session gap is a parameter', async (t) => {
  const out = runAll(pageviewsStage({ sessionGapMs: 60 * MIN }), FIXED);
  const v1 = out.filter((o) => o.kind === 'emit' && o.topic === 'pageviews.sessions' && (o.value as any).visitor_id === V1);
  t.equal(v1.length, 1, 'with an hour of inactivity allowed, 40 minutes do not split');
  t.throws(() => pageviewsStage({ sessionGapMs: 0 }));
});

/** Many visitors over ~2 hours, some bots, some out of order, some late. */
function generated(n: number, visitors: number, seed: number) {
  let s = seed;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const paths = ['/', '/docs', '/pricing', '/blog/post'];
  const records = [];
  for (let i = 0; i < n; i++) {
    const base = (i / n) * 120 * MIN;
    const jitter = rnd() < 0.05 ? -rnd() * 3 * MIN : -rnd() * 30 * S;
    records.push(
      view(i, Math.max(0, Math.round(base + jitter)), paths[Math.floor(rnd() * paths.length)], {
        visitorId: visitor(Math.floor(rnd() * visitors)),
        userAgent: rnd() < 0.05 ? GOOGLEBOT : CHROME,
        referrer: rnd() < 0.3 ? 'https://www.bing.com/' : undefined,
      }),
    );
  }
  return records;
}

t.test('unique visitors within the HLL error; merged minutes equal the union sketch', async (t) => {
  const records = [];
  // 5,000 visitors, each viewing '/' twice within two minutes.
  for (let i = 0; i < 10_000; i++) records.push(view(i, Math.floor((i / 10_000) * 2 * MIN), '/', { visitorId: visitor(1_000_000 + (i % 5000)) }));
  const out = new CollectingEmitter();
  const d = new Driver(pageviewsStage());
  d.feed(records, out);
  d.finish(out);
  const rows = out.rows('pageviews.rollup.1m');
  t.equal(rows.length, 2);
  t.equal(rows[0].views + rows[1].views, 10_000);
  const merged = HyperLogLog.fromBase64(rows[0].visitors_hll).merge(HyperLogLog.fromBase64(rows[1].visitors_hll));
  const union = new HyperLogLog();
  for (let i = 0; i < 5000; i++) union.add(visitor(1_000_000 + i));
  t.equal(merged.toBase64(), union.toBase64());
  t.ok(Math.abs(merged.estimate() - 5000) / 5000 <= 3 * HLL_STANDARD_ERROR, `estimate ${merged.estimate()}`);
  for (const r of rows) {
    const e = HyperLogLog.fromBase64(r.visitors_hll).estimate();
    t.ok(Math.abs(e - 5000) / 5000 <= 3 * HLL_STANDARD_ERROR, `minute estimate ${e}`);
  }
});

t.test('generated traffic: views add up, sessions cover every non-bot, non-late view', async (t) => {
  const records = generated(3000, 150, 17);
  const out = new CollectingEmitter();
  const d = new Driver(pageviewsStage());
  d.feed(records, out);
  d.finish(out);
  t.strictSame(allRowProblems(out.outputs), []);
  const enriched = out.rows('pageviews.enriched');
  const late = new Set(out.of('late').map((o) => (o as { offset: number }).offset));
  t.ok(late.size > 0);
  const counted = enriched.filter((r, i) => r.is_bot === 0 && !late.has(i));
  const rollups = out.rows('pageviews.rollup.1m');
  t.equal(rollups.reduce((n, r) => n + r.views, 0), counted.length);
  const sessions = out.rows('pageviews.sessions');
  t.equal(sessions.reduce((n, s) => n + s.page_count, 0), counted.length);
  // Per 2-minute period and path, views of merged minutes equal the views counted directly.
  const direct = new Map<string, number>();
  for (const r of counted) direct.set(`${Math.floor(r.time / (2 * MIN))}|${r.path}`, (direct.get(`${Math.floor(r.time / (2 * MIN))}|${r.path}`) ?? 0) + 1);
  const merged = new Map<string, number>();
  for (const r of rollups) merged.set(`${Math.floor(r.minute / (2 * MIN))}|${r.path}`, (merged.get(`${Math.floor(r.minute / (2 * MIN))}|${r.path}`) ?? 0) + r.views);
  t.strictSame(Object.fromEntries([...merged].sort()), Object.fromEntries([...direct].sort()));
  // Sessions of one visitor never overlap and are separated by more than the gap.
  const byVisitor = new Map<string, any[]>();
  for (const s of sessions) byVisitor.set(s.visitor_id, [...(byVisitor.get(s.visitor_id) ?? []), s]);
  for (const list of byVisitor.values()) {
    list.sort((a, b) => a.start - b.start);
    for (let i = 1; i < list.length; i++) t.ok(list[i].start_timestamp - list[i - 1].end_timestamp > 30 * MIN);
  }
});

t.test('a restart from a snapshot at any record gives the same outputs', async (t) => {
  const records = generated(600, 40, 23);
  const whole = runAll(pageviewsStage(), records);
  t.ok(whole.some((o) => o.kind === 'emit' && o.topic === 'pageviews.sessions'));
  fc.assert(
    fc.property(fc.integer({ min: 0, max: records.length }), (k) => {
      t.strictSame(runAll(pageviewsStage(), records, k), whole);
      return true;
    }),
    { numRuns: 20 },
  );
  for (const k of [0, 1, 300, 600]) t.strictSame(runAll(pageviewsStage(), records, k), whole, `restart at ${k}`);
});
