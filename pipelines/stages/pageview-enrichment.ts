/**
 * Page-view enrichment, record by record: user agent → browser, OS and device (ua-parser-js), bot
 * detection, referrer → source and medium, UTM override, path normalisation. Pure functions of the view.
 */
import { UAParser } from 'ua-parser-js';

export interface UserAgentInfo {
  browser: string;
  browserVersion: string;
  os: string;
  osVersion: string;
  /** ua-parser's device type (mobile, tablet, console, smarttv, wearable, embedded), else desktop. */
  device: string;
  isBot: boolean;
}

/**
 * Bots by user agent. ua-parser-js 1.x does not detect crawlers, so this is the usual compact pattern
 * (the approach of the `isbot` package, reduced to its high-volume entries): generic words that crawlers
 * put in their names (bot, crawl, spider, slurp, scrape), headless and audit browsers, link-preview
 * fetchers and HTTP libraries that no person browses with. `cubot` (a phone brand) is removed before the
 * test, the one well-known false positive of `bot`. Extend it here; nothing else decides bot-ness.
 */
const BOT_PATTERN =
  /bot\b|bot[/_;-]|crawl|spider|slurp|scrape|headless|lighthouse|pagespeed|pingdom|gtmetrix|statuscake|facebookexternalhit|embedly|bingpreview|skypeuripreview|whatsapp|archiver|feedfetcher|mediapartners|ahrefs|semrush|bytespider|phantomjs|selenium|puppeteer|playwright|^curl\/|^wget\/|python-|aiohttp|httpx|go-http-client|^java\/|okhttp|axios\/|node-fetch|undici|libwww|httpclient/i;
const CUBOT = /cubot/gi;

export function isBotUserAgent(ua: string): boolean {
  CUBOT.lastIndex = 0;
  return BOT_PATTERN.test(CUBOT.test(ua) ? ua.replace(CUBOT, '') : ua);
}

const parser = new UAParser();
/** Parsing costs tens of microseconds and a site sees few distinct user agents: cache, bounded. */
const uaCache = new Map<string, UserAgentInfo>();
const UA_CACHE_LIMIT = 10_000;
const NO_USER_AGENT: UserAgentInfo = Object.freeze({ browser: '', browserVersion: '', os: '', osVersion: '', device: '', isBot: false });

export function parseUserAgent(ua: string | undefined): UserAgentInfo {
  if (ua === undefined || ua === '') return NO_USER_AGENT;
  let info = uaCache.get(ua);
  if (info !== undefined) return info;
  const r = parser.setUA(ua).getResult();
  info = Object.freeze({
    browser: r.browser.name ?? '',
    browserVersion: r.browser.version ?? '',
    os: r.os.name ?? '',
    osVersion: r.os.version ?? '',
    device: r.device.type ?? 'desktop',
    isBot: isBotUserAgent(ua),
  });
  if (uaCache.size >= UA_CACHE_LIMIT) uaCache.clear();
  uaCache.set(ua, info);
  return info;
}

export interface ReferrerInfo {
  host: string;
  source: string;
  medium: string;
}

const DIRECT: ReferrerInfo = Object.freeze({ host: '', source: 'direct', medium: '(none)' });

/** Known sources by referrer host (leading www. removed). Country domains count: google.co.uk, yandex.ru. */
const KNOWN_SOURCES: [RegExp, string, string][] = [
  [/(^|\.)google\.([a-z]{2,3}|com?\.[a-z]{2})$/, 'google', 'organic'],
  [/(^|\.)bing\.com$/, 'bing', 'organic'],
  [/(^|\.)duckduckgo\.com$/, 'duckduckgo', 'organic'],
  [/(^|\.)yahoo\.([a-z]{2,3}|com?\.[a-z]{2})$/, 'yahoo', 'organic'],
  [/(^|\.)baidu\.com$/, 'baidu', 'organic'],
  [/(^|\.)(yandex\.([a-z]{2,3}|com?\.[a-z]{2})|ya\.ru)$/, 'yandex', 'organic'],
  [/(^|\.)(facebook\.com|fb\.com|fb\.me)$/, 'facebook', 'social'],
  [/(^|\.)(twitter\.com|x\.com|t\.co)$/, 'twitter', 'social'],
  [/(^|\.)(linkedin\.com|lnkd\.in)$/, 'linkedin', 'social'],
  [/(^|\.)(reddit\.com|redd\.it)$/, 'reddit', 'social'],
  [/(^|\.)instagram\.com$/, 'instagram', 'social'],
  [/(^|\.)(youtube\.com|youtu\.be)$/, 'youtube', 'social'],
];

