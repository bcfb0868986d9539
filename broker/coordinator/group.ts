import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../protocol/error-codes.ts';
import { metadataFor, type GroupMember, type JoinResult, type SyncResult } from './group-member.ts';
import type { GroupMetadataValue } from './offsets-topic-records.ts';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface GroupTimeouts {
  /** group.min.session.timeout.ms / group.max.session.timeout.ms */
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  /** group.initial.rebalance.delay.ms: an empty group waits this long for more members before its first generation. */
  initialRebalanceDelayMs: number;
}

export interface JoinRequest {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: { name: string; metadata: Buffer }[];
  /** JoinGroup v4+: a new member first gets MEMBER_ID_REQUIRED and its id, then joins with it. */
  requireKnownMemberId: boolean;
}

export interface SyncRequest {
  memberId: string;
  groupInstanceId: string | null;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  assignments: { memberId: string; assignment: Buffer }[];
}

const MEMBER_ID_REQUIRED = 79;
const FENCED_INSTANCE_ID = 82;
const INCONSISTENT_GROUP_PROTOCOL = 23;
const INVALID_SESSION_TIMEOUT = 26;
const UNKNOWN_MEMBER_ID = 25;
const ILLEGAL_GENERATION = 22;
const REBALANCE_IN_PROGRESS = 27;

/**
 * A classic-protocol consumer group: Kafka's GroupMetadata plus the join/sync barrier of its GroupCoordinator.
 * The broker never looks inside member metadata or assignments; the leader's client runs whichever assignor
 * the members agreed on (range, roundrobin, cooperative-sticky), so any assignor works.
 *
 * Empty → PreparingRebalance (joins collect) → CompletingRebalance (leader syncs) → Stable, and back to
 * PreparingRebalance whenever membership or subscriptions change.
 */
export class Group {
  readonly groupId: string;
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, GroupMember>();
  private readonly pendingMemberIds = new Set<string>();
  private readonly staticMembers = new Map<string, string>();
  private rebalanceTimer: NodeJS.Timeout | null = null;
  private rebalanceDeadline = 0;
  private readonly timeouts: GroupTimeouts;
  /** Called when a generation completes or the group empties, so membership can be persisted. */
  private readonly onGenerationChange: (group: Group) => void;

  constructor(groupId: string, timeouts: GroupTimeouts, onGenerationChange: (group: Group) => void = () => {}) {
    this.groupId = groupId;
    this.timeouts = timeouts;
    this.onGenerationChange = onGenerationChange;
  }

  join(req: JoinRequest): Promise<JoinResult> {
    const fail = (errorCode: number, memberId = req.memberId): Promise<JoinResult> =>
      Promise.resolve({ errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId, skipAssignment: false, members: [] });
    if (this.state === 'Dead') return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (req.sessionTimeoutMs < this.timeouts.minSessionTimeoutMs || req.sessionTimeoutMs > this.timeouts.maxSessionTimeoutMs) {
      return fail(INVALID_SESSION_TIMEOUT);
    }
    if (!req.protocolType || req.protocols.length === 0 || !this.supports(req.protocolType, req.protocols)) {
      return fail(INCONSISTENT_GROUP_PROTOCOL);
    }
    if (req.memberId === '') {
      const memberId = `${req.clientId || 'member'}-${randomUUID()}`;
      if (req.groupInstanceId !== null) {
        const previous = this.staticMembers.get(req.groupInstanceId);
        if (previous !== undefined && this.members.has(previous)) return this.replaceStaticMember(previous, memberId, req);
      } else if (req.requireKnownMemberId) {
        this.pendingMemberIds.add(memberId);
        return fail(MEMBER_ID_REQUIRED, memberId);
      }
      return this.addMemberAndRebalance(memberId, req);
    }
    if (this.pendingMemberIds.has(req.memberId)) {
      this.pendingMemberIds.delete(req.memberId);
      return this.addMemberAndRebalance(req.memberId, req);
    }
    const member = this.members.get(req.memberId);
    if (!member) return fail(UNKNOWN_MEMBER_ID);
    if (req.groupInstanceId !== null && this.staticMembers.get(req.groupInstanceId) !== req.memberId) return fail(FENCED_INSTANCE_ID);
    const changed = !sameProtocols(member.protocols, req.protocols);
    Object.assign(member, { sessionTimeoutMs: req.sessionTimeoutMs, rebalanceTimeoutMs: req.rebalanceTimeoutMs, protocols: req.protocols });
    if (this.state === 'PreparingRebalance') return this.awaitJoin(member);
    if (!changed && req.memberId !== this.leaderId && (this.state === 'Stable' || this.state === 'CompletingRebalance')) {
      // A follower re-sending the same JoinGroup (e.g. after a lost response) gets the current generation back.
      this.touch(member);
      return Promise.resolve(this.joinResultFor(member));
    }
    this.prepareRebalance(`member ${member.memberId} rejoined${changed ? ' with new subscriptions' : ''}`);
    return this.awaitJoin(member);
  }

