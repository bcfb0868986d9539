import type { ClickHouseClient } from '@clickhouse/client';
import { migrate, type MigrateResult, type Migration } from '../../pipelines/sinks/clickhouse/migrations.ts';
import { sql } from '../../pipelines/sinks/clickhouse/sql.ts';
import type { Alert, AlertStateSnapshot } from './alert-state.ts';
import type { AlertTransition } from './alerts-view.ts';

/**
 * Alert state kept across restarts, in ClickHouse (18.16 and current releases):
 *
 * - `alert_state`: one row per save holding the whole AlertStates snapshot as JSON, plus when each firing
 *   alert was last sent to the webhooks (so a restart neither re-sends at once nor forgets the repeat
 *   schedule). The latest `saved_at` wins. ReplacingMergeTree(saved_at) ordered by `scope` folds the rows
 *   of a scope down to the newest one whenever parts merge, so the table stays at about one row per scope
 *   without deletes (18.16 has no lightweight DELETE), and the read (`ORDER BY saved_at DESC LIMIT 1`) is
 *   exact whether or not the merge happened yet. The snapshot is small: only pending, firing and recently
 *   resolved alerts.
 * - `alert_history`: one row per state change of one alert, append-only MergeTree partitioned by month so old
 *   history can be dropped a partition at a time (18.16 has no TTL).
 *
 * `scope` separates schedulers sharing one ClickHouse (two Tributary stacks, or tests).
 *
 * The tables are created by their own migration list, recorded in the same `tributary_migrations` table as
 * the sink's (migrations.ts has one table and checks each recorded version's name). The two lists never
 * meet because the alert versions start at ALERT_MIGRATION_BASE, far above any sink version.
 */
export const ALERT_MIGRATION_BASE = 1_000_000;

export const ALERT_MIGRATIONS: readonly Migration[] = [
  {
    version: ALERT_MIGRATION_BASE + 1,
    name: 'create alert tables',
    up: [
      `CREATE TABLE IF NOT EXISTS alert_state (
        scope String,
        saved_at UInt64,
        snapshot String,
        notified String
      ) ENGINE = ReplacingMergeTree(saved_at) ORDER BY scope`,
      `CREATE TABLE IF NOT EXISTS alert_history (
        scope String,
        time DateTime('UTC'),
        at UInt64,
        rule String,
        fingerprint String,
        labels String,
        from_state String,
        to_state String,
        value Float64
      ) ENGINE = MergeTree() PARTITION BY toYYYYMM(time) ORDER BY (scope, at, rule, fingerprint)`,
    ],
  },
];

/** What a restart needs: the alert states and when each firing alert was last sent to the webhooks. */
export interface PersistedAlertState {
  snapshot: AlertStateSnapshot;
  /** fingerprint → ms since the epoch of the last webhook notification of that firing alert. */
  notified: Record<string, number>;
  /** ms since the epoch; strictly increasing across saves of one scope. */
  savedAt: number;
}

export interface AlertStoreOptions {
  scope?: string;
}

export class AlertStore {
  readonly scope: string;
  readonly #client: ClickHouseClient;
  #lastSavedAt = 0;

  constructor(client: ClickHouseClient, options: AlertStoreOptions = {}) {
    this.#client = client;
    this.scope = options.scope ?? 'default';
  }

