// NATS JetStream driven the way Tributary's pre-built row is: the server's capacity, with a client that costs
// next to nothing. Raw NATS protocol on one TCP connection: a batch is one buffer of `count` PUBs with a reply
// subject, encoded once per (partition, count, size) and re-sent as is; JetStream answers each PUB with a PubAck
// MSG on the reply subject, and the acks are only counted (the MSG line gives the payload's size, the payload is
// looked at for "error" and skipped). Creating, deleting and reading streams go through nats.js
// (NatsJetStreamDriver, the same stream names and subjects).
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { NatsJetStreamDriver, subjectOf } from './nats-jetstream.ts';
import { onDelegate, PendingBatches, PrebuiltBatches, PrebuiltPeerDriver, ProducerConnection } from './prebuilt-producer.ts';

const CONNECT_TIMEOUT_MS = 10_000;
/** A batch whose acks are not all in by then fails the connection: a PUB nobody answers (no stream) is silent. */
const ACK_TIMEOUT_MS = 60_000;
const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const DOT = 0x2e;
const CONNECT = 'CONNECT {"verbose":false,"pedantic":false,"headers":false,"no_responders":false}\r\nPING\r\n';
const PONG = Buffer.from('PONG\r\n');
const ERROR = Buffer.from('"error"');
/** A PubAck is ~40 bytes; an error a few hundred. Longer payloads are counted, only their start is kept. */
const PAYLOAD_KEPT = 1024;

/**
 * The acks of one partition: one reply subject, `_INBOX.<random>.<id>`, shared by all its publishes. JetStream
 * acknowledges the publishes of one connection to one stream in the order it stored them (the stream's single
 * ingest loop), so the oldest batch owns the next ack on that subject.
 */
interface AckSink {
  subject: string;
  reply: string;
  pending: PendingBatches;
}

/**
 * Reads the server's protocol as bytes arrive: control lines go to a growing scratch buffer, a MSG payload is
 * skipped by the size its line gives (its start kept for the error check). Calls `onAck(sinkId, error)` per
 * MSG whose subject ends in `.<sinkId>`, `onLine(line)` for every other control line but PING, which it answers
 * itself. Nothing is allocated per MSG.
 */
class NatsProtocolReader {
  private line = Buffer.allocUnsafe(4096);
  private lineLength = 0;
  private readonly payload = Buffer.allocUnsafe(PAYLOAD_KEPT);
  private payloadLength = 0;
  /** Payload bytes plus the trailing CRLF still to come; -1 while reading a control line. */
  private payloadLeft = -1;
  private ackSink = -1;
  private readonly onAck: (sinkId: number, error: string | null) => void;
  private readonly onLine: (line: string) => void;
  private readonly pong: () => void;

  constructor(onAck: (sinkId: number, error: string | null) => void, onLine: (line: string) => void, pong: () => void) {
    this.onAck = onAck;
    this.onLine = onLine;
    this.pong = pong;
  }

