/**
 * Dashboards are files: every `*.yaml` in dashboards/definitions is one dashboard, its id the file name.
 * Adding a file adds a dashboard. Each file is validated here, once, at start: the schema (with the
 * field's path in the message), unique panel ids and variable names, and every query template checked by
 * the query builder (no placeholder naming no variable, none where a value would not be one literal).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { TIME_PLACEHOLDERS, templateProblems } from './query-builder.ts';

/** A bad definition file: the message names the file and the field, and the dashboards do not start. */
export class DefinitionError extends Error {
  override name = 'DefinitionError';
}

const Name = Type.String({ pattern: '^[a-z_][a-z0-9_]*$', maxLength: 64 });

const VariableSchema = Type.Object(
  {
    name: Name,
    label: Type.String({ minLength: 1, maxLength: 100 }),
    kind: Type.Union([Type.Literal('text'), Type.Literal('select')]),
    /** For `select`: the values offered; '' conventionally means "all". The first is the default. */
    options: Type.Optional(Type.Array(Type.String({ maxLength: 256 }), { minItems: 1 })),
  },
  { additionalProperties: false },
);

const PanelSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z][a-z0-9_-]*$', maxLength: 64 }),
    title: Type.String({ minLength: 1, maxLength: 200 }),
    source: Type.Union([Type.Literal('clickhouse'), Type.Literal('prometheus')]),
    query: Type.String({ minLength: 1 }),
    visualisation: Type.Union([Type.Literal('timeseries'), Type.Literal('bar'), Type.Literal('table'), Type.Literal('stat')]),
    /**
     * `hll`: the rows carry a `visitors_hll` column of base64 HyperLogLog sketches that our code merges,
     * grouping by the other columns, into a unique count (ClickHouse cannot merge our sketches).
     */
    merge: Type.Optional(Type.Literal('hll')),
  },
  { additionalProperties: false },
);

export const DashboardSchema = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.String(),
    variables: Type.Optional(Type.Array(VariableSchema)),
    panels: Type.Array(PanelSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);

export type VariableDefinition = Static<typeof VariableSchema>;
export type PanelDefinition = Static<typeof PanelSchema>;
export type DashboardDefinition = Static<typeof DashboardSchema> & { id: string; variables: VariableDefinition[] };

function firstSchemaError(schema: TSchema, value: unknown): string | null {
  const error = Value.Errors(schema, value).First();
  if (!error) return null;
  const where = error.path === '' ? 'the top level' : error.path.slice(1).replaceAll('/', '.');
  return `${where}: ${error.message}`;
}

/** Validates one parsed definition; `id` is the dashboard's id (its file name). Throws DefinitionError. */
export function resolveDashboard(id: string, raw: unknown): DashboardDefinition {
  const error = firstSchemaError(DashboardSchema, raw);
  if (error) throw new DefinitionError(error);
  const d = raw as Static<typeof DashboardSchema>;
  const variables = d.variables ?? [];
  const names = new Set<string>();
  variables.forEach((v, i) => {
    if (names.has(v.name)) throw new DefinitionError(`variables.${i}.name: duplicate variable ${JSON.stringify(v.name)}`);
    if ((TIME_PLACEHOLDERS as readonly string[]).includes(v.name)) throw new DefinitionError(`variables.${i}.name: ${JSON.stringify(v.name)} is reserved for the time range`);
    if (v.kind === 'select' && !v.options) throw new DefinitionError(`variables.${i}.options: a select needs options`);
    if (v.kind === 'text' && v.options) throw new DefinitionError(`variables.${i}.options: only a select has options`);
    names.add(v.name);
  });
  const ids = new Set<string>();
  d.panels.forEach((p, i) => {
    if (ids.has(p.id)) throw new DefinitionError(`panels.${i}.id: duplicate panel id ${JSON.stringify(p.id)}`);
    ids.add(p.id);
    const problems = templateProblems(p.source, p.query, variables);
    if (problems.length > 0) throw new DefinitionError(`panels.${i}.query: ${problems[0]}`);
    if (p.merge === 'hll' && (p.source !== 'clickhouse' || !/\bvisitors_hll\b/.test(p.query))) {
      throw new DefinitionError(`panels.${i}.merge: 'hll' needs a ClickHouse query selecting visitors_hll`);
    }
  });
  return { ...d, id, variables };
}

/** Reads and validates one file. The message of a DefinitionError starts with the file's path. */
export function loadDashboardFile(path: string): DashboardDefinition {
  const id = basename(path, '.yaml');
  if (!/^[a-z][a-z0-9-]*$/.test(id)) throw new DefinitionError(`${path}: the file name must be a dashboard id ([a-z][a-z0-9-]*.yaml)`);
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    if (err instanceof YAMLParseError) throw new DefinitionError(`${path}: ${err.message}`, { cause: err });
    throw err;
  }
  try {
    return resolveDashboard(id, raw);
  } catch (err) {
    if (err instanceof DefinitionError) throw new DefinitionError(`${path}: ${err.message}`, { cause: err });
    throw err;
  }
}

/** Every `*.yaml` of a folder, sorted by id. */
export function loadDashboards(dir: string): DashboardDefinition[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
  return files.map((f) => loadDashboardFile(join(dir, f)));
}
