import { connect, type Socket } from 'node:net';
import { FrameReader } from '../../broker/server/frame-reader.ts';
import { Reader, Writer } from '../../broker/protocol/primitives.ts';
import {
  apiTable,
  encodeRequestHeader,
  decodeResponseHeader,
  requestHeaderVersion,
  responseHeaderVersion,
} from '../../broker/protocol/messages/index.ts';

/**
 * A minimal Kafka client on the project's generated codecs: sends typed requests or raw frames and matches
 * responses by correlation id. Used by the benchmark's load generator (pipelined pre-built frames) and by
 * tests that must send what real clients never would (bad frames, bad CRCs, unknown API keys).
 */
export class RawKafkaClient {
  private readonly socket: Socket;
  private readonly frames = new FrameReader(0x7fffffff, 4);
  private nextCorrelationId = 1;
  private readonly waiting = new Map<number, (frame: Buffer) => void>();
  private closedError: Error | null = null;
  private readonly closeWaiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    const onClose = () => {
      this.closedError ??= new Error('connection closed by broker');
      for (const [, resolve] of this.waiting) resolve(Buffer.alloc(0));
      this.waiting.clear();
      for (const w of this.closeWaiters.splice(0)) w();
    };
    socket.on('close', onClose);
    socket.on('error', (err) => {
      this.closedError = err;
    });
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawKafkaClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host, () => resolve(new RawKafkaClient(socket)));
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.closedError !== null;
  }

  /** Resolves when the broker closes the connection (or after timeoutMs, with false). */
  waitForClose(timeoutMs = 5000): Promise<boolean> {
    if (this.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.closeWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  private onData(chunk: Buffer): void {
    this.frames.push(chunk, (frame) => {
      const correlationId = frame.readInt32BE(0);
      const resolve = this.waiting.get(correlationId);
      if (resolve) {
        this.waiting.delete(correlationId);
        resolve(frame);
      }
    });
  }

  /** Encodes a whole request frame (size prefix included) for apiKey/version with the given correlation id. */
  static encodeRequest(apiKey: number, version: number, body: unknown, correlationId: number, clientId = 'raw-client'): Buffer {
    const w = new Writer();
    const sizeAt = w.reserveInt32();
    encodeRequestHeader(w, requestHeaderVersion(apiKey, version), {
      requestApiKey: apiKey,
      requestApiVersion: version,
      correlationId,
      clientId,
    });
    apiTable[apiKey]!.encodeRequest(w, version, body as never);
    w.patchInt32(sizeAt, w.size - 4);
    return w.finishSingle();
  }

  /** Sends a typed request and decodes the typed response. */
  async request<T = any>(apiKey: number, version: number, body: unknown): Promise<T> {
    const correlationId = this.nextCorrelationId++;
    const frame = await this.sendFrame(RawKafkaClient.encodeRequest(apiKey, version, body, correlationId), correlationId);
    if (frame.length === 0) throw this.closedError ?? new Error('connection closed');
    const r = new Reader(frame);
    decodeResponseHeader(r, responseHeaderVersion(apiKey, version));
    return apiTable[apiKey]!.decodeResponse(r, version) as T;
  }

  /**
   * Writes a ready frame and resolves with the response frame body (after the size prefix), or an empty
   * buffer when the broker closed the connection instead. Pass correlationId null for no response (acks=0).
   */
  sendFrame(frame: Buffer, correlationId: number | null): Promise<Buffer> {
    if (this.closed) return Promise.resolve(Buffer.alloc(0));
    const answered =
      correlationId === null ? Promise.resolve(Buffer.alloc(0)) : new Promise<Buffer>((resolve) => this.waiting.set(correlationId, resolve));
    this.socket.write(frame);
    return answered;
  }

  /** Writes raw bytes with no expectations: for malformed input. */
  writeRaw(bytes: Buffer): void {
    if (!this.closed) this.socket.write(bytes);
  }

  close(): void {
    this.socket.destroy();
  }
}
