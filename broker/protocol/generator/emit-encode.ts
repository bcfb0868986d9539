import { condition, intersect, isEmpty, type VersionRange } from './versions.ts';
import type { FieldSpec, StructSpec } from './schema.ts';
import { NUMBER_TYPES, canBeNull, choose, defaultExpr, elementType, flexCondition, taggedSectionOf, presentExpr, type EmitContext } from './field-types.ts';

/**
 * Emits a struct's encoder: fields in definition order, each behind a version test when the struct's
 * versions need one (a version lacking a field simply skips it), undefined optional fields written as
 * their default, null refused where the version does not allow it, then the tagged-field section.
 */
export function emitEncoder(s: StructSpec, ctx: EmitContext, top: boolean): string {
  const name = top ? `encode${s.name}` : `write${s.name}`;
  const lines = [`${top ? 'export ' : ''}function ${name}(w: Writer, v: number, m: ${s.name}): void {`];
  if (top) {
    const { min, max } = s.versions;
    lines.push(`  if (v < ${min} || v > ${max}) throw new Error(\`${s.name}: unsupported version \${v}\`);`);
  }
  for (const f of s.fields) {
    const cond = condition(f.untagged, s.versions);
    if (cond === 'false') continue;
    const body = writeLines(f, s, f.untagged, false, ctx);
    if (cond !== 'true') lines.push(`  if (${cond}) {`, ...indent(body, '    '), '  }');
    else if (body.length === 1) lines.push(`  ${body[0]}`);
    else lines.push('  {', ...indent(body, '    '), '  }');
  }
  lines.push(...indent(taggedSection(s, ctx), '  '));
  lines.push('}');
  return lines.join('\n');
}

function indent(lines: string[], by: string): string[] {
  return lines.map((l) => by + l);
}

function scalarWrite(f: FieldSpec, x: string, within: VersionRange, tagged: boolean, nullable: string, ctx: EmitContext): string {
  const t = f.type;
  if (NUMBER_TYPES.has(t) || t === 'bool' || t === 'uuid') return `w.${t}(${x})`;
  const flex = tagged ? 'true' : flexCondition(f, ctx, within);
  if (t === 'records') return `w.records(${x}, ${flex})`;
  // Where null was refused only at run time, the compiler still sees `T | null`: narrow for the plain writers.
  const xs = nullable === 'false' || nullable === 'true' ? x : `${x} as ${elementType(f)}`;
  if (t === 'string') {
    return choose(flex, choose(nullable, `w.compactNullableString(${x})`, `w.compactString(${xs})`), choose(nullable, `w.nullableString(${x})`, `w.string(${xs})`));
  }
  if (t === 'bytes') {
    return choose(flex, choose(nullable, `w.compactNullableBytes(${x})`, `w.compactBytes(${xs})`), choose(nullable, `w.nullableBytes(${x})`, `w.bytes(${xs})`));
  }
  throw new Error(`cannot write ${t}`);
}

/** Statements writing one field, for versions `within` (all of which have it). */
function writeLines(f: FieldSpec, s: StructSpec, within: VersionRange, tagged: boolean, ctx: EmitContext): string[] {
  const prop = `m.${f.prop}`;
  const d = defaultExpr(f);
  if (!f.isArray && !f.isStruct && !canBeNull(f) && (NUMBER_TYPES.has(f.type) || f.type === 'bool' || f.type === 'uuid')) {
    return [`${scalarWrite(f, `${prop} ?? ${d}`, within, tagged, 'false', ctx)};`];
  }
  const nullable = condition(f.nullable, within);
  const lines = [`const x = ${prop} === undefined ? ${d} : ${prop};`];
  if (canBeNull(f) && nullable !== 'true') {
    const guard = nullable === 'false' ? 'x === null' : `x === null && !(${nullable})`;
    lines.push(`if (${guard}) throw new Error(\`${ctx.msg.name}: ${s.name}.${f.prop} is null, which version \${v} does not allow\`);`);
  }
  if (f.isArray) {
    const flex = tagged ? 'true' : flexCondition(f, ctx, within);
    const element = f.isStruct ? `write${f.type}(w, v, x[i])` : scalarWrite(f, 'x[i]', within, tagged, 'false', ctx);
    const loop = `for (let i = 0; i < x.length; i++) ${element};`;
    if (nullable === 'false') {
      lines.push(`${choose(flex, 'w.compactArrayLength(x.length)', 'w.arrayLength(x.length)')};`, loop);
    } else {
      lines.push(`if (x === null) ${choose(flex, 'w.compactArrayLength(null)', 'w.arrayLength(null)')};`);
      lines.push('else {', `  ${choose(flex, 'w.compactArrayLength(x.length)', 'w.arrayLength(x.length)')};`, `  ${loop}`, '}');
    }
    return lines;
  }
  if (f.isStruct) {
    if (nullable === 'false') lines.push(`write${f.type}(w, v, x${canBeNull(f) ? ` as ${f.type}` : ''});`);
    else {
      // The marker byte precedes a nullable struct: -1 for null, 1 for present.
      const marked = ['if (x === null) w.int8(-1);', 'else {', '  w.int8(1);', `  write${f.type}(w, v, x);`, '}'];
      if (nullable === 'true') lines.push(...marked);
      else lines.push(`if (${nullable}) {`, ...indent(marked, '  '), `} else write${f.type}(w, v, x as ${f.type});`);
    }
    return lines;
  }
  lines.push(`${scalarWrite(f, 'x', within, tagged, nullable, ctx)};`);
  return lines;
}

/** The tagged-field section: the count of fields that differ from their defaults, then those, by tag. */
function taggedSection(s: StructSpec, ctx: EmitContext): string[] {
  const section = taggedSectionOf(s, ctx);
  if (!section) return [];
  const { flexRange, flex, tagged } = section;
  const body: string[] = [];
  if (tagged.length === 0) body.push('w.emptyTaggedFields();');
  else {
    tagged.forEach((f, i) => {
      const cond = condition(f.tagged, flexRange);
      const present = presentExpr(f, `m.${f.prop}`);
      body.push(`const t${i} = ${cond === 'true' ? '' : `${cond} && `}${present};`);
    });
    body.push(`w.uvarint(${tagged.map((_, i) => `(t${i} ? 1 : 0)`).join(' + ')});`);
    tagged.forEach((f, i) => {
      const within = intersect(f.tagged, flexRange);
      body.push(`if (t${i}) {`, `  const at = w.beginTaggedField(${f.tag});`, ...indent(writeLines(f, s, within, true, ctx), '  '), '  w.endTaggedField(at);', '}');
    });
  }
  return flex === 'true' ? body : [`if (${flex}) {`, ...indent(body, '  '), '}'];
}

/** `isDefaultX(m)`: whether every field of a struct holds its default (tagged struct fields equal to it are omitted). */
export function emitIsDefault(s: StructSpec): string {
  const tests = s.fields.map((f) => `!(${presentExpr(f, `m.${f.prop}`)})`);
  return [`function isDefault${s.name}(m: ${s.name}): boolean {`, `  return ${tests.length ? tests.join(' &&\n    ') : 'true'};`, '}'].join('\n');
}
