import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * `pass` forwards bytes; `blackhole` keeps every connection open but discards every byte both ways (what a
 * partitioned network looks like to both ends: silence, not errors); `reject` closes connections at once
 * (what a dead host with a live kernel looks like).
 */
export type LinkMode = 'pass' | 'blackhole' | 'reject';

interface Link {
  client: Socket;
  upstream: Socket | null;
  /** Once silenced a connection stays silent: letting it resume mid-stream would deliver a torn byte stream. */
  silenced: boolean;
}

/**
 * A TCP proxy for one directed link between two brokers (node X dialling node Y). The fault harness puts
 * one in front of every such link so that partitions can be cut per direction without touching the brokers.
 */
export class FaultProxy {
  port = 0;
  readonly targetHost: string;
  readonly targetPort: number;
  private current: LinkMode = 'pass';
  private readonly server: Server;
  private readonly links = new Set<Link>();
  /** Connections accepted so far, for tests and diagnostics. */
  accepted = 0;

  constructor(targetPort: number, targetHost = '127.0.0.1') {
    this.targetPort = targetPort;
    this.targetHost = targetHost;
    this.server = createServer((client) => this.accept(client));
  }

  async listen(port = 0): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as { port: number }).port;
  }

  get mode(): LinkMode {
    return this.current;
  }

  /** Open connections (both silenced and forwarding). */
  get connections(): number {
    return this.links.size;
  }

  setMode(mode: LinkMode): void {
    const previous = this.current;
    this.current = mode;
    if (mode === 'reject') {
      for (const link of [...this.links]) this.drop(link);
    } else if (mode === 'blackhole') {
      for (const link of this.links) this.silence(link);
    } else if (previous !== 'pass') {
      // Healing: silenced connections have lost bytes, so both ends must reconnect to get a clean stream.
      for (const link of [...this.links]) if (link.silenced) this.drop(link);
    }
  }

  private accept(client: Socket): void {
    this.accepted++;
    client.on('error', () => {});
    if (this.current === 'reject') {
      client.destroy();
      return;
    }
    const link: Link = { client, upstream: null, silenced: false };
    this.links.add(link);
    client.on('close', () => this.drop(link));
    if (this.current === 'blackhole') {
      this.silence(link);
      return;
    }
    const upstream = connect(this.targetPort, this.targetHost);
    link.upstream = upstream;
    upstream.on('error', () => {});
    // Behind a partition the far end's death is invisible too: only a forwarding link passes the close on.
    upstream.on('close', () => (link.silenced ? upstream.removeAllListeners('data') : this.drop(link)));
    this.forward(link, client, upstream);
    this.forward(link, upstream, client);
  }

  private forward(link: Link, from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (link.silenced) return;
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
  }

  private silence(link: Link): void {
    link.silenced = true;
    // Keep reading (and discarding) so neither end sees back-pressure that a real partition would not cause.
    link.client.resume();
    link.upstream?.resume();
    if (!link.client.listenerCount('data')) link.client.on('data', () => {});
  }

  private drop(link: Link): void {
    if (!this.links.delete(link)) return;
    link.client.destroy();
    link.upstream?.destroy();
  }

  async close(): Promise<void> {
    for (const link of [...this.links]) this.drop(link);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
