/**
 * The controller quorum member inside every broker process (KRaft's combined mode): it drives the Raft node
 * (timers, durable storage, the peer transport), applies committed metadata records to the MetadataImage the
 * broker serves from, and, while this node is the Raft leader, acts as the active controller: it answers
 * brokers' requests by proposing the records that controller-decisions.ts derives, fences brokers that stop
 * heart-beating and restores preferred leaders.
 *
 * Decisions are taken one at a time and each waits until its records are committed and applied, so every
 * decision sees the effect of the previous one. A committed batch the image refuses (possible only when a
 * decision raced a leader change) is skipped as a whole on every node alike, since applying is deterministic.
 */
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { RaftNode } from './raft/node.ts';
import { FileLogStorage } from './raft/file-log-storage.ts';
import { persistReady } from './raft/log-storage.ts';
import { seededRandom, type RandomSource } from '../../lib/seeded-random.ts';
import type { Voter } from './raft/voters.ts';
import type { RaftStatus } from './raft/types.ts';
import { MetadataImage } from './metadata/metadata-image.ts';
import { decodeRecordBatch, encodeRecordBatch } from './metadata/record-codec.ts';
import type { MetadataRecord } from './metadata/records.ts';
import { NO_LEADER } from './metadata/records.ts';
import {
  alterPartition,
  controlledShutdown,
  createTopic,
  deleteTopic,
  electPreferredLeaders,
  fenceBroker,
  registerBroker,
  unfenceBroker,
  type Decision,
} from './metadata/controller-decisions.ts';
import { ControllerErrorCode as Code } from './metadata/controller-errors.ts';
import { PeerTransport, PeerUnavailableError, RemoteError, type PeerAddress } from './transport/peer-transport.ts';
import { decodeRaftMessage, encodeRaftMessage } from './transport/raft-message-codec.ts';
import {
  ControllerRequestError,
  decodeControllerRequest,
  decodeControllerResponse,
  encodeControllerMessage,
  type ControllerRequest,
  type ControllerResponse,
  type HeartbeatRequest,
  type TopicResult,
} from './controller-requests.ts';
import type { Logger } from '../server/logger.ts';

export interface QuorumControllerOptions {
  nodeId: number;
  voters: readonly Voter[];
  /** This node's own entry in the voter list: where it listens for its peers. */
  listen: PeerAddress;
  /** How this node dials each other voter (the voter list, unless overridden, e.g. through a fault proxy). */
  dialAddresses: ReadonlyMap<number, PeerAddress>;
  /** Raft's log, hard state and snapshots live in `<dataDir>/__cluster_metadata`. */
  dataDir: string;
  log: Logger;
  /** broker.session.timeout.ms: a broker not heard from for this long is fenced. */
  brokerSessionTimeoutMs: number;
  /** leader.imbalance.check.interval.ms: how often preferred leaders are restored. */
  leaderRebalanceIntervalMs: number;
  /** Replication factor used when a request asks for the default (-1). */
  defaultReplicationFactor: number;
  tickMs?: number;
  electionTimeoutTicks?: number;
  heartbeatIntervalTicks?: number;
  /** Committed entries between metadata snapshots. */
  snapshotEveryEntries?: number;
  random?: RandomSource;
}

type ImageListener = (image: MetadataImage, previous: MetadataImage) => void;

interface PendingProposal {
  term: number;
  resolve: (applied: boolean) => void;
}

const DEFAULT_TICK_MS = 50;

export class QuorumController {
  private readonly opts: QuorumControllerOptions;
  private readonly storage: FileLogStorage;
  private readonly node: RaftNode;
  private readonly transport: PeerTransport;
  private readonly log: Logger;
  private imageValue = MetadataImage.EMPTY;
  private appliedIndexValue = 0;
  private lastSnapshotIndex = 0;
  private statusValue: RaftStatus;
  private readonly listeners: ImageListener[] = [];
  private readonly appliedWaiters: { index: number; resolve: () => void }[] = [];
  private readonly proposals = new Map<number, PendingProposal>();
  private tickTimer: NodeJS.Timeout | null = null;
  private dutyTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Active controller: leader that has applied an entry of its own term, so its image is complete. */
  private active = false;
  private decisions: Promise<unknown> = Promise.resolve();
  /** When the active controller last heard from each broker (leader memory only, reset on election). */
  private readonly lastHeartbeat = new Map<number, number>();
  private lastRebalance = Date.now();

