// Acceptance: headless Chromium (Debian's package, driven by playwright-core) loads a page with the tracker,
// navigates twice inside the SPA; three page views arrive in pageviews.raw with correct fields.
import t from 'tap';
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';
import { startCollectorWithBroker, type CollectorUnderTest } from '../helpers/collector.ts';
import { kcat } from '../helpers/kcat.ts';
import { until } from '../helpers/collect.ts';

let stack: CollectorUnderTest;
t.before(async () => {
  stack = await startCollectorWithBroker(64 * 1024);
});
t.teardown(() => stack.stop());

async function pageViews(): Promise<any[]> {
  const res = await kcat(['-C', '-b', `127.0.0.1:${stack.broker.port}`, '-t', 'pageviews.raw', '-o', 'beginning', '-e', '-q', '-f', '%s\\n']);
  return res.stdout.toString().trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

t.test('a page with the tracker, and two SPA navigations', async (t) => {
  // The site lives on its own origin, as a real one would; the tracker comes from the collector.
  const site = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><html><head><title>Shop home</title>
      <script defer src="${stack.url}/tracker.js" data-site="shop.example"></script></head>
      <body><a id="pricing" href="/pricing">Pricing</a></body></html>`);
  });
  await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(site.address() as { port: number }).port}`;
  t.teardown(() => new Promise((r) => site.close(r)));

  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  t.teardown(() => browser.close());
  const page = await browser.newPage({ locale: 'de-DE', timezoneId: 'Europe/Berlin', viewport: { width: 1280, height: 720 } });
  await page.goto(`${origin}/?utm_source=newsletter&utm_campaign=launch`, { waitUntil: 'load' });
  await until('the first page view', async () => (await pageViews()).length >= 1, 15_000);
  // Strings, so this Node-side file needs no DOM types: they run in the page.
  await page.evaluate("document.title = 'Pricing'; history.pushState({}, '', '/pricing')");
  await page.evaluate("document.title = 'Docs'; history.pushState({}, '', '/docs/start')");
  await until('three page views', async () => (await pageViews()).length >= 3, 15_000);
  const views = await pageViews();
  t.equal(views.length, 3);
  t.same(views.map((v) => v.path), ['/', '/pricing', '/docs/start']);
  t.same(views.map((v) => v.navigation), ['load', 'spa', 'spa']);
  t.equal(views[0].site, 'shop.example');
  t.same(views[0].utm, { source: 'newsletter', campaign: 'launch' }, 'UTM parameters captured');
  t.equal(views[0].title, 'Shop home');
  t.equal(views[1].title, 'Pricing');
  t.equal(views[0].language, 'de-DE');
  t.equal(views[0].timeZone, 'Europe/Berlin');
  t.same(views[0].screen, { width: 1280, height: 720 });
  t.match(views[0].userAgent, /Chrome\//, 'user agent added by the collector');
  t.match(views[0].visitorId, /^[0-9a-f]{32}$/, 'cookieless visitor id');
  t.ok(views.every((v) => v.visitorId === views[0].visitorId), 'the same visitor across navigations');
  t.same(await page.context().cookies(), [], 'no cookies set');
});

t.test('Do Not Track: nothing is sent', async (t) => {
  const before = (await pageViews()).length;
  const site = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><html><head><script>Object.defineProperty(navigator, 'doNotTrack', { value: '1' });</script>
      <script defer src="${stack.url}/tracker.js" data-site="dnt.example"></script></head><body>hi</body></html>`);
  });
  await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise((r) => site.close(r)));
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${(site.address() as { port: number }).port}/`, { waitUntil: 'load' });
  await new Promise((r) => setTimeout(r, 1000));
  t.equal((await pageViews()).length, before, 'no page view');
});
