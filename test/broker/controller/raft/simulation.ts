// A deterministic cluster of RaftNodes on a SimNetwork. Each host follows the Ready contract (persist, then send,
// then apply) but flushes late at random, so a crash loses whatever the node had not yet persisted; a crash may
// also tear a flush, persisting only a prefix of its writes. Every input is followed by the safety checks.
import { MemoryLogStorage, applyLogWrite, persistReady, type RaftLogStorage } from '../../../../broker/controller/raft/log-storage.ts';
import { RaftNode, type RaftConfig } from '../../../../broker/controller/raft/node.ts';
import { randomInt, seededRandom, type RandomSource } from '../../../../broker/controller/raft/random.ts';
import type { LogEntry, NodeId, RaftStatus } from '../../../../broker/controller/raft/types.ts';
import { SafetyChecker, SafetyViolation, checkLogMatching } from './checkers.ts';
import { SimNetwork, type NetworkFaults } from './network.ts';

export interface SimulationOptions {
  seed: number;
  nodeCount: number;
  faults: NetworkFaults;
  electionTimeoutTicks?: number;
  heartbeatIntervalTicks?: number;
  /** A host compacts once it has applied this many entries past its snapshot. */
  snapshotEvery?: number;
  /** Chance that a node ticks in a step: below 1, clocks drift apart. */
  tickRate?: number;
  /** Chance that a node with pending output flushes it in a step: below 1, output waits and crashes lose it. */
  flushRate?: number;
  /**
   * Opens a node's durable storage; called at boot and at every restart, after the previous instance was closed.
   * Without it each node keeps one MemoryLogStorage for the whole run.
   */
  openStorage?: (id: NodeId) => RaftLogStorage & { close(): void };
}

/** The replicated state machine of the simulation: a running digest of every entry applied, in order. */
interface StateMachine {
  index: number;
  digest: number;
}

interface Host {
  readonly id: NodeId;
  storage: RaftLogStorage;
  node: RaftNode | null;
  sm: StateMachine;
  lastCommit: number;
  completenessCheckedTerm: number;
}

export interface SimulationStats {
  crashes: number;
  tornFlushes: number;
  restarts: number;
  proposalsAccepted: number;
  snapshotsSent: number;
  snapshotsDelivered: number;
  /** State machines rebuilt from a snapshot (after an InstallSnapshot or a restart). */
  snapshotsInstalled: number;
  compactions: number;
}

function applyToDigest(sm: StateMachine, entry: LogEntry): StateMachine {
  // FNV-1a over the index, the kind and the data: two different histories give different digests (almost surely).
  let h = Math.imul(sm.digest ^ entry.index, 16777619) >>> 0;
  const bytes = entry.kind === 'noop' ? [0xff, 0xfe] : entry.data;
  for (const b of bytes) h = Math.imul(h ^ b, 16777619) >>> 0;
  return { index: entry.index, digest: h };
}

export class Simulation {
  readonly ids: readonly NodeId[];
  readonly network: SimNetwork;
  readonly checker = new SafetyChecker();
  readonly stats: SimulationStats = { crashes: 0, tornFlushes: 0, restarts: 0, proposalsAccepted: 0, snapshotsSent: 0, snapshotsDelivered: 0, snapshotsInstalled: 0, compactions: 0 };
  now = 0;
  readonly #options: Required<Omit<SimulationOptions, 'openStorage'>> & Pick<SimulationOptions, 'openStorage'>;
  readonly #random: RandomSource;
  readonly #hosts = new Map<NodeId, Host>();
  #nextCommand = 0;

  constructor(options: SimulationOptions) {
    this.#options = { electionTimeoutTicks: 10, heartbeatIntervalTicks: 2, snapshotEvery: 25, tickRate: 0.9, flushRate: 0.8, ...options };
    this.#random = seededRandom(options.seed);
    this.network = new SimNetwork(seededRandom(options.seed ^ 0x5eed), options.faults);
    this.ids = Array.from({ length: options.nodeCount }, (_, i) => i + 1);
    for (const id of this.ids) {
      const host: Host = { id, storage: options.openStorage?.(id) ?? new MemoryLogStorage(), node: null, sm: { index: 0, digest: 0 }, lastCommit: 0, completenessCheckedTerm: -1 };
      this.#hosts.set(id, host);
      this.#boot(host);
    }
  }

  get random(): RandomSource {
    return this.#random;
  }

