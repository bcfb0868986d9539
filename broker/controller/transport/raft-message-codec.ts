/**
 * The wire form of Raft messages between controller-quorum voters.
 *
 * Layout (big-endian): codec version (u8, 0), message type (u8), then from, to and term, then the type's fields.
 * Terms, indexes and node ids are int64 holding JS safe integers (0 ..= 2^53 - 1; node ids >= 1); booleans and
 * the kind of an entry are one byte that must be 0 or 1; a nullable int64 is a presence byte (0/1) and, when 1,
 * the value; byte strings and arrays carry an int32 length or count. Fixed widths and these checks leave exactly
 * one encoding per message, so decoding is strict by construction: anything else throws RaftCodecError.
 *
 * Fixed widths rather than varints: the bulk of every message is entry data, so a few bytes per number cost
 * nothing, and fixed widths make canonical form a matter of range checks instead of a re-encode.
 */
import { ProtocolDecodeError, Reader, Writer } from '../../protocol/primitives.ts';
import type { AppendEntries, AppendResponse, InstallSnapshot, RaftMessage, VoteRequest, VoteResponse } from '../raft/messages.ts';
import type { LogEntry, Snapshot } from '../raft/types.ts';

export class RaftCodecError extends Error {
  override name = 'RaftCodecError';
}

/** The only codec version this build reads and writes; a new layout gets a new number. */
export const RAFT_CODEC_VERSION = 0;

/** Wire numbers of the message types: stable forever, never reused. */
const TYPE_CODES: Record<RaftMessage['type'], number> = {
  'vote-request': 1,
  'vote-response': 2,
  'append-entries': 3,
  'append-response': 4,
  'install-snapshot': 5,
};
const TYPES_BY_CODE = new Map(Object.entries(TYPE_CODES).map(([type, code]) => [code, type as RaftMessage['type']]));

const KIND_CODES = { command: 0, noop: 1 } as const;

/** Index, term, kind and data length: the fewest bytes one entry takes, to refuse impossible counts before allocating. */
const MIN_ENTRY_BYTES = 8 + 8 + 1 + 4;
const TWO_32 = 4294967296;
/** The high 32-bit half of Number.MAX_SAFE_INTEGER (2^53 - 1). */
const MAX_SAFE_HIGH = 0x1fffff;

// ---- encoding ----

