import { WakeableSleep } from '../../../lib/wakeable-sleep.ts';
import { glob, open, readdir, stat } from 'node:fs/promises';
import { dirname, join, matchesGlob } from 'node:path';
import type { AgentConfig } from '../config.ts';
import type { AgentState } from '../agent-state.ts';
import type { AgentMetrics } from '../agent-metrics.ts';
import type { DiskBuffer } from '../buffer/disk-buffer.ts';
import type { NewRecord } from '../buffer/buffer-frame.ts';
import { fileKey, fingerprintOf } from './file-fingerprint.ts';
import { FileSource, type LineAssembler } from './file-source.ts';
import { TailedFile } from './tailed-file.ts';

interface Tracked {
  file: TailedFile;
  source: FileSource;
  assembler: LineAssembler | null;
  /** Bumped on each truncation, so acknowledgements of the old content never move the new content's checkpoint. */
  generation: number;
  /** When it was rotated away (its last write, for files found rotated at start); Infinity while current. */
  rotatedAt: number;
}

export interface TailerLog {
  info(message: string): void;
  warn(message: string): void;
}

/** Buffered marks are `<dev>:<ino>#<generation>`. */
export function markFileOf(key: string, generation: number): string {
  return `${key}#${generation}`;
}

function parseMarkFile(markFile: string): { key: string; generation: number } {
  const i = markFile.lastIndexOf('#');
  return { key: markFile.slice(0, i), generation: Number(markFile.slice(i + 1)) };
}

const CHUNKS_PER_TURN = 8;

/**
 * Follows every file the config's globs match: new files as they appear, renamed and deleted ones until
 * their last line is read, truncated ones from their new start. Lines become records in the disk
 * buffer; when the buffer is full, reading pauses (backpressure) and resumes as the shipper drains it.
 * Checkpoints (`state.files`) move only when the shipper reports the broker acknowledged a record.
 */
export class FileTailer {
  private readonly tracked = new Map<string, Tracked>();
  private readonly sources: FileSource[];
  private readonly chunk: Buffer;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private nextDiscovery = 0;
  /** Files closed after rotation: forget their checkpoint once acknowledged up to here. */
  private readonly finalMarks = new Map<string, number>();
  private readonly pause = new WakeableSleep();
  private readonly config: AgentConfig;
  private readonly buffer: DiskBuffer;
  private readonly state: AgentState;
  private readonly bufferedMarks: Map<string, number>;
  private readonly metrics: AgentMetrics;
  private readonly log: TailerLog;

  private readonly saveState: () => Promise<void>;

  constructor(
    config: AgentConfig,
    buffer: DiskBuffer,
    state: AgentState,
    /** Furthest positions already in the buffer, by mark file, from the buffer's recovery. */
    bufferedMarks: Map<string, number>,
    metrics: AgentMetrics,
    log: TailerLog,
    saveState: () => Promise<void>,
  ) {
    this.config = config;
    this.buffer = buffer;
    this.state = state;
    this.bufferedMarks = bufferedMarks;
    this.metrics = metrics;
    this.log = log;
    this.saveState = saveState;
    this.sources = config.files.map((f) => new FileSource(f, config.hostName, config.shipping.logsTopic));
    this.chunk = Buffer.allocUnsafe(config.tail.readChunkBytes);
  }

  async start(): Promise<void> {
    await this.discover(true);
    await this.adoptRotatedWhileDown();
    await this.saveState();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.pause.wake();
    await this.loop;
    for (const t of this.tracked.values()) await t.file.close();
    this.tracked.clear();
  }

  /** The shipper's report: the broker holds every record of `markFile` up to `position`. */
  acknowledge(markFile: string, position: number): void {
    const { key, generation } = parseMarkFile(markFile);
    const checkpoint = this.state.files[key];
    if (!checkpoint || (checkpoint.generation ?? 0) !== generation) return;
    checkpoint.position = position;
    const final = this.finalMarks.get(markFile);
    if (final !== undefined && position >= final) {
      delete this.state.files[key];
      this.finalMarks.delete(markFile);
    }
  }