  feed(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.payloadLeft >= 0) {
        const take = Math.min(this.payloadLeft, chunk.length - i);
        const keep = Math.min(take, PAYLOAD_KEPT - this.payloadLength);
        if (keep > 0) this.payloadLength += chunk.copy(this.payload, this.payloadLength, i, i + keep);
        i += take;
        this.payloadLeft -= take;
        if (this.payloadLeft === 0) this.endPayload();
        continue;
      }
      const lf = chunk.indexOf(LF, i);
      const end = lf === -1 ? chunk.length : lf;
      this.appendLine(chunk, i, end);
      i = end;
      if (lf === -1) break;
      i++;
      this.endLine();
    }
  }

  private appendLine(chunk: Buffer, start: number, end: number): void {
    if (this.lineLength + end - start > this.line.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.line.length * 2, this.lineLength + end - start));
      this.line.copy(grown, 0, 0, this.lineLength);
      this.line = grown;
    }
    this.lineLength += chunk.copy(this.line, this.lineLength, start, end);
  }

  private endLine(): void {
    let length = this.lineLength;
    this.lineLength = 0;
    if (length > 0 && this.line[length - 1] === CR) length--;
    const line = this.line;
    if (length > 4 && line[0] === 0x4d /* M */ && line[1] === 0x53 /* S */ && line[2] === 0x47 /* G */ && line[3] === SPACE) {
      // MSG <subject> <sid> [reply-to] <#bytes>: the sink id ends the subject, the size ends the line.
      let subjectEnd = 4;
      while (subjectEnd < length && line[subjectEnd] !== SPACE) subjectEnd++;
      let idStart = subjectEnd;
      while (idStart > 4 && line[idStart - 1] !== DOT) idStart--;
      this.ackSink = digitsAt(line, idStart, subjectEnd);
      let sizeStart = length;
      while (sizeStart > subjectEnd && line[sizeStart - 1] !== SPACE) sizeStart--;
      this.payloadLeft = digitsAt(line, sizeStart, length) + 2;
      this.payloadLength = 0;
      return;
    }
    if (length === 4 && line[0] === 0x50 /* P */ && line[1] === 0x49 /* I */) return this.pong();
    if (length > 0) this.onLine(line.toString('latin1', 0, length));
  }

  private endPayload(): void {
    this.payloadLeft = -1;
    // Payload plus CRLF; only the payload is looked at.
    const end = Math.max(0, this.payloadLength - 2);
    const failed = contains(this.payload, end, ERROR);
    this.onAck(this.ackSink, failed ? this.payload.toString('utf8', 0, end) : null);
  }
}

/** Whether `pattern` occurs in the first `length` bytes of `bytes`; a plain loop, no view allocated. */
function contains(bytes: Buffer, length: number, pattern: Buffer): boolean {
  outer: for (let i = 0; i + pattern.length <= length; i++) {
    for (let j = 0; j < pattern.length; j++) if (bytes[i + j] !== pattern[j]) continue outer;
    return true;
  }
  return false;
}

function digitsAt(bytes: Buffer, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) n = n * 10 + (bytes[i] - 0x30);
  return n;
}

/** `count` × `PUB <subject> <reply> <size>\r\n<value>\r\n` as one buffer, ready to write. */
function encodePubs(sink: AckSink, count: number, value: Buffer): Buffer {
  const one = Buffer.concat([Buffer.from(`PUB ${sink.subject} ${sink.reply} ${value.length}\r\n`), value, Buffer.from('\r\n')]);
  const all = Buffer.allocUnsafe(one.length * count);
  for (let i = 0; i < count; i++) one.copy(all, i * one.length);
  return all;
}

export class NatsPrebuiltDriver extends PrebuiltPeerDriver {
  readonly name = 'NATS JetStream (pre-built publishes)';
  readonly client = 'raw NATS protocol (pre-built)';
  protected readonly connection: ProducerConnection;
  private readonly inbox: string;
  /** Ack sinks by id (the last token of their reply subject) and by `<stream>\0<partition>`. */
  private readonly sinks = new Map<number, AckSink>();
  private readonly sinkOf = new Map<string, number>();
  private nextSinkId = 0;
  protected readonly batches = new PrebuiltBatches((stream, partition, count, value) => encodePubs(this.sinkFor(stream, partition), count, value));
  private readonly watchdog: NodeJS.Timeout;

  private constructor(delegate: NatsJetStreamDriver, socket: Socket, reader: NatsProtocolReader, inbox: string) {
    super(delegate);
    this.inbox = inbox;
    this.connection = new ProducerConnection(socket, 'nats-server', (chunk) => reader.feed(chunk), (err) => {
      clearInterval(this.watchdog);
      for (const sink of this.sinks.values()) sink.pending.rejectAll(err);
    });
    this.watchdog = setInterval(() => this.checkAckTimeouts(), 1000).unref();
  }

