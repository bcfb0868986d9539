/**
 * The network between controller-quorum voters: one-way messages and request/response over TCP.
 *
 * Each node dials one outbound connection per peer, lazily, and uses it for everything it originates towards that
 * peer: its one-way messages, its requests, and (coming back) the answers to those requests. What the peer
 * originates travels on the peer's own outbound connection. So a link X→Y can fail independently of Y→X, as real
 * networks do, and neither side ever has to pick between two connections to the same peer.
 *
 * Delivery is best effort, as Raft expects: frames queued while (re)connecting are bounded and the oldest go
 * first; whatever is queued or in flight when a connection drops is lost. Requests fail fast with
 * PeerUnavailableError rather than wait for a peer that is not there.
 *
 * Wire format: see frame-codec.ts. The dialler's first frame is a hello naming its node id; the acceptor closes
 * connections that name an unknown node or say hello twice.
 */
import net from 'node:net';
import type { Logger } from '../../server/logger.ts';
import { FrameDecoder, FrameError, FrameKind, HELLO_FRAME_BYTES, decodeHello, encodeFrame, encodeHello, type Frame } from './frame-codec.ts';

export interface PeerAddress {
  host: string;
  port: number;
}

export interface PeerTransportOptions {
  selfId: number;
  /** Port 0 binds an ephemeral port (see `port`). */
  listen: PeerAddress;
  /**
   * How to reach each other node (never contains selfId). Read when dialling and when a hello arrives, not copied,
   * so a host may fill it after start() once every node's port is known.
   */
  peers: ReadonlyMap<number, PeerAddress>;
  /** A one-way message arrived. The payload is the caller's to keep. */
  onMessage(from: number, payload: Buffer): void;
  /** Answers a request; a rejection makes the caller's promise reject with RemoteError(its message). */
  onRequest(from: number, payload: Buffer): Promise<Buffer>;
  log: Logger;
  /** Largest frame accepted (and sent); a larger one closes the connection with one warn line. Default 64 MiB. */
  maxFrameBytes?: number;
  /** Default 3000. Also how long an accepted connection may take to say hello. */
  connectTimeoutMs?: number;
}

/** The peer cannot be reached: not connected, connection lost, request timed out, or transport stopped. */
export class PeerUnavailableError extends Error {
  override name = 'PeerUnavailableError';
}

/** The peer's onRequest rejected; the message is the peer's. */
export class RemoteError extends Error {
  override name = 'RemoteError';
}

export interface PeerTransportStats {
  /** Frames written to sockets: one-way messages, requests and responses. */
  sent: number;
  /** Frames received from peers: one-way messages, requests and responses. */
  received: number;
  /** One-way messages and requests discarded: queue overflow, socket backlog over its bound, unknown peer, oversize. */
  dropped: number;
  /** Peers this node has an open outbound connection to, in id order. */
  connected: number[];
}

const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;
const DEFAULT_CONNECT_TIMEOUT_MS = 3000;
/** While a peer is unreachable: what may wait for it, per peer. */
const QUEUE_MAX_FRAMES = 1000;
const QUEUE_MAX_BYTES = 16 * 1024 * 1024;
/** While connected: how much may sit in a socket's write buffer before sends are dropped (a peer not reading). */
const SOCKET_BACKLOG_MAX_BYTES = 16 * 1024 * 1024;
const MIN_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 1000;
/** Outstanding requests to one peer, and unanswered requests from one peer. */
const MAX_PENDING_REQUESTS = 1000;
/** Error messages sent back to a requester are cut to this many characters. */
const MAX_ERROR_MESSAGE_CHARS = 4096;

/** What a link needs from its transport. */
interface LinkContext {
  readonly selfId: number;
  readonly peers: ReadonlyMap<number, PeerAddress>;
  readonly log: Logger;
  readonly maxFrameBytes: number;
  readonly connectTimeoutMs: number;
  readonly counters: { sent: number; received: number; dropped: number };
}

interface PendingRequest {
  readonly correlationId: number;
  readonly resolve: (payload: Buffer) => void;
  readonly reject: (err: Error) => void;
  timer: NodeJS.Timeout | null;
  settled: boolean;
}