  constructor(opts: QuorumControllerOptions) {
    this.opts = opts;
    this.log = opts.log;
    this.storage = new FileLogStorage(join(opts.dataDir, '__cluster_metadata'));
    this.node = RaftNode.restore(
      {
        id: opts.nodeId,
        voters: opts.voters.map((v) => v.id),
        random: opts.random ?? seededRandom((Date.now() ^ (opts.nodeId * 0x9e3779b1)) >>> 0),
        electionTimeoutTicks: opts.electionTimeoutTicks ?? 20,
        heartbeatIntervalTicks: opts.heartbeatIntervalTicks ?? 2,
        recovering: this.storage.lastIndex() === 0 && this.storage.snapshot() === null,
      },
      this.storage,
    );
    this.statusValue = this.node.status();
    this.transport = new PeerTransport({
      selfId: opts.nodeId,
      listen: opts.listen,
      peers: opts.dialAddresses,
      log: opts.log,
      onMessage: (from, payload) => this.onPeerMessage(from, payload),
      onRequest: (from, payload) => this.onPeerRequest(from, payload),
    });
  }

  get image(): MetadataImage {
    return this.imageValue;
  }

  get appliedIndex(): number {
    return this.appliedIndexValue;
  }

  get status(): RaftStatus {
    return this.statusValue;
  }

  /** The voter this node believes leads the quorum (the active controller), or null during an election. */
  get leaderId(): number | null {
    return this.statusValue.leaderId;
  }

  get isActive(): boolean {
    return this.active;
  }

