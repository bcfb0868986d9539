import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { rename, writeFile, open } from 'node:fs/promises';

/** A tailed file, by identity (device and inode, plus a fingerprint of its first bytes against inode reuse). */
export interface FileCheckpoint {
  path: string;
  fingerprint: string;
  fingerprintBytes: number;
  /** Byte position up to which the broker acknowledged every line of this file. */
  position: number;
  /** How many times the file was truncated under us; positions of older generations no longer apply. */
  generation?: number;
}

/**
 * What the agent keeps across restarts, written only after the broker acknowledged: per file, the
 * position of the last acknowledged line; the last acknowledged buffer seq; per partition, the offset
 * after our last acknowledged batch (where to look for our own records if an acknowledgement was lost).
 */
export interface AgentState {
  version: 1;
  agentId: string;
  ackedSeq: number;
  files: Record<string, FileCheckpoint>;
  partitions: Record<string, number>;
}

export class StateFileError extends Error {
  override name = 'StateFileError';
}

export function loadState(path: string): AgentState {
  if (!existsSync(path)) return { version: 1, agentId: randomUUID(), ackedSeq: 0, files: {}, partitions: {} };
  let state: AgentState;
  try {
    state = JSON.parse(readFileSync(path, 'utf8')) as AgentState;
  } catch (err) {
    throw new StateFileError(`${path}: the agent's state file is unreadable (${(err as Error).message}); move it away to start over, which re-reads files from their beginning`);
  }
  if (state?.version !== 1 || typeof state.agentId !== 'string' || typeof state.ackedSeq !== 'number' || typeof state.files !== 'object' || typeof state.partitions !== 'object') {
    throw new StateFileError(`${path}: not a state file of this agent version`);
  }
  return state;
}

/**
 * Saves the state atomically (temp file, fsync, rename). Saves are serialised and coalesced: a save
 * requested while one is in flight writes the newest state once that one finishes.
 */
export class StateWriter {
  private inFlight: Promise<void> | null = null;
  private pending = false;
  private readonly path: string;

  private readonly state: () => AgentState;

  constructor(
    path: string,
    state: () => AgentState,
  ) {
    this.path = path;
    this.state = state;}
  save(): Promise<void> {
    if (this.inFlight) {
      this.pending = true;
      return this.inFlight;
    }
    this.inFlight = (async () => {
      try {
        do {
          this.pending = false;
          await this.write(JSON.stringify(this.state()));
        } while (this.pending);
      } finally {
        this.inFlight = null;
      }
    })();
    return this.inFlight;
  }

  private async write(text: string): Promise<void> {
    const tmp = `${this.path}.tmp`;
    await writeFile(tmp, text);
    const handle = await open(tmp, 'r');
    try {
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(tmp, this.path);
  }
}
