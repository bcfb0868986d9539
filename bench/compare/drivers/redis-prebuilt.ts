// Redis Streams driven the way Tributary's pre-built row is: the server's capacity, with a client that costs next
// to nothing. A batch is one RESP buffer of `count` XADD commands, encoded once per (key, count, size) and
// re-sent as is, pipelined on one connection; replies are only counted, by a streaming reader that allocates
// nothing per reply. Creating, deleting and reading streams go through node-redis (RedisStreamsDriver).
import { connect, type Socket } from 'node:net';
import { FIELD, keyOf, RedisStreamsDriver } from './redis-streams.ts';
import { onDelegate, PendingBatches, PrebuiltBatches, PrebuiltPeerDriver, ProducerConnection } from './prebuilt-producer.ts';

const CONNECT_TIMEOUT_MS = 10_000;
const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from('\r\n');

/** `count` × `XADD <key> * v <value>` as one RESP buffer, ready to write. */
function encodeXadds(key: string, count: number, value: Buffer): Buffer {
  const head = Buffer.from(`*5\r\n$4\r\nXADD\r\n$${Buffer.byteLength(key)}\r\n${key}\r\n$1\r\n*\r\n$${FIELD.length}\r\n${FIELD}\r\n$${value.length}\r\n`);
  const one = Buffer.concat([head, value, CRLF]);
  const all = Buffer.allocUnsafe(one.length * count);
  for (let i = 0; i < count; i++) one.copy(all, i * one.length);
  return all;
}

// Where the reader is within a reply.
const TYPE = 0;
const LINE = 1;
const BULK_LENGTH = 2;
const BULK_BODY = 3;

/**
 * Counts RESP2 replies as bytes arrive: a bulk string (XADD's entry id) is skipped by its length, a simple
 * string, integer or error by its line. Only an error's text is kept (errors are rare), so a reply costs no
 * allocation.
 */
export class RespReplyCounter {
  private state = TYPE;
  private length = 0;
  private nullBulk = false;
  private toSkip = 0;
  private error: number[] | null = null;
  private readonly onReply: (error: string | null) => void;

  constructor(onReply: (error: string | null) => void) {
    this.onReply = onReply;
  }

  feed(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      switch (this.state) {
        case TYPE: {
          const type = chunk[i++];
          if (type === 0x24 /* $ */) {
            this.state = BULK_LENGTH;
            this.length = 0;
            this.nullBulk = false;
          } else if (type === 0x2d /* - */) {
            this.state = LINE;
            this.error = [];
          } else if (type === 0x2b /* + */ || type === 0x3a /* : */) {
            this.state = LINE;
          } else {
            throw new Error(`unexpected RESP reply type 0x${type.toString(16)}`);
          }
          break;
        }
        case LINE: {
          const lf = chunk.indexOf(LF, i);
          const end = lf === -1 ? chunk.length : lf;
          if (this.error) for (let j = i; j < end; j++) if (chunk[j] !== CR) this.error.push(chunk[j]);
          i = end;
          if (lf === -1) break;
          i++;
          this.state = TYPE;
          const error = this.error ? Buffer.from(this.error).toString('latin1') : null;
          this.error = null;
          this.onReply(error);
          break;
        }
        case BULK_LENGTH: {
          const b = chunk[i++];
          if (b >= 0x30 && b <= 0x39) this.length = this.length * 10 + (b - 0x30);
          else if (b === 0x2d /* - */) this.nullBulk = true;
          else if (b === LF) {
            if (this.nullBulk) {
              this.state = TYPE;
              this.onReply(null);
            } else {
              this.state = BULK_BODY;
              this.toSkip = this.length + 2;
            }
          }
          break;
        }
        case BULK_BODY: {
          const skipped = Math.min(this.toSkip, chunk.length - i);
          i += skipped;
          this.toSkip -= skipped;
          if (this.toSkip === 0) {
            this.state = TYPE;
            this.onReply(null);
          }
          break;
        }
      }
    }
  }
}

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    const timer = setTimeout(() => socket.destroy(new Error(`no connection to redis-server on port ${port} within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export class RedisPrebuiltDriver extends PrebuiltPeerDriver {
  readonly name = 'Redis Streams (pre-built commands)';
  readonly client = 'raw RESP (pre-built)';
  protected readonly connection: ProducerConnection;
  protected readonly batches = new PrebuiltBatches((stream, partition, count, value) => encodeXadds(keyOf(stream, partition), count, value));
  /** Redis answers the commands of one connection in order. */
  private readonly pending = new PendingBatches('XADD');

  private constructor(delegate: RedisStreamsDriver, socket: Socket) {
    super(delegate);
    const counter = new RespReplyCounter((error) => this.onReply(error));
    this.connection = new ProducerConnection(socket, 'redis-server', (chunk) => counter.feed(chunk), (err) => this.pending.rejectAll(err));
  }

  static connect(port: number): Promise<RedisPrebuiltDriver> {
    return onDelegate(RedisStreamsDriver.connect(port), async (delegate) => new RedisPrebuiltDriver(delegate, await openSocket(port)));
  }

  produceBatch(stream: string, partition: number, count: number, recordBytes: number, sentAtMs?: number): Promise<void> {
    const commands = this.batches.bytesFor(stream, partition, count, recordBytes, sentAtMs);
    return this.connection.send(commands, this.pending, keyOf(stream, partition), count);
  }

  private onReply(error: string | null): void {
    if (!this.pending.reply(error)) this.connection.fail(new Error('redis-server sent a reply no command was waiting for'));
  }
}