  /** Creates the tables if needed; safe to run on every start, also by several processes at once. */
  migrate(): Promise<MigrateResult> {
    return migrate(this.#client, ALERT_MIGRATIONS);
  }

  /** The latest saved state of this scope, or null when none was ever saved. */
  async load(): Promise<PersistedAlertState | null> {
    const rs = await this.#client.query({
      query: sql`SELECT toString(saved_at) AS saved_at, snapshot, notified FROM alert_state WHERE scope = ${this.scope} ORDER BY saved_at DESC LIMIT 1`,
      format: 'JSONEachRow',
    });
    const rows = await rs.json<{ saved_at: string; snapshot: string; notified: string }>();
    if (rows.length === 0) return null;
    const savedAt = Number(rows[0].saved_at);
    // Later saves must sort after this one even if this host's clock is behind the one that saved it.
    this.#lastSavedAt = Math.max(this.#lastSavedAt, savedAt);
    return { snapshot: JSON.parse(rows[0].snapshot) as AlertStateSnapshot, notified: JSON.parse(rows[0].notified) as Record<string, number>, savedAt };
  }

  /** Saves a new latest state; returns its savedAt. */
  async save(snapshot: AlertStateSnapshot, notified: Record<string, number>, now = Date.now()): Promise<number> {
    const savedAt = Math.max(now, this.#lastSavedAt + 1);
    await this.#client.command({
      query: sql`INSERT INTO alert_state (scope, saved_at, snapshot, notified) VALUES (${this.scope}, ${savedAt}, ${JSON.stringify(snapshot)}, ${JSON.stringify(notified)})`,
    });
    this.#lastSavedAt = savedAt;
    return savedAt;
  }

  async appendHistory(transitions: readonly AlertTransition[]): Promise<void> {
    if (transitions.length === 0) return;
    const rows = transitions.map((t) =>
      // ClickHouse has no literal for ±Inf or NaN (an alert on `> 0` can fire with +Inf): those go through toFloat64.
      sql`(${this.scope}, toDateTime(${Math.floor(t.at / 1000)}, 'UTC'), ${t.at}, ${t.rule}, ${t.fingerprint}, ${JSON.stringify(t.labels)}, ${t.from}, ${t.to}, ` +
      (Number.isFinite(t.value) ? sql`${t.value})` : sql`toFloat64(${nonFiniteText(t.value)}))`),
    );
    await this.#client.command({
      query: `INSERT INTO alert_history (scope, time, at, rule, fingerprint, labels, from_state, to_state, value) VALUES ${rows.join(', ')}`,
    });
  }

  /** The newest `limit` transitions of this scope, newest first. */
  async history(limit: number): Promise<AlertTransition[]> {
    const rs = await this.#client.query({
      query: sql`SELECT toString(at) AS at, rule, fingerprint, labels, from_state, to_state, toString(value) AS value
        FROM alert_history WHERE scope = ${this.scope} ORDER BY at DESC, rule DESC, fingerprint DESC LIMIT ${limit}`,
      format: 'JSONEachRow',
    });
    const rows = await rs.json<{ at: string; rule: string; fingerprint: string; labels: string; from_state: string; to_state: string; value: string }>();
    return rows.map((r) => ({
      at: Number(r.at),
      rule: r.rule,
      fingerprint: r.fingerprint,
      labels: JSON.parse(r.labels) as Record<string, string>,
      from: r.from_state as AlertTransition['from'],
      to: r.to_state as AlertTransition['to'],
      value: parseFloatText(r.value),
    }));
  }
}

function nonFiniteText(v: number): string {
  return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
}

/** toString(Float64) writes `inf`, `-inf` and `nan`. */
function parseFloatText(text: string): number {
  if (text === 'inf' || text === '+inf') return Infinity;
  if (text === '-inf') return -Infinity;
  return Number(text);
}

/**
 * The state changes between two lists of the same rules' alerts (before and after one evaluation). A resolved
 * alert that is later forgotten is not a change: resolved already means inactive to whoever reads history.
 */
export function alertTransitions(before: readonly Alert[], after: readonly Alert[], now: number): AlertTransition[] {
  const key = (a: Alert) => `${a.rule}\u0000${a.fingerprint}`;
  const old = new Map(before.map((a) => [key(a), a]));
  const out: AlertTransition[] = [];
  for (const a of after) {
    const prev = old.get(key(a));
    old.delete(key(a));
    const from = prev?.status ?? 'inactive';
    if (from === a.status) continue;
    out.push({ at: now, rule: a.rule, labels: { ...a.labels }, fingerprint: a.fingerprint, from, to: a.status, value: a.value });
  }
  for (const prev of old.values()) {
    if (prev.status === 'resolved') continue;
    out.push({ at: now, rule: prev.rule, labels: { ...prev.labels }, fingerprint: prev.fingerprint, from: prev.status, to: 'inactive', value: prev.value });
  }
  return out;
}
