import { Type, type Static } from '@sinclair/typebox';
import { EpochMillis } from './attributes.ts';

const Str = (max: number) => Type.String({ maxLength: max });

/**
 * A record of `pageviews.raw`, as the browser tracker sends it plus what the collector adds (user agent,
 * cookieless visitor id: a daily-salted hash of site, IP and user agent; the IP itself is never stored).
 */
export const PageView = Type.Object(
  {
    timestamp: EpochMillis,
    site: Type.String({ minLength: 1, maxLength: 253 }),
    url: Str(4096),
    path: Str(2048),
    referrer: Type.Optional(Str(4096)),
    title: Type.Optional(Str(1024)),
    screen: Type.Optional(Type.Object({ width: Type.Integer({ minimum: 0, maximum: 100000 }), height: Type.Integer({ minimum: 0, maximum: 100000 }) }, { additionalProperties: false })),
    language: Type.Optional(Str(64)),
    timeZone: Type.Optional(Str(64)),
    utm: Type.Optional(
      Type.Object(
        { source: Type.Optional(Str(256)), medium: Type.Optional(Str(256)), campaign: Type.Optional(Str(256)), term: Type.Optional(Str(256)), content: Type.Optional(Str(256)) },
        { additionalProperties: false },
      ),
    ),
    userAgent: Type.Optional(Str(2048)),
    visitorId: Type.Optional(Type.String({ pattern: '^[0-9a-f]{16,64}$' })),
    navigation: Type.Optional(Type.Union([Type.Literal('load'), Type.Literal('spa')])),
  },
  { additionalProperties: false, $id: 'PageView' },
);
export type PageView = Static<typeof PageView>;

export function pageViewKey(v: PageView): string {
  return v.site;
}
