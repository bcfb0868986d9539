import { connect as netConnect, type Socket } from 'node:net';
import { FrameReader } from '../server/frame-reader.ts';
import { Reader, Writer } from '../protocol/primitives.ts';
import {
  apiTable,
  encodeRequestHeader,
  decodeResponseHeader,
  requestHeaderVersion,
  responseHeaderVersion,
} from '../protocol/messages/index.ts';

export interface KafkaWireClientOptions {
  /** Bounds the TCP connect. */
  timeoutMs: number;
  clientId: string;
}

/** Why a request did not get its answer: the connection went away or the request's own timeout passed. */
export class KafkaConnectionError extends Error {
  override name = 'KafkaConnectionError';
}

export class KafkaRequestTimeoutError extends Error {
  override name = 'KafkaRequestTimeoutError';
}

interface InFlight {
  resolve(frame: Buffer): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | null;
}

/**
 * A small Kafka client on the generated codecs, for broker-to-broker calls (replica fetches,
 * OffsetForLeaderEpoch, controller RPCs). Requests pipeline on one socket and answers are matched by
 * correlation id; losing the connection rejects everything still waiting, and the client is then done —
 * callers reconnect by creating a new one, so no request is ever silently replayed.
 */
export class KafkaWireClient {
  readonly clientId: string;
  private readonly socket: Socket;
  // Responses carry at least a correlation id.
  private readonly frames = new FrameReader(0x7fffffff, 4);
  private nextCorrelationId = 1;
  private readonly inFlight = new Map<number, InFlight>();
  private closeError: Error | null = null;
  private readonly closeListeners: ((err: Error) => void)[] = [];

  private constructor(socket: Socket, clientId: string) {
    this.socket = socket;
    this.clientId = clientId;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(new KafkaConnectionError(`connection error: ${err.message}`)));
    socket.on('close', () => this.fail(new KafkaConnectionError('connection closed')));
  }

  static connect(host: string, port: number, { timeoutMs, clientId }: KafkaWireClientOptions): Promise<KafkaWireClient> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new KafkaConnectionError(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const onError = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new KafkaConnectionError(`connect to ${host}:${port} failed: ${err.message}`));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(new KafkaWireClient(socket, clientId));
      });
    });
  }

  /** Encodes a whole request frame (size prefix included). */
  static encodeRequest(apiKey: number, apiVersion: number, body: unknown, correlationId: number, clientId: string): Buffer {
    const entry = apiTable[apiKey];
    if (!entry) throw new Error(`unknown api key ${apiKey}`);
    const w = new Writer();
    const sizeAt = w.reserveInt32();
    encodeRequestHeader(w, requestHeaderVersion(apiKey, apiVersion), {
      requestApiKey: apiKey,
      requestApiVersion: apiVersion,
      correlationId,
      clientId,
    });
    entry.encodeRequest(w, apiVersion, body as never);
    w.patchInt32(sizeAt, w.size - 4);
    return w.finishSingle();
  }

  /** Decodes a response frame body (after the size prefix): header, then the typed response. */
  static decodeResponse<Res>(apiKey: number, apiVersion: number, frame: Buffer): Res {
    const r = new Reader(frame);
    decodeResponseHeader(r, responseHeaderVersion(apiKey, apiVersion));
    return apiTable[apiKey]!.decodeResponse(r, apiVersion) as Res;
  }

  /** True once the connection is gone (closed by either side or failed). */
  get closed(): boolean {
    return this.closeError !== null;
  }

  /** Called once, with the reason, when the connection goes away (at once if it already has). */
  onClose(listener: (err: Error) => void): void {
    if (this.closeError) listener(this.closeError);
    else this.closeListeners.push(listener);
  }

  /** A correlation id no other request of this client uses (for callers that pre-build frames). */
  allocateCorrelationId(): number {
    const id = this.nextCorrelationId;
    this.nextCorrelationId = id === 0x7fffffff ? 1 : id + 1;
    return id;
  }

  async request<Res>(apiKey: number, apiVersion: number, body: unknown, timeoutMs: number): Promise<Res> {
    const correlationId = this.allocateCorrelationId();
    const frame = KafkaWireClient.encodeRequest(apiKey, apiVersion, body, correlationId, this.clientId);
    const response = await this.sendFrame(frame, correlationId, timeoutMs);
    return KafkaWireClient.decodeResponse<Res>(apiKey, apiVersion, response);
  }

  /**
   * Writes a ready frame and resolves with the answer's frame body (correlation id first). Rejects with
   * KafkaConnectionError when the connection goes away first, KafkaRequestTimeoutError after timeoutMs
   * (none when omitted). A null correlation id expects no answer (acks=0) and resolves once written.
   */
  sendFrame(frame: Buffer, correlationId: number | null, timeoutMs?: number): Promise<Buffer> {
    if (this.closeError) return Promise.reject(this.closeError);
    if (correlationId === null) {
      this.socket.write(frame);
      return Promise.resolve(Buffer.alloc(0));
    }
    const answered = new Promise<Buffer>((resolve, reject) => {
      const entry: InFlight = { resolve, reject, timer: null };
      if (timeoutMs !== undefined) {
        entry.timer = setTimeout(() => {
          // A late answer finds no entry and is dropped.
          this.inFlight.delete(correlationId);
          reject(new KafkaRequestTimeoutError(`request ${correlationId} timed out after ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.inFlight.set(correlationId, entry);
    });
    this.socket.write(frame);
    return answered;
  }

  /** Writes bytes with no expectations (malformed input in tests). */
  writeRaw(bytes: Buffer): void {
    if (!this.closeError) this.socket.write(bytes);
  }

  get pendingRequests(): number {
    return this.inFlight.size;
  }

  close(): void {
    this.fail(new KafkaConnectionError('client closed'));
  }

  private onData(chunk: Buffer): void {
    try {
      this.frames.push(chunk, (frame) => {
        const correlationId = frame.readInt32BE(0);
        const entry = this.inFlight.get(correlationId);
        if (!entry) return;
        this.inFlight.delete(correlationId);
        if (entry.timer) clearTimeout(entry.timer);
        entry.resolve(frame);
      });
    } catch (err) {
      this.fail(new KafkaConnectionError(`bad response frame: ${(err as Error).message}`));
    }
  }

  private fail(err: Error): void {
    if (this.closeError) return;
    this.closeError = err;
    this.socket.destroy();
    for (const entry of this.inFlight.values()) {
      if (entry.timer) clearTimeout(entry.timer);
      entry.reject(err);
    }
    this.inFlight.clear();
    for (const listener of this.closeListeners.splice(0)) listener(err);
  }
}
