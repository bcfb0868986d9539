import protobuf from 'protobufjs';
import { compressSync, uncompressSync } from 'snappy';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A Prometheus remote_write 1.0 client (https://prometheus.io/docs/specs/remote_write_spec/): the request is a
 * `prometheus.WriteRequest` protobuf, snappy block-compressed, POSTed with the spec's headers.
 *
 * Only the messages of the 1.0 spec are written out below (field numbers are the spec's). Prometheus' own
 * remote.proto has more (metadata, exemplars, native histograms); senders of 1.0 leave those out.
 */
const REMOTE_WRITE_PROTO = `
syntax = "proto3";
package prometheus;

message WriteRequest {
  repeated TimeSeries timeseries = 1;
  // Cortex uses field 2 for the request's source, Prometheus field 3 for metadata: neither is part of 1.0.
  reserved 2, 3;
}
message TimeSeries {
  repeated Label labels = 1;
  repeated Sample samples = 2;
}
message Label {
  string name = 1;
  string value = 2;
}
message Sample {
  double value = 1;
  int64 timestamp = 2;
}
`;

const root = protobuf.parse(REMOTE_WRITE_PROTO, { keepCase: true }).root;
const WriteRequest = root.lookupType('prometheus.WriteRequest');

export interface RemoteWriteSample {
  /** Milliseconds since the Unix epoch, an integer. */
  timestamp: number;
  value: number;
}

export interface RemoteWriteSeries {
  /** All labels of the series, `__name__` included. */
  labels: Record<string, string>;
  samples: RemoteWriteSample[];
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Encodes series as the body of a remote-write request: protobuf, then snappy's block format (not the framed
 * format). What the spec asks of senders is done here, so callers cannot get it wrong: labels sorted by name,
 * samples of a series in timestamp order. Labels with an empty value are left out (Prometheus treats an empty
 * label value as an absent label), and so are series left without samples.
 *
 * Throws a TypeError for what no receiver may be sent: a series without `__name__`, a label name outside
 * `[a-zA-Z_][a-zA-Z0-9_]*`, a timestamp that is not an integer number of milliseconds.
 */
export function encodeWriteRequest(series: readonly RemoteWriteSeries[]): Buffer {
  const timeseries = [];
  for (const s of series) {
    if (s.samples.length === 0) continue;
    if (!s.labels.__name__) throw new TypeError(`remote write: a series needs a __name__ label (labels: ${JSON.stringify(s.labels)})`);
    const labels = [];
    for (const name of Object.keys(s.labels)) {
      if (!LABEL_NAME.test(name)) throw new TypeError(`remote write: invalid label name ${JSON.stringify(name)}`);
      const value = s.labels[name];
      if (typeof value !== 'string') throw new TypeError(`remote write: label ${name} has a ${typeof value} value, not a string`);
      if (value !== '') labels.push({ name, value });
    }
    // Names are ASCII (checked above), so UTF-16 order is the byte order the spec means.
    labels.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const sample of s.samples) {
      if (!Number.isSafeInteger(sample.timestamp)) throw new TypeError(`remote write: timestamp ${sample.timestamp} is not an integer number of milliseconds`);
    }
    // Array.prototype.sort is stable: equal timestamps keep the caller's order.
    const samples = s.samples.map((x) => ({ value: x.value, timestamp: x.timestamp })).sort((a, b) => a.timestamp - b.timestamp);
    timeseries.push({ labels, samples });
  }
  return compressSync(WriteRequest.encode({ timeseries }).finish());
}

/** The inverse of encodeWriteRequest, for receivers in tests and tools. */
export function decodeWriteRequest(body: Uint8Array): RemoteWriteSeries[] {
  const message = WriteRequest.toObject(WriteRequest.decode(uncompressSync(body, { asBuffer: true }) as Buffer), { longs: Number, defaults: true, arrays: true });
  return (message.timeseries as { labels: { name: string; value: string }[]; samples: RemoteWriteSample[] }[]).map((ts) => ({
    labels: Object.fromEntries(ts.labels.map((l) => [l.name, l.value])),
    samples: ts.samples.map((x) => ({ timestamp: x.timestamp, value: x.value })),
  }));
}

/** A remote write that failed for good: retries ran out, or the request could not be sent. */
export class RemoteWriteError extends Error {
  override name = 'RemoteWriteError';
  /** The HTTP status of the last answer, if there was one. */
  readonly status: number | undefined;
  /** How many requests were made. */
  readonly attempts: number;
  constructor(message: string, opts: { status?: number; attempts: number; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.status = opts.status;
    this.attempts = opts.attempts;
  }
}

/**
 * Why Prometheus rejected samples, read from its error text. Prometheus answers 400 for samples its TSDB will
 * not take (storage.ErrOutOfOrderSample, ErrOutOfBounds, ErrDuplicateSampleForTimestamp, ErrTooOldSample) so
 * that senders drop them instead of retrying: resending can never succeed.
 */
export type RejectionReason = 'out-of-order' | 'out-of-bounds' | 'duplicate-timestamp' | 'too-old' | 'other';

/**
 * The server answered 4xx (other than 429), or rejected samples its TSDB will never take: the request is not
 * retried. Prometheus rolls back the whole request when one sample is rejected, so none of the request's
 * samples were stored (a sender that wants the others stored sends them again without the rejected ones).
 */
export class RemoteWriteRejectedError extends RemoteWriteError {
  override name = 'RemoteWriteRejectedError';
  declare readonly status: number;
  /** The server's answer, trimmed. */
  readonly serverMessage: string;
  readonly reason: RejectionReason;
  constructor(status: number, serverMessage: string, attempts: number) {
    super(`remote write rejected with HTTP ${status}: ${serverMessage}`, { status, attempts });
    this.serverMessage = serverMessage;
    this.reason = rejectionReason(serverMessage);
  }
  /** True for the rejections a sink counts as dropped out-of-order samples rather than as a failure. */
  get outOfOrder(): boolean {
    return this.reason !== 'other';
  }
}

function rejectionReason(message: string): RejectionReason {
  const m = message.toLowerCase();
  if (m.includes('out of order sample')) return 'out-of-order';
  if (m.includes('out of bounds')) return 'out-of-bounds';
  if (m.includes('duplicate sample for timestamp')) return 'duplicate-timestamp';
  if (m.includes('too old sample')) return 'too-old';
  return 'other';
}

export interface RemoteWriteClientOptions {
  /** The receiver's endpoint, e.g. http://127.0.0.1:9090/api/v1/write. */
  url: string;
  /** Per attempt, from sending the request to reading the whole answer. Default 30 s (Prometheus' remote_timeout). */
  timeoutMs?: number;
  /** Retries after the first attempt. Default 10. */
  maxRetries?: number;
  /** The first retry's backoff; each retry doubles it. Default 30 ms (Prometheus' min_backoff). */
  minBackoffMs?: number;
  /** The cap on the doubled backoff. Default 5 s (Prometheus' max_backoff). */
  maxBackoffMs?: number;
  /** Extra request headers (authorization, a tenant id). */
  headers?: Record<string, string>;
  /** Called before each retry: `attempt` is 1 for the first retry; `err` is why the previous attempt failed. */
  onRetry?: (attempt: number, err: Error, delayMs: number) => void;
}

/** A retryable failure of one attempt, with the server's Retry-After if it sent one. */
class AttemptError extends Error {
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  constructor(message: string, status?: number, retryAfterMs?: number, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * Sends write requests to one remote-write receiver. As the spec asks: 5xx, 429 and network errors (timeouts
 * included) are retried with exponential backoff and jitter, honouring Retry-After; any other 4xx is final
 * and surfaces as a RemoteWriteRejectedError.
 */
export class RemoteWriteClient {
  readonly url: string;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  readonly minBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly #headers: Record<string, string>;
  readonly #onRetry: RemoteWriteClientOptions['onRetry'];

  constructor(opts: RemoteWriteClientOptions) {
    this.url = opts.url;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.maxRetries = opts.maxRetries ?? 10;
    this.minBackoffMs = opts.minBackoffMs ?? 30;
    this.maxBackoffMs = opts.maxBackoffMs ?? 5_000;
    this.#headers = {
      ...opts.headers,
      'Content-Encoding': 'snappy',
      'Content-Type': 'application/x-protobuf',
      'User-Agent': 'tributary',
      'X-Prometheus-Remote-Write-Version': '0.1.0',
    };
    this.#onRetry = opts.onRetry;
  }

  /**
   * Writes the series in one request; resolves once the receiver answered 2xx. `signal` aborts an attempt in
   * flight or a backoff wait, and rejects with its reason. Without any sample, no request is made.
   */
  async write(series: readonly RemoteWriteSeries[], opts: { signal?: AbortSignal } = {}): Promise<void> {
    if (!series.some((s) => s.samples.length > 0)) return;
    const body = encodeWriteRequest(series);
    await this.writeEncoded(body, opts);
  }

  /** Sends a body made by encodeWriteRequest (for callers that encode once and may send again). */
  async writeEncoded(body: Buffer, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = opts;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      let failure: AttemptError;
      try {
        await this.#attempt(body, attempt, signal);
        return;
      } catch (err) {
        if (!(err instanceof AttemptError)) throw err;
        failure = err;
      }
      if (attempt > this.maxRetries) {
        throw new RemoteWriteError(`remote write to ${this.url} failed after ${attempt} attempts: ${failure.message}`, { status: failure.status, attempts: attempt, cause: failure });
      }
      const delayMs = failure.retryAfterMs ?? this.backoffMs(attempt);
      this.#onRetry?.(attempt, failure, delayMs);
      if (delayMs > 0) await sleep(delayMs, undefined, { signal });
    }
  }

  /**
   * The wait before retry number `retry` (1-based): min·2^(retry-1), capped at max, with "equal jitter" (a
   * uniformly random point in its upper half) so that senders failing together do not retry in lockstep,
   * while the wait still grows.
   */
  backoffMs(retry: number): number {
    const base = Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** Math.min(retry - 1, 30));
    return Math.round(base / 2 + (Math.random() * base) / 2);
  }

  async #attempt(body: Buffer, attempt: number, signal: AbortSignal | undefined): Promise<void> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers: this.#headers,
        body,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      // Always read the answer: it carries the server's reason, and an unread body holds the connection.
      text = (await res.text()).trim();
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (timeout.aborted) throw new AttemptError(`no answer within ${this.timeoutMs} ms`, undefined, undefined, err);
      throw new AttemptError(networkMessage(err), undefined, undefined, err);
    }
    if (res.ok) return;
    // Prometheus 2.39-2.4x answer 500 "too old sample" for samples behind the out-of-order window (a missing
    // case in their write handler; later releases answer 400). Retrying such an answer can never succeed.
    if (res.status >= 500 && rejectionReason(text) !== 'other') throw new RemoteWriteRejectedError(res.status, text, attempt);
    if (res.status >= 500 || res.status === 429) {
      throw new AttemptError(`HTTP ${res.status}${text ? `: ${text}` : ''}`, res.status, parseRetryAfter(res.headers.get('retry-after')));
    }
    throw new RemoteWriteRejectedError(res.status, text, attempt);
  }
}

function networkMessage(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  return cause ? `${e.message} (${cause})` : String(e?.message ?? err);
}

/** Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3), in ms; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const date = Date.parse(v);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
