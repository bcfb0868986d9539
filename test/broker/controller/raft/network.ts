// A simulated network between Raft nodes: every message may be dropped, duplicated or delayed (which reorders it),
// and links can be cut in one direction (asymmetric partition) or both, then healed.
import type { RaftMessage } from '../../../../broker/controller/raft/messages.ts';
import type { NodeId } from '../../../../broker/controller/raft/types.ts';
import { randomInt, type RandomSource } from '../../../../broker/controller/raft/random.ts';

export interface NetworkFaults {
  dropRate: number;
  duplicateRate: number;
  /** Delivery takes 1..maxDelay steps, chosen per message. */
  maxDelay: number;
}

export const RELIABLE: NetworkFaults = { dropRate: 0, duplicateRate: 0, maxDelay: 1 };

interface InFlight {
  deliverAt: number;
  message: RaftMessage;
}

export class SimNetwork {
  faults: NetworkFaults;
  readonly #random: RandomSource;
  #inFlight: InFlight[] = [];
  /** Cut links as "from>to"; a cut link drops what is sent and what is already on the wire. */
  readonly #cut = new Set<string>();
  delivered = 0;
  dropped = 0;

  constructor(random: RandomSource, faults: NetworkFaults) {
    this.#random = random;
    this.faults = faults;
  }

  send(message: RaftMessage, now: number): void {
    if (this.#random() < this.faults.dropRate) {
      this.dropped++;
      return;
    }
    const copies = this.#random() < this.faults.duplicateRate ? 2 : 1;
    for (let i = 0; i < copies; i++) this.#inFlight.push({ deliverAt: now + randomInt(this.#random, 1, this.faults.maxDelay + 1), message });
  }

  /** Messages due at `now` on links that are up, in random order. */
  takeDue(now: number): RaftMessage[] {
    const due = this.#inFlight.filter((item) => item.deliverAt <= now).map((item) => item.message);
    this.#inFlight = this.#inFlight.filter((item) => item.deliverAt > now);
    for (let i = due.length - 1; i > 0; i--) {
      const j = randomInt(this.#random, 0, i + 1);
      [due[i], due[j]] = [due[j], due[i]];
    }
    const deliverable = due.filter((m) => !this.#cut.has(`${m.from}>${m.to}`));
    this.dropped += due.length - deliverable.length;
    this.delivered += deliverable.length;
    return deliverable;
  }

  get inFlightCount(): number {
    return this.#inFlight.length;
  }

  cut(from: NodeId, to: NodeId): void {
    this.#cut.add(`${from}>${to}`);
  }

  /** Symmetric partition: no link between the two sides works in either direction. */
  partition(sideA: readonly NodeId[], sideB: readonly NodeId[]): void {
    for (const a of sideA) {
      for (const b of sideB) {
        this.cut(a, b);
        this.cut(b, a);
      }
    }
  }

  isolate(node: NodeId, all: readonly NodeId[]): void {
    this.partition([node], all.filter((n) => n !== node));
  }

  heal(): void {
    this.#cut.clear();
  }

  get isPartitioned(): boolean {
    return this.#cut.size > 0;
  }
}
