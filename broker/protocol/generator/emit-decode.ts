import { condition, intersect, isEmpty, type VersionRange } from './versions.ts';
import type { FieldSpec, StructSpec } from './schema.ts';
import { NUMBER_TYPES, choose, defaultExpr, elementMinSize, elementType, flexCondition, taggedSectionOf, tsType, type EmitContext } from './field-types.ts';

/**
 * Emits a struct's decoder: straight-line reads into locals (version tests as plain comparisons, decided
 * at generation time where the struct's versions allow), the tagged-field section as one switch, and a
 * single object literal at the end so every decoded value of a type has the same shape.
 */
export function emitDecoder(s: StructSpec, ctx: EmitContext, top: boolean): string {
  const name = top ? `decode${s.name}` : `read${s.name}`;
  const lines = [`${top ? 'export ' : ''}function ${name}(r: Reader, v: number): ${s.name} {`];
  if (top) {
    const { min, max } = s.versions;
    lines.push(`  if (v < ${min} || v > ${max}) throw new ProtocolDecodeError(\`${s.name}: unsupported version \${v}\`);`);
  }
  for (const f of s.fields) lines.push(...indent(fieldLines(f, s, ctx), '  '));
  lines.push(...indent(taggedSection(s, ctx), '  '));
  if (s.fields.length === 0) lines.push('  return {};');
  else lines.push('  return {', ...s.fields.map((f) => `    ${f.prop}: ${local(f)},`), '  };');
  lines.push('}');
  return lines.join('\n');
}

const local = (f: FieldSpec) => `$${f.prop}`;

function indent(lines: string[], by: string): string[] {
  return lines.map((l) => by + l);
}

/** A field's local: declared with its default unless every version of the struct reads it. */
function fieldLines(f: FieldSpec, s: StructSpec, ctx: EmitContext): string[] {
  const cond = condition(f.untagged, s.versions);
  const decl = `let ${local(f)}: ${tsType(f)}`;
  if (cond === 'true') {
    const expr = readExpr(f, f.untagged, false, ctx);
    if (expr !== null) return [`const ${local(f)}: ${tsType(f)} = ${expr};`];
    return [`${decl};`, '{', ...indent(readArray(f, f.untagged, false, ctx), '  '), '}'];
  }
  const lines = [`${decl} = ${defaultExpr(f)};`];
  if (cond === 'false') return lines;
  const expr = readExpr(f, f.untagged, false, ctx);
  if (expr !== null) lines.push(`if (${cond}) ${local(f)} = ${expr};`);
  else lines.push(`if (${cond}) {`, ...indent(readArray(f, f.untagged, false, ctx), '  '), '}');
  return lines;
}

/** How one value is read; `tagged` values always use the flexible (compact) encodings. */
function scalarRead(f: FieldSpec, within: VersionRange, tagged: boolean, nullable: string, ctx: EmitContext): string {
  const t = f.type;
  if (NUMBER_TYPES.has(t)) return `r.${t}()`;
  if (t === 'bool' || t === 'uuid') return `r.${t}()`;
  const flex = tagged ? 'true' : flexCondition(f, ctx, within);
  if (t === 'string') {
    return choose(flex, choose(nullable, 'r.compactNullableString()', 'r.compactString()'), choose(nullable, 'r.nullableString()', 'r.string()'));
  }
  if (t === 'bytes' || t === 'records') {
    return choose(flex, choose(nullable, 'r.compactNullableBytes()', 'r.compactBytes()'), choose(nullable, 'r.nullableBytes()', 'r.bytes()'));
  }
  throw new Error(`cannot read ${t}`);
}

/** An expression reading the field, or null for arrays (which need statements). */
function readExpr(f: FieldSpec, within: VersionRange, tagged: boolean, ctx: EmitContext): string | null {
  if (f.isArray) return null;
  const nullable = condition(f.nullable, within);
  if (!f.isStruct) return scalarRead(f, within, tagged, nullable, ctx);
  const read = `read${f.type}(r, v)`;
  // A nullable struct is preceded by a marker byte: -1 for null, 1 for present.
  if (nullable === 'false') return read;
  return `${nullable === 'true' ? '' : `${nullable} && `}r.int8() < 0 ? null : ${read}`;
}

/** Statements reading an array field into its local; callers put them in a block of their own. */
function readArray(f: FieldSpec, within: VersionRange, tagged: boolean, ctx: EmitContext): string[] {
  const flex = tagged ? 'true' : flexCondition(f, ctx, within);
  const nullable = condition(f.nullable, within);
  const min = elementMinSize(f, ctx);
  const count = choose(flex, `r.compactArrayLength(${nullable}, ${min})`, `r.arrayLength(${nullable}, ${min})`);
  // Elements are never null; they are read straight into an array of the right length.
  const element = f.isStruct ? `read${f.type}(r, v)` : scalarRead(f, within, tagged, 'false', ctx);
  const fill = [`const a: ${elementType(f)}[] = new Array(n);`, `for (let i = 0; i < n; i++) a[i] = ${element};`, `${local(f)} = a;`];
  const lines = [`const n = ${count};`];
  if (nullable === 'false') lines.push(...fill);
  else lines.push(`if (n < 0) ${local(f)} = null;`, 'else {', ...indent(fill, '  '), '}');
  return lines;
}

/** The tagged-field section of flexible versions: known tags are read, unknown ones skipped. */
function taggedSection(s: StructSpec, ctx: EmitContext): string[] {
  const section = taggedSectionOf(s, ctx);
  if (!section) return [];
  const { flexRange, flex, tagged } = section;
  const body: string[] = [];
  if (tagged.length === 0) body.push('r.skipTaggedFields();');
  else {
    body.push('for (let nt = r.taggedFieldCount(); nt > 0; nt--) {', '  const tag = r.uvarint();', '  const outer = r.beginTaggedField();', '  switch (tag) {');
    let previous = -1;
    for (const f of tagged) {
      if (f.tag === previous) throw new Error(`${ctx.msg.name}: tag ${f.tag} is used twice in ${s.name}`);
      previous = f.tag!;
      const within = intersect(f.tagged, flexRange);
      const cond = condition(f.tagged, flexRange);
      const expr = readExpr(f, within, true, ctx);
      const read = expr !== null ? [`${local(f)} = ${expr};`] : readArray(f, within, true, ctx);
      body.push(`    case ${f.tag}: {`);
      if (cond === 'true') body.push(...indent(read, '      '));
      else body.push(`      if (${cond}) {`, ...indent(read, '        '), '      }');
      body.push('      break;', '    }');
    }
    body.push('  }', '  r.endTaggedField(outer);', '}');
  }
  return flex === 'true' ? body : [`if (${flex}) {`, ...indent(body, '  '), '}'];
}
