import { KafkaWireClient } from '../../broker/client/kafka-wire-client.ts';

/** The bench has no deadline of its own for typed requests; this only keeps a stuck one from hanging forever. */
const REQUEST_TIMEOUT_MS = 120_000;

/**
 * A minimal Kafka client for the benchmark's load generator (pipelined pre-built frames) and for tests that
 * must send what real clients never would (bad frames, bad CRCs, unknown API keys). Framing, correlation and
 * the codecs are the broker's own KafkaWireClient; this adds the raw-frame conveniences, and answers a closed
 * connection with an empty frame instead of an error so a test can assert "the broker hung up".
 */
export class RawKafkaClient {
  private readonly wire: KafkaWireClient;
  private readonly closeWaiters: (() => void)[] = [];

  private constructor(wire: KafkaWireClient) {
    this.wire = wire;
    wire.onClose(() => {
      for (const w of this.closeWaiters.splice(0)) w();
    });
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<RawKafkaClient> {
    return new RawKafkaClient(await KafkaWireClient.connect(host, port, { timeoutMs: 10_000, clientId: 'raw-client' }));
  }

  get closed(): boolean {
    return this.wire.closed;
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

  /** Encodes a whole request frame (size prefix included) for apiKey/version with the given correlation id. */
  static encodeRequest(apiKey: number, version: number, body: unknown, correlationId: number, clientId = 'raw-client'): Buffer {
    return KafkaWireClient.encodeRequest(apiKey, version, body, correlationId, clientId);
  }

  /** Sends a typed request and decodes the typed response. */
  request<T = any>(apiKey: number, version: number, body: unknown): Promise<T> {
    return this.wire.request<T>(apiKey, version, body, REQUEST_TIMEOUT_MS);
  }

  /**
   * Writes a ready frame and resolves with the response frame body (after the size prefix), or an empty
   * buffer when the broker closed the connection instead. Pass correlationId null for no response (acks=0).
   */
  sendFrame(frame: Buffer, correlationId: number | null): Promise<Buffer> {
    return this.wire.sendFrame(frame, correlationId).catch(() => Buffer.alloc(0));
  }

  /** Writes raw bytes with no expectations: for malformed input. */
  writeRaw(bytes: Buffer): void {
    this.wire.writeRaw(bytes);
  }

  close(): void {
    this.wire.close();
  }
}
