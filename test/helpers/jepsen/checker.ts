// The fault runs' verdict: a pure function of the recorded history, so a failing history can be saved and
// re-checked, and every rule can be tested on synthetic histories. Sends that failed or never returned are
// indeterminate (they may or may not be in the log); everything acknowledged or observed is a promise.
import type { History, StoredRecord } from './history.ts';

export interface CheckStats {
  sent: number;
  acked: number;
  failed: number;
  unknown: number;
  observed: number;
  commits: number;
  /** Times a consumer (re)joined its group. */
  joins: number;
  finalRecords: number;
  /** Indeterminate sends that turned out to be written. */
  indeterminateWritten: number;
}

export interface CheckResult {
  ok: boolean;
  problems: string[];
  stats: CheckStats;
}

const at = (partition: number, offset: number) => `${partition}/${offset}`;

export function check(history: History): CheckResult {
  const problems: string[] = [];
  const { events, final } = history;
  const stats: CheckStats = { sent: 0, acked: 0, failed: 0, unknown: 0, observed: 0, commits: 0, joins: 0, finalRecords: final.records.length, indeterminateWritten: 0 };

  // The final read: strictly increasing offsets per partition, no value twice, nothing never sent.
  const sent = new Set<string>();
  for (const e of events) if (e.type === 'send') sent.add(e.value);
  const finalAt = new Map<string, string>();
  const finalOf = new Map<string, StoredRecord[]>();
  const lastOffset = new Map<number, number>();
  for (const r of final.records) {
    const prev = lastOffset.get(r.partition);
    if (prev !== undefined && r.offset <= prev) problems.push(`final read of partition ${r.partition}: offset ${r.offset} (value ${r.value}) follows offset ${prev}`);
    lastOffset.set(r.partition, r.offset);
    finalAt.set(at(r.partition, r.offset), r.value);
    const copies = finalOf.get(r.value) ?? [];
    copies.push(r);
    finalOf.set(r.value, copies);
    if (!sent.has(r.value)) problems.push(`value ${r.value} at partition ${r.partition} offset ${r.offset} was never sent`);
  }
  for (const [value, copies] of finalOf) {
    if (copies.length > 1) problems.push(`value ${value} appears ${copies.length} times in the final read: ${copies.map((c) => `partition ${c.partition} offset ${c.offset}`).join(', ')}`);
  }
  for (const [partition, offset] of lastOffset) {
    const hw = final.highWatermarks[partition];
    if (hw !== undefined && offset >= hw) problems.push(`final read of partition ${partition} has offset ${offset} at or above the high watermark ${hw}`);
  }

  // One value per (partition, offset) across every observation of it.
  const seenAt = new Map<string, { value: string; by: string }>();
  const sameValue = (partition: number, offset: number, value: string, by: string) => {
    const key = at(partition, offset);
    const first = seenAt.get(key);
    if (!first) seenAt.set(key, { value, by });
    else if (first.value !== value) problems.push(`partition ${partition} offset ${offset} holds ${first.value} for ${first.by} but ${value} for ${by}`);
  };
  for (const r of final.records) sameValue(r.partition, r.offset, r.value, 'the final read');

  // Acknowledged values: present exactly once, at the acknowledged offset; a producer's offsets only grow.
  const ackedValues = new Set<string>();
  const lastAck = new Map<string, { offset: number; value: string }>();
  const indeterminate = new Set<string>();
  for (const e of events) {
    if (e.type === 'send') stats.sent++;
    else if (e.type === 'fail' || e.type === 'unknown') {
      stats[e.type === 'fail' ? 'failed' : 'unknown']++;
      indeterminate.add(e.value);
    } else if (e.type === 'ack') {
      stats.acked++;
      ackedValues.add(e.value);
      sameValue(e.partition, e.offset, e.value, `the ack to ${e.client}`);
      const copies = finalOf.get(e.value) ?? [];
      if (copies.length === 0) problems.push(`acknowledged value ${e.value} (partition ${e.partition} offset ${e.offset}) is lost: not in the final read`);
      else if (copies.length === 1 && (copies[0].partition !== e.partition || copies[0].offset !== e.offset)) {
        problems.push(`acknowledged value ${e.value} was acked at partition ${e.partition} offset ${e.offset} but is at partition ${copies[0].partition} offset ${copies[0].offset}`);
      }
      const key = `${e.client} ${e.partition}`;
      const prev = lastAck.get(key);
      if (prev && e.offset <= prev.offset) problems.push(`${e.client}'s ack for ${e.value} at partition ${e.partition} offset ${e.offset} is not after its earlier ack for ${prev.value} at offset ${prev.offset}`);
      lastAck.set(key, { offset: e.offset, value: e.value });
    }
  }
  for (const v of indeterminate) if (!ackedValues.has(v) && finalOf.has(v)) stats.indeterminateWritten++;

  // Consumers: every record seen survives at the same place; a consumer only moves backwards to re-read from
  // its group's committed position, which cannot be below a commit acknowledged before it (re)joined.
  const lastSeen = new Map<string, number>();
  const highestCommit = new Map<number, number>();
  let committedAtJoin = new Map<number, number>();
  for (const e of events) {
    if (e.type === 'join') {
      stats.joins++;
      committedAtJoin = new Map(highestCommit);
    } else if (e.type === 'commit') {
      stats.commits++;
      const prev = highestCommit.get(e.partition);
      if (prev !== undefined && e.offset < prev) problems.push(`group ${e.group} commit for partition ${e.partition} went backwards: ${e.offset} after ${prev}`);
      highestCommit.set(e.partition, Math.max(prev ?? e.offset, e.offset));
    } else if (e.type === 'observe') {
      stats.observed++;
      sameValue(e.partition, e.offset, e.value, `consumer ${e.consumer}`);
      const stored = finalAt.get(at(e.partition, e.offset));
      if (stored === undefined) problems.push(`consumer ${e.consumer} saw ${e.value} at partition ${e.partition} offset ${e.offset}, which the final read does not have`);
      else if (stored !== e.value) problems.push(`consumer ${e.consumer} saw ${e.value} at partition ${e.partition} offset ${e.offset}, where the final read has ${stored}`);
      const key = `${e.consumer} ${e.partition}`;
      const prev = lastSeen.get(key);
      const committed = committedAtJoin.get(e.partition);
      if (prev !== undefined && e.offset <= prev && committed !== undefined && e.offset < committed) {
        problems.push(`consumer ${e.consumer} went back on partition ${e.partition} from offset ${prev} to ${e.offset} (${e.value}), below the commit ${committed} acknowledged before it joined`);
      }
      lastSeen.set(key, e.offset);
    }
  }

  // Committed group offsets are never lost and never point past the log.
  for (const [partition, highest] of highestCommit) {
    const groups = new Set(events.filter((e) => e.type === 'commit' && e.partition === partition).map((e) => (e as { group: string }).group));
    for (const group of groups) {
      const stored = final.committed.find((c) => c.group === group && c.partition === partition)?.offset ?? -1;
      if (stored < highest) problems.push(`group ${group} partition ${partition}: committed offset is ${stored} after an acknowledged commit of ${highest}`);
    }
  }
  for (const c of final.committed) {
    const hw = final.highWatermarks[c.partition];
    if (hw !== undefined && c.offset > hw) problems.push(`group ${c.group} partition ${c.partition}: committed offset ${c.offset} is past the high watermark ${hw}`);
  }

  // Every replica holds exactly the leader's log below the high watermark.
  const finalBelow = (partition: number, hw: number) => final.records.filter((r) => r.partition === partition && r.offset < hw);
  for (const replica of final.replicas) {
    const hw = final.highWatermarks[replica.partition];
    if (hw === undefined) continue;
    const mine = replica.records.filter((r) => r.offset < hw);
    for (const r of mine) sameValue(r.partition, r.offset, r.value, `node ${replica.nodeId}'s log`);
    const expected = finalBelow(replica.partition, hw).filter((r) => r.offset >= replica.logStartOffset);
    const have = new Map(mine.map((r) => [r.offset, r.value]));
    const want = new Map(expected.map((r) => [r.offset, r.value]));
    const missing = expected.filter((r) => !have.has(r.offset));
    if (missing.length > 0) {
      problems.push(`node ${replica.nodeId} partition ${replica.partition} lacks ${missing.length} record(s) below the high watermark ${hw}, first ${missing[0].value} at offset ${missing[0].offset} (its log ends at ${replica.logEndOffset})`);
    }
    for (const r of mine) {
      if (!want.has(r.offset) && r.offset >= (expected[0]?.offset ?? replica.logStartOffset)) {
        problems.push(`node ${replica.nodeId} partition ${replica.partition} has ${r.value} at offset ${r.offset}, which the leader's log does not`);
      }
    }
  }

  return { ok: problems.length === 0, problems, stats };
}
