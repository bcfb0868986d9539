// Who visits the demo sites: visitors with a browser, OS, device, screen and language, arriving from search
// engines, social networks, other sites, campaigns or directly, reading a few pages per visit (the same
// visitor returns within a session), and a few crawlers. Each view is the beacon the browser tracker
// (agents/browser/tracker.js) would send from that page, plus the User-Agent header the browser would set.
import type { Random } from './log-lines.ts';

export interface Beacon {
  site: string;
  url: string;
  path: string;
  referrer?: string;
  title?: string;
  screen?: { width: number; height: number };
  language?: string;
  timeZone?: string;
  utm?: { source?: string; medium?: string; campaign?: string; term?: string; content?: string };
  navigation?: 'load' | 'spa';
}

export interface DemoPageView {
  beacon: Beacon;
  userAgent: string;
}

interface Site {
  host: string;
  /** Paths with weights: a few pages get most views. */
  pages: readonly [path: string, title: string, weight: number][];
  /** Single-page app: in-site navigations are history.pushState ('spa'), not page loads. */
  spa: boolean;
}

const SITES: readonly Site[] = [
  {
    host: 'shop.example.com',
    spa: true,
    pages: [
      ['/', 'Example Shop', 30],
      ['/products', 'All products', 15],
      ['/products/espresso-machine', 'Espresso machine', 8],
      ['/products/grinder', 'Burr grinder', 6],
      ['/products/beans-ethiopia', 'Ethiopia beans', 5],
      ['/cart', 'Your cart', 6],
      ['/checkout', 'Checkout', 3],
      ['/search', 'Search', 4],
    ],
  },
  {
    host: 'blog.example.com',
    spa: false,
    pages: [
      ['/', 'The Example Blog', 20],
      ['/2026/11/observability-on-a-budget', 'Observability on a budget', 12],
      ['/2026/10/kafka-protocol-explained', 'The Kafka protocol, explained', 9],
      ['/2026/09/cookieless-analytics', 'Cookieless analytics', 6],
      ['/about', 'About', 3],
      ['/tags/monitoring', 'Posts tagged monitoring', 2],
    ],
  },
  {
    host: 'docs.example.com',
    spa: true,
    pages: [
      ['/', 'Documentation', 10],
      ['/getting-started', 'Getting started', 14],
      ['/guides/agent', 'The host agent', 7],
      ['/guides/collector', 'The collector', 5],
      ['/reference/cli', 'CLI reference', 6],
      ['/faq', 'FAQ', 3],
    ],
  },
];

/** User-agent templates; `{v}` is replaced per visitor by a version, so visitors differ as real ones do. */
const BROWSERS: readonly { ua: string; device: 'desktop' | 'mobile' | 'tablet'; weight: number }[] = [
  { ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} Safari/537.36', device: 'desktop', weight: 30 },
  { ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} Safari/537.36', device: 'desktop', weight: 10 },
  { ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.{m} Safari/605.1.15', device: 'desktop', weight: 8 },
  { ua: 'Mozilla/5.0 (X11; Linux x86_64; rv:13{m}.0) Gecko/20100101 Firefox/13{m}.0', device: 'desktop', weight: 6 },
  { ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} Safari/537.36 Edg/{v}', device: 'desktop', weight: 6 },
  { ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_{m} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.{m} Mobile/15E148 Safari/604.1', device: 'mobile', weight: 20 },
  { ua: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} Mobile Safari/537.36', device: 'mobile', weight: 12 },
  { ua: 'Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} Mobile Safari/537.36', device: 'mobile', weight: 6 },
  { ua: 'Mozilla/5.0 (iPad; CPU OS 17_{m} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{m} Mobile/15E148 Safari/604.1', device: 'tablet', weight: 4 },
];

/** Crawlers (the pipelines flag them as bots): they fetch one page and leave, with no screen or language. */
const BOTS = [
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
  'Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)',
];

const SCREENS: Record<'desktop' | 'mobile' | 'tablet', readonly (readonly [number, number])[]> = { desktop: [[1920, 1080], [2560, 1440], [1440, 900], [1366, 768]], mobile: [[390, 844], [412, 915], [375, 667]], tablet: [[820, 1180], [1024, 1366]] };
const LANGUAGES: readonly [string, string][] = [
  ['en-US', 'America/New_York'], ['en-US', 'America/Los_Angeles'], ['en-GB', 'Europe/London'], ['de-DE', 'Europe/Berlin'],
  ['fr-FR', 'Europe/Paris'], ['es-ES', 'Europe/Madrid'], ['pt-BR', 'America/Sao_Paulo'], ['ja-JP', 'Asia/Tokyo'], ['nl-NL', 'Europe/Amsterdam'],
];

/** How visits begin: referrer and UTM of the landing page. */
const ENTRIES: readonly { weight: number; referrer?: string; utm?: Beacon['utm'] }[] = [
  { weight: 30 },
  { weight: 18, referrer: 'https://www.google.com/' },
  { weight: 4, referrer: 'https://www.bing.com/' },
  { weight: 3, referrer: 'https://duckduckgo.com/' },
  { weight: 5, referrer: 'https://t.co/' },
  { weight: 4, referrer: 'https://www.reddit.com/r/selfhosted/' },
  { weight: 3, referrer: 'https://www.linkedin.com/' },
  { weight: 3, referrer: 'https://www.facebook.com/' },
  { weight: 4, referrer: 'https://news.ycombinator.com/' },
  { weight: 3, referrer: 'https://github.com/' },
  { weight: 5, utm: { source: 'newsletter', medium: 'email', campaign: 'november-digest' } },
  { weight: 4, referrer: 'https://www.google.com/', utm: { source: 'google', medium: 'cpc', campaign: 'black-friday', term: 'espresso machine' } },
  { weight: 2, referrer: 'https://www.facebook.com/', utm: { source: 'facebook', medium: 'social', campaign: 'black-friday', content: 'carousel' } },
];

function weighted<T extends { weight: number }>(random: Random, items: readonly T[]): T {
  let r = random() * items.reduce((s, i) => s + i.weight, 0);
  for (const item of items) if ((r -= item.weight) < 0) return item;
  return items[items.length - 1];
}
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)];

