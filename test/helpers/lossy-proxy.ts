import { createServer, connect, type Server, type Socket } from 'node:net';
import { FrameReader } from '../../broker/server/frame-reader.ts';

/**
 * A TCP proxy in front of a broker that loses acknowledgements: it forwards requests, and for every
 * `dropEvery`-th Produce response it closes the client's connection instead of delivering it, so the
 * broker has stored the batch but the client never learns and must retry.
 */
export class LossyProxy {
  private readonly server: Server;
  port = 0;
  targetPort = 0;
  produceResponses = 0;
  dropped = 0;
  private readonly dropEvery: number;
  private readonly sockets = new Set<Socket>();

  constructor(dropEvery: number) {
    this.dropEvery = dropEvery;
    this.server = createServer((client) => this.pipe(client));
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  private pipe(client: Socket): void {
    const upstream = connect(this.targetPort, '127.0.0.1');
    this.sockets.add(client);
    this.sockets.add(upstream);
    const apiKeyOf = new Map<number, number>();
    const requests = new FrameReader(1 << 30, 8);
    const responses = new FrameReader(1 << 30, 4);
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('data', (chunk: Buffer) => {
      try {
        requests.push(chunk, (frame) => apiKeyOf.set(frame.readInt32BE(4), frame.readInt16BE(0)));
      } catch {
        return close();
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      const out: Buffer[] = [];
      let drop = false;
      responses.push(chunk, (frame) => {
        if (drop) return;
        if (apiKeyOf.get(frame.readInt32BE(0)) === 0 && ++this.produceResponses % this.dropEvery === 0) {
          drop = true;
          this.dropped++;
          return;
        }
        const size = Buffer.alloc(4);
        size.writeInt32BE(frame.length);
        out.push(size, Buffer.from(frame));
      });
      if (out.length) client.write(Buffer.concat(out));
      if (drop) close();
    });
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  }

  /** Cuts every open connection (as when the broker behind it dies). */
  disconnectAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    this.disconnectAll();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
