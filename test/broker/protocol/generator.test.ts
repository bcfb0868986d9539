import t from 'tap';
import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { generate } from '../../../broker/protocol/generator/generate.ts';
import { camel } from '../../../broker/protocol/generator/schema.ts';

const repoRoot = resolve(import.meta.dirname, '../../..');
const defsDir = resolve(repoRoot, '../shared/kafka-protocol');
const committed = join(repoRoot, 'broker/protocol/messages');

t.test('regenerating from the Kafka definitions gives exactly the committed output', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'tributary-gen-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const n = generate(defsDir, out);
  t.ok(n > 150, `${n} messages`);
  const fresh = readdirSync(out).sort();
  t.same(readdirSync(committed).sort(), fresh, 'same files');
  const differing = fresh.filter((f) => !readFileSync(join(out, f)).equals(readFileSync(join(committed, f))));
  t.same(differing, [], 'no file differs');
});

t.test('field names become lowerCamelCase', async (t) => {
  t.equal(camel('ProducerId'), 'producerId');
  t.equal(camel('ISRNodes'), 'isrNodes');
  t.equal(camel('timeoutMs'), 'timeoutMs');
  t.equal(camel('ID'), 'id');
});