function bareHost(host: string): string {
  const h = host.toLowerCase();
  return h.startsWith('www.') ? h.slice(4) : h;
}

/** The hostname of a URL-ish string, or '' when it has none. */
function hostOf(url: string): string {
  if (!URL.canParse(url)) return '';
  return new URL(url).hostname;
}

/**
 * Source and medium from the referrer: no referrer (or an unparseable one) is direct; the site's own host
 * is internal navigation — source '' with medium '(none)', which sessions treat as direct; search engines
 * are organic, social networks social, any other host a referral named by its host.
 */
export function classifyReferrer(referrer: string | undefined, site: string, pageUrl: string): ReferrerInfo {
  if (referrer === undefined || referrer === '') return DIRECT;
  const host = hostOf(referrer);
  if (host === '') return DIRECT;
  const bare = bareHost(host);
  if (bare === bareHost(site) || bare === bareHost(hostOf(pageUrl))) return { host, source: '', medium: '(none)' };
  for (const [pattern, source, medium] of KNOWN_SOURCES) if (pattern.test(bare)) return { host, source, medium };
  return { host, source: bare, medium: 'referral' };
}

export interface Utm {
  source: string;
  medium: string;
  campaign: string;
  term: string;
  content: string;
}

const NO_UTM: Utm = Object.freeze({ source: '', medium: '', campaign: '', term: '', content: '' });

/** The tracker's UTM fields, else the utm_* parameters of the page URL (older trackers only sent the URL). */
export function utmOf(utm: Partial<Utm> | undefined, pageUrl: string): Utm {
  if (utm !== undefined) {
    return { source: utm.source ?? '', medium: utm.medium ?? '', campaign: utm.campaign ?? '', term: utm.term ?? '', content: utm.content ?? '' };
  }
  if (!pageUrl.includes('utm_') || !URL.canParse(pageUrl)) return NO_UTM;
  const q = new URL(pageUrl).searchParams;
  return {
    source: q.get('utm_source') ?? '',
    medium: q.get('utm_medium') ?? '',
    campaign: q.get('utm_campaign') ?? '',
    term: q.get('utm_term') ?? '',
    content: q.get('utm_content') ?? '',
  };
}

/**
 * UTM source and medium override the referrer's. A utm_source without utm_medium gets '(not set)', as
 * Google Analytics reports it, rather than a medium guessed from an unrelated referrer.
 */
export function attribute(ref: ReferrerInfo, utm: Utm): { source: string; medium: string } {
  if (utm.source !== '') return { source: utm.source, medium: utm.medium !== '' ? utm.medium : '(not set)' };
  if (utm.medium !== '') return { source: ref.source, medium: utm.medium };
  return { source: ref.source, medium: ref.medium };
}

/**
 * One spelling per page: no query or fragment, duplicate slashes collapsed, no trailing slash (except
 * the root), percent-escapes decoded — but only where they decode to valid UTF-8 and never the escapes of
 * reserved characters (decodeURI keeps %2F, %3F, %23 …), so an encoded slash cannot split a segment.
 * Case is kept: paths are case-sensitive on most servers.
 */
export function normalisePath(raw: string): string {
  let p = raw;
  const cut = p.search(/[?#]/);
  if (cut >= 0) p = p.slice(0, cut);
  if (p.includes('%')) p = decodeSafely(p);
  if (p.includes('//')) p = p.replace(/\/{2,}/g, '/');
  if (p === '' || p.charCodeAt(0) !== 47) p = `/${p}`;
  if (p.length > 1 && p.charCodeAt(p.length - 1) === 47) p = p.slice(0, -1);
  return p;
}

function decodeSafely(p: string): string {
  try {
    return decodeURI(p);
  } catch {
    // One bad escape must not leave the good ones encoded: decode each run of escapes on its own.
    return p.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURI(run);
      } catch {
        return run;
      }
    });
  }
}
