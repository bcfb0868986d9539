import type { ApiVersionsRequest, ApiVersionsResponse } from '../protocol/messages/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { ApiHandler } from './handler.ts';

/** The advertised ranges are exactly those of the registered handlers, so clients never pick a version we lack. */
export function supportedApiVersions(handlers: ApiHandler[]): { apiKey: number; minVersion: number; maxVersion: number }[] {
  return handlers
    .map((h) => ({ apiKey: h.apiKey, minVersion: h.minVersion, maxVersion: h.maxVersion }))
    .sort((a, b) => a.apiKey - b.apiKey);
}

export function apiVersionsHandler(all: () => ApiHandler[]): ApiHandler<ApiVersionsRequest, ApiVersionsResponse> {
  return {
    apiKey: 18,
    minVersion: 0,
    maxVersion: 4,
    handle() {
      return { errorCode: ErrorCode.NONE, apiKeys: supportedApiVersions(all()), throttleTimeMs: 0 };
    },
  };
}
