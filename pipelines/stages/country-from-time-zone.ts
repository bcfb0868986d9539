/**
 * A visitor's country, where known, from the IANA time zone their browser reports: no IP address is
 * looked up or stored (the way Simple Analytics does it). The mapping is the tz database's own zone.tab,
 * read once from the system's tzdata; a zone it does not list (an alias such as "US/Eastern", "UTC", or
 * no tzdata installed) gives '' — unknown, never a guess.
 */
import { readFileSync } from 'node:fs';

const ZONE_TABLES = ['/usr/share/zoneinfo/zone.tab', '/usr/share/zoneinfo/zone1970.tab'];

/** zone.tab lines: `CC<TAB>coordinates<TAB>TZ[<TAB>comments]`; zone1970.tab lists several codes as `CC,CC`. */
export function parseZoneTable(text: string, into = new Map<string, string>()): Map<string, string> {
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const [codes, , zone] = line.split('\t');
    if (!codes || !zone || into.has(zone)) continue;
    const code = codes.split(',')[0];
    if (/^[A-Z]{2}$/.test(code)) into.set(zone, code);
  }
  return into;
}

let systemTable: Map<string, string> | null = null;

function loadSystemTable(): Map<string, string> {
  const table = new Map<string, string>();
  for (const path of ZONE_TABLES) {
    try {
      parseZoneTable(readFileSync(path, 'utf8'), table);
    } catch {
      // not installed here: those zones stay unknown
    }
  }
  return table;
}

/** ISO 3166-1 alpha-2 code of the country `timeZone` belongs to, or '' when unknown. */
export function countryOfTimeZone(timeZone: string, table: Map<string, string> = (systemTable ??= loadSystemTable())): string {
  return table.get(timeZone) ?? '';
}
