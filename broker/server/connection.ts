import type { Socket } from 'node:net';
import { FrameReader } from './frame-reader.ts';
import type { RequestRouter } from './request-router.ts';
import type { Logger } from './logger.ts';

/** Pause reading a client once this much response data waits in its socket: memory stays bounded. */
const WRITE_HIGH_WATER_BYTES = 64 * 1024 * 1024;
const PRODUCE = 0;

/**
 * One client connection. Kafka clients pipeline requests and match responses by order, so requests are
 * handled one after another and responses are written in request order; synchronous handlers (most of them)
 * run inline while the socket is corked, so a burst of pipelined produce requests costs one writev, not one
 * syscall per response.
 *
 * A request whose answer is asynchronous (a parked fetch, a group join) holds back the requests behind it,
 * as Kafka mutes a channel until its response is sent, with one exception: produce requests behind produce
 * requests. Their appends happen in order as they are handled, only their acks=all answers wait for
 * replication, so a pipelining producer keeps several batches in replication at once instead of one.
 */
export class Connection {
  private readonly socket: Socket;
  private readonly router: RequestRouter;
  private readonly log: Logger;
  private readonly frames: FrameReader;
  private readonly pending: Buffer[] = [];
  /** When each pending request arrived (performance.now()), for the request-time histogram. */
  private readonly arrivals: number[] = [];
  private busy = false;
  private closed = false;
  /** Answers handled but not yet written, oldest first, and whether all of them are produce answers. */
  private outstanding = 0;
  private outstandingProduceOnly = true;
  private writeChain: Promise<void> = Promise.resolve();
  readonly remote: string;

  constructor(socket: Socket, router: RequestRouter, log: Logger, maxRequestBytes: number) {
    this.socket = socket;
    this.router = router;
    this.log = log;
    this.frames = new FrameReader(maxRequestBytes);
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.close());
    socket.on('close', () => {
      this.closed = true;
      this.pending.length = 0;
      this.arrivals.length = 0;
    });
    socket.on('drain', () => {
      if (!this.closed) socket.resume();
    });
  }

  private onData(chunk: Buffer): void {
    const arrivedAt = performance.now();
    try {
      this.frames.push(chunk, (frame) => {
        this.pending.push(frame);
        this.arrivals.push(arrivedAt);
      });
    } catch (err) {
      this.log.warn(`closing connection from ${this.remote}: ${(err as Error).message}`);
      this.close();
      return;
    }
    if (!this.busy) this.process();
  }

  private process(): void {
    this.busy = true;
    this.socket.cork();
    try {
      while (this.pending.length > 0 && !this.closed) {
        const apiKey = this.pending[0].readInt16BE(0);
        if (this.outstanding > 0 && !(apiKey === PRODUCE && this.outstandingProduceOnly)) break;
        const frame = this.pending.shift() as Buffer;
        const arrivedAt = this.arrivals.shift() as number;
        let result;
        try {
          result = this.router.handle(frame, this.remote);
        } catch (err) {
          this.fail(err);
          return;
        }
        if (result instanceof Promise || this.outstanding > 0) {
          this.queueAnswer(result, apiKey, arrivedAt);
          continue;
        }
        this.write(result);
        this.router.answered(apiKey, arrivedAt);
      }
    } finally {
      this.busy = false;
      this.socket.uncork();
    }
  }

  /** Writes an answer after every earlier one, then lets the requests held back behind them run. */
  private queueAnswer(result: Buffer[] | null | Promise<Buffer[] | null>, apiKey: number, arrivedAt: number): void {
    this.outstanding++;
    if (apiKey !== PRODUCE) this.outstandingProduceOnly = false;
    this.writeChain = this.writeChain
      .then(() => result)
      .then(
        (chunks) => {
          // Corked like the synchronous path, so a multi-chunk response goes out as one writev.
          this.socket.cork();
          this.write(chunks);
          this.socket.uncork();
          this.router.answered(apiKey, arrivedAt);
        },
        (err) => this.fail(err),
      )
      .finally(() => {
        this.outstanding--;
        if (this.outstanding > 0) return;
        this.outstandingProduceOnly = true;
        if (!this.busy && !this.closed) this.process();
      });
  }

  private write(chunks: Buffer[] | null): void {
    if (chunks === null || this.closed) return;
    for (const chunk of chunks) this.socket.write(chunk);
    if (this.socket.writableLength > WRITE_HIGH_WATER_BYTES) this.socket.pause();
  }

  private fail(err: unknown): void {
    this.log.warn(`closing connection from ${this.remote}: ${(err as Error).message}`);
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.busy = false;
    this.pending.length = 0;
    this.arrivals.length = 0;
    this.socket.destroy();
  }
}