  static connect(port: number): Promise<NatsPrebuiltDriver> {
    return onDelegate(NatsJetStreamDriver.connect(port), async (delegate) => {
      const inbox = `_INBOX.${randomBytes(8).toString('hex')}`;
      let driver: NatsPrebuiltDriver | null = null;
      let onLine: (line: string) => void = () => {};
      const reader = new NatsProtocolReader(
        (sinkId, error) => driver?.onAck(sinkId, error),
        (line) => onLine(line),
        () => socket.write(PONG),
      );
      const socket = connect({ host: '127.0.0.1', port, noDelay: true });
      const handshakeData = (chunk: Buffer) => reader.feed(chunk);
      socket.on('data', handshakeData);
      // INFO, then CONNECT + PING, then PONG: the connection is accepted.
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`nats-server on port ${port} did not complete the handshake within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
        const done = (err?: Error) => {
          clearTimeout(timer);
          socket.removeListener('error', done);
          if (err) reject(err);
          else resolve();
        };
        socket.once('error', done);
        onLine = (line) => {
          if (line.startsWith('INFO ')) socket.write(CONNECT);
          else if (line === 'PONG') done();
          else if (line.startsWith('-ERR')) done(new Error(`nats-server refused the connection: ${line}`));
        };
      }).catch((err) => {
        socket.destroy();
        throw err;
      });
      socket.removeListener('data', handshakeData);
      driver = new NatsPrebuiltDriver(delegate, socket, reader, inbox);
      const d = driver;
      onLine = (line) => {
        if (line.startsWith('-ERR')) d.connection.fail(new Error(`nats-server: ${line}`));
      };
      socket.write(`SUB ${inbox}.* 1\r\n`);
      return driver;
    });
  }

  override deleteStreams(stream: string, partitions: number): Promise<void> {
    // A partition's ack sink goes with its stream, unless batches still wait on it.
    for (let p = 0; p < partitions; p++) {
      const id = this.sinkOf.get(`${stream}\0${p}`);
      if (id === undefined || this.sinks.get(id)!.pending.size > 0) continue;
      this.sinks.delete(id);
      this.sinkOf.delete(`${stream}\0${p}`);
    }
    return super.deleteStreams(stream, partitions);
  }

  produceBatch(stream: string, partition: number, count: number, recordBytes: number, sentAtMs?: number): Promise<void> {
    const sink = this.sinkFor(stream, partition);
    const pubs = this.batches.bytesFor(stream, partition, count, recordBytes, sentAtMs);
    return this.connection.send(pubs, sink.pending, sink.subject, count);
  }

  override close(): Promise<void> {
    clearInterval(this.watchdog);
    return super.close();
  }

  private sinkFor(stream: string, partition: number): AckSink {
    const key = `${stream}\0${partition}`;
    let id = this.sinkOf.get(key);
    if (id === undefined) {
      id = this.nextSinkId++;
      this.sinkOf.set(key, id);
      this.sinks.set(id, { subject: subjectOf(stream, partition), reply: `${this.inbox}.${id}`, pending: new PendingBatches('publish') });
    }
    return this.sinks.get(id)!;
  }

  private onAck(sinkId: number, error: string | null): void {
    if (!this.sinks.get(sinkId)?.pending.reply(error)) {
      this.connection.fail(new Error(`nats-server sent an ack to ${this.inbox}.${sinkId} that no publish was waiting for`));
    }
  }

  private checkAckTimeouts(): void {
    for (const sink of this.sinks.values()) {
      const overdue = sink.pending.overdue(ACK_TIMEOUT_MS);
      if (overdue) {
        return this.connection.fail(new Error(`publish to ${sink.subject}: ${overdue.remaining} acks missing after ${ACK_TIMEOUT_MS / 1000} s (does the stream exist?)`));
      }
    }
  }
}
