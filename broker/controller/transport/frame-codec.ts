/**
 * Frames of the controller quorum's peer protocol: u32 length (of everything after it), u8 kind, a u32
 * correlation id for requests and their answers, then the payload.
 *
 *   hello           payload: u8 protocol version, int64 node id of the dialler (its first and only hello)
 *   message         payload: opaque, one-way
 *   request         correlation id + payload
 *   response        correlation id + payload
 *   error-response  correlation id + UTF-8 message of the peer's failure
 *
 * Same shape as the broker's Kafka framing (broker/server/frame-reader.ts), with a kind byte in front so the
 * transport needs no second parser, and a limit the connection may raise once the peer has said who it is.
 */

export const FrameKind = { hello: 1, message: 2, request: 3, response: 4, errorResponse: 5 } as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export const PEER_PROTOCOL_VERSION = 0;

/** A hello is tiny; until one arrives a connection may not make us buffer more than this. */
export const HELLO_FRAME_BYTES = 1 + 1 + 8;

export interface Frame {
  readonly kind: FrameKind;
  /** 0 for hello and message frames. */
  readonly correlationId: number;
  /** May share memory with the socket chunk it arrived in. */
  readonly payload: Buffer;
}

export class FrameError extends Error {
  override name = 'FrameError';
}

function hasCorrelation(kind: number): boolean {
  return kind === FrameKind.request || kind === FrameKind.response || kind === FrameKind.errorResponse;
}

/** Header and payload as two buffers, so a large payload is handed to the socket without a copy. */
export function encodeFrame(kind: FrameKind, correlationId: number, payload: Uint8Array): [Buffer, Buffer] {
  const withCorrelation = hasCorrelation(kind);
  const header = Buffer.allocUnsafe(withCorrelation ? 9 : 5);
  header.writeUInt32BE(header.length - 4 + payload.byteLength, 0);
  header.writeUInt8(kind, 4);
  if (withCorrelation) header.writeUInt32BE(correlationId >>> 0, 5);
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  return [header, body];
}

export function encodeHello(nodeId: number): [Buffer, Buffer] {
  const payload = Buffer.allocUnsafe(9);
  payload.writeUInt8(PEER_PROTOCOL_VERSION, 0);
  payload.writeBigUInt64BE(BigInt(nodeId), 1);
  return encodeFrame(FrameKind.hello, 0, payload);
}

/** The node id a hello names; throws FrameError for a malformed hello or an unknown protocol version. */
export function decodeHello(frame: Frame): number {
  const p = frame.payload;
  if (frame.kind !== FrameKind.hello || p.length !== 9) throw new FrameError('malformed hello');
  if (p[0] !== PEER_PROTOCOL_VERSION) throw new FrameError(`hello with peer protocol version ${p[0]} (this build speaks ${PEER_PROTOCOL_VERSION})`);
  const id = p.readBigUInt64BE(1);
  if (id < 1n || id > BigInt(Number.MAX_SAFE_INTEGER)) throw new FrameError(`hello names invalid node id ${id}`);
  return Number(id);
}

/**
 * Splits a byte stream into frames. Throws FrameError for a bad length or kind; after that the stream is
 * unusable and the connection must be closed. `maxFrameBytes` may be raised between pushes.
 */
export class FrameDecoder {
  maxFrameBytes: number;
  #lengthBytes = Buffer.alloc(4);
  #lengthFilled = 0;
  #body: Buffer | null = null;
  #bodyFilled = 0;

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** True while a frame is partly received: the stream ending now would truncate it. */
  get midFrame(): boolean {
    return this.#lengthFilled > 0 || this.#body !== null;
  }

  /** Feeds one chunk; calls onFrame for each complete frame in order. onFrame may stop the loop by returning false. */
  push(chunk: Buffer, onFrame: (frame: Frame) => boolean | void): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.#body === null) {
        if (this.#lengthFilled === 0 && chunk.length - pos >= 4) {
          const length = this.#checkLength(chunk.readUInt32BE(pos));
          pos += 4;
          if (chunk.length - pos >= length) {
            // The whole frame is in this chunk: hand it out without a copy.
            const frame = chunk.subarray(pos, pos + length);
            pos += length;
            if (onFrame(parseFrame(frame)) === false) return;
            continue;
          }
          this.#startBody(length);
        } else {
          const take = Math.min(4 - this.#lengthFilled, chunk.length - pos);
          chunk.copy(this.#lengthBytes, this.#lengthFilled, pos, pos + take);
          this.#lengthFilled += take;
          pos += take;
          if (this.#lengthFilled < 4) return;
          this.#startBody(this.#checkLength(this.#lengthBytes.readUInt32BE(0)));
        }
      }
      const body = this.#body!;
      const take = Math.min(body.length - this.#bodyFilled, chunk.length - pos);
      chunk.copy(body, this.#bodyFilled, pos, pos + take);
      this.#bodyFilled += take;
      pos += take;
      if (this.#bodyFilled === body.length) {
        this.#body = null;
        this.#bodyFilled = 0;
        this.#lengthFilled = 0;
        if (onFrame(parseFrame(body)) === false) return;
      }
    }
  }

  #checkLength(length: number): number {
    if (length < 1) throw new FrameError('frame of length 0 has no kind');
    if (length > this.maxFrameBytes) throw new FrameError(`frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes}`);
    return length;
  }

  #startBody(length: number): void {
    this.#body = Buffer.allocUnsafe(length);
    this.#bodyFilled = 0;
    this.#lengthFilled = 4;
  }
}

function parseFrame(frame: Buffer): Frame {
  const kind = frame[0];
  if (kind < FrameKind.hello || kind > FrameKind.errorResponse) throw new FrameError(`unknown frame kind ${kind}`);
  if (!hasCorrelation(kind)) return { kind: kind as FrameKind, correlationId: 0, payload: frame.subarray(1) };
  if (frame.length < 5) throw new FrameError(`frame of kind ${kind} is too short (${frame.length} bytes) for its correlation id`);
  return { kind: kind as FrameKind, correlationId: frame.readUInt32BE(1), payload: frame.subarray(5) };
}