  sync(req: SyncRequest): Promise<SyncResult> {
    const reply = (errorCode: number, assignment: Buffer = Buffer.alloc(0)): Promise<SyncResult> =>
      Promise.resolve({ errorCode, protocolType: this.protocolType, protocolName: this.protocolName, assignment });
    const member = this.members.get(req.memberId);
    if (!member || this.state === 'Empty' || this.state === 'Dead') return reply(UNKNOWN_MEMBER_ID);
    if (req.groupInstanceId !== null && this.staticMembers.get(req.groupInstanceId) !== req.memberId) return reply(FENCED_INSTANCE_ID);
    if (req.generationId !== this.generationId) return reply(ILLEGAL_GENERATION);
    if ((req.protocolType !== null && req.protocolType !== this.protocolType) || (req.protocolName !== null && req.protocolName !== this.protocolName)) {
      return reply(INCONSISTENT_GROUP_PROTOCOL);
    }
    this.touch(member);
    if (this.state === 'PreparingRebalance') return reply(REBALANCE_IN_PROGRESS);
    if (this.state === 'Stable') return reply(ErrorCode.NONE, member.assignment);
    // CompletingRebalance: wait for the leader's assignment.
    const waiting = new Promise<SyncResult>((resolve) => (member.awaitingSync = resolve));
    if (req.memberId === this.leaderId) {
      const given = new Map<string, Buffer>(req.assignments.map((a) => [a.memberId, a.assignment]));
      for (const m of this.members.values()) m.assignment = given.get(m.memberId) ?? Buffer.alloc(0);
      this.state = 'Stable';
      this.onGenerationChange(this);
      for (const m of this.members.values()) {
        const resolve = m.awaitingSync;
        m.awaitingSync = null;
        resolve?.({ errorCode: ErrorCode.NONE, protocolType: this.protocolType, protocolName: this.protocolName, assignment: m.assignment });
      }
    }
    return waiting;
  }

  heartbeat(memberId: string, groupInstanceId: string | null, generationId: number): number {
    const member = this.members.get(memberId);
    if (!member || this.state === 'Empty' || this.state === 'Dead') return UNKNOWN_MEMBER_ID;
    if (groupInstanceId !== null && this.staticMembers.get(groupInstanceId) !== memberId) return FENCED_INSTANCE_ID;
    if (generationId !== this.generationId) return ILLEGAL_GENERATION;
    this.touch(member);
    return this.state === 'PreparingRebalance' ? REBALANCE_IN_PROGRESS : ErrorCode.NONE;
  }

  /** LeaveGroup: members by id, or static members by instance id (memberId '' ). Returns an error code per member. */
  leave(leaving: { memberId: string; groupInstanceId: string | null }[]): number[] {
    const codes = leaving.map(({ memberId, groupInstanceId }) => {
      const id = memberId !== '' ? memberId : groupInstanceId !== null ? this.staticMembers.get(groupInstanceId) : undefined;
      const member = id === undefined ? undefined : this.members.get(id);
      if (!member) return UNKNOWN_MEMBER_ID;
      if (groupInstanceId !== null && memberId !== '' && this.staticMembers.get(groupInstanceId) !== memberId) return FENCED_INSTANCE_ID;
      this.removeMember(member);
      return ErrorCode.NONE;
    });
    if (codes.some((c) => c === ErrorCode.NONE)) this.membershipChanged('members left');
    return codes;
  }