function checkInt(value: unknown, what: string, min = 0): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new RaftCodecError(`${what} must be a safe integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

function checkBytes(value: unknown, what: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new RaftCodecError(`${what} must be a Uint8Array`);
  if (value.byteLength > 0x7fffffff) throw new RaftCodecError(`${what} is longer than an int32 length allows`);
  return value;
}

function checkBool(value: unknown, what: string): boolean {
  if (typeof value !== 'boolean') throw new RaftCodecError(`${what} must be a boolean`);
  return value;
}

function writeInt(w: Writer, value: unknown, what: string, min = 0): void {
  w.int64(checkInt(value, what, min));
}

function writeBytes(w: Writer, value: unknown, what: string): void {
  w.bytes(checkBytes(value, what));
}

function writeEntries(w: Writer, m: AppendEntries): void {
  if (!Array.isArray(m.entries)) throw new RaftCodecError('append-entries: entries must be an array');
  w.int32(m.entries.length);
  m.entries.forEach((e: LogEntry, i) => {
    const what = `append-entries: entry ${i}`;
    // The node trusts entry i to sit at prevIndex + 1 + i; a message that says otherwise is not one a node sends.
    if (checkInt(e.index, `${what} index`, 1) !== m.prevIndex + 1 + i) throw new RaftCodecError(`${what} has index ${e.index}, expected ${m.prevIndex + 1 + i}`);
    w.int64(e.index);
    writeInt(w, e.term, `${what} term`);
    if (e.kind !== 'command' && e.kind !== 'noop') throw new RaftCodecError(`${what} has unknown kind ${String(e.kind)}`);
    w.int8(KIND_CODES[e.kind]);
    writeBytes(w, e.data, `${what} data`);
  });
}

function writeBody(w: Writer, m: RaftMessage): void {
  switch (m.type) {
    case 'vote-request':
      w.bool(checkBool(m.preVote, 'vote-request preVote'));
      writeInt(w, m.lastLogIndex, 'vote-request lastLogIndex');
      writeInt(w, m.lastLogTerm, 'vote-request lastLogTerm');
      return;
    case 'vote-response':
      w.bool(checkBool(m.preVote, 'vote-response preVote'));
      w.bool(checkBool(m.granted, 'vote-response granted'));
      return;
    case 'append-entries':
      writeInt(w, m.prevIndex, 'append-entries prevIndex');
      writeInt(w, m.prevTerm, 'append-entries prevTerm');
      writeInt(w, m.leaderCommit, 'append-entries leaderCommit');
      writeEntries(w, m);
      return;
    case 'append-response':
      w.bool(checkBool(m.success, 'append-response success'));
      writeInt(w, m.matchIndex, 'append-response matchIndex');
      writeInt(w, m.rejectedIndex, 'append-response rejectedIndex');
      writeInt(w, m.hintIndex, 'append-response hintIndex');
      w.bool(m.hintTerm !== null);
      if (m.hintTerm !== null) writeInt(w, m.hintTerm, 'append-response hintTerm');
      return;
    case 'install-snapshot':
      if (typeof m.snapshot !== 'object' || m.snapshot === null) throw new RaftCodecError('install-snapshot: snapshot missing');
      writeInt(w, m.snapshot.index, 'install-snapshot index');
      writeInt(w, m.snapshot.term, 'install-snapshot term');
      writeBytes(w, m.snapshot.data, 'install-snapshot data');
      return;
  }
}

function sizeHint(m: RaftMessage): number {
  if (m.type === 'install-snapshot') return 64 + (m.snapshot?.data?.byteLength ?? 0);
  if (m.type === 'append-entries' && Array.isArray(m.entries)) return 64 + m.entries.reduce((n, e) => n + MIN_ENTRY_BYTES + (e.data?.byteLength ?? 0), 0);
  return 64;
}

/** The message's bytes; throws RaftCodecError for a message no node would send (a field out of range or missing). */
export function encodeRaftMessage(m: RaftMessage): Buffer {
  const code = TYPE_CODES[m.type];
  if (code === undefined) throw new RaftCodecError(`unknown raft message type ${String(m.type)}`);
  const w = new Writer(sizeHint(m));
  w.int8(RAFT_CODEC_VERSION);
  w.int8(code);
  writeInt(w, m.from, `${m.type} from`, 1);
  writeInt(w, m.to, `${m.type} to`, 1);
  writeInt(w, m.term, `${m.type} term`);
  writeBody(w, m);
  return w.finishSingle();
}

// ---- decoding ----

function readInt(r: Reader, what: string, min = 0): number {
  // Two unsigned halves, so the range check sees the exact value before any rounding to a double.
  const hi = r.uint32();
  const lo = r.uint32();
  if (hi > MAX_SAFE_HIGH) throw new RaftCodecError(`${what} is not a safe integer >= 0`);
  const value = hi * TWO_32 + lo;
  if (value < min) throw new RaftCodecError(`${what} is ${value}, below ${min}`);
  return value;
}

function readBool(r: Reader, what: string): boolean {
  const b = r.int8();
  if (b !== 0 && b !== 1) throw new RaftCodecError(`${what}: ${b} is not a boolean (0 or 1)`);
  return b === 1;
}

/** A copy, so a decoded message never pins the (possibly much larger) frame it arrived in. */
function readBytes(r: Reader): Uint8Array {
  return new Uint8Array(r.bytes());
}

function readEntries(r: Reader, prevIndex: number): LogEntry[] {
  const count = r.arrayLength(false, MIN_ENTRY_BYTES);
  const entries: LogEntry[] = [];
  for (let i = 0; i < count; i++) {
    const what = `append-entries: entry ${i}`;
    const index = readInt(r, `${what} index`, 1);
    if (index !== prevIndex + 1 + i) throw new RaftCodecError(`${what} has index ${index}, expected ${prevIndex + 1 + i}`);
    const term = readInt(r, `${what} term`);
    const kindCode = r.int8();
    const kind = kindCode === KIND_CODES.command ? 'command' : kindCode === KIND_CODES.noop ? 'noop' : null;
    if (kind === null) throw new RaftCodecError(`${what} has unknown kind ${kindCode}`);
    entries.push({ index, term, kind, data: readBytes(r) });
  }
  return entries;
}

function readMessage(r: Reader): RaftMessage {
  const version = r.int8();
  if (version !== RAFT_CODEC_VERSION) throw new RaftCodecError(`raft codec version ${version} is not supported (this build reads version ${RAFT_CODEC_VERSION})`);
  const code = r.int8();
  const type = TYPES_BY_CODE.get(code);
  if (type === undefined) throw new RaftCodecError(`unknown raft message type ${code}`);
  const from = readInt(r, `${type} from`, 1);
  const to = readInt(r, `${type} to`, 1);
  const term = readInt(r, `${type} term`);
  switch (type) {
    case 'vote-request': {
      const preVote = readBool(r, 'vote-request preVote');
      const m: VoteRequest = { type, from, to, term, preVote, lastLogIndex: readInt(r, 'vote-request lastLogIndex'), lastLogTerm: readInt(r, 'vote-request lastLogTerm') };
      return m;
    }
    case 'vote-response': {
      const m: VoteResponse = { type, from, to, term, preVote: readBool(r, 'vote-response preVote'), granted: readBool(r, 'vote-response granted') };
      return m;
    }
    case 'append-entries': {
      const prevIndex = readInt(r, 'append-entries prevIndex');
      const prevTerm = readInt(r, 'append-entries prevTerm');
      const leaderCommit = readInt(r, 'append-entries leaderCommit');
      const m: AppendEntries = { type, from, to, term, prevIndex, prevTerm, entries: readEntries(r, prevIndex), leaderCommit };
      return m;
    }
    case 'append-response': {
      const success = readBool(r, 'append-response success');
      const matchIndex = readInt(r, 'append-response matchIndex');
      const rejectedIndex = readInt(r, 'append-response rejectedIndex');
      const hintIndex = readInt(r, 'append-response hintIndex');
      const hintTerm = readBool(r, 'append-response hintTerm presence') ? readInt(r, 'append-response hintTerm') : null;
      const m: AppendResponse = { type, from, to, term, success, matchIndex, rejectedIndex, hintIndex, hintTerm };
      return m;
    }
    case 'install-snapshot': {
      const index = readInt(r, 'install-snapshot index');
      const snapshotTerm = readInt(r, 'install-snapshot term');
      const snapshot: Snapshot = { index, term: snapshotTerm, data: readBytes(r) };
      const m: InstallSnapshot = { type, from, to, term, snapshot };
      return m;
    }
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * One message from its bytes. Throws RaftCodecError for anything but the one encoding of a well-formed message:
 * unknown version or type, truncation, trailing bytes, negative lengths, values beyond 2^53 - 1, booleans other
 * than 0/1, entries not numbered from prevIndex + 1.
 */
export function decodeRaftMessage(bytes: Uint8Array): RaftMessage {
  const reader = new Reader(asBuffer(bytes));
  try {
    const m = readMessage(reader);
    if (reader.remaining() !== 0) throw new RaftCodecError(`${m.type} has ${reader.remaining()} trailing byte(s)`);
    return m;
  } catch (err) {
    if (err instanceof ProtocolDecodeError) throw new RaftCodecError(`malformed raft message: ${err.message}`, { cause: err });
    throw err;
  }
}
