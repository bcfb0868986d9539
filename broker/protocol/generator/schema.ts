import { parseVersions, intersect, hull, withoutSuffix, isEmpty, format, type VersionRange } from './versions.ts';

export { readDefinition } from './json-with-comments.ts';

/**
 * The type model: one message definition with every version range parsed and clipped to the versions in
 * which the field can occur (the message's valid versions, narrowed by each enclosing struct field).
 */
export interface FieldSpec {
  /** The name in the definition ("TopicData"). */
  name: string;
  /** The TypeScript property name (camel()). */
  prop: string;
  /** The element type for arrays, else the type: a primitive name or a struct name. */
  type: string;
  isArray: boolean;
  isStruct: boolean;
  /** Every version in which the field exists, tagged or not. */
  versions: VersionRange;
  /** Versions in which it is a regular (positional) field: `versions` minus `tagged`. */
  untagged: VersionRange;
  tagged: VersionRange;
  tag: number | null;
  nullable: VersionRange;
  /** A per-field override of the message's flexible versions (RequestHeader.ClientId says "none"). */
  flexible: VersionRange | null;
  /** The definition's `default`, as a string ("-1", "null", "true", "0x7fffffff"). */
  default: string | undefined;
  about: string;
  /** Fields of a struct defined inline here ([] for primitives and references to common structs). */
  fields: FieldSpec[];
}

export interface StructSpec {
  name: string;
  fields: FieldSpec[];
  /** Versions in which the struct can be encoded: its field's versions, or for a common struct the hull of its uses. */
  versions: VersionRange;
}

export type MessageType = 'request' | 'response' | 'header' | 'data';

export interface MessageSpec {
  name: string;
  type: MessageType;
  apiKey: number | null;
  valid: VersionRange;
  flexible: VersionRange;
  latestVersionUnstable: boolean;
  fields: FieldSpec[];
  /** Every struct of the message, nested and common, in definition order (the message itself excluded). */
  structs: StructSpec[];
}

