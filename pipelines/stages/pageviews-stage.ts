/**
 * The `pageviews` stage: pageviews.raw → pageviews.enriched (every valid view, bots included with
 * is_bot = 1), pageviews.sessions (per site and visitor, split by 30 minutes of inactivity in event time)
 * and pageviews.rollup.1m (views and a HyperLogLog of visitor ids per site, path and minute). Bots and
 * views without a visitor id stay out of sessions; bots stay out of rollups, and id-less views count as
 * views but not visitors.
 *
 * Sessions and lateness. A view is accepted (not late) while its minute is open, i.e. its event time is at
 * or after windowStart(watermark). Views are buffered per visitor in event-time order and cut into sessions
 * when the watermark passes; a session is closed once its last view + 30 min lies before that earliest
 * acceptable time — the minute-aligned watermark — because only then can no accepted view extend it.
 * Closing on the raw watermark would let a view still accepted for its minute start a second session
 * that should have been part of the first. Out-of-order views within the open range just land at their
 * place in the buffer, so the entry view is the earliest by event time, whatever the arrival order.
 *
 * Like logs, a late view is still enriched and also goes to out.late (its minute's rollup is written).
 */
import { countryOfTimeZone } from './country-from-time-zone.ts';
import { PageView } from '../../agents/events/page-view.ts';
import type { Emitter, InputRecord, PartitionProcessor, StageDefinition } from '../runtime/stage.ts';
import { compareStrings, TumblingWindows, type AccumulatorCodec, type TumblingWindowsSnapshot } from '../runtime/tumbling-windows.ts';
import { HyperLogLog, hash64Hex } from '../sketches/hyperloglog.ts';
import { allowedLateness, RecordDecoder, watermarkFromJson, watermarkToJson, WINDOW_MS, type StageOptions } from './decode.ts';
import { attribute, classifyReferrer, normalisePath, parseUserAgent, utmOf } from './pageview-enrichment.ts';

export const PAGEVIEWS_ENRICHED = 'pageviews.enriched';
export const PAGEVIEWS_SESSIONS = 'pageviews.sessions';
export const PAGEVIEWS_ROLLUP = 'pageviews.rollup.1m';
export const DEFAULT_SESSION_GAP_MS = 30 * 60_000;

export interface PageviewsStageOptions extends StageOptions {
  /** Inactivity that ends a session (default 30 minutes). */
  sessionGapMs?: number;
}

interface RollupAcc {
  site: string;
  path: string;
  views: number;
  visitors: HyperLogLog;
}

const rollupCodec: AccumulatorCodec<RollupAcc> = {
  serialize: (a) => [a.site, a.path, a.views, a.visitors.toBase64()],
  deserialize: (json) => {
    const [site, path, views, hll] = json as [string, string, number, string];
    return { site, path, views, visitors: HyperLogLog.fromBase64(hll) };
  },
};

/**
 * One buffered view, as a tuple so the snapshot is the buffer itself:
 * [time, path, source, medium, utm source, utm medium, utm campaign, browser, os, device].
 */
type BufferedView = [number, string, string, string, string, string, string, string, string, string];

interface Visitor {
  site: string;
  visitorId: string;
  /** Sorted by time; equal times keep arrival order. */
  views: BufferedView[];
}

interface PageviewsSnapshot {
  watermark: number | null;
  windows: TumblingWindowsSnapshot;
  visitors: [string, string, BufferedView[]][];
}

const decoder = new RecordDecoder(PageView);

class PageviewsProcessor implements PartitionProcessor {
  private readonly gapMs: number;
  private readonly windows: TumblingWindows<RollupAcc>;
  private readonly visitors = new Map<string, Visitor>();
  private closedUpTo: number;
  /** The minute-aligned watermark sessions were last closed at. */
  private sessionsClosedAt = -Infinity;

  constructor(gapMs: number, restored: PageviewsSnapshot | undefined) {
    this.gapMs = gapMs;
    this.windows = restored ? TumblingWindows.restore(restored.windows, rollupCodec) : new TumblingWindows(WINDOW_MS, rollupCodec);
    this.closedUpTo = watermarkFromJson(restored?.watermark);
    if (Number.isFinite(this.closedUpTo)) this.sessionsClosedAt = this.windows.windowStart(this.closedUpTo);
    for (const [site, visitorId, views] of restored?.visitors ?? []) this.visitors.set(`${site}\u0000${visitorId}`, { site, visitorId, views });
  }

  process(record: InputRecord, watermark: number, out: Emitter): number | undefined {
    const v = decoder.decode(record, out);
    if (v === undefined) return undefined;
    const time = Math.floor(v.timestamp);
    const ua = parseUserAgent(v.userAgent);
    const ref = classifyReferrer(v.referrer, v.site, v.url);
    const utm = utmOf(v.utm, v.url);
    const { source, medium } = attribute(ref, utm);
    const path = normalisePath(v.path);
    const visitorId = v.visitorId ?? '';
    out.emit(PAGEVIEWS_ENRICHED, v.site, {
      time,
      timestamp: time,
      site: v.site,
      url: v.url,
      path,
      title: v.title ?? '',
      referrer: v.referrer ?? '',
      referrer_host: ref.host,
      referrer_source: source,
      referrer_medium: medium,
      utm_source: utm.source,
      utm_medium: utm.medium,
      utm_campaign: utm.campaign,
      utm_term: utm.term,
      utm_content: utm.content,
      browser: ua.browser,
      browser_version: ua.browserVersion,
      os: ua.os,
      os_version: ua.osVersion,
      device: ua.device,
      is_bot: ua.isBot ? 1 : 0,
      screen_width: v.screen?.width ?? 0,
      screen_height: v.screen?.height ?? 0,
      language: v.language ?? '',
      time_zone: v.timeZone ?? '',
      country: countryOfTimeZone(v.timeZone ?? ''),
      visitor_id: visitorId,
      navigation: v.navigation ?? '',
    });
    if (ua.isBot) return time;
    if (this.windows.isClosed(time, Math.max(watermark, this.closedUpTo))) {
      out.late(record, time);
      return time;
    }
    const acc = this.windows.update(
      `${v.site}\u0000${path}`,
      time,
      () => ({ site: v.site, path, views: 0, visitors: new HyperLogLog() }),
      countView,
    );
    if (visitorId !== '') {
      acc.visitors.add(visitorId);
      // An internal referrer is navigation within the site: a session entering that way came direct.
      const entrySource = source === '' ? 'direct' : source;
      const entryMedium = source === '' ? '(none)' : medium;
      this.buffer(v.site, visitorId, [time, path, entrySource, entryMedium, utm.source, utm.medium, utm.campaign, ua.browser, ua.os, ua.device]);
    }
    return time;
  }

