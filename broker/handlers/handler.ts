import type { BrokerContext } from '../server/broker-context.ts';

/** What a handler sees of the request besides its body. */
export interface RequestContext {
  broker: BrokerContext;
  apiVersion: number;
  clientId: string | null;
  remote: string;
}

/**
 * One Kafka API, as in franz-go's kfake: a typed request in, a typed response out (or undefined when the
 * protocol sends none, as for acks=0 produce). Errors the client should see travel as Kafka error codes
 * inside the response; a thrown error closes the connection, which is what Kafka does for bad requests.
 */
export interface ApiHandler<Req = any, Res = any> {
  apiKey: number;
  /** Versions this broker serves; ApiVersions advertises exactly these. */
  minVersion: number;
  maxVersion: number;
  handle(request: Req, ctx: RequestContext): Res | undefined | Promise<Res | undefined>;
}
