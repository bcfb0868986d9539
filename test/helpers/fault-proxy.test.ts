// The fault proxy against a real TCP server: bytes flow in pass mode, vanish both ways in blackhole mode while
// connections stay open, healing closes the silenced connections, and reject mode refuses connections.
import t from 'tap';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { FaultProxy } from './fault-proxy.ts';

/** A server that records what each connection sent and can push bytes to every connection it holds. */
interface Upstream {
  server: Server;
  port: number;
  received: string[];
  sockets: Set<Socket>;
}

async function startUpstream(): Promise<Upstream> {
  const up: Upstream = { server: createServer(), port: 0, received: [], sockets: new Set() };
  up.server.on('connection', (s) => {
    up.sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => up.sockets.delete(s));
    s.on('data', (d) => {
      up.received.push(d.toString());
      s.write(`echo:${d}`);
    });
  });
  await new Promise<void>((resolve) => up.server.listen(0, '127.0.0.1', resolve));
  up.port = (up.server.address() as { port: number }).port;
  return up;
}

/** A client connection that collects what it receives and notices when it is closed. */
class Client {
  readonly socket: Socket;
  data = '';
  closed = false;
  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (d) => (this.data += d));
    this.socket.on('error', () => {});
    this.socket.on('close', () => (this.closed = true));
  }
  connected(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
  }
}

async function until(what: string, pred: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

t.test('pass, blackhole, heal and reject', async (t) => {
  const up = await startUpstream();
  const proxy = new FaultProxy(up.port);
  await proxy.listen();
  t.teardown(async () => {
    await proxy.close();
    for (const s of up.sockets) s.destroy();
    await new Promise((resolve) => up.server.close(resolve));
  });

  const a = new Client(proxy.port);
  await a.connected();
  a.socket.write('one');
  await until('echo of one', () => a.data === 'echo:one');
  t.equal(proxy.mode, 'pass');

  proxy.setMode('blackhole');
  a.socket.write('lost-request');
  for (const s of up.sockets) s.write('lost-push');
  const b = new Client(proxy.port);
  await b.connected();
  b.socket.write('lost-new');
  // Silence cannot be awaited; give the bytes ample time to (not) arrive.
  await sleep(500);
  t.same(up.received, ['one'], 'nothing reached the server while blackholed');
  t.equal(a.data, 'echo:one', 'nothing reached the client while blackholed');
  t.equal(b.data, '', 'a connection opened during the blackhole gets nothing either');
  t.notOk(a.closed, 'existing connection stays open');
  t.notOk(b.closed, 'new connection stays open');
  t.equal(proxy.connections, 2);

  proxy.setMode('pass');
  await until('silenced connections closed on heal', () => a.closed && b.closed);
  const c = new Client(proxy.port);
  await c.connected();
  c.socket.write('two');
  await until('echo of two', () => c.data === 'echo:two');
  t.same(up.received, ['one', 'two'], 'a fresh connection flows again');

  proxy.setMode('reject');
  await until('open connection closed on reject', () => c.closed);
  const d = new Client(proxy.port);
  await until('new connection refused', () => d.closed);
  t.equal(d.data, '');

  proxy.setMode('pass');
  const e = new Client(proxy.port);
  await e.connected();
  e.socket.write('three');
  await until('echo of three', () => e.data === 'echo:three');
  e.socket.destroy();
  await until('proxy forgets closed connections', () => proxy.connections === 0);
});

t.test('closing the target closes the proxied connection', async (t) => {
  const up = await startUpstream();
  const proxy = new FaultProxy(up.port);
  await proxy.listen();
  t.teardown(() => proxy.close());
  const a = new Client(proxy.port);
  await a.connected();
  a.socket.write('x');
  await until('echo', () => a.data === 'echo:x');
  for (const s of up.sockets) s.destroy();
  await new Promise((resolve) => up.server.close(resolve));
  await until('client sees the close', () => a.closed);
  const b = new Client(proxy.port);
  await until('a connection to a dead target is closed', () => b.closed);
  t.pass('closed');
});

t.test('behind a blackhole the target closing is not seen until healing', async (t) => {
  const up = await startUpstream();
  const proxy = new FaultProxy(up.port);
  await proxy.listen();
  t.teardown(async () => {
    await proxy.close();
    await new Promise((resolve) => up.server.close(resolve));
  });
  const a = new Client(proxy.port);
  await a.connected();
  a.socket.write('x');
  await until('echo', () => a.data === 'echo:x');
  proxy.setMode('blackhole');
  for (const s of up.sockets) s.destroy();
  await until('server side closed', () => up.sockets.size === 0);
  await sleep(300);
  t.notOk(a.closed, 'the client still sees an open, silent connection');
  proxy.setMode('pass');
  await until('healing closes it', () => a.closed);
  t.equal(proxy.connections, 0);
});