  private buffer(site: string, visitorId: string, view: BufferedView): void {
    const key = `${site}\u0000${visitorId}`;
    let visitor = this.visitors.get(key);
    if (visitor === undefined) {
      visitor = { site, visitorId, views: [] };
      this.visitors.set(key, visitor);
    }
    const views = visitor.views;
    let i = views.length;
    while (i > 0 && views[i - 1][0] > view[0]) i--;
    if (i === views.length) views.push(view);
    else views.splice(i, 0, view);
  }

  advance(watermark: number, out: Emitter): void {
    if (!(watermark > this.closedUpTo)) return;
    this.closedUpTo = watermark;
    for (const { windowStart, acc } of this.windows.closeUpTo(watermark)) {
      out.emit(PAGEVIEWS_ROLLUP, acc.site, {
        minute: windowStart,
        site: acc.site,
        path: acc.path,
        views: acc.views,
        visitors_hll: acc.visitors.toBase64(),
      });
    }
    const earliestAccepted = this.windows.windowStart(watermark);
    if (earliestAccepted > this.sessionsClosedAt) {
      this.sessionsClosedAt = earliestAccepted;
      this.closeSessions(earliestAccepted, out);
    }
  }

  private closeSessions(earliestAccepted: number, out: Emitter): void {
    const closed: Record<string, unknown>[] = [];
    for (const [key, visitor] of this.visitors) {
      const views = visitor.views;
      // The first view can only close if every view before a gap does; skip the common case cheaply.
      if (views[0][0] + this.gapMs >= earliestAccepted) continue;
      let start = 0;
      let consumed = 0;
      for (let i = 1; i <= views.length; i++) {
        if (i < views.length && views[i][0] - views[i - 1][0] <= this.gapMs) continue;
        if (views[i - 1][0] + this.gapMs >= earliestAccepted) break;
        closed.push(this.sessionRow(visitor, views, start, i));
        consumed = i;
        start = i;
      }
      if (consumed === views.length) this.visitors.delete(key);
      else if (consumed > 0) visitor.views = views.slice(consumed);
    }
    closed.sort(compareSessions);
    for (const row of closed) out.emit(PAGEVIEWS_SESSIONS, row.site as string, row);
  }

  private sessionRow(visitor: Visitor, views: BufferedView[], from: number, to: number): Record<string, unknown> {
    const entry = views[from];
    const exit = views[to - 1];
    const start = entry[0];
    const pageCount = to - from;
    return {
      start,
      start_timestamp: start,
      end_timestamp: exit[0],
      duration_ms: exit[0] - start,
      site: visitor.site,
      visitor_id: visitor.visitorId,
      session_id: hash64Hex(`${visitor.site}\u0000${visitor.visitorId}\u0000${start}`),
      page_count: pageCount,
      entry_path: entry[1],
      exit_path: exit[1],
      bounce: pageCount === 1 ? 1 : 0,
      referrer_source: entry[2],
      referrer_medium: entry[3],
      utm_source: entry[4],
      utm_medium: entry[5],
      utm_campaign: entry[6],
      browser: entry[7],
      os: entry[8],
      device: entry[9],
    };
  }

  snapshot(): PageviewsSnapshot {
    const visitors: [string, string, BufferedView[]][] = [];
    for (const v of this.visitors.values()) visitors.push([v.site, v.visitorId, v.views]);
    return { watermark: watermarkToJson(this.closedUpTo), windows: this.windows.snapshot(), visitors };
  }
}

function countView(acc: RollupAcc): void {
  acc.views++;
}

function compareSessions(a: Record<string, unknown>, b: Record<string, unknown>): number {
  return (
    (a.start as number) - (b.start as number) ||
    compareStrings(a.site as string, b.site as string) ||
    compareStrings(a.visitor_id as string, b.visitor_id as string)
  );
}

export function pageviewsStage(opts: PageviewsStageOptions = {}): StageDefinition {
  const gapMs = opts.sessionGapMs ?? DEFAULT_SESSION_GAP_MS;
  if (!Number.isFinite(gapMs) || gapMs <= 0) throw new RangeError(`sessionGapMs must be positive, got ${gapMs}`);
  return {
    name: 'pageviews',
    inputs: ['pageviews.raw'],
    outputs: [PAGEVIEWS_ENRICHED, PAGEVIEWS_SESSIONS, PAGEVIEWS_ROLLUP],
    allowedLatenessMs: allowedLateness(opts),
    createProcessor: (restored) => new PageviewsProcessor(gapMs, restored as PageviewsSnapshot | undefined),
  };
}
