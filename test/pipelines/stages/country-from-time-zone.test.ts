// A visitor's country from the time zone their browser reports, through the tz database's zone.tab.
import t from 'tap';
import { countryOfTimeZone, parseZoneTable } from '../../../pipelines/stages/country-from-time-zone.ts';

t.test('zone.tab and zone1970.tab lines map zones to their (first) country code', async (t) => {
  const table = parseZoneTable(['# comment', 'DE\t+5230+01322\tEurope/Berlin\tmost of Germany', 'CH,DE,LI\t+4723+00832\tEurope/Zurich', 'XX1\t+0000+00000\tBroken/Code', ''].join('\n'));
  t.same([...table], [['Europe/Berlin', 'DE'], ['Europe/Zurich', 'CH']]);
  t.equal(countryOfTimeZone('Europe/Zurich', table), 'CH');
  t.equal(countryOfTimeZone('Europe/Paris', table), '', 'a zone the table does not list is unknown');
});

t.test("the system's tzdata maps real zones; aliases and UTC stay unknown", async (t) => {
  t.equal(countryOfTimeZone('Europe/Berlin'), 'DE');
  t.equal(countryOfTimeZone('America/New_York'), 'US');
  t.equal(countryOfTimeZone('Asia/Tokyo'), 'JP');
  t.equal(countryOfTimeZone('Australia/Sydney'), 'AU');
  t.equal(countryOfTimeZone('UTC'), '');
  t.equal(countryOfTimeZone(''), '');
  t.equal(countryOfTimeZone('Not/AZone'), '');
});
