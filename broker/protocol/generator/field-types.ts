import { condition, contains, intersect, isEmpty, type VersionRange } from './versions.ts';
import type { FieldSpec, MessageSpec, StructSpec } from './schema.ts';

/**
 * What the emitters need to know about one field's type: its TypeScript type, its default, how it is
 * read and written in a given set of versions, and the fewest bytes it can take on the wire.
 */
export interface EmitContext {
  msg: MessageSpec;
  structs: Map<string, StructSpec>;
}

export const NUMBER_TYPES = new Set(['int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64']);

/** A choice made at generation time when the test is a constant, at run time otherwise. */
export function choose(test: string, a: string, b: string): string {
  if (test === 'true') return a;
  if (test === 'false') return b;
  return `(${test} ? ${a} : ${b})`;
}

export function structOf(f: FieldSpec, ctx: EmitContext): StructSpec {
  const s = ctx.structs.get(f.type);
  if (!s) throw new Error(`${ctx.msg.name}: no struct ${f.type}`);
  return s;
}

/** The TypeScript type of one element (of the value itself for non-arrays), without null. */
export function elementType(f: FieldSpec): string {
  if (f.isStruct) return f.type;
  if (NUMBER_TYPES.has(f.type)) return 'number';
  switch (f.type) {
    case 'bool':
      return 'boolean';
    case 'string':
    case 'uuid':
      return 'string';
    case 'bytes':
      return 'Buffer';
    case 'records':
      return 'Buffer | readonly Buffer[]';
  }
  throw new Error(`unknown type ${f.type}`);
}

/** Whether null is part of the TypeScript type: nullable in some version, or records (always). */
export function canBeNull(f: FieldSpec): boolean {
  return !isEmpty(f.nullable) || f.type === 'records';
}

export function tsType(f: FieldSpec): string {
  const base = f.isArray ? `${elementType(f)}[]` : elementType(f);
  return canBeNull(f) ? `${base} | null` : base;
}

function numericDefault(f: FieldSpec, d: string): string {
  const negative = d.startsWith('-');
  const digits = negative ? d.slice(1) : d;
  const n = /^0x[0-9a-f]+$/i.test(digits) ? Number.parseInt(digits, 16) : Number(digits);
  if (!Number.isFinite(n) || digits.trim() === '') throw new Error(`bad numeric default '${d}' for ${f.name}`);
  return String(negative ? -n : n);
}

/** The value of a field that a version lacks: its `default`, else Kafka's zero value for the type. */
export function defaultExpr(f: FieldSpec): string {
  const d = f.default;
  if (d === 'null') {
    if (!canBeNull(f)) throw new Error(`${f.name}: default null but never nullable`);
    return 'null';
  }
  if (f.isArray) return '[]';
  if (f.isStruct) return `default${f.type}()`;
  if (NUMBER_TYPES.has(f.type)) return d === undefined || d === '' ? '0' : numericDefault(f, d);
  switch (f.type) {
    case 'bool':
      return d === 'true' ? 'true' : 'false';
    case 'string':
      return JSON.stringify(d ?? '');
    case 'uuid':
      return 'ZERO_UUID';
    case 'bytes':
      return 'EMPTY_BYTES';
    case 'records':
      return 'null';
  }
  throw new Error(`no default for ${f.type}`);
}

/**
 * Whether a value differs from the field's default, so a tagged field holding it is worth writing; Kafka
 * omits tagged fields that hold their default. `x` is the property access (possibly undefined).
 */
export function presentExpr(f: FieldSpec, x: string): string {
  const d = defaultExpr(f);
  if (f.isArray || f.type === 'bytes') return d === 'null' ? `${x} != null` : `${x} !== undefined && (${x} === null || ${x}.length > 0)`;
  if (f.isStruct) return d === 'null' ? `${x} != null` : `${x} !== undefined && (${x} === null || !isDefault${f.type}(${x}))`;
  return `${x} !== undefined && ${x} !== ${d}`;
}