  /** Lets the loop run now instead of after its poll interval (the buffer drained). */
  nudge(): void {
    this.pause.wake();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const now = Date.now();
      try {
        if (now >= this.nextDiscovery) {
          await this.discover(false);
          this.nextDiscovery = now + this.config.tail.globIntervalMs;
        }
        const progressed = await this.pollAll(now);
        await this.closeQuietDetached(now);
        if (progressed) continue;
      } catch (err) {
        this.metrics.errors.inc({ kind: 'tail' });
        this.log.warn(`tailing: ${(err as Error).message}`);
      }
      await this.pause.sleep(this.config.tail.pollIntervalMs);
    }
  }

  private async pollAll(now: number): Promise<boolean> {
    let progressed = false;
    // Oldest rotated files first, and nothing newer in the same folder is read until they are read to
    // the end: a rotated stream (app.log.2, app.log.1, then app.log) stays in order.
    for (const t of this.tracked.values()) t.rotatedAt = t.file.detachedAt === null ? Infinity : Math.min(t.rotatedAt, t.file.detachedAt);
    const ordered = [...this.tracked.values()].sort((a, b) => a.rotatedAt - b.rotatedAt);
    const unfinishedDirs = new Set<string>();
    for (const t of ordered) {
      // Backpressure: the buffer is full, so reading waits (the gauge is read from the buffer at scrape time).
      if (this.buffer.full) return false;
      const stream = `${t.source.settings.include.join('\n')}\n${dirname(t.file.path)}`;
      if (unfinishedDirs.has(stream)) continue;
      if (await this.pollFile(t, now)) progressed = true;
      if (t.rotatedAt !== Infinity && !t.file.atEnd) unfinishedDirs.add(stream);
    }
    for (const t of this.tracked.values()) {
      if (t.assembler) this.append(this.assembledRecords(t, t.assembler.flushDue(now), now));
    }
    return progressed;
  }

  /** Records of assembled multiline groups of `t`. */
  private assembledRecords(t: Tracked, groups: { text: string; startOffset: number; endOffset: number }[], now: number): NewRecord[] {
    const markFile = markFileOf(t.file.key, t.generation);
    return groups.map((a) => t.source.toRecord(a.text, a.startOffset, a.endOffset, t.file.path, markFile, now));
  }

  /** A line handler that turns the lines of `t` (through its multiline assembler, if any) into `records`. */
  private lineCollector(t: Tracked, records: NewRecord[], now: number): (text: string, start: number, end: number) => void {
    const markFile = markFileOf(t.file.key, t.generation);
    return (text, start, end) => {
      if (!t.assembler) records.push(t.source.toRecord(text, start, end, t.file.path, markFile, now));
      else for (const a of t.assembler.push(text, start, end, now)) records.push(t.source.toRecord(a.text, a.startOffset, a.endOffset, t.file.path, markFile, now));
    };
  }

  /** Reads what is new in one file (a bounded amount per turn, so one busy file cannot starve the others). */
  private async pollFile(t: Tracked, now: number): Promise<boolean> {
    const { file } = t;
    if ((await file.refresh(now)) === 'truncated') {
      this.metrics.rotations.inc({ kind: 'truncate' });
      this.log.info(`truncated: ${file.path}, reading it from the start`);
      if (t.assembler) this.append(this.assembledRecords(t, t.assembler.flushAll(), now));
      t.generation++;
      this.state.files[file.key] = { path: file.path, fingerprint: file.fingerprint.hash, fingerprintBytes: file.fingerprint.bytes, position: 0, generation: t.generation };
      await this.saveState();
    } else {
      const cp = this.state.files[file.key];
      if (cp && cp.fingerprintBytes !== file.fingerprint.bytes) {
        cp.fingerprint = file.fingerprint.hash;
        cp.fingerprintBytes = file.fingerprint.bytes;
      }
    }
    let progressed = false;
    for (let i = 0; i < CHUNKS_PER_TURN && !this.buffer.full; i++) {
      const records: NewRecord[] = [];
      const collect = this.lineCollector(t, records, now);
      let lines = 0;
      const onLine = (text: string, start: number, end: number) => {
        lines++;
        collect(text, start, end);
      };
      const n = await file.readChunk(this.chunk, onLine, () => this.metrics.linesSplit.inc());
      if (n === 0) break;
      progressed = true;
      this.metrics.bytesRead.inc({ file: file.path }, n);
      if (lines > 0) this.metrics.linesRead.inc({ file: file.path }, lines);
      this.append(records);
    }
    this.metrics.fileLag.set({ file: file.path }, Math.max(0, file.size - file.position));
    return progressed;
  }

  private append(records: NewRecord[]): void {
    if (records.length === 0) return;
    this.buffer.append(records);
    this.metrics.recordsBuffered.inc({ topic: this.config.shipping.logsTopic }, records.length);
  }

  /** Finds files by glob; a known inode under a new path is the same file, a path with a new inode is a rotation. */
  private async discover(startup: boolean): Promise<void> {
    const now = Date.now();
    const seen = new Set<string>();
    for (const source of this.sources) {
      for await (const path of glob(source.settings.include)) {
        if (source.settings.exclude.some((pattern) => matchesGlob(path, pattern))) continue;
        let st;
        try {
          st = await stat(path);
        } catch {
          continue; // gone between glob and stat
        }
        if (!st.isFile()) continue;
        const key = fileKey(st);
        if (seen.has(key)) continue;
        seen.add(key);
        const known = this.tracked.get(key);
        if (known) {
          known.file.path = path;
          known.file.detachedAt = null;
          continue;
        }
        try {
          await this.track(key, path, st.size, source, startup, now);
        } catch (err) {
          this.metrics.errors.inc({ kind: 'open' });
          this.log.warn(`cannot tail ${path}: ${(err as Error).message}`);
        }
      }
    }
    for (const t of this.tracked.values()) {
      if (seen.has(t.file.key) || t.file.detachedAt !== null) continue;
      t.file.detachedAt = now;
      let kind = 'delete';
      try {
        const st = await stat(t.file.path);
        if (fileKey(st) !== t.file.key) kind = 'rename';
      } catch {
        // the path is gone: deleted, or renamed to a name the globs do not match
      }
      this.metrics.rotations.inc({ kind });
      this.log.info(`${kind === 'rename' ? 'rotated' : 'gone'}: ${t.file.path}, reading the rest of it before closing`);
    }
    this.metrics.filesOpen.set(this.tracked.size);
  }

  private async track(key: string, path: string, size: number, source: FileSource, startup: boolean, now: number): Promise<void> {
    const checkpoint = this.state.files[key];
    let position = 0;
    let generation = 0;
    const handle = await open(path, 'r');
    try {
      if (checkpoint) {
        const current = await fingerprintOf(handle, checkpoint.fingerprintBytes);
        if (current.hash === checkpoint.fingerprint && current.bytes === checkpoint.fingerprintBytes) {
          generation = checkpoint.generation ?? 0;
          position = Math.max(checkpoint.position, this.bufferedMarks.get(markFileOf(key, generation)) ?? 0);
        } else {
          // Same inode, other content: rewritten (truncated while we were down) or a reused inode.
          generation = (checkpoint.generation ?? 0) + 1;
          position = this.bufferedMarks.get(markFileOf(key, generation)) ?? 0;
        }
      } else {
        const buffered = this.bufferedMarks.get(markFileOf(key, 0));
        position = buffered ?? (startup && source.settings.readFrom === 'end' ? size : 0);
      }
    } finally {
      await handle.close();
    }
    const file = await TailedFile.open(key, path, position, now, source.settings.maxLineBytes);
    this.tracked.set(key, { file, source, assembler: source.newAssembler(), generation, rotatedAt: Infinity });
    if (!checkpoint || (checkpoint.generation ?? 0) !== generation) {
      this.state.files[key] = { path, fingerprint: file.fingerprint.hash, fingerprintBytes: file.fingerprint.bytes, position: checkpoint && (checkpoint.generation ?? 0) === generation ? checkpoint.position : position, generation };
    } else {
      checkpoint.path = path;
    }
    // The file must be on record before any of its lines reach the buffer: if it is rotated away while
    // the agent is down, this entry is how the next start finds it again.
    await this.saveState();
    if (position > 0) this.log.info(`tailing ${path} from byte ${position}`);
    else this.log.info(`tailing ${path}`);
  }

  /**
   * Files rotated while the agent was down no longer match the globs, but may hold unread lines: find
   * them by inode next to where they were, and read the rest.
   */
  private async adoptRotatedWhileDown(): Promise<void> {
    const now = Date.now();
    const missing = Object.entries(this.state.files).filter(([key]) => !this.tracked.has(key));
    const byDir = new Map<string, string[]>();
    for (const [key, cp] of missing) byDir.set(dirname(cp.path), [...(byDir.get(dirname(cp.path)) ?? []), key]);
    for (const [dir, keys] of byDir) {
      const wanted = new Set(keys);
      let names: string[] = [];
      try {
        names = await readdir(dir);
      } catch {
        // the folder is gone
      }
      for (const name of names) {
        if (wanted.size === 0) break;
        const path = join(dir, name);
        let st;
        try {
          st = await stat(path);
        } catch {
          continue;
        }
        const key = fileKey(st);
        if (!wanted.has(key) || !st.isFile()) continue;
        wanted.delete(key);
        const cp = this.state.files[key];
        const handle = await open(path, 'r');
        const current = await fingerprintOf(handle, cp.fingerprintBytes);
        await handle.close();
        const generation = cp.generation ?? 0;
        if (current.hash !== cp.fingerprint) continue;
        const position = Math.max(cp.position, this.bufferedMarks.get(markFileOf(key, generation)) ?? 0);
        if (position >= st.size) continue;
        const source = this.sources.find((s) => s.settings.include.some((pattern) => matchesGlob(cp.path, pattern))) ?? this.sources[0];
        const file = await TailedFile.open(key, path, position, now, source.settings.maxLineBytes);
        file.detachedAt = now;
        cp.path = path;
        this.tracked.set(key, { file, source, assembler: source.newAssembler(), generation, rotatedAt: st.mtimeMs });
        this.log.info(`reading the rest of ${path} (rotated while the agent was stopped) from byte ${position}`);
      }
    }
    // Checkpoints of files that are gone for good, or fully read, are forgotten.
    for (const [key] of missing) if (!this.tracked.has(key)) delete this.state.files[key];
  }

  /** Rotated or deleted files are closed once read to the end and quiet for `rotate_wait`. */
  private async closeQuietDetached(now: number): Promise<void> {
    for (const t of [...this.tracked.values()]) {
      const { file } = t;
      if (file.detachedAt === null || !file.atEnd) continue;
      if (now - Math.max(file.lastGrowthAt, file.detachedAt) < this.config.tail.rotateWaitMs) continue;
      const markFile = markFileOf(file.key, t.generation);
      const records: NewRecord[] = [];
      file.flushPartial(this.lineCollector(t, records, now));
      if (t.assembler) records.push(...this.assembledRecords(t, t.assembler.flushAll(), now));
      this.append(records);
      this.tracked.delete(file.key);
      await file.close();
      this.metrics.fileLag.remove({ file: file.path });
      const checkpoint = this.state.files[file.key];
      if (checkpoint && checkpoint.position >= file.checkpointPosition) delete this.state.files[file.key];
      else this.finalMarks.set(markFile, file.checkpointPosition);
      this.log.info(`closed ${file.path}: read to the end`);
    }
    this.metrics.filesOpen.set(this.tracked.size);
  }
}
