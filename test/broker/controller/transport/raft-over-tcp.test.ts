// Three Raft voters talking over real TCP through PeerTransport, each driven by a minimal host loop that follows the
// Ready order of broker/controller/raft/README.md. Checks that the transport carries Raft through an election, a
// leader losing its network, and that leader coming back.
import t from 'tap';
import { RaftNode } from '../../../../broker/controller/raft/node.ts';
import { MemoryLogStorage, persistReady } from '../../../../broker/controller/raft/log-storage.ts';
import { seededRandom } from '../../../../lib/seeded-random.ts';
import type { Logger } from '../../../../broker/server/logger.ts';
import { decodeRaftMessage, encodeRaftMessage } from '../../../../broker/controller/transport/raft-message-codec.ts';
import { PeerTransport, type PeerAddress } from '../../../../broker/controller/transport/peer-transport.ts';

const HOST = '127.0.0.1';
const TICK_MS = 20;
const VOTERS = [1, 2, 3];
const PHASE_TIMEOUT_MS = 20_000;

class TestHost {
  readonly id: number;
  readonly node: RaftNode;
  readonly storage = new MemoryLogStorage();
  readonly peers = new Map<number, PeerAddress>();
  readonly applied: string[] = [];
  readonly errors: string[] = [];
  transport!: PeerTransport;
  #ticker: NodeJS.Timeout | null = null;

  constructor(id: number) {
    this.id = id;
    this.node = RaftNode.restore({ id, voters: VOTERS, random: seededRandom(id * 7919) }, this.storage);
  }

  async startTransport(port: number): Promise<void> {
    const log: Logger = { info: () => {}, warn: () => {}, error: (m) => void this.errors.push(m) };
    this.transport = new PeerTransport({
      selfId: this.id,
      listen: { host: HOST, port },
      peers: this.peers,
      log,
      onMessage: (_from, payload) => {
        this.node.receive(decodeRaftMessage(payload));
        this.drain();
      },
      onRequest: async () => {
        throw new Error('raft hosts send no requests');
      },
    });
    await this.transport.start();
  }

  startTicking(): void {
    this.#ticker = setInterval(() => {
      this.node.tick();
      this.drain();
    }, TICK_MS);
  }

  stopTicking(): void {
    if (this.#ticker) clearInterval(this.#ticker);
  }

  propose(command: string): void {
    this.node.propose(new TextEncoder().encode(command));
    this.drain();
  }

  isLeader(): boolean {
    return this.node.status().role === 'leader';
  }

  /** The README's order: persist, then send, then apply, then status. */
  drain(): void {
    while (this.node.hasReady()) {
      const ready = this.node.ready();
      persistReady(this.storage, ready);
      for (const m of ready.messages) this.transport.send(m.to, encodeRaftMessage(m));
      for (const e of ready.committedEntries) if (e.kind === 'command') this.applied.push(new TextDecoder().decode(e.data));
    }
  }
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = PHASE_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Proposes `commands` on whichever of `hosts` leads until every host has applied all of them. A leader change
 * may lose uncommitted proposals, so the new leader re-proposes what it has not applied (duplicates are harmless
 * here: the test checks that every command is applied and that all logs agree).
 */
async function commitOnAll(hosts: readonly TestHost[], commands: readonly string[]): Promise<void> {
  let proposedInTerm = -1;
  await waitFor(`${commands.length} commands applied on nodes ${hosts.map((h) => h.id)}`, () => {
    if (hosts.every((h) => commands.every((c) => h.applied.includes(c)))) return true;
    const leader = hosts.find((h) => h.isLeader());
    if (leader && leader.node.status().term !== proposedInTerm) {
      proposedInTerm = leader.node.status().term;
      for (const c of commands) if (!leader.applied.includes(c)) leader.propose(c);
    }
    return false;
  });
}

const commandsNamed = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

t.test('three voters over TCP elect, replicate, survive losing the leader and take it back', async (t) => {
  const hosts = VOTERS.map((id) => new TestHost(id));
  await Promise.all(hosts.map((h) => h.startTransport(0)));
  for (const h of hosts) for (const other of hosts) if (other !== h) h.peers.set(other.id, { host: HOST, port: other.transport.port });
  t.teardown(async () => {
    for (const h of hosts) h.stopTicking();
    await Promise.all(hosts.map((h) => h.transport.stop()));
  });
  for (const h of hosts) h.startTicking();

  await waitFor('a leader known to all', () => {
    const leader = hosts.find((h) => h.isLeader());
    return leader !== undefined && hosts.every((h) => h.node.status().leaderId === leader.id);
  });
  const first = commandsNamed('first', 100);
  await commitOnAll(hosts, first);
  for (const h of hosts) t.ok(first.every((c) => h.applied.includes(c)), `node ${h.id} applied the first 100`);

  const oldLeader = hosts.find((h) => h.isLeader())!;
  const oldTerm = oldLeader.node.status().term;
  const oldPort = oldLeader.transport.port;
  await oldLeader.transport.stop();
  const others = hosts.filter((h) => h !== oldLeader);
  await waitFor('a new leader among the other two', () => others.some((h) => h.isLeader() && h.node.status().term > oldTerm));
  const newLeader = others.find((h) => h.isLeader())!;
  t.not(newLeader.id, oldLeader.id, `node ${newLeader.id} took over from node ${oldLeader.id}`);
  const second = commandsNamed('second', 20);
  await commitOnAll(others, second);
  t.notOk(second.some((c) => oldLeader.applied.includes(c)), 'the cut-off node applied none of them');

  await oldLeader.startTransport(oldPort);
  await waitFor(`node ${oldLeader.id} to catch up`, () => second.every((c) => oldLeader.applied.includes(c)));
  t.ok(oldLeader.node.status().term > oldTerm, 'the old leader moved on to the newer term');

  // Every node applied the same sequence (compare the common prefix; one may be a heartbeat behind).
  const length = Math.min(...hosts.map((h) => h.applied.length));
  for (const h of hosts) t.same(h.applied.slice(0, length), hosts[0].applied.slice(0, length), `node ${h.id} agrees with node ${hosts[0].id}`);
  for (const h of hosts) t.ok([...first, ...second].every((c) => h.applied.includes(c)), `node ${h.id} applied all 120 commands`);
  for (const h of hosts) t.same(h.errors, [], `node ${h.id} logged no errors`);
});