interface OutgoingFrame {
  readonly header: Buffer;
  readonly body: Buffer;
  readonly request: PendingRequest | null;
}

function frameBytes(f: OutgoingFrame): number {
  return f.header.length + f.body.length;
}

function writeFrame(socket: net.Socket, header: Buffer, body: Buffer): void {
  // Corked so header and payload leave in one write(v) call despite setNoDelay.
  socket.cork();
  socket.write(header);
  if (body.length > 0) socket.write(body);
  socket.uncork();
}

/** This node's outbound connection to one peer, with its queue and its outstanding requests. */
class OutboundLink {
  readonly #peerId: number;
  readonly #ctx: LinkContext;
  #socket: net.Socket | null = null;
  #open = false;
  #stopped = false;
  #queue: OutgoingFrame[] = [];
  #queuedBytes = 0;
  readonly #pending = new Map<number, PendingRequest>();
  #nextCorrelationId = 1;
  #backoffMs = MIN_BACKOFF_MS;
  /** No dial before this time: a send after a failure retries at most once per backoff period. */
  #nextAttemptAt = 0;
  #retryTimer: NodeJS.Timeout | null = null;
  #connectTimer: NodeJS.Timeout | null = null;
  #connectedAt = 0;
  #lastError: Error | null = null;
  /** Set once the peer's unavailability has been logged, so a peer that stays down is reported once. */
  #reportedDown = false;

  constructor(peerId: number, ctx: LinkContext) {
    this.#peerId = peerId;
    this.#ctx = ctx;
  }

  get isOpen(): boolean {
    return this.#open;
  }

  send(payload: Buffer): void {
    const [header, body] = encodeFrame(FrameKind.message, 0, payload);
    this.#submit({ header, body, request: null });
  }

  request(payload: Buffer, timeoutMs: number): Promise<Buffer> {
    if (this.#pending.size >= MAX_PENDING_REQUESTS) {
      this.#ctx.counters.dropped++;
      return Promise.reject(new PeerUnavailableError(`peer ${this.#peerId}: ${MAX_PENDING_REQUESTS} requests already outstanding`));
    }
    const correlationId = this.#nextCorrelationId;
    this.#nextCorrelationId = this.#nextCorrelationId >= 0xffffffff ? 1 : this.#nextCorrelationId + 1;
    return new Promise<Buffer>((resolve, reject) => {
      const request: PendingRequest = { correlationId, resolve, reject, timer: null, settled: false };
      request.timer = setTimeout(() => this.#fail(request, new PeerUnavailableError(`request to peer ${this.#peerId} timed out after ${timeoutMs} ms`)), timeoutMs);
      request.timer.unref();
      this.#pending.set(correlationId, request);
      const [header, body] = encodeFrame(FrameKind.request, correlationId, payload);
      this.#submit({ header, body, request });
    });
  }

  stop(): void {
    this.#stopped = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    if (this.#connectTimer) clearTimeout(this.#connectTimer);
    this.#retryTimer = this.#connectTimer = null;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#failAll('transport stopped');
    this.#socket?.destroy();
    this.#socket = null;
    this.#open = false;
  }

  #submit(frame: OutgoingFrame): void {
    if (this.#open) return this.#write(frame);
    this.#queue.push(frame);
    this.#queuedBytes += frameBytes(frame);
    while (this.#queue.length > QUEUE_MAX_FRAMES || this.#queuedBytes > QUEUE_MAX_BYTES) this.#drop(this.#dequeue()!, 'send queue full');
    this.#dialWhenAllowed();
  }

  #dequeue(): OutgoingFrame | undefined {
    const frame = this.#queue.shift();
    if (frame) this.#queuedBytes -= frameBytes(frame);
    return frame;
  }

  #drop(frame: OutgoingFrame, reason: string): void {
    this.#ctx.counters.dropped++;
    if (frame.request) this.#fail(frame.request, new PeerUnavailableError(`request to peer ${this.#peerId} dropped: ${reason}`));
  }