const PRIMITIVES = new Set(['bool', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64', 'string', 'bytes', 'records', 'uuid']);
export const MESSAGE_TYPES: readonly string[] = ['request', 'response', 'header', 'data'];

/**
 * Field names to lowerCamelCase: the leading run of capitals is lower-cased, except that when a run of
 * two or more capitals is followed by a lower-case letter its last capital starts the next word.
 * "TopicData" → "topicData", "ISRNodes" → "isrNodes", "ID" → "id", "timeoutMs" → "timeoutMs",
 * "KRaftVersion" → "kRaftVersion" (K + Raft, as Kafka's own Java generator spells it).
 */
export function camel(name: string): string {
  const m = /^([A-Z]+)(.*)$/.exec(name);
  if (!m) return name;
  const [, caps, rest] = m;
  if (caps.length === 1 || rest === '' || !/^[a-z]/.test(rest)) return caps.toLowerCase() + rest;
  return caps.slice(0, -1).toLowerCase() + caps.slice(-1) + rest;
}

function parseField(json: any, within: VersionRange, owner: string): FieldSpec {
  if (typeof json.name !== 'string' || typeof json.type !== 'string') throw new Error(`${owner}: field without name or type`);
  const isArray = json.type.startsWith('[]');
  const type: string = isArray ? json.type.slice(2) : json.type;
  const versions = intersect(parseVersions(json.versions), within);
  const tagged = intersect(parseVersions(json.taggedVersions), versions);
  // One definition spells the tag as a string ("tag": "0").
  const tag = json.tag === undefined ? null : Number(json.tag);
  if (!isEmpty(tagged) && (tag === null || !Number.isInteger(tag) || tag < 0)) throw new Error(`${owner}.${json.name}: tagged without a valid tag`);
  return {
    name: json.name,
    prop: camel(json.name),
    type,
    isArray,
    isStruct: !PRIMITIVES.has(type),
    versions,
    untagged: withoutSuffix(versions, tagged),
    tagged,
    tag: isEmpty(tagged) ? null : tag,
    nullable: intersect(parseVersions(json.nullableVersions), versions),
    flexible: json.flexibleVersions === undefined ? null : parseVersions(json.flexibleVersions),
    default: json.default === undefined ? undefined : String(json.default),
    about: json.about ?? '',
    fields: Array.isArray(json.fields) ? json.fields.map((f: any) => parseField(f, versions, `${owner}.${json.name}`)) : [],
  };
}

/** Depth-first over fields and the fields of inline structs. */
function* walk(fields: FieldSpec[]): Generator<FieldSpec> {
  for (const f of fields) {
    yield f;
    yield* walk(f.fields);
  }
}

export function parseMessage(json: any): MessageSpec {
  const name: string = json.name;
  if (!MESSAGE_TYPES.includes(json.type)) throw new Error(`${name}: unsupported message type ${json.type}`);
  const valid = parseVersions(json.validVersions);
  if (isEmpty(valid) || valid.max === Infinity) throw new Error(`${name}: validVersions must be a finite range`);
  const flexible = intersect(parseVersions(json.flexibleVersions), valid);
  if (!isEmpty(flexible) && flexible.max !== valid.max) throw new Error(`${name}: flexibleVersions must be open-ended`);
  const fields: FieldSpec[] = (json.fields ?? []).map((f: any) => parseField(f, valid, name));

  // A common struct's versions are those of the fields that use it; common structs may use each other,
  // so widen until nothing changes.
  const commonJson: any[] = json.commonStructs ?? [];
  const commonRange = new Map<string, VersionRange>(commonJson.map((c) => [c.name, { min: 1, max: 0 }]));
  const commonFields = new Map<string, FieldSpec[]>();
  for (let changed = true, rounds = 0; changed; rounds++) {
    if (rounds > commonJson.length + 2) throw new Error(`${name}: common struct versions do not settle`);
    changed = false;
    const all = [...fields, ...[...commonFields.values()].flat()];
    for (const f of walk(all)) {
      if (!f.isStruct || f.fields.length > 0) continue;
      const before = commonRange.get(f.type);
      if (!before) throw new Error(`${name}: field ${f.name} has unknown type ${f.type}`);
      const after = hull(before, f.versions);
      if (after.min !== before.min || after.max !== before.max) {
        commonRange.set(f.type, after);
        changed = true;
      }
    }
    for (const c of commonJson) {
      commonFields.set(c.name, (c.fields ?? []).map((f: any) => parseField(f, commonRange.get(c.name)!, c.name)));
    }
  }

  const structs: StructSpec[] = [];
  const collect = (list: FieldSpec[]) => {
    for (const f of walk(list)) if (f.isStruct && f.fields.length > 0) structs.push({ name: f.type, fields: f.fields, versions: f.versions });
  };
  collect(fields);
  for (const c of commonJson) {
    // An unused common struct still gets its type, valid in every version.
    const range = commonRange.get(c.name)!;
    const versions = isEmpty(range) ? valid : range;
    const cFields = isEmpty(range) ? (c.fields ?? []).map((f: any) => parseField(f, valid, c.name)) : commonFields.get(c.name)!;
    structs.push({ name: c.name, fields: cFields, versions });
    collect(cFields);
  }
  checkNames(name, structs, fields);
  return {
    name,
    type: json.type,
    apiKey: typeof json.apiKey === 'number' ? json.apiKey : null,
    valid,
    flexible,
    latestVersionUnstable: json.latestVersionUnstable === true,
    fields,
    structs,
  };
}

/** Names the generated module declares itself; a struct called like one of them would clash. */
const RESERVED = new Set(['Reader', 'Writer', 'ProtocolDecodeError', 'ZERO_UUID', 'EMPTY_BYTES', 'Buffer', 'Error', 'Array']);

function checkNames(message: string, structs: StructSpec[], fields: FieldSpec[]): void {
  const seen = new Set<string>([message]);
  for (const s of structs) {
    if (seen.has(s.name) || RESERVED.has(s.name)) throw new Error(`${message}: struct name ${s.name} is not unique in its file`);
    seen.add(s.name);
  }
  for (const list of [fields, ...structs.map((s) => s.fields)]) {
    const props = new Set<string>();
    for (const f of list) {
      if (props.has(f.prop)) throw new Error(`${message}: two fields map to the property ${f.prop}`);
      props.add(f.prop);
      if (f.type === 'records' && !isEmpty(f.tagged)) throw new Error(`${message}.${f.name}: tagged records are not supported`);
      if (f.isArray && f.type === 'records') throw new Error(`${message}.${f.name}: arrays of records are not supported`);
      if (!isEmpty(f.nullable) && !f.isArray && !f.isStruct && !['string', 'bytes', 'records'].includes(f.type)) {
        throw new Error(`${message}.${f.name}: ${f.type} cannot be nullable (versions ${format(f.nullable)})`);
      }
    }
  }
}
