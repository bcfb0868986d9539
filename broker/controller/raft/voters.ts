// The static voter set of the controller quorum, from `--controller-quorum 1@h:p,2@h:p,3@h:p` (KRaft's
// controller.quorum.voters syntax). Membership changes (joint consensus or single-server changes) are not supported:
// every node must be started with the same list.
import type { NodeId } from './types.ts';

export interface Voter {
  readonly id: NodeId;
  readonly host: string;
  readonly port: number;
}

export function parseVoters(spec: string): Voter[] {
  const voters: Voter[] = [];
  for (const part of spec.split(',')) {
    const match = /^(\d+)@(.+):(\d+)$/.exec(part.trim());
    if (!match) throw new Error(`controller quorum entry "${part}" is not id@host:port`);
    const id = Number(match[1]);
    const port = Number(match[3]);
    if (!Number.isSafeInteger(id) || id <= 0) throw new Error(`controller quorum id "${match[1]}" must be a positive integer`);
    if (port <= 0 || port > 65535) throw new Error(`controller quorum port "${match[3]}" is out of range`);
    if (voters.some((v) => v.id === id)) throw new Error(`controller quorum lists node ${id} twice`);
    voters.push({ id, host: match[2].replace(/^\[(.*)\]$/, '$1'), port });
  }
  return voters;
}

/** Votes needed to win an election or commit an entry. */
export function quorumSize(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}
