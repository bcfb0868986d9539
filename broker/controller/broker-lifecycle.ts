/**
 * A broker's membership of the cluster, as KRaft's BrokerLifecycleManager: register (a new incarnation per
 * process start), heartbeat so the controller keeps it unfenced, and on shutdown ask the controller to move its
 * leaderships away first (controlled shutdown).
 */
import { randomUUID } from 'node:crypto';
import type { QuorumController } from './quorum-controller.ts';
import type { BrokerEndpoint } from './metadata/records.ts';
import { ControllerErrorCode as Code } from './metadata/controller-errors.ts';
import type { Logger } from '../server/logger.ts';

export interface BrokerLifecycleOptions {
  brokerId: number;
  endpoints: BrokerEndpoint[];
  rack: string | null;
  heartbeatIntervalMs: number;
  /** This start created the data directory: whatever ISRs still list this broker, it holds no data. */
  emptyStorage: boolean;
  controller: QuorumController;
  log: Logger;
}

const REQUEST_TIMEOUT_MS = 5000;

export class BrokerLifecycle {
  private readonly opts: BrokerLifecycleOptions;
  readonly incarnationId = randomUUID();
  private epoch = -1;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private shuttingDown = false;
  private unfencedOnce = false;
  private unfencedWaiters: (() => void)[] = [];
  private heartbeating = false;

  constructor(opts: BrokerLifecycleOptions) {
    this.opts = opts;
  }

  /** The epoch of this incarnation's registration, -1 before it is registered. */
  get brokerEpoch(): number {
    return this.epoch;
  }

  /** This node has applied its own registration: its image holds everything committed before it. */
  get caughtUp(): boolean {
    return this.epoch >= 0 && this.opts.controller.image.broker(this.opts.brokerId)?.brokerEpoch === this.epoch;
  }

  /** Registers (retrying until the quorum answers) and heartbeats; resolves once the controller unfenced this broker. */
  async start(): Promise<void> {
    await this.register();
    this.timer = setInterval(() => void this.heartbeat(), this.opts.heartbeatIntervalMs);
    void this.heartbeat();
    if (!this.unfencedOnce) await new Promise<void>((resolve) => this.unfencedWaiters.push(resolve));
  }

  private async register(): Promise<void> {
    const { controller, brokerId, endpoints, rack, log } = this.opts;
    let warned = false;
    while (!this.stopped) {
      const r = await controller.call({ type: 'register', brokerId, incarnationId: this.incarnationId, endpoints, rack }, REQUEST_TIMEOUT_MS);
      if (r.code === 0 && 'kind' in r && r.kind === 'register') {
        this.epoch = r.brokerEpoch;
        log.info(`registered with the controller quorum as broker ${brokerId}, epoch ${this.epoch}`);
        return;
      }
      if (!warned) log.warn(`registration with the controller quorum not answered yet (${r.message}); retrying`);
      warned = true;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  private async heartbeat(): Promise<void> {
    if (this.stopped || this.shuttingDown || this.heartbeating) return;
    this.heartbeating = true;
    try {
      const { controller, brokerId, log } = this.opts;
      const r = await controller.call(
        { type: 'heartbeat', brokerId, brokerEpoch: this.epoch, caughtUp: this.caughtUp, wantShutdown: false, emptyStorage: this.opts.emptyStorage && !this.unfencedOnce },
        REQUEST_TIMEOUT_MS,
      );
      if (r.code === Code.STALE_BROKER_EPOCH || r.code === Code.BROKER_ID_NOT_REGISTERED) {
        log.warn(`controller refused the heartbeat (${r.message}); registering again`);
        await this.register();
        return;
      }
      if (r.code === 0 && 'kind' in r && r.kind === 'heartbeat' && !r.fenced && !this.unfencedOnce && this.caughtUp) {
        this.unfencedOnce = true;
        for (const w of this.unfencedWaiters.splice(0)) w();
      }
    } finally {
      this.heartbeating = false;
    }
  }

  /**
   * Asks the controller to move this broker's leaderships to other ISR members, repeating until none is left or
   * `timeoutMs` passes (a partition with nobody else in its ISR stays until the broker is gone).
   */
  async controlledShutdown(timeoutMs: number): Promise<number> {
    this.shuttingDown = true;
    if (this.epoch < 0) return 0;
    const { controller, brokerId, log } = this.opts;
    const deadline = Date.now() + timeoutMs;
    let remaining = -1;
    while (Date.now() < deadline) {
      const r = await controller.call(
        { type: 'heartbeat', brokerId, brokerEpoch: this.epoch, caughtUp: this.caughtUp, wantShutdown: true, emptyStorage: false },
        Math.max(100, Math.min(3000, deadline - Date.now())),
      );
      if (r.code === 0 && 'kind' in r && r.kind === 'heartbeat') {
        remaining = r.remainingLeaderships;
        if (remaining === 0) break;
      } else if (r.code !== Code.REQUEST_TIMED_OUT) break;
      // No quorum (the other nodes stopped first): nobody could take the leaderships over anyway.
      else if (controller.leaderId === null) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    log.info(remaining === 0 ? 'controlled shutdown: every leadership moved to another broker' : `controlled shutdown: ${remaining < 0 ? 'controller unreachable' : `${remaining} leadership(s) had nowhere to go`}; stopping anyway`);
    return remaining;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const w of this.unfencedWaiters.splice(0)) w();
  }
}
