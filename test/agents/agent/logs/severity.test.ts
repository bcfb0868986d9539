// Level names, numbers and letters from the usual loggers map onto OpenTelemetry's severity ranges.
import t from 'tap';
import { parseSeverity } from '../../../../agents/agent/logs/severity.ts';

const number = (v: string | number) => parseSeverity(v)?.severityNumber;
const text = (v: string | number) => parseSeverity(v)?.severityText;

t.test('names, any case, to the six ranges', async (t) => {
  const cases: [string, number, string][] = [
    ['trace', 1, 'TRACE'], ['debug', 5, 'DEBUG'], ['info', 9, 'INFO'], ['information', 9, 'INFO'], ['notice', 10, 'INFO'],
    ['warn', 13, 'WARN'], ['warning', 13, 'WARN'], ['error', 17, 'ERROR'], ['err', 17, 'ERROR'],
    ['fatal', 21, 'FATAL'], ['critical', 21, 'FATAL'], ['crit', 21, 'FATAL'], ['alert', 22, 'FATAL'], ['emerg', 23, 'FATAL'], ['panic', 23, 'FATAL'],
  ];
  for (const [name, n, s] of cases) {
    for (const spelled of [name, name.toUpperCase(), name[0].toUpperCase() + name.slice(1)]) {
      t.equal(number(spelled), n, `${spelled} → ${n}`);
      t.equal(text(spelled), s);
    }
  }
  t.equal(number('INFO '), 9, "log4j's padded level");
  t.equal(number(' Warning\t'), 13);
});

t.test('short forms', async (t) => {
  t.equal(number('I'), 9, 'glog I');
  t.equal(number('W'), 13);
  t.equal(number('E'), 17);
  t.equal(number('D'), 5);
  t.equal(number('F'), 21);
  t.equal(number('WRN'), 13, 'zerolog / Serilog three letters');
  t.equal(number('dbg'), 5);
  t.equal(number('verbose'), 1, 'Serilog Verbose');
});

t.test('numbers: syslog 0–7, pino 10–60, as numbers or numeric strings', async (t) => {
  t.same([0, 1, 2, 3, 4, 5, 6, 7].map(number), [23, 22, 21, 17, 13, 10, 9, 5], 'syslog, emerg … debug, in order');
  t.same([10, 20, 30, 40, 50, 60].map(number), [1, 5, 9, 13, 17, 21], 'pino / bunyan');
  t.equal(number('3'), 17, 'a numeric string (logfmt, regex groups)');
  t.equal(number('30'), 9);
  t.equal(text(30), 'INFO');
});

t.test('unknown: no number, the text kept (within the schema limit)', async (t) => {
  t.same(parseSeverity('chatty'), { severityNumber: undefined, severityText: 'chatty' });
  t.same(parseSeverity(35), { severityNumber: undefined, severityText: '35' });
  t.same(parseSeverity(8), { severityNumber: undefined, severityText: '8' });
  t.equal(text('x'.repeat(100))!.length, 64);
  t.equal(parseSeverity(''), undefined, 'an empty level is no level');
  t.equal(parseSeverity('  '), undefined);
  t.equal(parseSeverity(Number.NaN), undefined);
});
