// Reads Kafka's message definitions (a folder of *.json, e.g. ../shared/kafka-protocol) and writes one typed
// codec module per message plus an index. Usage: node broker/protocol/generator/generate.ts <defs-dir> <out-dir>
import { readdirSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readDefinition, parseMessage, type MessageSpec } from './schema.ts';
import { emitMessage } from './emit-message.ts';
import { emitIndex } from './emit-index.ts';

export function generate(definitionsDir: string, outDir: string): number {
  const files = readdirSync(definitionsDir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  const messages: { spec: MessageSpec; file: string }[] = [];
  for (const file of files) {
    const json = readDefinition(join(definitionsDir, file));
    if (!['request', 'response', 'header', 'data'].includes(json.type)) continue;
    messages.push({ spec: parseMessage(json), file });
  }
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  for (const { spec, file } of messages) writeFileSync(join(outDir, `${spec.name}.ts`), emitMessage(spec, file));
  writeFileSync(join(outDir, 'index.ts'), emitIndex(messages.map((m) => m.spec)));
  return messages.length;
}

if (import.meta.main) {
  const [defs, out] = process.argv.slice(2);
  if (!defs || !out) {
    console.error('usage: node broker/protocol/generator/generate.ts <kafka-definitions-dir> <out-dir>');
    process.exit(2);
  }
  const n = generate(resolve(defs), resolve(out));
  console.log(`generated ${n} messages into ${out}`);
}
