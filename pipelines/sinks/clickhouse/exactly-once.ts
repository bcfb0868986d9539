/**
 * Exactly-once loading into ClickHouse without transactions: every row carries its source record's
 * topic, partition and offset. On start (and after any failed insert) the sink asks ClickHouse how far
 * each partition got — max(_offset) + 1 — consumes from there, and drops records it sees again below
 * that position (rowsAfter). A crash between an insert and the offset commit therefore re-reads
 * records whose rows are already stored, and they are dropped instead of duplicated.
 *
 * This relies on one property: per partition, what ClickHouse holds is always a prefix of the offsets.
 * - A sink killed in the middle of an insert can leave a prefix of that insert stored: 18.16 treats a
 *   request body cut off at a row boundary as complete and inserts the rows before the cut (tested in
 *   exactly-once.test.ts). So insertRows requires rows in consumption order (offsets increasing per
 *   partition; checked) — then any prefix of a batch is a prefix of every partition in it.
 * - Larger batches are split into inserts of `maxRowsPerInsert` rows, each sent after the previous one
 *   succeeded, so a failure leaves a prefix too.
 * - Rows are never merged away: the tables are plain MergeTree (see schema.ts).
 * One case it cannot cover: ClickHouse itself dying while it writes one insert whose rows fall in
 * several partitions of the table (months), which it writes as separate parts.
 *
 * Inserts use @clickhouse/client's `insert({ format: 'JSONEachRow' })`. Checked against 18.16: the
 * client (1.23) sends `INSERT INTO <table> FORMAT JSONEachRow` in the URL and the rows as the body,
 * with only a query_id parameter and no settings, which 18.16 accepts as is. Its error bodies
 * ("Code: 60, e.displayText() = DB::Exception: …") do not match the client's error pattern, so 18.16
 * errors arrive as plain Errors carrying the server's text rather than ClickHouseError.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { identifier, quoteIdentifier, sql } from './sql.ts';

/** A Kafka offset as the consumer hands it over (bigint) or as JSON carries it (number or decimal string). */
export type Offset = bigint | number | string;

/** The source position every sink row carries. */
export interface SourcePosition {
  _topic: string;
  _partition: number;
  _offset: Offset;
}

/** Partition → next offset to load (max stored offset + 1). Partitions with no rows are absent. */
export type ResumePositions = Map<number, bigint>;

export const DEFAULT_MAX_ROWS_PER_INSERT = 100_000;

/** Where each partition of `topic` resumes, from the rows `table` already holds. */
export async function resumePositions(client: ClickHouseClient, table: string, topic: string): Promise<ResumePositions> {
  const rs = await client.query({
    query: sql`SELECT _partition, max(_offset) AS last FROM ${identifier(table)} WHERE _topic = ${topic} GROUP BY _partition`,
    format: 'JSONEachRow',
  });
  // UInt64 arrives as a string in JSON formats (output_format_json_quote_64bit_integers), UInt32 as a number.
  const rows = await rs.json<{ _partition: number | string; last: string | number }>();
  const positions: ResumePositions = new Map();
  for (const r of rows) positions.set(Number(r._partition), BigInt(r.last) + 1n);
  return positions;
}

/** The rows not yet stored: those at or past their partition's resume position. Order is kept. */
export function rowsAfter<R extends SourcePosition>(positions: ReadonlyMap<number, bigint>, rows: readonly R[]): R[] {
  if (positions.size === 0) return rows.slice();
  return rows.filter((r) => {
    const next = positions.get(r._partition);
    return next === undefined || BigInt(r._offset) >= next;
  });
}

export interface InsertOptions {
  /** Rows per INSERT statement; larger batches are sent as several inserts, in order. */
  maxRowsPerInsert?: number;
}

/**
 * Inserts rows (objects whose keys are column names) with JSONEachRow, in order, as few INSERTs as
 * `maxRowsPerInsert` allows. Rows must come in consumption order: offsets increasing per partition.
 * bigint `_offset`s are sent as decimal strings (JSON has no bigint); other values must be JSON values.
 */
export async function insertRows<R extends SourcePosition>(client: ClickHouseClient, table: string, rows: readonly R[], opts: InsertOptions = {}): Promise<void> {
  const max = opts.maxRowsPerInsert ?? DEFAULT_MAX_ROWS_PER_INSERT;
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxRowsPerInsert must be a positive integer, got ${max}`);
  if (rows.length === 0) return;
  const quoted = quoteIdentifier(table);
  const values = checkOrderAndEncode(rows);
  for (let start = 0; start < values.length; start += max) {
    await client.insert({ table: quoted, values: values.slice(start, start + max), format: 'JSONEachRow' });
  }
}

function checkOrderAndEncode<R extends SourcePosition>(rows: readonly R[]): R[] {
  const last = new Map<string, Map<number, bigint>>();
  const out = new Array<R>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const offset = BigInt(r._offset);
    let partitions = last.get(r._topic);
    if (!partitions) last.set(r._topic, (partitions = new Map()));
    const previous = partitions.get(r._partition);
    if (previous !== undefined && offset <= previous) {
      throw new RangeError(`insertRows: row ${i} has offset ${offset} of ${r._topic}/${r._partition} after offset ${previous}; rows must be in consumption order`);
    }
    partitions.set(r._partition, offset);
    out[i] = typeof r._offset === 'bigint' ? { ...r, _offset: r._offset.toString() } : r;
  }
  return out;
}
