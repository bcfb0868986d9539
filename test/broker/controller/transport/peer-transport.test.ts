import t, { type Test } from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import type { Logger } from '../../../../broker/server/logger.ts';
import { encodeFrame, encodeHello, FrameKind } from '../../../../broker/controller/transport/frame-codec.ts';
import { PeerTransport, PeerUnavailableError, RemoteError, type PeerAddress } from '../../../../broker/controller/transport/peer-transport.ts';

const HOST = '127.0.0.1';

interface LogLine {
  level: 'info' | 'warn' | 'error';
  message: string;
}

function captureLog(lines: LogLine[]): Logger {
  return {
    info: (message) => void lines.push({ level: 'info', message }),
    warn: (message) => void lines.push({ level: 'warn', message }),
    error: (message) => void lines.push({ level: 'error', message }),
  };
}

/** One node of a test cluster: its transport, what it received and what it logged. */
interface TestNode {
  id: number;
  transport: PeerTransport;
  peers: Map<number, PeerAddress>;
  received: Map<number, string[]>;
  log: LogLine[];
  /** Replaceable request handler. */
  answer: (from: number, payload: Buffer) => Promise<Buffer>;
}

function makeNode(id: number, peers: Map<number, PeerAddress>, port = 0, maxFrameBytes?: number): TestNode {
  const node: TestNode = {
    id,
    peers,
    received: new Map(),
    log: [],
    answer: async (from, payload) => Buffer.from(`${id} answers ${from}: ${payload.toString()}`),
    transport: undefined as unknown as PeerTransport,
  };
  node.transport = new PeerTransport({
    selfId: id,
    listen: { host: HOST, port },
    peers,
    log: captureLog(node.log),
    maxFrameBytes,
    connectTimeoutMs: 2000,
    onMessage: (from, payload) => {
      const list = node.received.get(from) ?? [];
      list.push(payload.toString());
      node.received.set(from, list);
    },
    onRequest: (from, payload) => node.answer(from, payload),
  });
  return node;
}

/** Three started nodes that know each other's bound ports (the maps are filled after start). */
async function cluster(t: Test, maxFrameBytes?: number): Promise<TestNode[]> {
  const nodes = [1, 2, 3].map((id) => makeNode(id, new Map(), 0, maxFrameBytes));
  await Promise.all(nodes.map((n) => n.transport.start()));
  for (const n of nodes) for (const other of nodes) if (other !== n) n.peers.set(other.id, { host: HOST, port: other.transport.port });
  t.teardown(() => Promise.all(nodes.map((n) => n.transport.stop())));
  return nodes;
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A port nothing listens on (bound once, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, HOST);
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Opens a raw socket to `port`, writes `bytes`, and resolves once the other side has closed it. */
async function rawConnection(port: number, ...chunks: Buffer[]): Promise<void> {
  const socket = net.connect({ host: HOST, port });
  socket.on('error', () => {});
  await once(socket, 'connect');
  for (const chunk of chunks) socket.write(chunk);
  socket.resume();
  await Promise.race([
    once(socket, 'close'),
    new Promise((_, reject) => setTimeout(() => reject(new Error('connection was not closed by the transport')), 10_000).unref()),
  ]);
  socket.destroy();
}

const warnings = (node: TestNode, pattern: RegExp) => node.log.filter((l) => l.level === 'warn' && pattern.test(l.message));

t.test('one-way messages arrive in order on every link', async (t) => {
  const [a, b, c] = await cluster(t);
  const count = 500;
  for (let i = 0; i < count; i++) {
    a.transport.send(2, Buffer.from(`a-b ${i}`));
    a.transport.send(3, Buffer.from(`a-c ${i}`));
    b.transport.send(1, Buffer.from(`b-a ${i}`));
  }
  await waitFor('all messages', () => b.received.get(1)?.length === count && c.received.get(1)?.length === count && a.received.get(2)?.length === count);
  t.same(b.received.get(1), Array.from({ length: count }, (_, i) => `a-b ${i}`));
  t.same(c.received.get(1), Array.from({ length: count }, (_, i) => `a-c ${i}`));
  t.same(a.received.get(2), Array.from({ length: count }, (_, i) => `b-a ${i}`));
  t.same(a.transport.stats().connected, [2, 3], 'node 1 dialled both peers');
  t.same(c.transport.stats().connected, [], 'node 3 sent nothing, so it dialled nobody');
  t.equal(a.transport.stats().sent, 2 * count);
  t.equal(b.transport.stats().received, count);
  t.equal(a.transport.stats().dropped, 0);
});

t.test('requests are answered, concurrently and each with its own answer', async (t) => {
  const [a, b] = await cluster(t);
  const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => a.transport.request(2, Buffer.from(`q${i}`), 10_000)));
  t.same(
    answers.map((x) => x.toString()),
    Array.from({ length: 100 }, (_, i) => `2 answers 1: q${i}`),
  );
  // The answer comes back on the requester's own connection: node 2 has not dialled node 1.
  t.same(b.transport.stats().connected, []);
});

