export interface MultilineConfig {
  /** A JavaScript regular expression that matches the first line of a record (e.g. its timestamp). */
  startPattern: string;
  /**
   * Vector's names for the grouping; with a single start pattern they describe the same thing, so both
   * mean: a start line begins a record, and the lines that follow and do not match continue it.
   * `continue_through` reads as Vector's mode with "does not match the start" as the condition,
   * `halt_before` as Vector's mode with "matches the start" as the condition.
   */
  mode?: 'continue_through' | 'halt_before';
  /** A pending record is complete after this long without a new line. Default 1000. */
  timeoutMs?: number;
  /** A record is closed when it has this many lines. Default 500. */
  maxLines?: number;
  /** A record is closed before it would exceed this many bytes of file. Default 1 MiB (the schema's body limit). */
  maxBytes?: number;
}

/** One record: its lines joined with `\n`, and the file range they came from. */
export interface Assembled {
  text: string;
  /** Offset of the first line's first byte. */
  startOffset: number;
  /** Offset just past the last line (its terminator included): where reading resumes after this record. */
  endOffset: number;
}

/**
 * Groups the lines of one file into records, so a stack trace is one record and not forty. A record is a
 * start line and the non-start lines after it; lines before any start line (a file read from the middle of
 * a trace, or a trace continuing after a timeout) make a record of their own rather than waiting for one.
 *
 * Records end at the next start line, after `timeoutMs` without a line (`flushDue`, the writer may be done),
 * or at maxLines/maxBytes. The pending record is not yet shipped, so the tailer must not checkpoint past
 * `pendingStartOffset()`: after a restart it reads the pending lines again and assembles the same record.
 *
 * One assembler per file (and per truncation generation): offsets are positions in that file.
 */
export class MultilineAssembler {
  private readonly start: RegExp;
  private readonly timeoutMs: number;
  private readonly maxLines: number;
  private readonly maxBytes: number;
  private lines: string[] = [];
  private bytes = 0;
  private startOffset = 0;
  private endOffset = 0;
  private lastLineAt = 0;

  /** Throws if the start pattern is not a valid regular expression, naming it. */
  constructor(config: MultilineConfig) {
    try {
      this.start = new RegExp(config.startPattern);
    } catch (err) {
      throw new Error(`invalid multiline start pattern ${JSON.stringify(config.startPattern)}: ${(err as Error).message}`);
    }
    if (config.mode !== undefined && config.mode !== 'continue_through' && config.mode !== 'halt_before') {
      throw new Error(`unknown multiline mode ${JSON.stringify(config.mode)}: expected continue_through or halt_before`);
    }
    this.timeoutMs = nonNegative(config.timeoutMs, 1000, 'timeoutMs');
    this.maxLines = nonNegative(config.maxLines, 500, 'maxLines');
    this.maxBytes = nonNegative(config.maxBytes, 1 << 20, 'maxBytes');
  }

  /**
   * Adds one line (without its terminator) that spans [startOffset, endOffset) of the file. Returns the
   * records this line completes: none, the previous record (a start line, or a line that would overflow it),
   * the record the line filled up to maxLines/maxBytes, or both.
   */
  push(line: string, startOffset: number, endOffset: number, now: number): Assembled[] {
    const out: Assembled[] = [];
    const lineBytes = endOffset - startOffset;
    if (this.lines.length > 0 && (this.start.test(line) || this.bytes + lineBytes > this.maxBytes)) out.push(this.take());
    if (this.lines.length === 0) this.startOffset = startOffset;
    this.lines.push(line);
    this.bytes += lineBytes;
    this.endOffset = endOffset;
    this.lastLineAt = now;
    if (this.lines.length >= this.maxLines || this.bytes >= this.maxBytes) out.push(this.take());
    return out;
  }

  /** The pending record, if no line has come for `timeoutMs`. */
  flushDue(now: number): Assembled[] {
    return this.lines.length > 0 && now - this.lastLineAt >= this.timeoutMs ? [this.take()] : [];
  }

  /** The pending record, whatever its age: the file is closed, truncated or the agent stops. */
  flushAll(): Assembled[] {
    return this.lines.length > 0 ? [this.take()] : [];
  }

  /** Where the pending record begins, the furthest a checkpoint may go; undefined when nothing is pending. */
  pendingStartOffset(): number | undefined {
    return this.lines.length > 0 ? this.startOffset : undefined;
  }

  private take(): Assembled {
    const record: Assembled = { text: this.lines.length === 1 ? this.lines[0] : this.lines.join('\n'), startOffset: this.startOffset, endOffset: this.endOffset };
    this.lines = [];
    this.bytes = 0;
    return record;
  }
}

/** 0 is allowed and means "at once": every line its own record, or flushed on the next flushDue. */
function nonNegative(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!(value >= 0)) throw new Error(`multiline ${name} must be 0 or more, got ${value}`);
  return value;
}
