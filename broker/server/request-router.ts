import { Reader, Writer } from '../protocol/primitives.ts';
import {
  apiTable,
  decodeRequestHeader,
  encodeResponseHeader,
  requestHeaderVersion,
  responseHeaderVersion,
  encodeApiVersionsResponse,
} from '../protocol/messages/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { ApiHandler, RequestContext } from '../handlers/handler.ts';
import type { BrokerContext } from './broker-context.ts';
import { supportedApiVersions } from '../handlers/api-versions.ts';

const API_VERSIONS_KEY = 18;

export class UnsupportedRequestError extends Error {}

/**
 * Decodes a request frame, dispatches it by API key to its handler and encodes the response frame.
 * Returns the response as chunks (record data stays zero-copy), null when the protocol sends no response.
 */
export class RequestRouter {
  private readonly handlers: (ApiHandler | undefined)[] = [];
  private readonly broker: BrokerContext;
  /** The request-time histogram's series per API key, looked up once rather than by label on every request. */
  private readonly requestTimers: ({ observe(seconds: number): void } | undefined)[] = [];

  constructor(broker: BrokerContext, handlers: ApiHandler[]) {
    this.broker = broker;
    for (const h of handlers) this.handlers[h.apiKey] = h;
  }

  handle(frame: Buffer, remote: string): Buffer[] | null | Promise<Buffer[] | null> {
    const apiKey = frame.readInt16BE(0);
    const apiVersion = frame.readInt16BE(2);
    const correlationId = frame.readInt32BE(4);
    const handler = this.handlers[apiKey];
    const api = apiTable[apiKey];
    if (!handler || !api || apiVersion < handler.minVersion || apiVersion > handler.maxVersion) {
      this.broker.metrics.requestErrors.inc({ api: api?.name ?? String(apiKey), reason: 'unsupported_version' });
      if (apiKey === API_VERSIONS_KEY) return this.unsupportedApiVersions(correlationId);
      throw new UnsupportedRequestError(
        api ? `unsupported version ${apiVersion} of ${api.name}` : `unknown api key ${apiKey}`,
      );
    }
    const reader = new Reader(frame);
    const header = decodeRequestHeader(reader, requestHeaderVersion(apiKey, apiVersion));
    const request = api.decodeRequest(reader, apiVersion);
    const ctx: RequestContext = { broker: this.broker, apiVersion, clientId: header.clientId ?? null, remote };
    this.broker.metrics.requests.inc({ api: api.name });
    const response = handler.handle(request, ctx);
    if (response instanceof Promise) {
      return response.then((r) => (r === undefined ? null : this.encode(api, apiKey, apiVersion, correlationId, r)));
    }
    return response === undefined ? null : this.encode(api, apiKey, apiVersion, correlationId, response);
  }

  /** Records a request's time from its arrival (performance.now()) to its response being written. */
  answered(apiKey: number, arrivedAt: number): void {
    let timer = this.requestTimers[apiKey];
    if (!timer) {
      timer = this.broker.metrics.requestSeconds.labels({ api: apiTable[apiKey]?.name ?? String(apiKey) });
      this.requestTimers[apiKey] = timer;
    }
    timer.observe((performance.now() - arrivedAt) / 1000);
  }

  private encode(api: (typeof apiTable)[number], apiKey: number, apiVersion: number, correlationId: number, body: unknown): Buffer[] {
    const w = new Writer();
    const sizeAt = w.reserveInt32();
    encodeResponseHeader(w, responseHeaderVersion(apiKey, apiVersion), { correlationId });
    api!.encodeResponse(w, apiVersion, body as never);
    w.patchInt32(sizeAt, w.size - 4);
    return w.finish();
  }

  /**
   * librdkafka first sends ApiVersions v3; a broker that does not know that version must answer in v0 with
   * UNSUPPORTED_VERSION and its own ranges, and the client retries with a version from them.
   */
  private unsupportedApiVersions(correlationId: number): Buffer[] {
    const w = new Writer();
    const sizeAt = w.reserveInt32();
    encodeResponseHeader(w, 0, { correlationId });
    encodeApiVersionsResponse(w, 0, {
      errorCode: ErrorCode.UNSUPPORTED_VERSION,
      apiKeys: supportedApiVersions([...this.handlers.values()].filter((h): h is ApiHandler => h !== undefined)),
      throttleTimeMs: 0,
    });
    w.patchInt32(sizeAt, w.size - 4);
    return w.finish();
  }
}
