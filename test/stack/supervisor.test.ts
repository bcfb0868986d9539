import t, { type Test } from 'tap';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StartError, Supervisor, type ComponentSpec } from '../../stack/supervisor.ts';

// Small real programs: each appends "start NAME" / "stop NAME" to a shared journal, so the test sees the
// order in which the supervisor started and stopped them.
const CHILD = `
const [journal, name, mode, marker] = process.argv.slice(2);
const fs = require('node:fs');
const note = (what) => fs.appendFileSync(journal, what + ' ' + name + '\\n');
note('start');
const keep = setInterval(() => {}, 1000);
if (mode === 'never-ready') {
  console.log('booting ' + name + ': waiting for a database that never comes');
  console.error('still booting ' + name);
} else {
  setTimeout(() => console.error('ready: ' + name + ' serving'), 150);
}
if (mode === 'crash-once' && !fs.existsSync(marker)) {
  setTimeout(() => { fs.writeFileSync(marker, ''); note('crash'); process.exit(3); }, 400);
}
if (mode === 'ignore-term') process.on('SIGTERM', () => note('ignored-term'));
else process.on('SIGTERM', () => { note('stop'); clearInterval(keep); setTimeout(() => process.exit(0), 50); });
`;

function setup(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-supervisor-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, 'child.cjs');
  writeFileSync(script, CHILD);
  const journal = join(dir, 'journal');
  writeFileSync(journal, '');
  const printed: string[] = [];
  const errors: string[] = [];
  const supervisor = new Supervisor({
    logDir: join(dir, 'logs'),
    print: (l) => printed.push(l),
    printError: (l) => errors.push(l),
    backoff: { initialMs: 200, maxMs: 1000 },
  });
  const spec = (name: string, mode = 'normal', extra: Partial<ComponentSpec> = {}): ComponentSpec => ({
    name,
    command: process.execPath,
    args: [script, journal, name, mode, join(dir, `${name}.crashed`)],
    ready: { line: new RegExp(`ready: ${name} serving`) },
    address: `${name}-address`,
    readyTimeoutMs: 10_000,
    stopTimeoutMs: 3_000,
    ...extra,
  });
  const events = () => readFileSync(journal, 'utf8').trim().split('\n').filter(Boolean);
  return { dir, supervisor, spec, printed, errors, events };
}

