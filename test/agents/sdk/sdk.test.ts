// The app SDK as users get it: the package is packed (compiled JavaScript included), installed into a
// separate app folder with npm, and an app that writes plain OpenTelemetry API calls plus track() sends its
// metrics, logs and activity events through the collector into the raw topics.
import t from 'tap';
import { execFileSync, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, removeDir } from '../../helpers/broker-process.ts';
import { startCollectorWithBroker, type CollectorUnderTest } from '../../helpers/collector.ts';
import { kcat } from '../../helpers/kcat.ts';

let stack: CollectorUnderTest;
const work = mkdtempSync(join(tmpdir(), 'tributary-sdk-'));
t.before(async () => {
  stack = await startCollectorWithBroker(1 << 20);
});
t.teardown(async () => {
  await stack.stop();
  removeDir(work);
});

async function readJson(topic: string): Promise<any[]> {
  const res = await kcat(['-C', '-b', `127.0.0.1:${stack.broker.port}`, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%s\\n']);
  return res.stdout.toString().trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

t.test('npm-installed tributary/sdk ships an app\'s metrics, logs and activity events', async (t) => {
  const npm = (args: string[], cwd: string) => execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 }).toString();
  npm(['pack', '--pack-destination', work], repoRoot);
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'))!;
  const app = join(work, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'shop', private: true, type: 'module' }));
  npm(['install', join(work, tarball)], app);
  writeFileSync(
    join(app, 'app.js'),
    `import { init } from 'tributary/sdk';
import { metrics } from '@opentelemetry/api';
import { logs, SeverityNumber } from '@opentelemetry/api-logs';
const sdk = init({ serviceName: 'shop', endpoint: process.argv[2], resource: { 'deployment.environment': 'test' } });
metrics.getMeter('orders').createCounter('orders.placed').add(3, { currency: 'EUR' });
logs.getLogger('orders').emit({ severityNumber: SeverityNumber.ERROR, severityText: 'ERROR', body: 'card declined', attributes: { 'order.id': 7 } });
sdk.track('signup', { plan: 'pro', trial: true });
await sdk.shutdown();
`,
  );
  // Asynchronously: the collector runs in this process and must keep serving while the app exports.
  const run = await promisify(execFile)(process.execPath, ['app.js', stack.url], { cwd: app, encoding: 'utf8', timeout: 60_000 });
  t.pass(`the app ran${run.stderr ? `: ${run.stderr}` : ''}`);

  const logRecords = (await readJson('logs.raw')).filter((r) => r.resource['service.name'] === 'shop');
  const error = logRecords.find((r) => r.body === 'card declined');
  t.match(error, { severityText: 'ERROR', attributes: { 'order.id': 7 }, resource: { 'deployment.environment': 'test' } });
  t.ok(error.resource['host.name'], 'host.name set by the SDK');
  const signup = logRecords.find((r) => r.attributes?.['event.name'] === 'signup');
  t.match(signup, { body: 'signup', attributes: { plan: 'pro', trial: true } }, 'track() arrives as an activity event');
  const counter = (await readJson('metrics.raw')).find((p) => p.name === 'orders.placed' && p.resource['service.name'] === 'shop');
  t.match(counter, { type: 'sum', value: 3, attributes: { currency: 'EUR' } }, 'metrics flushed on shutdown');
});