  onImage(listener: ImageListener): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    await this.transport.start();
    this.drain();
    const tickMs = this.opts.tickMs ?? DEFAULT_TICK_MS;
    this.tickTimer = setInterval(() => {
      this.node.tick();
      this.drain();
    }, tickMs);
    this.dutyTimer = setInterval(() => this.leaderDuties(), Math.max(100, Math.floor(this.opts.brokerSessionTimeoutMs / 6)));
    this.log.info(`controller: quorum member ${this.opts.nodeId} of [${this.opts.voters.map((v) => v.id).join(', ')}] listening on ${this.opts.listen.host}:${this.transport.port}`);
  }

  async stop(): Promise<void> {
    // A leader's last commits (a controlled shutdown's, typically) reach the followers' images only with its next
    // heartbeats; without them the others would apply those records only after electing a new leader.
    if (this.statusValue.role === 'leader' && !this.stopped) {
      const heartbeatMs = (this.opts.tickMs ?? DEFAULT_TICK_MS) * (this.opts.heartbeatIntervalTicks ?? 2);
      await new Promise((resolve) => setTimeout(resolve, 3 * heartbeatMs));
    }
    this.stopped = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.dutyTimer) clearInterval(this.dutyTimer);
    for (const [, p] of this.proposals) p.resolve(false);
    this.proposals.clear();
    for (const w of this.appliedWaiters.splice(0)) w.resolve();
    await this.transport.stop();
    this.storage.close();
  }

  /** Resolves once this node's image includes everything up to `index` (or after timeoutMs). */
  waitForApplied(index: number, timeoutMs: number): Promise<boolean> {
    if (this.appliedIndexValue >= index) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const i = this.appliedWaiters.indexOf(waiter);
        if (i >= 0) this.appliedWaiters.splice(i, 1);
        resolve(false);
      }, timeoutMs);
      timer.unref();
      const waiter = {
        index,
        resolve: () => {
          clearTimeout(timer);
          resolve(this.appliedIndexValue >= index);
        },
      };
      this.appliedWaiters.push(waiter);
    });
  }

  /**
   * Sends a request to the active controller wherever it is (this node included), following leader changes,
   * until it is answered or `timeoutMs` passes; then waits until this node has applied the answer's changes.
   */
  async call(request: ControllerRequest, timeoutMs: number): Promise<ControllerResponse> {
    const deadline = Date.now() + timeoutMs;
    let lastError = 'no controller leader is known';
    while (!this.stopped && Date.now() < deadline) {
      const leader = this.leaderId;
      let response: ControllerResponse | null = null;
      if (leader === this.opts.nodeId) {
        response = await this.handle(request);
      } else if (leader !== null) {
        try {
          const bytes = await this.transport.request(leader, encodeControllerMessage(request), Math.max(100, Math.min(5000, deadline - Date.now())));
          response = decodeControllerResponse(bytes);
        } catch (err) {
          if (!(err instanceof PeerUnavailableError) && !(err instanceof RemoteError)) throw err;
          lastError = `controller ${leader}: ${(err as Error).message}`;
        }
      }
      if (response && response.code !== Code.NOT_CONTROLLER) {
        await this.waitForApplied(response.committedIndex, Math.max(0, deadline - Date.now()));
        return response;
      }
      if (response) lastError = response.message ?? 'not the controller';
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return { code: Code.REQUEST_TIMED_OUT, message: `controller request ${request.type} timed out: ${lastError}`, committedIndex: 0 };
  }

  // ---- Raft host ----

  private onPeerMessage(_from: number, payload: Buffer): void {
    if (this.stopped) return;
    let message;
    try {
      message = decodeRaftMessage(payload);
    } catch (err) {
      this.log.warn(`controller: dropped a malformed Raft message from node ${_from}: ${(err as Error).message}`);
      return;
    }
    if (message.to !== this.opts.nodeId || message.from !== _from) return;
    this.node.receive(message);
    this.drain();
  }

  private async onPeerRequest(_from: number, payload: Buffer): Promise<Buffer> {
    let request: ControllerRequest;
    try {
      request = decodeControllerRequest(payload);
    } catch (err) {
      if (err instanceof ControllerRequestError) return encodeControllerMessage({ code: Code.INVALID_REQUEST, message: err.message, committedIndex: 0 });
      throw err;
    }
    return encodeControllerMessage(await this.handle(request));
  }

  /** Runs every Ready to completion in the contract's order: persist, send, apply, report. */
  private drain(): void {
    if (this.stopped) return;
    while (this.node.hasReady()) {
      const ready = this.node.ready();
      persistReady(this.storage, ready);
      for (const m of ready.messages) this.transport.send(m.to, encodeRaftMessage(m));
      if (ready.snapshotToApply) {
        this.setImage(MetadataImage.load(ready.snapshotToApply.data));
        this.appliedIndexValue = ready.snapshotToApply.index;
        this.lastSnapshotIndex = ready.snapshotToApply.index;
      }
      for (const entry of ready.committedEntries) {
        if (entry.kind === 'command') this.applyEntry(entry.index, entry.data);
        else if (entry.term === this.node.status().term && this.node.status().role === 'leader') this.becomeActive();
        this.appliedIndexValue = entry.index;
        const pending = this.proposals.get(entry.index);
        if (pending) {
          this.proposals.delete(entry.index);
          pending.resolve(pending.term === entry.term);
        }
      }
      if (ready.status) this.onStatus(ready.status);
      if (ready.committedEntries.length > 0 || ready.snapshotToApply) this.wakeAppliedWaiters();
    }
    this.maybeSnapshot();
  }

  private applyEntry(index: number, data: Uint8Array): void {
    let records: MetadataRecord[];
    try {
      records = decodeRecordBatch(data);
    } catch (err) {
      this.log.error(`controller: committed entry ${index} does not decode, skipped on every node: ${(err as Error).message}`);
      return;
    }
    const result = this.imageValue.applyAll(records);
    if (!result.ok) {
      this.log.warn(`controller: committed entry ${index} no longer applies and is skipped: ${result.reason}`);
      return;
    }
    this.setImage(result.image);
  }

  private setImage(image: MetadataImage): void {
    const previous = this.imageValue;
    this.imageValue = image;
    for (const listener of this.listeners) {
      try {
        listener(image, previous);
      } catch (err) {
        this.log.error(`controller: metadata listener failed: ${(err as Error).stack}`);
      }
    }
  }

  private wakeAppliedWaiters(): void {
    for (let i = this.appliedWaiters.length - 1; i >= 0; i--) {
      if (this.appliedWaiters[i].index <= this.appliedIndexValue) this.appliedWaiters.splice(i, 1)[0].resolve();
    }
  }

  private maybeSnapshot(): void {
    const every = this.opts.snapshotEveryEntries ?? 1000;
    if (this.appliedIndexValue - this.lastSnapshotIndex < every) return;
    this.node.snapshotTaken(this.appliedIndexValue, this.imageValue.snapshot());
    this.lastSnapshotIndex = this.appliedIndexValue;
    this.drain();
  }

  private onStatus(status: RaftStatus): void {
    const previous = this.statusValue;
    this.statusValue = status;
    if (status.leaderId !== previous.leaderId || status.term !== previous.term) {
      if (status.leaderId !== null) this.log.info(`controller: node ${status.leaderId} is the controller leader in term ${status.term}`);
    }
    if (status.role !== 'leader' && this.active) {
      this.active = false;
      this.log.info(`controller: node ${this.opts.nodeId} is no longer the active controller (term ${status.term})`);
    }
    if (status.role !== 'leader') {
      for (const [, p] of this.proposals) p.resolve(false);
      this.proposals.clear();
    }
  }

  private becomeActive(): void {
    if (this.active) return;
    this.active = true;
    const now = Date.now();
    // Everyone gets a full session from the moment this controller took over: it never heard them before.
    this.lastHeartbeat.clear();
    for (const b of this.imageValue.brokers()) this.lastHeartbeat.set(b.brokerId, now);
    this.lastRebalance = now;
    this.log.info(`controller: node ${this.opts.nodeId} is the active controller (term ${this.statusValue.term})`);
  }

  // ---- active controller ----

  /** Proposes one decision's records and resolves with the index they were applied at, or null if they were not. */
  private async commit(records: MetadataRecord[]): Promise<number | null> {
    if (records.length === 0) return this.appliedIndexValue;
    const proposed = this.node.propose(encodeRecordBatch(records));
    if (!proposed.ok) return null;
    const applied = await new Promise<boolean>((resolve) => {
      this.proposals.set(proposed.index, { term: proposed.term, resolve });
      this.drain();
    });
    return applied ? proposed.index : null;
  }

  private notController(): ControllerResponse {
    return { code: Code.NOT_CONTROLLER, message: `node ${this.opts.nodeId} is not the active controller`, leaderId: this.leaderId, committedIndex: 0 };
  }

  private handle(request: ControllerRequest): Promise<ControllerResponse> {
    return this.serialized(() => this.decide(request), () => this.notController());
  }

  /**
   * Runs decisions one at a time, each on the image its predecessor left; `otherwise` answers when this node is no
   * longer the active controller by the time its turn comes.
   */
  private serialized<T>(work: () => Promise<T>, otherwise: () => T): Promise<T> {
    const run = this.decisions.then(() => (this.active && !this.stopped ? work() : otherwise()));
    this.decisions = run.catch((err) => this.log.error(`controller: ${(err as Error).stack}`));
    return run;
  }

  private async decideAndCommit<T extends object>(decision: Decision<T>, answer: (d: T, index: number) => ControllerResponse): Promise<ControllerResponse> {
    if (!decision.ok) return { code: decision.code, message: decision.message, committedIndex: this.appliedIndexValue };
    const index = await this.commit(decision.records);
    if (index === null) return this.notController();
    return answer(decision, index);
  }

  private async decide(request: ControllerRequest): Promise<ControllerResponse> {
    const image = this.imageValue;
    switch (request.type) {
      case 'register': {
        const decision = registerBroker(image, request);
        const result = await this.decideAndCommit(decision, (d, index) => ({ code: 0, message: null, committedIndex: index, kind: 'register', brokerEpoch: d.brokerEpoch }));
        if (result.code === 0) {
          this.lastHeartbeat.set(request.brokerId, Date.now());
          this.log.info(`controller: registered broker ${request.brokerId} (incarnation ${request.incarnationId.slice(0, 8)})`);
        }
        return result;
      }
      case 'heartbeat':
        return this.heartbeat(request);
      case 'create-topics':
        return this.createTopics(request.topics, request.validateOnly);
      case 'delete-topics': {
        const topics: TopicResult[] = [];
        let committedIndex = this.appliedIndexValue;
        for (const name of request.names) {
          const decision = deleteTopic(this.imageValue, name);
          const r = await this.decideAndCommit(decision, (_d, index) => ({ code: 0, message: null, committedIndex: index }));
          if (r.code === Code.NOT_CONTROLLER) return r;
          committedIndex = Math.max(committedIndex, r.committedIndex);
          topics.push({ name, code: r.code, message: r.message, topicId: null, partitions: -1, replicationFactor: -1 });
          if (r.code === 0) this.log.info(`controller: deleted topic ${name}`);
        }
        return { code: 0, message: null, committedIndex, kind: 'topics', topics };
      }
      case 'alter-partition': {
        const decision = alterPartition(image, request);
        return this.decideAndCommit(decision, (d, index) => ({ code: 0, message: null, committedIndex: index, kind: 'alter-partition', ...d.result, isr: [...d.result.isr] }));
      }
      case 'elect-preferred-leaders': {
        const decision = electPreferredLeaders(image);
        return this.decideAndCommit(decision, (d, index) => ({ code: 0, message: null, committedIndex: index, kind: 'elections', elected: d.results.filter((r) => r.code === 0).length }));
      }
    }
  }

  private async heartbeat(request: HeartbeatRequest): Promise<ControllerResponse> {
    const { brokerId, brokerEpoch } = request;
    const broker = this.imageValue.broker(brokerId);
    if (!broker) return { code: Code.BROKER_ID_NOT_REGISTERED, message: `broker ${brokerId} is not registered`, committedIndex: this.appliedIndexValue };
    if (broker.brokerEpoch !== brokerEpoch) return { code: Code.STALE_BROKER_EPOCH, message: `broker ${brokerId} epoch ${brokerEpoch} is stale (current ${broker.brokerEpoch})`, committedIndex: this.appliedIndexValue };
    this.lastHeartbeat.set(brokerId, Date.now());
    if (request.wantShutdown) {
      const decision = controlledShutdown(this.imageValue, brokerId, brokerEpoch);
      return this.decideAndCommit(decision, (d, index) => ({ code: 0, message: null, committedIndex: index, kind: 'heartbeat', fenced: false, shuttingDown: true, remainingLeaderships: d.remainingLeaderships }));
    }
    if (broker.state === 'fenced' && request.caughtUp) {
      let decision = unfenceBroker(this.imageValue, brokerId, brokerEpoch);
      if (decision.ok && request.emptyStorage) {
        // Its ISR memberships come from a previous life whose data is gone: leading from them would lose records.
        const records = decision.records.filter((r) => {
          if (r.type !== 'PartitionChange' || r.leader !== brokerId) return true;
          this.log.warn(`controller: broker ${brokerId} restarted with empty storage; partition ${this.imageValue.topicById(r.topicId)?.name}-${r.partitionId} stays offline rather than lose its data`);
          return false;
        });
        decision = { ok: true, records };
      }
      const r = await this.decideAndCommit(decision, (_d, index) => ({ code: 0, message: null, committedIndex: index, kind: 'heartbeat', fenced: false, shuttingDown: false, remainingLeaderships: 0 }));
      if (r.code === 0) this.log.info(`controller: unfenced broker ${brokerId} (epoch ${brokerEpoch})`);
      return r;
    }
    const state = this.imageValue.broker(brokerId)!.state;
    return { code: 0, message: null, committedIndex: this.appliedIndexValue, kind: 'heartbeat', fenced: state === 'fenced', shuttingDown: state === 'shutting-down', remainingLeaderships: 0 };
  }

  private async createTopics(topics: { name: string; partitions: number; replicationFactor: number; configs: Record<string, string> }[], validateOnly: boolean): Promise<ControllerResponse> {
    const results: TopicResult[] = [];
    let committedIndex = this.appliedIndexValue;
    for (const t of topics) {
      const eligible = this.imageValue.eligibleBrokerIds().length;
      const replicationFactor = t.replicationFactor === -1 ? Math.min(this.opts.defaultReplicationFactor, Math.max(1, eligible)) : t.replicationFactor;
      const decision = createTopic(this.imageValue, { name: t.name, topicId: randomUUID(), partitions: t.partitions, replicationFactor, configs: new Map(Object.entries(t.configs)) });
      if (!decision.ok) {
        results.push({ name: t.name, code: decision.code, message: decision.message, topicId: null, partitions: -1, replicationFactor: -1 });
        continue;
      }
      const topicId = decision.records[0].type === 'Topic' ? decision.records[0].topicId : null;
      if (validateOnly) {
        results.push({ name: t.name, code: 0, message: null, topicId, partitions: t.partitions, replicationFactor });
        continue;
      }
      const index = await this.commit(decision.records);
      if (index === null) return this.notController();
      committedIndex = Math.max(committedIndex, index);
      results.push({ name: t.name, code: 0, message: null, topicId, partitions: t.partitions, replicationFactor });
      this.log.info(`controller: created topic ${t.name} with ${t.partitions} partition(s), replication factor ${replicationFactor}: ${decision.assignments.map((r) => `[${r.join(',')}]`).join(' ')}`);
    }
    return { code: 0, message: null, committedIndex, kind: 'topics', topics: results };
  }

  /** Fences brokers whose session expired and restores preferred leaders now and then. */
  private leaderDuties(): void {
    if (!this.active || this.stopped) return;
    const now = Date.now();
    const expired = this.imageValue
      .brokers()
      .filter((b) => b.state !== 'fenced' && now - (this.lastHeartbeat.get(b.brokerId) ?? now) > this.opts.brokerSessionTimeoutMs);
    for (const b of expired) {
      this.enqueue(async () => {
        const current = this.imageValue.broker(b.brokerId);
        if (!current || current.state === 'fenced' || Date.now() - (this.lastHeartbeat.get(b.brokerId) ?? 0) <= this.opts.brokerSessionTimeoutMs) return;
        const moved = this.imageValue.partitionsLedBy(b.brokerId).length;
        const decision = fenceBroker(this.imageValue, b.brokerId);
        if (decision.ok && (await this.commit(decision.records)) !== null) {
          this.log.warn(`controller: fenced broker ${b.brokerId}: no heartbeat for ${this.opts.brokerSessionTimeoutMs} ms; ${moved} leadership(s) moved or offline`);
        }
      });
    }
    if (now - this.lastRebalance >= this.opts.leaderRebalanceIntervalMs) {
      this.lastRebalance = now;
      const imbalanced = this.imageValue.allPartitions().some(({ partition: p }) => p.leader !== p.replicas[0] && p.leader !== NO_LEADER && p.isr.includes(p.replicas[0]) && this.imageValue.isEligible(p.replicas[0]));
      if (imbalanced) {
        this.enqueue(async () => {
          const decision = electPreferredLeaders(this.imageValue);
          if (!decision.ok || decision.records.length === 0) return;
          if ((await this.commit(decision.records)) !== null) this.log.info(`controller: moved ${decision.records.length} leadership(s) back to preferred replicas`);
        });
      }
    }
  }

  /** A duty of the active controller, in turn with the requests; its failure is logged by serialized(). */
  private enqueue(work: () => Promise<void>): void {
    this.serialized(work, () => undefined).catch(() => {});
  }
}