  /**
   * One unit of logical time: nodes tick, due messages arrive, hosts flush. `beforeFlush` runs between arrival and
   * flush, when nodes are most likely to hold output not yet persisted (the moment a crash hurts most).
   */
  step(beforeFlush?: () => void): void {
    this.now++;
    for (const host of this.#liveHosts()) {
      if (this.#random() < this.#options.tickRate) {
        host.node!.tick();
        this.#observe(host);
      }
    }
    for (const message of this.network.takeDue(this.now)) {
      const host = this.#hosts.get(message.to)!;
      if (!host.node) continue;
      if (message.type === 'install-snapshot') this.stats.snapshotsDelivered++;
      host.node.receive(message);
      this.#observe(host);
    }
    beforeFlush?.();
    for (const host of this.#liveHosts()) {
      if (host.node!.hasReady() && this.#random() < this.#options.flushRate) this.#flush(host);
    }
  }

  /** A client submits a new command to a random live node, following one NotLeader redirect. */
  proposeFromClient(): { command: string; index: number; term: number } | null {
    const live = this.#liveHosts();
    if (live.length === 0) return null;
    const command = `c${this.#nextCommand++}`;
    let host = live[randomInt(this.#random, 0, live.length)];
    for (let attempt = 0; attempt < 2; attempt++) {
      const result = host.node!.propose(new TextEncoder().encode(command));
      this.#observe(host);
      if (result.ok) {
        this.stats.proposalsAccepted++;
        return { command, index: result.index, term: result.term };
      }
      const leader = result.leaderId === null ? undefined : this.#hosts.get(result.leaderId);
      if (!leader?.node) return null;
      host = leader;
    }
    return null;
  }

  /** Kills a node; what it has not flushed is lost, and half the time a flush is torn part-way. */
  crash(id: NodeId): void {
    const host = this.#hosts.get(id)!;
    if (!host.node) return;
    if (host.node.hasReady() && this.#random() < 0.5) {
      const ready = host.node.ready();
      const writes = [...(ready.hardState ? [() => host.storage.saveHardState(ready.hardState!)] : []), ...ready.logWrites.map((w) => () => applyLogWrite(host.storage, w))];
      const landed = randomInt(this.#random, 0, writes.length + 1);
      for (const write of writes.slice(0, landed)) write();
      this.stats.tornFlushes++;
    }
    host.node = null;
    (host.storage as Partial<{ close(): void }>).close?.();
    this.stats.crashes++;
  }

  restart(id: NodeId): void {
    const host = this.#hosts.get(id)!;
    if (host.node) return;
    if (this.#options.openStorage) host.storage = this.#options.openStorage(id);
    this.#boot(host);
    this.stats.restarts++;
  }

  /** Replaces a stopped node's storage with an empty one, as if its data directory had been deleted. */
  wipe(id: NodeId): void {
    const host = this.#hosts.get(id)!;
    if (host.node) throw new Error('stop the node before wiping its storage');
    if (this.#options.openStorage) throw new Error('wipe() replaces in-memory storage only');
    this.#hosts.set(id, { ...host, storage: new MemoryLogStorage() });
  }

  isUp(id: NodeId): boolean {
    return this.#hosts.get(id)!.node !== null;
  }

  status(id: NodeId): RaftStatus | null {
    return this.#hosts.get(id)!.node?.status() ?? null;
  }

  node(id: NodeId): RaftNode | null {
    return this.#hosts.get(id)!.node;
  }

  appliedIndex(id: NodeId): number {
    return this.#hosts.get(id)!.sm.index;
  }

  /** The live leader of the highest term, if any. */
  leader(): RaftStatus | null {
    let best: RaftStatus | null = null;
    for (const host of this.#liveHosts()) {
      const status = host.node!.status();
      if (status.role === 'leader' && (!best || status.term > best.term)) best = status;
    }
    return best;
  }

  checkLogMatching(): void {
    checkLogMatching(new Map(this.#liveHosts().map((h) => [h.id, h.node!.log])));
  }

  /**
   * Liveness: with the network healed and reliable and every node up except `keepDown` (a minority), a leader is
   * elected and a new command is applied on every running node within `maxSteps`. Returns the steps it took.
   */
  awaitLiveness(maxSteps: number, keepDown: readonly NodeId[] = []): number {
    if (2 * keepDown.length >= this.ids.length) throw new Error('liveness needs a majority up');
    this.network.heal();
    this.network.faults = { dropRate: 0, duplicateRate: 0, maxDelay: Math.min(this.network.faults.maxDelay, 3) };
    for (const id of this.ids) {
      if (keepDown.includes(id)) this.crash(id);
      else this.restart(id);
    }
    const running = this.ids.filter((id) => !keepDown.includes(id));
    let probe: { command: string; index: number; term: number } | null = null;
    for (let steps = 1; steps <= maxSteps; steps++) {
      this.step();
      const leader = this.leader();
      if (leader && (!probe || leader.term > probe.term) && (!probe || this.checker.appliedAt(probe.command) === undefined)) {
        probe = this.#proposeTo(leader.id) ?? probe;
      }
      const at = probe ? this.checker.appliedAt(probe.command) : undefined;
      if (at !== undefined && running.every((id) => this.appliedIndex(id) >= at)) return steps;
    }
    throw new SafetyViolation(`Liveness: no command applied on every running node (${running.join(',')}) within ${maxSteps} steps of healing (leader: ${JSON.stringify(this.leader())})`);
  }

  #proposeTo(id: NodeId): { command: string; index: number; term: number } | null {
    const command = `probe${this.#nextCommand++}`;
    const result = this.#hosts.get(id)!.node!.propose(new TextEncoder().encode(command));
    this.#observe(this.#hosts.get(id)!);
    return result.ok ? { command, index: result.index, term: result.term } : null;
  }

  #config(id: NodeId): RaftConfig {
    return {
      id,
      voters: this.ids,
      random: seededRandom(Math.floor(this.#random() * 2 ** 32)),
      electionTimeoutTicks: this.#options.electionTimeoutTicks,
      heartbeatIntervalTicks: this.#options.heartbeatIntervalTicks,
      maxEntriesPerAppend: 16,
    };
  }

  #boot(host: Host): void {
    host.node = RaftNode.restore(this.#config(host.id), host.storage);
    host.sm = { index: 0, digest: 0 };
    host.lastCommit = host.node.status().commitIndex;
    host.completenessCheckedTerm = -1;
  }

  #liveHosts(): Host[] {
    return this.ids.map((id) => this.#hosts.get(id)!).filter((h) => h.node !== null);
  }

  /** The safety checks that apply after any input to a node. */
  #observe(host: Host): void {
    const node = host.node!;
    const status = node.status();
    if (status.role === 'leader') {
      this.checker.observeLeader(host.id, status.term);
      if (host.completenessCheckedTerm !== status.term) {
        this.checker.checkLeaderCompleteness(host.id, status.term, node.log);
        host.completenessCheckedTerm = status.term;
      }
    }
    if (status.commitIndex > host.lastCommit) {
      for (let index = Math.max(host.lastCommit, node.log.snapshotIndex) + 1; index <= status.commitIndex; index++) {
        const entry = node.log.entry(index);
        if (entry) this.checker.observeCommitted(host.id, status.term, entry);
      }
      host.lastCommit = status.commitIndex;
    }
  }

  /** The Ready contract: persist, then send, then apply; then maybe compact. */
  #flush(host: Host): void {
    const node = host.node!;
    const ready = node.ready();
    persistReady(host.storage, ready);
    for (const message of ready.messages) {
      if (message.type === 'install-snapshot') this.stats.snapshotsSent++;
      this.network.send(message, this.now);
    }
    if (ready.snapshotToApply) {
      const image = JSON.parse(new TextDecoder().decode(ready.snapshotToApply.data)) as StateMachine;
      if (image.index !== ready.snapshotToApply.index) throw new SafetyViolation(`node ${host.id} got a snapshot of index ${image.index} labelled ${ready.snapshotToApply.index}`);
      host.sm = image;
      this.checker.observeApplied(host.id, image.index, image.digest, null);
      this.stats.snapshotsInstalled++;
    }
    for (const entry of ready.committedEntries) {
      if (entry.index !== host.sm.index + 1) throw new SafetyViolation(`node ${host.id} applied index ${entry.index} after ${host.sm.index}`);
      host.sm = applyToDigest(host.sm, entry);
      this.checker.observeApplied(host.id, entry.index, host.sm.digest, entry.kind === 'command' ? new TextDecoder().decode(entry.data) : null);
    }
    if (host.sm.index - node.log.snapshotIndex >= this.#options.snapshotEvery) {
      node.snapshotTaken(host.sm.index, new TextEncoder().encode(JSON.stringify(host.sm)));
      this.stats.compactions++;
    }
  }
}
