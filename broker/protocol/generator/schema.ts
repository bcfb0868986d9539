import { readFileSync } from 'node:fs';
import { parseVersions, intersect, type VersionRange } from './versions.ts';

/** One field of a message definition, with version ranges parsed and clipped to the message's valid versions. */
export interface FieldSpec {
  name: string;
  /** lowerCamelCase property name. */
  prop: string;
  /** Element type for arrays, else the type: a primitive name or a struct name. */
  type: string;
  isArray: boolean;
  isStruct: boolean;
  versions: VersionRange;
  nullable: VersionRange;
  tagged: VersionRange;
  tag: number | null;
  /** Per-field override of the message's flexible versions (RequestHeader.ClientId: "none"). */
  flexible: VersionRange | null;
  default: string | undefined;
  about: string;
  fields: FieldSpec[];
}

export interface StructSpec {
  name: string;
  fields: FieldSpec[];
  versions: VersionRange;
}

export interface MessageSpec {
  name: string;
  type: 'request' | 'response' | 'header' | 'data';
  apiKey: number | null;
  valid: VersionRange;
  flexible: VersionRange;
  fields: FieldSpec[];
  /** Every struct of the message (nested and common), in definition order. */
  structs: StructSpec[];
}

const PRIMITIVES = new Set(['bool', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64', 'string', 'bytes', 'records', 'uuid']);

/** Kafka's definition files are JSON with `//` line comments. */
export function readDefinition(path: string): any {
  const text = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => !line.trim().startsWith('//'))
    .join('\n');
  return JSON.parse(text);
}

/** "ProducerId" → "producerId", "ISRNodes" → "isrNodes", "timeoutMs" → "timeoutMs". */
export function camel(name: string): string {
  const m = /^([A-Z]+)(.*)$/.exec(name);
  if (!m) return name;
  const [, caps, rest] = m;
  if (caps.length === 1 || rest === '') return caps.toLowerCase() + rest;
  // A run of capitals followed by lowercase: the last capital starts the next word.
  return /^[a-z]/.test(rest) ? caps.slice(0, -1).toLowerCase() + caps.slice(-1) + rest : caps.toLowerCase() + rest;
}

export function parseMessage(json: any): MessageSpec {
  const valid = parseVersions(json.validVersions);
  const flexible = intersect(parseVersions(json.flexibleVersions), valid);
  const structs: StructSpec[] = [];
  const commonNames = new Set<string>((json.commonStructs ?? []).map((c: any) => c.name));
  const parseFields = (fields: any[], within: VersionRange): FieldSpec[] =>
    fields.map((f: any) => {
      const isArray = f.type.startsWith('[]');
      const type = isArray ? f.type.slice(2) : f.type;
      const isStruct = !PRIMITIVES.has(type);
      const versions = intersect(parseVersions(f.versions), within);
      const spec: FieldSpec = {
        name: f.name,
        prop: camel(f.name),
        type,
        isArray,
        isStruct,
        versions,
        nullable: intersect(parseVersions(f.nullableVersions), versions),
        tagged: intersect(parseVersions(f.taggedVersions), versions),
        tag: f.tag ?? null,
        flexible: f.flexibleVersions !== undefined ? parseVersions(f.flexibleVersions) : null,
        default: f.default === undefined ? undefined : String(f.default),
        about: f.about ?? '',
        fields: [],
      };
      if (isStruct && f.fields) {
        spec.fields = parseFields(f.fields, versions);
        structs.push({ name: type, fields: spec.fields, versions });
      } else if (isStruct && !commonNames.has(type)) {
        throw new Error(`${json.name}: field ${f.name} has unknown type ${f.type}`);
      }
      return spec;
    });
  const fields = parseFields(json.fields ?? [], valid);
  for (const c of json.commonStructs ?? []) {
    structs.push({ name: c.name, fields: parseFields(c.fields, valid), versions: valid });
  }
  return {
    name: json.name,
    type: json.type,
    apiKey: json.apiKey ?? null,
    valid,
    flexible,
    fields,
    structs,
  };
}