  #write(frame: OutgoingFrame): void {
    if (frame.request?.settled) return; // timed out while queued: the caller has moved on
    const socket = this.#socket!;
    if (socket.writableLength + frameBytes(frame) > SOCKET_BACKLOG_MAX_BYTES) return this.#drop(frame, 'socket backlog full');
    writeFrame(socket, frame.header, frame.body);
    this.#ctx.counters.sent++;
  }

  #dialWhenAllowed(): void {
    if (this.#stopped || this.#socket !== null || this.#retryTimer !== null) return;
    const wait = this.#nextAttemptAt - Date.now();
    if (wait <= 0) return this.#dial();
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#dial();
    }, wait);
    this.#retryTimer.unref();
  }

  #dial(): void {
    if (this.#stopped || this.#socket !== null || this.#queue.length === 0) return;
    const address = this.#ctx.peers.get(this.#peerId);
    if (!address) return this.#connectFailed(new Error('no address configured'));
    this.#lastError = null;
    const socket = net.connect({ host: address.host, port: address.port, noDelay: true });
    this.#socket = socket;
    this.#connectTimer = setTimeout(() => socket.destroy(new Error(`connect timed out after ${this.#ctx.connectTimeoutMs} ms`)), this.#ctx.connectTimeoutMs);
    this.#connectTimer.unref();
    const decoder = new FrameDecoder(this.#ctx.maxFrameBytes);
    socket.on('connect', () => this.#onOpen(socket, address));
    socket.on('data', (chunk: Buffer) => this.#onData(socket, decoder, chunk));
    socket.on('error', (err) => {
      this.#lastError = err;
    });
    socket.on('close', () => this.#onClose(socket, decoder));
  }

  #onOpen(socket: net.Socket, address: PeerAddress): void {
    if (this.#connectTimer) clearTimeout(this.#connectTimer);
    this.#connectTimer = null;
    if (this.#socket !== socket) return;
    socket.setNoDelay(true);
    this.#open = true;
    this.#connectedAt = Date.now();
    this.#reportedDown = false;
    const [header, body] = encodeHello(this.#ctx.selfId);
    writeFrame(socket, header, body);
    this.#ctx.log.info(`connected to peer ${this.#peerId} at ${address.host}:${address.port}`);
    for (let frame = this.#dequeue(); frame; frame = this.#dequeue()) this.#write(frame);
  }

  #onData(socket: net.Socket, decoder: FrameDecoder, chunk: Buffer): void {
    try {
      decoder.push(chunk, (frame) => this.#onFrame(frame));
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      this.#protocolError(socket, err.message);
    }
  }

  #onFrame(frame: Frame): void {
    if (frame.kind !== FrameKind.response && frame.kind !== FrameKind.errorResponse) {
      throw new FrameError(`unexpected frame kind ${frame.kind} on an outbound connection`);
    }
    this.#ctx.counters.received++;
    const request = this.#pending.get(frame.correlationId);
    if (!request) return; // answered after its timeout
    if (frame.kind === FrameKind.response) this.#settle(request, () => request.resolve(frame.payload));
    else this.#settle(request, () => request.reject(new RemoteError(frame.payload.toString('utf8'))));
  }

  #protocolError(socket: net.Socket, reason: string): void {
    this.#ctx.log.warn(`closing connection to peer ${this.#peerId}: ${reason}`);
    this.#lastError = new Error(reason);
    socket.destroy();
  }

  #onClose(socket: net.Socket, decoder: FrameDecoder): void {
    if (this.#socket !== socket) return;
    if (this.#connectTimer) clearTimeout(this.#connectTimer);
    this.#connectTimer = null;
    const wasOpen = this.#open;
    this.#socket = null;
    this.#open = false;
    if (this.#stopped) return;
    const reason = this.#lastError?.message ?? (decoder.midFrame ? 'closed by peer mid-frame' : 'closed by peer');
    if (wasOpen) {
      this.#ctx.log.warn(`lost connection to peer ${this.#peerId} (${reason})`);
      this.#reportedDown = true;
      // A connection that lived a while resets the backoff; one the peer keeps closing at once does not.
      if (Date.now() - this.#connectedAt >= MAX_BACKOFF_MS) this.#backoffMs = MIN_BACKOFF_MS;
      this.#failAll(`lost connection to peer ${this.#peerId} (${reason})`);
      this.#backOff();
    } else {
      this.#connectFailed(new Error(reason));
    }
  }

  #connectFailed(err: Error): void {
    if (!this.#reportedDown) {
      const address = this.#ctx.peers.get(this.#peerId);
      const where = address ? ` at ${address.host}:${address.port}` : '';
      this.#ctx.log.warn(`cannot reach peer ${this.#peerId}${where} (${err.message}); retrying while there is something to send`);
      this.#reportedDown = true;
    }
    // Requests fail now rather than at their timeout; one-way messages wait for the next attempt.
    const kept = this.#queue.filter((frame) => {
      if (!frame.request) return true;
      this.#drop(frame, `cannot reach peer ${this.#peerId} (${err.message})`);
      return false;
    });
    this.#queue = kept;
    this.#queuedBytes = kept.reduce((n, f) => n + frameBytes(f), 0);
    this.#backOff();
    this.#dialWhenAllowed();
  }

  #backOff(): void {
    this.#nextAttemptAt = Date.now() + this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, MAX_BACKOFF_MS);
  }

  #failAll(reason: string): void {
    for (const frame of this.#queue) if (frame.request) this.#fail(frame.request, new PeerUnavailableError(reason));
    for (const request of [...this.#pending.values()]) this.#fail(request, new PeerUnavailableError(reason));
  }

  #fail(request: PendingRequest, err: Error): void {
    this.#settle(request, () => request.reject(err));
  }

  #settle(request: PendingRequest, settle: () => void): void {
    if (request.settled) return;
    request.settled = true;
    if (request.timer) clearTimeout(request.timer);
    this.#pending.delete(request.correlationId);
    settle();
  }
}

interface InboundEvents {
  isStopped(): boolean;
  /** The hello named a known peer. */
  identified(peerId: number): void;
  closed(peerId: number | null): void;
}

/** A connection a peer dialled to us: its one-way messages and requests arrive here, our answers go back on it. */
class InboundConnection {
  readonly #socket: net.Socket;
  readonly #ctx: LinkContext;
  readonly #opts: PeerTransportOptions;
  readonly #events: InboundEvents;
  readonly #remote: string;
  /** Until the hello names a known peer, a connection may not make us buffer more than a hello. */
  readonly #decoder = new FrameDecoder(HELLO_FRAME_BYTES);
  readonly #helloTimer: NodeJS.Timeout;
  #peerId: number | null = null;
  #unanswered = 0;
  #closedByUs = false;

  constructor(socket: net.Socket, ctx: LinkContext, opts: PeerTransportOptions, events: InboundEvents) {
    this.#socket = socket;
    this.#ctx = ctx;
    this.#opts = opts;
    this.#events = events;
    this.#remote = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.setNoDelay(true);
    this.#helloTimer = setTimeout(() => this.close(`no hello within ${ctx.connectTimeoutMs} ms`), ctx.connectTimeoutMs);
    this.#helloTimer.unref();
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => {}); // the close that follows is what matters
    socket.on('close', () => this.#onClose());
  }

  /** Closes the connection with one warn line; returns false so a frame handler can stop the decoder with it. */
  close(reason: string): false {
    if (this.#closedByUs) return false;
    this.#closedByUs = true;
    this.#opts.log.warn(`closing connection from ${this.#peerId === null ? this.#remote : `peer ${this.#peerId}`}: ${reason}`);
    this.#socket.destroy();
    return false;
  }

  /** Closes without a word: the transport is stopping. */
  destroy(): void {
    this.#closedByUs = true;
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.#closedByUs) return;
    try {
      this.#decoder.push(chunk, (frame) => this.#onFrame(frame));
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      this.close(err.message);
    }
  }

  #onFrame(frame: Frame): boolean {
    const peerId = this.#peerId;
    if (peerId === null) return this.#onHello(frame);
    switch (frame.kind) {
      case FrameKind.message:
        this.#ctx.counters.received++;
        try {
          this.#opts.onMessage(peerId, frame.payload);
        } catch (err) {
          this.#opts.log.error(`handling a message from peer ${peerId}: ${err instanceof Error ? err.message : String(err)}`);
        }
        return !this.#socket.destroyed;
      case FrameKind.request:
        this.#ctx.counters.received++;
        this.#onRequest(peerId, frame);
        return true;
      case FrameKind.hello:
        return this.close('second hello');
      default:
        return this.close(`unexpected frame kind ${frame.kind} on an inbound connection`);
    }
  }

  #onHello(frame: Frame): boolean {
    if (frame.kind !== FrameKind.hello) return this.close(`first frame is of kind ${frame.kind}, not a hello`);
    const id = decodeHello(frame);
    if (id === this.#opts.selfId || !this.#opts.peers.has(id)) return this.close(`hello from unknown node ${id}`);
    this.#peerId = id;
    clearTimeout(this.#helloTimer);
    this.#decoder.maxFrameBytes = this.#ctx.maxFrameBytes;
    this.#events.identified(id);
    this.#opts.log.info(`peer ${id} connected from ${this.#remote}`);
    return true;
  }

  #onRequest(from: number, frame: Frame): void {
    this.#unanswered++;
    if (this.#unanswered > MAX_PENDING_REQUESTS) {
      return this.#errorReply(frame.correlationId, `node ${this.#opts.selfId} has ${MAX_PENDING_REQUESTS} unanswered requests from node ${from}`);
    }
    // Through a then(), so a handler that throws synchronously is answered like one that rejects.
    Promise.resolve()
      .then(() => this.#opts.onRequest(from, frame.payload))
      .then(
        (answer: unknown) => {
          if (!(answer instanceof Uint8Array)) this.#errorReply(frame.correlationId, 'the request handler answered with something other than bytes');
          else if (answer.byteLength + 5 > this.#ctx.maxFrameBytes) this.#errorReply(frame.correlationId, `response of ${answer.byteLength} bytes exceeds the frame limit`);
          else this.#reply(FrameKind.response, frame.correlationId, answer);
        },
        (err: unknown) => this.#errorReply(frame.correlationId, err instanceof Error ? err.message : String(err)),
      )
      .catch((err: unknown) => this.#opts.log.error(`answering a request from peer ${from}: ${err instanceof Error ? err.message : String(err)}`));
  }

  #errorReply(correlationId: number, message: string): void {
    this.#reply(FrameKind.errorResponse, correlationId, Buffer.from(message.slice(0, MAX_ERROR_MESSAGE_CHARS), 'utf8'));
  }

  #reply(kind: FrameKind, correlationId: number, payload: Uint8Array): void {
    this.#unanswered--;
    if (this.#events.isStopped() || this.#socket.destroyed) return;
    if (this.#socket.writableLength + payload.byteLength > SOCKET_BACKLOG_MAX_BYTES) return void this.#ctx.counters.dropped++;
    const [header, body] = encodeFrame(kind, correlationId, payload);
    writeFrame(this.#socket, header, body);
    this.#ctx.counters.sent++;
  }

  #onClose(): void {
    clearTimeout(this.#helloTimer);
    this.#events.closed(this.#peerId);
    if (this.#peerId === null || this.#closedByUs || this.#events.isStopped()) return;
    if (this.#decoder.midFrame) this.#opts.log.warn(`peer ${this.#peerId} closed its connection mid-frame (truncated frame dropped)`);
    else this.#opts.log.info(`peer ${this.#peerId} closed its connection`);
  }
}

export class PeerTransport {
  readonly #opts: PeerTransportOptions;
  readonly #ctx: LinkContext;
  readonly #server: net.Server;
  readonly #links = new Map<number, OutboundLink>();
  readonly #inbound = new Set<InboundConnection>();
  /** The accepted connection each peer currently speaks on; a newer hello from the same peer replaces it. */
  readonly #inboundByPeer = new Map<number, InboundConnection>();
  readonly #warnedUnknownTargets = new Set<number>();
  #listening = false;
  #stopped = false;

  constructor(opts: PeerTransportOptions) {
    this.#opts = opts;
    this.#ctx = {
      selfId: opts.selfId,
      peers: opts.peers,
      log: opts.log,
      maxFrameBytes: opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      connectTimeoutMs: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      counters: { sent: 0, received: 0, dropped: 0 },
    };
    this.#server = net.createServer({ noDelay: true }, (socket) => this.#accept(socket));
  }

  start(): Promise<void> {
    if (this.#stopped) return Promise.reject(new Error('peer transport was stopped; create a new one'));
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.#server.once('error', onError);
      this.#server.listen(this.#opts.listen.port, this.#opts.listen.host, () => {
        this.#server.off('error', onError);
        this.#server.on('error', (err) => this.#opts.log.error(`peer listener: ${err.message}`));
        this.#listening = true;
        this.#opts.log.info(`node ${this.#opts.selfId} listening for peers on ${this.#opts.listen.host}:${this.port}`);
        resolve();
      });
    });
  }

  get port(): number {
    const address = this.#server.address();
    if (!this.#listening || address === null || typeof address === 'string') throw new Error('peer transport is not listening');
    return address.port;
  }

  /** Best effort; never throws. Queues and dials in the background when not connected. */
  send(to: number, payload: Buffer): void {
    const link = this.#link(to, payload);
    if (link) link.send(payload);
    else this.#ctx.counters.dropped++;
  }

  /** Rejects with PeerUnavailableError on timeout or connection loss, RemoteError when the peer's handler rejects. */
  request(to: number, payload: Buffer, timeoutMs: number): Promise<Buffer> {
    const link = this.#link(to, payload);
    if (!link) {
      this.#ctx.counters.dropped++;
      return Promise.reject(new PeerUnavailableError(this.#stopped ? 'transport stopped' : `cannot send to node ${to} (unknown peer or payload over ${this.#ctx.maxFrameBytes} bytes)`));
    }
    return link.request(payload, timeoutMs);
  }

  stats(): PeerTransportStats {
    const { sent, received, dropped } = this.#ctx.counters;
    const connected = [...this.#links].filter(([, link]) => link.isOpen).map(([id]) => id).sort((a, b) => a - b);
    return { sent, received, dropped, connected };
  }

  /** Closes the listener and every connection; outstanding requests reject with PeerUnavailableError. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const link of this.#links.values()) link.stop();
    for (const connection of this.#inbound) connection.destroy();
    this.#inbound.clear();
    this.#inboundByPeer.clear();
    if (this.#listening) await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#listening = false;
  }

  /** The link to `to`, or null (after one warn line per id) when it is not a peer or the payload cannot be framed. */
  #link(to: number, payload: Buffer): OutboundLink | null {
    if (this.#stopped) return null;
    // The frame length counts the kind byte and (for requests) a 4-byte correlation id besides the payload.
    if (payload.length + 5 > this.#ctx.maxFrameBytes) {
      this.#opts.log.warn(`not sending ${payload.length} bytes to node ${to}: over the ${this.#ctx.maxFrameBytes}-byte frame limit`);
      return null;
    }
    let link = this.#links.get(to);
    if (link) return link;
    if (to === this.#opts.selfId || !this.#opts.peers.has(to)) {
      // Bounded: a host bug sending to ever-new ids must not grow this set forever (it then just stops warning).
      if (!this.#warnedUnknownTargets.has(to) && this.#warnedUnknownTargets.size < 100) {
        this.#warnedUnknownTargets.add(to);
        this.#opts.log.warn(`not sending to node ${to}: not a known peer`);
      }
      return null;
    }
    link = new OutboundLink(to, this.#ctx);
    this.#links.set(to, link);
    return link;
  }

  #accept(socket: net.Socket): void {
    if (this.#stopped) return void socket.destroy();
    const connection = new InboundConnection(socket, this.#ctx, this.#opts, {
      isStopped: () => this.#stopped,
      identified: (peerId) => {
        // A peer that restarted may leave its old connection half-open; the new one is the one it speaks on.
        const previous = this.#inboundByPeer.get(peerId);
        if (previous) {
          this.#opts.log.info(`peer ${peerId} connected again; closing its previous connection`);
          previous.destroy();
        }
        this.#inboundByPeer.set(peerId, connection);
      },
      closed: (peerId) => {
        this.#inbound.delete(connection);
        if (peerId !== null && this.#inboundByPeer.get(peerId) === connection) this.#inboundByPeer.delete(peerId);
      },
    });
    this.#inbound.add(connection);
  }
}
