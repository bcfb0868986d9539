/**
 * Versioned schema migrations for ClickHouse: a list of { version, name, up } applied in version order,
 * each applied version recorded in `tributary_migrations`.
 *
 * ClickHouse has no transactions and no locks, so two sinks starting together can both find a version
 * missing and both apply it. That is made harmless rather than prevented: every statement of every
 * migration must be idempotent (CREATE TABLE IF NOT EXISTS, DROP TABLE IF EXISTS, …), and a version
 * recorded twice counts once (reads group by version). Mind that 18.16 has no
 * `ALTER TABLE … ADD COLUMN IF NOT EXISTS`; a migration that adds a column will have to tolerate
 * "Cannot add column …: column with this name already exists" (code 44 on 18.16)
 * when it is written.
 *
 * A version is recorded only after all its statements succeeded. A failure stops the run with a
 * MigrationError naming the version and the statement; the versions before it stay recorded, and the
 * next start retries the failed one from its first statement (hence, again, idempotent statements).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { identifier, sql } from './sql.ts';

export interface Migration {
  /** Positive and strictly increasing along the list; never reused for a different change. */
  version: number;
  name: string;
  /** Statements run one by one, in order. Each must be idempotent, or the migration must say `alreadyApplied`. */
  up: readonly string[];
  /**
   * For changes ClickHouse 18.16 cannot express idempotently (ALTER TABLE … ADD COLUMN has no IF NOT
   * EXISTS there): a query returning one row with a non-zero first value when the change is already in
   * place, e.g. after a crash between the statement and the version record. Then only the record is written.
   */
  alreadyApplied?: string;
}

export const MIGRATIONS_TABLE = 'tributary_migrations';

export class MigrationError extends Error {
  readonly version: number;
  readonly migration: string;
  /** 0-based index into `up`. */
  readonly statementIndex: number;
  readonly statement: string;
  constructor(m: Migration, statementIndex: number, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      `migration ${m.version} (${m.name}) failed at statement ${statementIndex + 1} of ${m.up.length}: ${reason.trim()}\n` +
        `statement: ${m.up[statementIndex]}`,
      { cause },
    );
    this.name = 'MigrationError';
    this.version = m.version;
    this.migration = m.name;
    this.statementIndex = statementIndex;
    this.statement = m.up[statementIndex];
  }
}

const UINT32_MAX = 2 ** 32 - 1;

/** Throws unless versions are integers in 1…UInt32 max, strictly increasing, and every migration has statements. */
export function checkMigrations(migrations: readonly Migration[]): void {
  let previous = 0;
  for (const m of migrations) {
    if (!Number.isInteger(m.version) || m.version < 1 || m.version > UINT32_MAX) throw new RangeError(`migration version ${m.version} is not an integer in 1…${UINT32_MAX}`);
    if (m.version <= previous) throw new RangeError(`migration versions must be strictly increasing: ${m.version} follows ${previous}`);
    if (!m.name) throw new RangeError(`migration ${m.version} has no name`);
    if (m.up.length === 0) throw new RangeError(`migration ${m.version} (${m.name}) has no statements`);
    previous = m.version;
  }
}

async function ensureMigrationsTable(client: ClickHouseClient): Promise<void> {
  // Plain MergeTree: a version recorded twice by racing sinks is two rows, folded by the GROUP BY below.
  await client.command({
    query: sql`CREATE TABLE IF NOT EXISTS ${identifier(MIGRATIONS_TABLE)} (version UInt32, name String, applied_at DateTime) ENGINE = MergeTree() ORDER BY version`,
  });
}

/** The versions recorded as applied, with their names. */
export async function appliedMigrations(client: ClickHouseClient): Promise<Map<number, string>> {
  await ensureMigrationsTable(client);
  const rs = await client.query({
    query: sql`SELECT version, any(name) AS name FROM ${identifier(MIGRATIONS_TABLE)} GROUP BY version ORDER BY version`,
    format: 'JSONEachRow',
  });
  const rows = await rs.json<{ version: number; name: string }>();
  return new Map(rows.map((r) => [Number(r.version), r.name]));
}

export interface MigrateResult {
  /** Versions this call applied, in order. */
  applied: number[];
  /** Versions that were already recorded. */
  skipped: number[];
}

async function firstValue(client: ClickHouseClient, query: string): Promise<number> {
  // 18.16 has no JSONCompactEachRow; TabSeparated's first field is the first value.
  const text = await (await client.query({ query, format: 'TabSeparated' })).text();
  return Number(text.split(/[\t\n]/)[0] || 0);
}

/** Applies the migrations not yet recorded, in version order. Applying the same list again is a no-op. */
export async function migrate(client: ClickHouseClient, migrations: readonly Migration[]): Promise<MigrateResult> {
  checkMigrations(migrations);
  const recorded = await appliedMigrations(client);
  const result: MigrateResult = { applied: [], skipped: [] };
  for (const m of migrations) {
    const name = recorded.get(m.version);
    if (name !== undefined) {
      // The same number for a different change means two migration lists disagree; applying either
      // silently would leave the schema matching neither.
      if (name !== m.name) throw new Error(`migration ${m.version} is recorded as '${name}' but the list names it '${m.name}'`);
      result.skipped.push(m.version);
      continue;
    }
    const inPlace = m.alreadyApplied !== undefined && (await firstValue(client, m.alreadyApplied)) > 0;
    for (let i = 0; i < m.up.length && !inPlace; i++) {
      try {
        await client.command({ query: m.up[i] });
      } catch (err) {
        // Another sink migrating at the same moment may have made the change first.
        if (m.alreadyApplied !== undefined && (await firstValue(client, m.alreadyApplied)) > 0) break;
        throw new MigrationError(m, i, err);
      }
    }
    await client.command({
      query: sql`INSERT INTO ${identifier(MIGRATIONS_TABLE)} (version, name, applied_at) VALUES (${m.version}, ${m.name}, now())`,
    });
    result.applied.push(m.version);
  }
  return result;
}