interface Visit {
  site: Site;
  userAgent: string;
  screen?: { width: number; height: number };
  language: string;
  timeZone: string;
  /** The page the visitor is on: the next page load's referrer. */
  currentUrl: string;
  /** document.referrer of the landing page, which SPA navigations keep. */
  landingReferrer?: string;
  pagesLeft: number;
}

export interface VisitorModelOptions {
  random?: Random;
  /** Share of views that are crawlers (default 0.03). */
  botShare?: number;
  /** How many visits are open at once; a new view continues one of them or begins another. */
  openVisits?: number;
}

/** Produces page views one at a time, keeping the visits in progress so visitors return within a session. */
export class VisitorModel {
  private readonly random: Random;
  private readonly botShare: number;
  private readonly openVisits: number;
  private readonly visits: Visit[] = [];

  constructor(opts: VisitorModelOptions = {}) {
    this.random = opts.random ?? Math.random;
    this.botShare = opts.botShare ?? 0.03;
    this.openVisits = opts.openVisits ?? 12;
  }

  next(): DemoPageView {
    const random = this.random;
    if (random() < this.botShare) {
      const site = pick(random, SITES);
      const { path, title } = this.page(site);
      return { userAgent: pick(random, BOTS), beacon: { site: site.host, url: `https://${site.host}${path}`, path, title, utm: {}, navigation: 'load' } };
    }
    const continuing = this.visits.length > 0 && (this.visits.length >= this.openVisits || random() < 0.6);
    return continuing ? this.continueVisit(Math.floor(random() * this.visits.length)) : this.beginVisit();
  }

  private page(site: Site): { path: string; title: string } {
    const page = weighted(this.random, site.pages.map(([path, title, weight]) => ({ path, title, weight })));
    return { path: page.path, title: page.title };
  }

  private beginVisit(): DemoPageView {
    const random = this.random;
    const site = pick(random, SITES);
    const browser = weighted(random, BROWSERS);
    const major = 120 + Math.floor(random() * 12);
    const version = `${major}.0.${6000 + Math.floor(random() * 999)}.${Math.floor(random() * 200)}`;
    const userAgent = browser.ua.replaceAll('{v}', version).replaceAll('{m}', String(Math.floor(random() * 6)));
    const [width, height] = pick(random, SCREENS[browser.device]);
    const [language, timeZone] = pick(random, LANGUAGES);
    const entry = weighted(random, ENTRIES);
    const { path, title } = this.page(site);
    const query = entry.utm ? `?${new URLSearchParams(Object.entries(entry.utm).map(([k, v]): [string, string] => [`utm_${k}`, v as string]))}` : '';
    const url = `https://${site.host}${path}${query}`;
    const visit: Visit = { site, userAgent, screen: { width, height }, language, timeZone, currentUrl: url, landingReferrer: entry.referrer, pagesLeft: Math.floor(random() * random() * 8) };
    // A visit of one page is a bounce; the others stay open for their next views.
    if (visit.pagesLeft > 0) this.visits.push(visit);
    return {
      userAgent,
      beacon: { site: site.host, url, path, referrer: entry.referrer, title, screen: visit.screen, language, timeZone, utm: entry.utm ?? {}, navigation: 'load' },
    };
  }

  private continueVisit(index: number): DemoPageView {
    const visit = this.visits[index];
    const { path, title } = this.page(visit.site);
    const url = `https://${visit.site.host}${path}`;
    const referrer = visit.currentUrl;
    visit.currentUrl = url;
    if (--visit.pagesLeft <= 0) this.visits.splice(index, 1);
    const navigation = visit.site.spa ? 'spa' : 'load';
    return {
      userAgent: visit.userAgent,
      beacon: {
        site: visit.site.host,
        url,
        path,
        // An SPA navigation does not change document.referrer (the landing page's); the tracker sends it as is.
        referrer: navigation === 'load' ? referrer : visit.landingReferrer,
        title,
        screen: visit.screen,
        language: visit.language,
        timeZone: visit.timeZone,
        utm: {},
        navigation,
      },
    };
  }
}
