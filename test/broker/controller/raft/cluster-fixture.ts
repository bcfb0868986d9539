// Hand-driven nodes for scenario tests: each test decides exactly which messages are delivered and when.
import { RaftNode, type PersistedState } from '../../../../broker/controller/raft/node.ts';
import type { RaftMessage } from '../../../../broker/controller/raft/messages.ts';
import { seededRandom } from '../../../../broker/controller/raft/random.ts';
import type { Ready } from '../../../../broker/controller/raft/ready.ts';
import type { LogEntry, NodeId } from '../../../../broker/controller/raft/types.ts';

export function makeNode(id: NodeId, voters: readonly NodeId[], persisted?: PersistedState): RaftNode {
  return new RaftNode({ id, voters, random: seededRandom(id), electionTimeoutTicks: 10, heartbeatIntervalTicks: 2 }, persisted);
}

/** Entries with the given terms, at indexes 1, 2, ... */
export function logOfTerms(terms: readonly number[]): LogEntry[] {
  return terms.map((term, i) => ({ index: i + 1, term, kind: 'command', data: new TextEncoder().encode(`t${term}i${i + 1}`) }));
}

export function persisted(terms: readonly number[], currentTerm = terms[terms.length - 1] ?? 0): PersistedState {
  return { hardState: { currentTerm, votedFor: null }, snapshot: null, entries: logOfTerms(terms) };
}

export function repeat(term: number, count: number): number[] {
  return Array.from({ length: count }, () => term);
}

/** Ticks `node` until it produces output (its election timer fired); returns that Ready. */
export function tickUntilReady(node: RaftNode, maxTicks = 100): Ready {
  for (let i = 0; i < maxTicks; i++) {
    node.tick();
    if (node.hasReady()) {
      const ready = node.ready();
      if (ready.messages.length > 0) return ready;
    }
  }
  throw new Error(`node ${node.id} produced nothing in ${maxTicks} ticks`);
}

/**
 * Delivers messages between `nodes` until none are left (or `limit` deliveries), draining each node's Ready after
 * each delivery. `observe` sees every message delivered; returning false from it drops the message instead.
 */
export function pump(nodes: ReadonlyMap<NodeId, RaftNode>, pending: RaftMessage[], observe: (m: RaftMessage) => boolean = () => true, limit = 10_000): void {
  const queue = [...pending];
  for (let delivered = 0; queue.length > 0; delivered++) {
    if (delivered >= limit) throw new Error('pump did not quiesce');
    const message = queue.shift()!;
    const target = nodes.get(message.to);
    if (!target || !observe(message)) continue;
    target.receive(message);
    queue.push(...target.ready().messages);
  }
}

/** Makes node `id` the leader by firing its election timer and delivering every message until quiet. */
export function elect(nodes: ReadonlyMap<NodeId, RaftNode>, id: NodeId, observe?: (m: RaftMessage) => boolean): void {
  for (const node of nodes.values()) node.ready();
  pump(nodes, [...tickUntilReady(nodes.get(id)!).messages], observe);
  const status = nodes.get(id)!.status();
  if (status.role !== 'leader') throw new Error(`node ${id} did not win the election: ${JSON.stringify(status)}`);
}