t.test("a peer's rejection becomes RemoteError with its message", async (t) => {
  const [a, b] = await cluster(t);
  b.answer = async () => {
    throw new Error('not the controller leader');
  };
  await t.rejects(a.transport.request(2, Buffer.from('x'), 10_000), new RemoteError('not the controller leader'));
  b.answer = () => {
    throw new Error('thrown synchronously');
  };
  await t.rejects(a.transport.request(2, Buffer.from('x'), 10_000), new RemoteError('thrown synchronously'));
});

t.test('a request nobody answers rejects with PeerUnavailableError at its timeout', async (t) => {
  const [a, b] = await cluster(t);
  b.answer = () => new Promise(() => {});
  await t.rejects(a.transport.request(2, Buffer.from('x'), 200), PeerUnavailableError);
});

t.test('a request to a stopped peer rejects with PeerUnavailableError; a restarted peer is reached again', async (t) => {
  const [a, , c] = await cluster(t);
  t.same((await a.transport.request(3, Buffer.from('hi'), 10_000)).toString(), '3 answers 1: hi');
  const port = c.transport.port;
  await c.transport.stop();
  await waitFor('node 1 to notice', () => !a.transport.stats().connected.includes(3));
  await t.rejects(a.transport.request(3, Buffer.from('anyone?'), 5000), PeerUnavailableError);
  // Keep trying for a while: a peer that stays down is reported once, not once per retry.
  const until = Date.now() + 500;
  while (Date.now() < until) {
    a.transport.send(3, Buffer.from('lost'));
    await t.rejects(a.transport.request(3, Buffer.from('x'), 5000), PeerUnavailableError);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  t.equal(warnings(a, /peer 3/).length, 1, `one warn line for peer 3 going down: ${JSON.stringify(warnings(a, /peer 3/))}`);

  const restarted = makeNode(3, c.peers, port);
  await restarted.transport.start();
  t.teardown(() => restarted.transport.stop());
  // Each request may still meet the backoff or an old failure; the next one after that gets through.
  let answer: string | null = null;
  async function poll(): Promise<void> {
    while (answer === null) {
      try {
        answer = (await a.transport.request(3, Buffer.from('back?'), 2000)).toString();
      } catch (err) {
        if (!(err instanceof PeerUnavailableError)) throw err;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  }
  await Promise.race([poll(), waitFor('node 1 to reach the restarted node 3', () => answer !== null, 10_000)]);
  t.equal(answer, '3 answers 1: back?');
  a.transport.send(3, Buffer.from('welcome back'));
  await waitFor('a message to the restarted node', () => restarted.received.get(1)?.includes('welcome back') ?? false);
  t.ok(a.log.some((l) => l.level === 'info' && /connected to peer 3/.test(l.message)));
});

t.test('bad connections are closed with one warn line and do not disturb the others', async (t) => {
  const [a, b] = await cluster(t, 64 * 1024);
  // Node 4 is a peer of node 1 that never runs, so a raw socket can speak as it without replacing a real link.
  a.peers.set(4, { host: HOST, port: await closedPort() });
  const port = a.transport.port;
  const frame = (kind: number, payload: Buffer, correlationId = 0) => Buffer.concat(encodeFrame(kind as FrameKind, correlationId, payload));

  await rawConnection(port, Buffer.concat(encodeHello(99)));
  t.equal(warnings(a, /unknown node 99/).length, 1, 'a hello naming a non-peer');
  await rawConnection(port, Buffer.concat(encodeHello(4)), Buffer.concat(encodeHello(4)));
  t.equal(warnings(a, /second hello/).length, 1, 'a second hello');
  await rawConnection(port, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  t.equal(warnings(a, /exceeds the limit/).length, 1, 'garbage before any hello is an oversize frame');
  await rawConnection(port, frame(FrameKind.message, Buffer.from('hi')));
  t.equal(warnings(a, /not a hello/).length, 1, 'a message before the hello');
  await rawConnection(port, Buffer.concat(encodeHello(4)), Buffer.from([0, 0, 0, 1, 77]));
  t.equal(warnings(a, /unknown frame kind 77/).length, 1, 'an unknown frame kind');
  await rawConnection(port, Buffer.concat(encodeHello(4)), Buffer.from([0, 2, 0, 0, FrameKind.message]));
  t.equal(warnings(a, /exceeds the limit of 65536/).length, 1, 'a frame over maxFrameBytes');
  await rawConnection(port, Buffer.concat(encodeHello(4)), Buffer.from([0, 0, 0, 3, FrameKind.request, 0, 0]));
  t.equal(warnings(a, /too short/).length, 1, 'a request too short for its correlation id');
  await rawConnection(port, Buffer.concat(encodeHello(4)), frame(FrameKind.response, Buffer.from('?'), 7));
  t.equal(warnings(a, /unexpected frame kind/).length, 1, 'a response on an inbound connection');

  // A truncated frame: the peer goes away half-way through.
  const socket = net.connect({ host: HOST, port });
  await once(socket, 'connect');
  socket.end(Buffer.concat([Buffer.concat(encodeHello(4)), Buffer.from([0, 0, 0, 100, FrameKind.message, 1, 2])]));
  await waitFor('the truncated frame to be reported', () => warnings(a, /mid-frame/).length === 1);
  t.equal(a.received.get(4), undefined, 'nothing from the bad connections was delivered');

  t.equal(a.log.filter((l) => l.level === 'error').length, 0, 'nothing logged as an error');
  b.transport.send(1, Buffer.from('still here'));
  a.transport.send(2, Buffer.from('me too'));
  t.same((await b.transport.request(1, Buffer.from('ok?'), 10_000)).toString(), '1 answers 2: ok?');
  await waitFor('messages on the good links', () => (a.received.get(2)?.includes('still here') ?? false) && (b.received.get(1)?.includes('me too') ?? false));
});

t.test('an answer over the frame limit is refused by the side that would send it', async (t) => {
  const [a, b] = await cluster(t, 64 * 1024);
  b.answer = async () => Buffer.alloc(100 * 1024);
  await t.rejects(a.transport.request(2, Buffer.from('big?'), 10_000), new RemoteError('response of 102400 bytes exceeds the frame limit'));
  t.same(a.transport.stats().connected, [2], 'the link stays up');
});

t.test('a peer that answers with a bad frame gets the outbound connection closed, with one warn line', async (t) => {
  const [a] = await cluster(t, 64 * 1024);
  // A fake node 4 that answers whatever it is sent with an oversize frame.
  const fake = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => socket.write(Buffer.from([0, 2, 0, 0, FrameKind.response, 0, 0, 0, 1])));
  });
  fake.listen(0, HOST);
  await once(fake, 'listening');
  t.teardown(() => new Promise((resolve) => fake.close(resolve)));
  a.peers.set(4, { host: HOST, port: (fake.address() as net.AddressInfo).port });
  await t.rejects(a.transport.request(4, Buffer.from('x'), 10_000), PeerUnavailableError);
  t.equal(warnings(a, /closing connection to peer 4: frame of 131072 bytes exceeds the limit of 65536/).length, 1);
  t.equal(warnings(a, /lost connection to peer 4/).length, 1);
  t.notOk(a.transport.stats().connected.includes(4));
});

t.test('the send queue is bounded: the oldest frames are dropped and counted', async (t) => {
  const [a] = await cluster(t);
  a.peers.set(4, { host: HOST, port: await closedPort() });
  for (let i = 0; i < 1500; i++) a.transport.send(4, Buffer.from(`m${i}`));
  t.equal(a.transport.stats().dropped, 500, '1000 frames wait, the 500 oldest are gone');
  const before = a.transport.stats().dropped;
  for (let i = 0; i < 40; i++) a.transport.send(4, Buffer.alloc(1024 * 1024));
  t.ok(a.transport.stats().dropped - before >= 24, 'and at most 16 MiB wait');
  await waitFor('the failed dial to be logged', () => warnings(a, /cannot reach peer 4/).length === 1);
  await t.rejects(a.transport.request(4, Buffer.from('x'), 5000), PeerUnavailableError, 'a request to an unreachable peer fails when the dial does');
  a.transport.send(77, Buffer.from('to nobody'));
  t.equal(warnings(a, /node 77: not a known peer/).length, 1, 'sending to a non-peer drops with a warn line');
  await t.rejects(a.transport.request(77, Buffer.from('x'), 1000), PeerUnavailableError);
});

t.test('stop() rejects outstanding requests and later calls fail fast', async (t) => {
  const [a, b] = await cluster(t);
  b.answer = () => new Promise(() => {});
  const pending = a.transport.request(2, Buffer.from('x'), 60_000);
  await waitFor('the request to be connected', () => a.transport.stats().connected.includes(2));
  await a.transport.stop();
  await t.rejects(pending, PeerUnavailableError);
  await t.rejects(a.transport.request(2, Buffer.from('y'), 1000), PeerUnavailableError);
  t.doesNotThrow(() => a.transport.send(2, Buffer.from('z')));
});