const waitFor = async (what: string, check: () => boolean, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

t.test('starts in order, each after the previous is ready; stops in reverse order; output goes to log files', async (t) => {
  const { dir, supervisor, spec, printed, events } = setup(t);
  await supervisor.startAll([spec('first'), spec('second'), spec('third')]);
  t.same(events(), ['start first', 'start second', 'start third']);
  t.equal(printed.length, 3);
  t.match(printed[0], /^✓ first ready on first-address \(\d+\.\d s\)$/);
  t.match(printed[2], /^✓ third ready on third-address/);
  await supervisor.stopAll();
  t.same(events().slice(3), ['stop third', 'stop second', 'stop first']);
  t.match(printed.slice(3).join('\n'), /■ third stopped[^]*■ second stopped[^]*■ first stopped/);
  const log = readFileSync(join(dir, 'logs', 'second.log'), 'utf8');
  t.match(log, /starting: .*child\.cjs/);
  t.match(log, /ready: second serving/);
  t.match(log, /exited with code 0/);
});

t.test('a probe decides readiness for servers that print nothing useful', async (t) => {
  const { dir, supervisor, spec, printed } = setup(t);
  const flag = join(dir, 'probe-ok');
  let probes = 0;
  const started = supervisor.startAll([
    spec('probed', 'normal', {
      ready: {
        probe: async () => {
          probes++;
          return existsSync(flag);
        },
      },
    }),
  ]);
  await new Promise((r) => setTimeout(r, 500));
  t.equal(printed.length, 0, 'not ready while the probe says no');
  writeFileSync(flag, '');
  await started;
  t.ok(probes > 1);
  t.match(printed[0], /✓ probed ready/);
  await supervisor.stopAll();
});

t.test('a crashed component is restarted (logged and counted) and becomes ready again', async (t) => {
  const { supervisor, spec, printed, errors, events } = setup(t);
  await supervisor.startAll([spec('steady'), spec('flaky', 'crash-once')]);
  await waitFor('the restart', () => printed.some((l) => l.startsWith('↻ flaky restarted')));
  t.equal(supervisor.restarts('flaky'), 1);
  t.equal(supervisor.restarts('steady'), 0);
  t.match(errors[0], /^✗ flaky exited \(code 3\) after \d+\.\d s; restart 1 in 0\.2 s \(log: .*flaky\.log\)$/);
  t.same(events(), ['start steady', 'start flaky', 'crash flaky', 'start flaky']);
  t.same(supervisor.status().map((s) => [s.name, s.running, s.restarts]), [['steady', true, 0], ['flaky', true, 1]]);
  await supervisor.stopAll();
  t.same(events().slice(4), ['stop flaky', 'stop steady']);
});

t.test('a component that never gets ready: a clear error with the tail of its log, and the others are stopped', async (t) => {
  const { supervisor, spec, events } = setup(t);
  const began = Date.now();
  const err = await supervisor.startAll([spec('base'), spec('stuck', 'never-ready', { readyTimeoutMs: 1500 }), spec('never-started')]).catch((e) => e);
  t.type(err, StartError);
  t.equal(err.component, 'stuck');
  t.match(err.message, /^stuck did not get ready within 1\.5 s\n--- last lines of its log\n/);
  t.match(err.message, /booting stuck: waiting for a database that never comes/);
  t.match(err.message, /still booting stuck/);
  t.ok(Date.now() - began < 8000);
  t.same(events(), ['start base', 'start stuck', 'stop stuck', 'stop base'], 'the stuck one and the one before are stopped; the next never starts');
});

t.test('a component that exits before it is ready: the error says how it exited', async (t) => {
  const { supervisor } = setup(t);
  const err = await supervisor
    .startAll([{ name: 'broken', command: process.execPath, args: ['-e', 'console.error("cannot open data dir: permission denied"); process.exit(4)'], ready: { line: /ready/ }, address: 'x' }])
    .catch((e) => e);
  t.type(err, StartError);
  t.match(err.message, /^broken exited \(code 4\) before it was ready\n--- last lines of its log\ncannot open data dir: permission denied/);
});

t.test('a child that ignores SIGTERM is killed after its stop timeout; the rest still stop in order', async (t) => {
  const { supervisor, spec, printed, events } = setup(t);
  await supervisor.startAll([spec('polite'), spec('stubborn', 'ignore-term', { stopTimeoutMs: 700 })]);
  const began = Date.now();
  await supervisor.stopAll();
  const took = Date.now() - began;
  t.ok(took >= 600 && took < 5000, `stopped in ${took} ms`);
  t.same(events().slice(2), ['ignored-term stubborn', 'stop polite']);
  t.match(printed.join('\n'), /■ stubborn stopped \(\d+\.\d s, killed: it did not stop in time\)/);
  t.same(supervisor.status().map((s) => s.running), [false, false]);
});

t.test('afterReady runs before the next component starts; its failure is a failure to start', async (t) => {
  const { supervisor, spec, events, dir } = setup(t);
  const journal = join(dir, 'journal');
  const err = await supervisor
    .startAll([
      spec('one', 'normal', { afterReady: async () => appendFileSync(journal, 'after one\n') }),
      spec('two', 'normal', { afterReady: async () => Promise.reject(new Error('could not create topics')) }),
      spec('three'),
    ])
    .catch((e) => e);
  t.type(err, StartError);
  t.match(err.message, /^two was ready, but setting it up failed: could not create topics/);
  t.same(events(), ['start one', 'after one', 'start two', 'stop two', 'stop one']);
});

t.test('killAll (a second Ctrl-C) cuts a slow stop short', async (t) => {
  const { supervisor, spec, printed } = setup(t);
  await supervisor.startAll([spec('stubborn', 'ignore-term', { stopTimeoutMs: 30_000 })]);
  const began = Date.now();
  const stopping = supervisor.stopAll();
  await new Promise((r) => setTimeout(r, 300));
  supervisor.killAll();
  await stopping;
  t.ok(Date.now() - began < 5000, `stopped in ${Date.now() - began} ms, not after the 30 s stop timeout`);
  t.match(printed.join('\n'), /■ stubborn stopped/);
  t.same(supervisor.status().map((s) => s.running), [false]);
});