/** The flexible-encoding test for a field within `within`: the field's own override, else the message's. */
export function flexCondition(f: FieldSpec, ctx: EmitContext, within: VersionRange): string {
  return condition(f.flexible ?? ctx.msg.flexible, within);
}

function isFlexibleAt(f: FieldSpec, ctx: EmitContext, v: number): boolean {
  return contains(f.flexible ?? ctx.msg.flexible, v);
}

function scalarMinSize(type: string, flexible: boolean): number {
  switch (type) {
    case 'bool':
    case 'int8':
      return 1;
    case 'int16':
    case 'uint16':
      return 2;
    case 'int32':
    case 'uint32':
      return 4;
    case 'int64':
    case 'float64':
      return 8;
    case 'uuid':
      return 16;
    case 'string':
      return flexible ? 1 : 2;
    case 'bytes':
    case 'records':
      return flexible ? 1 : 4;
  }
  throw new Error(`unknown type ${type}`);
}

/** The fewest bytes a struct takes in version v: its regular fields plus, when flexible, the tag count. */
export function structMinSize(s: StructSpec, v: number, ctx: EmitContext): number {
  let n = contains(ctx.msg.flexible, v) ? 1 : 0;
  for (const f of s.fields) {
    if (!contains(f.untagged, v)) continue;
    const flexible = isFlexibleAt(f, ctx, v);
    if (f.isArray) n += flexible ? 1 : 4;
    else if (f.isStruct) n += contains(f.nullable, v) ? 1 : structMinSize(structOf(f, ctx), v, ctx);
    else n += scalarMinSize(f.type, flexible);
  }
  return n;
}

/**
 * The fewest bytes one element of an array field takes in any version it exists in: the decoder refuses
 * counts the remaining bytes cannot hold before allocating. A zero would defeat that, so it is an error.
 */
export function elementMinSize(f: FieldSpec, ctx: EmitContext): number {
  if (isEmpty(f.versions)) return 1;
  let min = Infinity;
  for (let v = f.versions.min; v <= f.versions.max; v++) {
    const flexible = contains(f.tagged, v) || isFlexibleAt(f, ctx, v);
    const size = f.isStruct ? structMinSize(structOf(f, ctx), v, ctx) : scalarMinSize(f.type, flexible);
    min = Math.min(min, size);
  }
  if (!(min >= 1)) throw new Error(`${ctx.msg.name}.${f.name}: array elements can be empty, counts cannot be bounded`);
  return min;
}

/** The part of `r` in which the struct writes tagged fields (its flexible versions). */
export function flexibleWithin(s: StructSpec, ctx: EmitContext): VersionRange {
  return intersect(ctx.msg.flexible, s.versions);
}

/** A doc comment for an interface property: the definition's `about` and the versions that carry it. */
export function docComment(f: FieldSpec, indent: string): string {
  const fmt = (r: VersionRange) => (isEmpty(r) ? 'none' : r.max === r.min ? `${r.min}` : `${r.min}-${r.max}`);
  const notes = [`versions ${fmt(f.versions)}`];
  if (!isEmpty(f.nullable)) notes.push(`nullable ${fmt(f.nullable)}`);
  if (!isEmpty(f.tagged)) notes.push(`tag ${f.tag} in ${fmt(f.tagged)}`);
  const about = f.about.replace(/\*\//g, '*\u200b/').replace(/\s+/g, ' ').trim();
  return `${indent}/** ${about ? `${about} ` : ''}(${notes.join('; ')}) */`;
}

/**
 * What the decoder and encoder both need for a struct's tagged-field section: the flexible versions it
 * exists in, their test, and the tagged fields in tag order; null when the struct is never flexible.
 */
export function taggedSectionOf(s: StructSpec, ctx: EmitContext): { flexRange: VersionRange; flex: string; tagged: FieldSpec[] } | null {
  const flexRange = flexibleWithin(s, ctx);
  const flex = condition(flexRange, s.versions);
  if (flex === 'false') return null;
  const tagged = s.fields.filter((f) => !isEmpty(f.tagged)).sort((a, b) => a.tag! - b.tag!);
  return { flexRange, flex, tagged };
}
