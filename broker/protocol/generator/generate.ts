// Reads Kafka's message definitions (a folder of *.json, e.g. ../shared/kafka-protocol) and writes one typed
// codec module per request, response, header and data message, plus an index.
// Usage: node broker/protocol/generator/generate.ts <definitions-dir> <out-dir>
import { readdirSync, writeFileSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readDefinition } from './json-with-comments.ts';
import { parseMessage, MESSAGE_TYPES, type MessageSpec } from './schema.ts';
import { emitMessage } from './emit-message.ts';
import { emitIndex } from './emit-index.ts';

/** Renders every module in memory: file name → contents, in sorted order (the output is deterministic). */
export function render(definitionsDir: string): Map<string, string> {
  const files = readdirSync(definitionsDir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  const messages: MessageSpec[] = [];
  const out = new Map<string, string>();
  for (const file of files) {
    const json = readDefinition(join(definitionsDir, file));
    if (!MESSAGE_TYPES.includes(json.type)) continue;
    const spec = parseMessage(json);
    if (out.has(`${spec.name}.ts`) || spec.name === 'index') throw new Error(`${file}: message name ${spec.name} is taken`);
    messages.push(spec);
    out.set(`${spec.name}.ts`, emitMessage(spec, file));
  }
  out.set('index.ts', emitIndex(messages));
  return out;
}

/** Writes the modules into outDir, replacing what was there. Returns the number of messages. */
export function generate(definitionsDir: string, outDir: string): number {
  if (!existsSync(definitionsDir)) throw new Error(`no definitions folder at ${definitionsDir}`);
  const files = render(definitionsDir);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  for (const [name, text] of files) writeFileSync(join(outDir, name), text);
  return files.size - 1;
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