  /** Validates an OffsetCommit against the group's generation; returns an error code or NONE. */
  validateCommit(memberId: string, groupInstanceId: string | null, generationId: number): number {
    if (generationId < 0 && memberId === '') {
      // Commits from outside the group protocol (admin tools, manually assigned consumers).
      return this.state === 'Empty' || this.state === 'Dead' ? ErrorCode.NONE : UNKNOWN_MEMBER_ID;
    }
    const member = this.members.get(memberId);
    if (!member) return UNKNOWN_MEMBER_ID;
    if (groupInstanceId !== null && this.staticMembers.get(groupInstanceId) !== memberId) return FENCED_INSTANCE_ID;
    if (generationId !== this.generationId) return ILLEGAL_GENERATION;
    if (this.state === 'CompletingRebalance') return REBALANCE_IN_PROGRESS;
    this.touch(member);
    return ErrorCode.NONE;
  }

  /** The group as stored in __consumer_offsets after each completed generation. */
  toStored(): GroupMetadataValue {
    return {
      protocolType: this.protocolType ?? '',
      generationId: this.generationId,
      protocolName: this.protocolName,
      leaderId: this.leaderId,
      currentStateTimestamp: Date.now(),
      members: [...this.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        sessionTimeoutMs: m.sessionTimeoutMs,
        subscription: metadataFor(m, this.protocolName ?? ''),
        assignment: m.assignment,
      })),
    };
  }

  /**
   * Rebuilds the group after a restart from its last stored generation: members keep their ids and
   * assignments and must heartbeat within their session timeout, as after a Kafka coordinator failover.
   */
  restore(stored: GroupMetadataValue): void {
    this.generationId = stored.generationId;
    this.protocolType = stored.protocolType || null;
    this.protocolName = stored.protocolName;
    this.leaderId = stored.leaderId;
    for (const m of stored.members) {
      const member: GroupMember = {
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        sessionTimeoutMs: m.sessionTimeoutMs,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        protocolType: stored.protocolType,
        protocols: [{ name: stored.protocolName ?? '', metadata: m.subscription }],
        assignment: m.assignment,
        awaitingJoin: null,
        awaitingSync: null,
        sessionTimer: null,
        rejoined: false,
      };
      this.members.set(m.memberId, member);
      if (m.groupInstanceId !== null) this.staticMembers.set(m.groupInstanceId, m.memberId);
      this.touch(member);
    }
    this.state = this.members.size > 0 ? 'Stable' : 'Empty';
  }

  /**
   * Stops every timer and answers every waiter with errorCode; the coordinator drops the group (shutdown,
   * DeleteGroups, or NOT_COORDINATOR when leadership of its offsets partition moved to another broker).
   */
  close(errorCode: number = ErrorCode.COORDINATOR_NOT_AVAILABLE): void {
    if (this.rebalanceTimer) clearTimeout(this.rebalanceTimer);
    for (const m of [...this.members.values()]) this.removeMember(m, errorCode);
    this.state = 'Dead';
  }

  private supports(protocolType: string, protocols: { name: string }[]): boolean {
    if (this.members.size === 0) return true;
    if (protocolType !== this.protocolType && this.protocolType !== null) return false;
    const names = new Set(protocols.map((p) => p.name));
    for (const m of this.members.values()) {
      if (!m.protocols.some((p) => names.has(p.name))) return false;
    }
    return true;
  }

  private addMemberAndRebalance(memberId: string, req: JoinRequest): Promise<JoinResult> {
    const member: GroupMember = {
      memberId,
      groupInstanceId: req.groupInstanceId,
      clientId: req.clientId,
      clientHost: req.clientHost,
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs > 0 ? req.rebalanceTimeoutMs : req.sessionTimeoutMs,
      protocolType: req.protocolType,
      protocols: req.protocols,
      assignment: Buffer.alloc(0),
      awaitingJoin: null,
      awaitingSync: null,
      sessionTimer: null,
      rejoined: false,
    };
    this.members.set(memberId, member);
    if (req.groupInstanceId !== null) this.staticMembers.set(req.groupInstanceId, memberId);
    if (this.protocolType === null) this.protocolType = req.protocolType;
    if (this.state !== 'PreparingRebalance') this.prepareRebalance(`member ${memberId} joined`);
    else this.extendInitialDelay();
    return this.awaitJoin(member);
  }

  /** A static member restarted with a new member id: it takes over its old identity and assignment. */
  private replaceStaticMember(oldId: string, newId: string, req: JoinRequest): Promise<JoinResult> {
    const member = this.members.get(oldId)!;
    this.members.delete(oldId);
    member.awaitingJoin?.({ errorCode: FENCED_INSTANCE_ID, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId: oldId, skipAssignment: false, members: [] });
    member.awaitingJoin = null;
    member.awaitingSync?.({ errorCode: FENCED_INSTANCE_ID, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) });
    member.awaitingSync = null;
    const changed = !sameProtocols(member.protocols, req.protocols);
    Object.assign(member, { memberId: newId, clientId: req.clientId, clientHost: req.clientHost, sessionTimeoutMs: req.sessionTimeoutMs, protocols: req.protocols });
    this.members.set(newId, member);
    this.staticMembers.set(req.groupInstanceId!, newId);
    if (this.leaderId === oldId) this.leaderId = newId;
    if (this.state === 'Stable' && !changed) {
      // Static membership's point: a restart with the same subscriptions does not rebalance the group.
      this.touch(member);
      this.onGenerationChange(this);
      const result = this.joinResultFor(member);
      return Promise.resolve({ ...result, skipAssignment: newId === this.leaderId, members: newId === this.leaderId ? this.memberList() : [] });
    }
    if (this.state !== 'PreparingRebalance') this.prepareRebalance(`static member ${req.groupInstanceId} rejoined`);
    return this.awaitJoin(member);
  }

  private awaitJoin(member: GroupMember): Promise<JoinResult> {
    const previous = member.awaitingJoin;
    const joined = new Promise<JoinResult>((resolve) => (member.awaitingJoin = resolve));
    // A duplicate JoinGroup replaces the earlier waiter; that one gets the same answer later via this one.
    if (previous) joined.then(previous);
    member.rejoined = true;
    // While waiting in JoinGroup the member is alive by definition; its session restarts after the answer.
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    member.sessionTimer = null;
    this.maybeCompleteJoin();
    return joined;
  }

  private prepareRebalance(reason: string): void {
    void reason;
    if (this.state === 'CompletingRebalance') {
      for (const m of this.members.values()) {
        const resolve = m.awaitingSync;
        m.awaitingSync = null;
        resolve?.({ errorCode: REBALANCE_IN_PROGRESS, protocolType: this.protocolType, protocolName: this.protocolName, assignment: Buffer.alloc(0) });
      }
    }
    const wasEmpty = this.state === 'Empty';
    this.state = 'PreparingRebalance';
    for (const m of this.members.values()) m.rejoined = m.awaitingJoin !== null;
    if (this.rebalanceTimer) clearTimeout(this.rebalanceTimer);
    const rebalanceTimeout = Math.max(0, ...[...this.members.values()].map((m) => m.rebalanceTimeoutMs));
    const delay = wasEmpty ? Math.min(this.timeouts.initialRebalanceDelayMs, rebalanceTimeout) : rebalanceTimeout;
    this.initialDelayUntil = wasEmpty ? Date.now() + delay : 0;
    this.rebalanceDeadline = Date.now() + rebalanceTimeout;
    this.rebalanceTimer = setTimeout(() => this.completeJoin(), delay);
  }

  private initialDelayUntil = 0;

  /** Kafka's delayed initial rebalance: each new member of a forming group restarts the delay, up to the rebalance timeout. */
  private extendInitialDelay(): void {
    if (this.initialDelayUntil === 0 || !this.rebalanceTimer) return;
    clearTimeout(this.rebalanceTimer);
    const delay = Math.max(0, Math.min(this.timeouts.initialRebalanceDelayMs, this.rebalanceDeadline - Date.now()));
    this.initialDelayUntil = Date.now() + delay;
    this.rebalanceTimer = setTimeout(() => this.completeJoin(), delay);
  }

  private maybeCompleteJoin(): void {
    if (this.state !== 'PreparingRebalance' || this.initialDelayUntil > Date.now()) return;
    for (const m of this.members.values()) if (!m.awaitingJoin) return;
    this.completeJoin();
  }

  private completeJoin(): void {
    if (this.state !== 'PreparingRebalance') return;
    if (this.rebalanceTimer) clearTimeout(this.rebalanceTimer);
    this.rebalanceTimer = null;
    this.initialDelayUntil = 0;
    for (const m of [...this.members.values()]) if (!m.awaitingJoin) this.removeMember(m, UNKNOWN_MEMBER_ID);
    this.generationId++;
    if (this.members.size === 0) {
      this.state = 'Empty';
      this.protocolName = null;
      this.leaderId = null;
      this.onGenerationChange(this);
      return;
    }
    this.protocolName = this.selectProtocol();
    if (this.leaderId === null || !this.members.has(this.leaderId)) this.leaderId = this.members.keys().next().value as string;
    this.state = 'CompletingRebalance';
    for (const m of this.members.values()) {
      const resolve = m.awaitingJoin!;
      m.awaitingJoin = null;
      m.rejoined = false;
      this.touch(m);
      resolve(this.joinResultFor(m));
    }
  }

  private joinResultFor(member: GroupMember): JoinResult {
    const isLeader = member.memberId === this.leaderId;
    return {
      errorCode: ErrorCode.NONE,
      generationId: this.generationId,
      protocolType: this.protocolType,
      protocolName: this.protocolName,
      leader: this.leaderId ?? '',
      memberId: member.memberId,
      skipAssignment: false,
      members: isLeader ? this.memberList() : [],
    };
  }

  private memberList(): JoinResult['members'] {
    return [...this.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: metadataFor(m, this.protocolName ?? '') }));
  }

  /** The protocol every member supports that most members prefer (Kafka's vote). */
  private selectProtocol(): string {
    const all = [...this.members.values()];
    const candidates = all[0].protocols.map((p) => p.name).filter((name) => all.every((m) => m.protocols.some((p) => p.name === name)));
    const votes = new Map<string, number>();
    for (const m of all) {
      const choice = m.protocols.find((p) => candidates.includes(p.name))?.name;
      if (choice) votes.set(choice, (votes.get(choice) ?? 0) + 1);
    }
    let best = candidates[0];
    for (const c of candidates) if ((votes.get(c) ?? 0) > (votes.get(best) ?? 0)) best = c;
    return best;
  }

  /** Restarts the member's session timer: no heartbeat, join or sync within session.timeout.ms removes it. */
  private touch(member: GroupMember): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    member.sessionTimer = setTimeout(() => {
      member.sessionTimer = null;
      if (!this.members.has(member.memberId) || member.awaitingJoin) return;
      this.removeMember(member, UNKNOWN_MEMBER_ID);
      this.membershipChanged(`member ${member.memberId} session expired`);
    }, member.sessionTimeoutMs);
    member.sessionTimer.unref();
  }

  private removeMember(member: GroupMember, errorCode: number = UNKNOWN_MEMBER_ID): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    member.sessionTimer = null;
    this.members.delete(member.memberId);
    if (member.groupInstanceId !== null && this.staticMembers.get(member.groupInstanceId) === member.memberId) {
      this.staticMembers.delete(member.groupInstanceId);
    }
    if (this.leaderId === member.memberId) this.leaderId = null;
    member.awaitingJoin?.({ errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId: member.memberId, skipAssignment: false, members: [] });
    member.awaitingJoin = null;
    member.awaitingSync?.({ errorCode, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) });
    member.awaitingSync = null;
  }

  private membershipChanged(reason: string): void {
    if (this.state === 'Stable' || this.state === 'CompletingRebalance') {
      this.prepareRebalance(reason);
      this.maybeCompleteJoin();
    } else if (this.state === 'PreparingRebalance') {
      if (this.members.size === 0) this.completeJoin();
      else this.maybeCompleteJoin();
    }
  }
}

function sameProtocols(a: { name: string; metadata: Buffer }[], b: { name: string; metadata: Buffer }[]): boolean {
  return a.length === b.length && a.every((p, i) => p.name === b[i].name && p.metadata.equals(b[i].metadata));
}
