// A real HTTP webhook receiver for the alerting tests: records every request it gets, and can answer the
// first few with an error to exercise retries.
import { createServer, type Server } from 'node:http';

export interface ReceivedRequest {
  path: string;
  status: number;
  body: any;
}

export interface WebhookReceiver {
  url: string;
  /** Every request, in arrival order, with the status it was answered with. */
  requests: ReceivedRequest[];
  /** The bodies of the requests answered 200. */
  accepted(): any[];
  /** Answer the next `n` requests with `status` (500 by default). */
  failNext(n: number, status?: number): void;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const requests: ReceivedRequest[] = [];
  let failures = 0;
  let failStatus = 500;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      const status = failures > 0 ? failStatus : 200;
      if (failures > 0) failures--;
      requests.push({ path: req.url ?? '', status, body });
      res.writeHead(status, { 'content-type': 'text/plain', connection: 'close' }).end(status === 200 ? 'ok' : 'try again later');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    accepted: () => requests.filter((r) => r.status === 200).map((r) => r.body),
    failNext(n, status = 500) {
      failures = n;
      failStatus = status;
    },
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
