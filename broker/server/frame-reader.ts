/**
 * Splits a TCP byte stream into Kafka request frames (int32 size + body).
 *
 * A frame's bytes are copied once, into a buffer of exactly the frame's size allocated as soon as the size
 * prefix is known; when a whole frame sits inside one socket chunk it is handed out as a zero-copy subarray.
 * Record data in Produce requests is a view into that frame all the way down to the log write.
 */
export class FrameTooLargeError extends Error {
  readonly size: number;
  constructor(size: number, max: number) {
    super(`request of ${size} bytes exceeds socket.request.max.bytes (${max})`);
    this.name = 'FrameTooLargeError';
    this.size = size;
  }
}

export class InvalidFrameSizeError extends Error {
  override name = 'InvalidFrameSizeError';
}

export class FrameReader {
  private readonly maxFrameBytes: number;
  private readonly minFrameBytes: number;
  private sizeBytes = Buffer.alloc(4);
  private sizeFilled = 0;
  private frame: Buffer | null = null;
  private frameFilled = 0;

  /** Requests need at least api key, version and correlation id (8 bytes); responses a correlation id (4). */
  constructor(maxFrameBytes: number, minFrameBytes = 8) {
    this.maxFrameBytes = maxFrameBytes;
    this.minFrameBytes = minFrameBytes;
  }

  /** True while a frame is partly received: a disconnect now drops an incomplete request. */
  get midFrame(): boolean {
    return this.sizeFilled > 0 || this.frame !== null;
  }

  /** Feeds one socket chunk; calls onFrame for each complete frame body, in order. Throws on a bad size. */
  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.frame === null) {
        if (this.sizeFilled === 0 && chunk.length - pos >= 4) {
          const size = chunk.readInt32BE(pos);
          this.checkSize(size);
          if (chunk.length - pos - 4 >= size) {
            onFrame(chunk.subarray(pos + 4, pos + 4 + size));
            pos += 4 + size;
            continue;
          }
          pos += 4;
          this.startFrame(size);
        } else {
          const take = Math.min(4 - this.sizeFilled, chunk.length - pos);
          chunk.copy(this.sizeBytes, this.sizeFilled, pos, pos + take);
          this.sizeFilled += take;
          pos += take;
          if (this.sizeFilled < 4) return;
          const size = this.sizeBytes.readInt32BE(0);
          this.checkSize(size);
          this.startFrame(size);
        }
      }
      const frame = this.frame as Buffer;
      const take = Math.min(frame.length - this.frameFilled, chunk.length - pos);
      chunk.copy(frame, this.frameFilled, pos, pos + take);
      this.frameFilled += take;
      pos += take;
      if (this.frameFilled === frame.length) {
        this.frame = null;
        this.frameFilled = 0;
        this.sizeFilled = 0;
        onFrame(frame);
      }
    }
  }

  private checkSize(size: number): void {
    if (size < this.minFrameBytes) throw new InvalidFrameSizeError(`invalid request size ${size}`);
    if (size > this.maxFrameBytes) throw new FrameTooLargeError(size, this.maxFrameBytes);
  }

  private startFrame(size: number): void {
    this.frame = Buffer.allocUnsafe(size);
    this.frameFilled = 0;
    this.sizeFilled = 4;
  }
}
