// A replicated Tributary cluster for fault tests: N `tributary broker` processes, each broker→broker link
// (controller and replica fetching) through its own FaultProxy so that partitions can be cut per direction,
// while clients reach the Kafka listeners directly.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePorts } from '../../stack/ports.ts';
import { RawKafkaClient } from '../../bench/lib/raw-kafka-client.ts';
import type { MetadataResponse } from '../../broker/protocol/messages/MetadataResponse.ts';
import type { MetadataRequest } from '../../broker/protocol/messages/MetadataRequest.ts';
import { ZERO_UUID } from '../../broker/protocol/primitives.ts';
import { startCli, type CliProcess } from './cli-process.ts';
import { tempDir } from './broker-process.ts';
import { FaultProxy, type LinkMode } from './fault-proxy.ts';
import { withTimeout } from './with-timeout.ts';

export interface ClusterOptions {
  nodes?: number;
  /** Extra `tributary broker` flags given to every node. */
  args?: string[];
  /** The run's seed, printed with the kept directory on failure so the run can be replayed. */
  seed: number;
}

export interface PartitionState {
  topic: string;
  partition: number;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
}

export interface ClusterMetadata {
  /** The node that answered. */
  from: number;
  brokers: { nodeId: number; host: string; port: number }[];
  controllerId: number;
  partitions: PartitionState[];
}

export interface Cluster {
  /** Comma-separated Kafka listener addresses of every node. */
  bootstrap: string;
  nodeIds: number[];
  /** The root under which every node's data directory lives. */
  root: string;
  kafkaAddress(id: number): string;
  dataDir(id: number): string;
  /** Whether the node's process is running and not paused. */
  isUp(id: number): boolean;
  kill(id: number): Promise<void>;
  /** Stops one node cleanly (SIGTERM, SIGKILL after 10 s); resolves with its exit code (null if it was killed). */
  stopNode(id: number): Promise<number | null>;
  pause(id: number): void;
  resume(id: number): void;
  /** Starts a stopped or killed node again, with its data directory emptied first if wipe is set. */
  start(id: number, opts?: { wipe?: boolean }): Promise<void>;
  /** Cuts every link between the node and the others, both directions. */
  isolate(id: number): void;
  /** Cuts every link between a node of `a` and a node of `b`, both directions. */
  partition(a: number[], b: number[]): void;
  /** Restores every link. */
  heal(): void;
  /** Metadata as one node sees it (default: the first node that is up and answers). */
  metadata(opts?: { from?: number; topics?: string[]; timeoutMs?: number }): Promise<ClusterMetadata>;
  waitFor<T>(pred: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs: number, what?: string): Promise<T>;
  /** Stops every node cleanly (SIGTERM, SIGKILL after 10 s), keeping data directories and proxies. */
  stopNodes(): Promise<void>;
  /** stopNodes, closes proxies, and removes the data unless the run failed (then prints where it is). */
  stop(opts?: { failed?: boolean }): Promise<void>;
  /** Everything node `id` printed, over all its runs. */
  output(id: number): string;
  /** Every node's output, labelled, for a failure message. */
  outputs(): string;
}

interface Node {
  id: number;
  kafkaPort: number;
  controllerPort: number;
  dataDir: string;
  process: CliProcess | null;
  paused: boolean;
  /** Output of earlier runs (before kills and restarts). */
  pastOutput: string;
}

/**
 * startCli does not kill a child that never became ready, and its open pipes would keep the test process
 * alive until tap's own timeout. Find that child among this process's children by its data directory
 * (unique to the run) and kill it. Linux only; elsewhere the child is left to the test runner.
 */
function killUnreadyChild(dataDir: string): void {
  let pids: string[] = [];
  try {
    for (const task of readdirSync('/proc/self/task')) pids.push(...readFileSync(`/proc/self/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean));
  } catch {
    pids = [];
  }
  for (const pid of pids) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (args.includes('broker') && args[args.indexOf('--data-dir') + 1] === dataDir) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
}

const METADATA_API = 3;
const METADATA_VERSION = 12;

/** Asks one broker for Metadata over the project's own wire codecs: no client-side caching or retries. */
async function fetchMetadata(port: number, topics: string[] | null, timeoutMs: number): Promise<MetadataResponse> {
  const client = await withTimeout(RawKafkaClient.connect(port), timeoutMs, 'connect');
  try {
    return await withTimeout(
      client.request<MetadataResponse>(METADATA_API, METADATA_VERSION, {
        topics: topics?.map((name) => ({ name, topicId: ZERO_UUID })) ?? null,
        allowAutoTopicCreation: false,
        includeTopicAuthorizedOperations: false,
      } satisfies MetadataRequest),
      timeoutMs,
      'Metadata',
    );
  } finally {
    client.close();
  }
}

export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const count = opts.nodes ?? 3;
  const ids = Array.from({ length: count }, (_, i) => i + 1);
  const root = tempDir('cluster');
  // Every port at once, the proxies' too: a proxy left to pick its own could take a node's port before the node binds it.
  const proxyCount = count * (count - 1) * 2;
  const ports = await freePorts(count * 2 + proxyCount);
  const proxyPorts = ports.slice(count * 2);
  const nodes = new Map<number, Node>(
    ids.map((id, i) => [id, { id, kafkaPort: ports[2 * i], controllerPort: ports[2 * i + 1], dataDir: join(root, `node-${id}`), process: null, paused: false, pastOutput: '' }]),
  );
  const quorum = ids.map((id) => `${id}@127.0.0.1:${nodes.get(id)!.controllerPort}`).join(',');

  // proxies[`${from}>${to}`]: how `from` reaches `to`'s controller and Kafka listeners.
  const proxies = new Map<string, { controller: FaultProxy; kafka: FaultProxy }>();
  for (const from of ids) {
    for (const to of ids) {
      if (from === to) continue;
      const controller = new FaultProxy(nodes.get(to)!.controllerPort);
      const kafka = new FaultProxy(nodes.get(to)!.kafkaPort);
      await controller.listen(proxyPorts.shift());
      await kafka.listen(proxyPorts.shift());
      proxies.set(`${from}>${to}`, { controller, kafka });
    }
  }
  const setLink = (from: number, to: number, mode: LinkMode) => {
    const p = proxies.get(`${from}>${to}`)!;
    p.controller.setMode(mode);
    p.kafka.setMode(mode);
  };

  const node = (id: number): Node => {
    const n = nodes.get(id);
    if (!n) throw new Error(`no node ${id} (nodes are ${ids.join(', ')})`);
    return n;
  };

  const argsFor = (n: Node): string[] => {
    const peers: string[] = [];
    for (const to of ids) {
      if (to === n.id) continue;
      const p = proxies.get(`${n.id}>${to}`)!;
      peers.push('--peer-address', `${to}=127.0.0.1:${p.controller.port}`, '--peer-broker-address', `${to}=127.0.0.1:${p.kafka.port}`);
    }
    return [
      'broker',
      '--node-id', String(n.id),
      '--listen', `127.0.0.1:${n.kafkaPort}`,
      '--data-dir', n.dataDir,
      '--controller-quorum', quorum,
      ...peers,
      ...(opts.args ?? []),
    ];
  };

  const launch = async (n: Node): Promise<void> => {
    mkdirSync(n.dataDir, { recursive: true });
    // Ready means registered with the controller quorum, which needs a majority: callers start nodes together.
    try {
      n.process = await startCli(argsFor(n), new RegExp(`ready: node ${n.id} listening on`), 90_000);
    } catch (err) {
      // startCli's error carries the failed run's output; keep it with the node's history for diagnostics.
      n.pastOutput += `${(err as Error).message}\n`;
      killUnreadyChild(n.dataDir);
      throw err;
    }
    n.paused = false;
    n.process.child.once('exit', () => {
      if (n.process) {
        n.pastOutput += n.process.output();
        n.process = null;
      }
    });
  };

  const isUp = (id: number) => {
    const n = node(id);
    return n.process !== null && n.process.child.exitCode === null && n.process.child.signalCode === null && !n.paused;
  };

  const stopNode = async (n: Node): Promise<number | null> => {
    const p = n.process;
    if (!p) return null;
    if (n.paused) {
      p.child.kill('SIGCONT');
      n.paused = false;
    }
    const stopped = p.stop();
    const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
    const code = await stopped;
    clearTimeout(timer);
    return code;
  };

  const cluster: Cluster = {
    bootstrap: ids.map((id) => `127.0.0.1:${node(id).kafkaPort}`).join(','),
    nodeIds: ids,
    root,
    kafkaAddress: (id) => `127.0.0.1:${node(id).kafkaPort}`,
    dataDir: (id) => node(id).dataDir,
    isUp,
    async kill(id) {
      const n = node(id);
      if (!n.process) return;
      await n.process.kill();
      n.paused = false;
    },
    stopNode: (id) => stopNode(node(id)),
    pause(id) {
      const n = node(id);
      if (!n.process) throw new Error(`node ${id} is not running`);
      n.process.child.kill('SIGSTOP');
      n.paused = true;
    },
    resume(id) {
      const n = node(id);
      if (!n.process) throw new Error(`node ${id} is not running`);
      n.process.child.kill('SIGCONT');
      n.paused = false;
    },
    async start(id, startOpts = {}) {
      const n = node(id);
      if (n.process) throw new Error(`node ${id} is still running`);
      if (startOpts.wipe && existsSync(n.dataDir)) {
        for (const f of readdirSync(n.dataDir)) rmSync(join(n.dataDir, f), { recursive: true, force: true });
      }
      await launch(n);
    },
    isolate(id) {
      for (const other of ids) {
        if (other === id) continue;
        setLink(id, other, 'blackhole');
        setLink(other, id, 'blackhole');
      }
    },
    partition(a, b) {
      for (const x of a) {
        for (const y of b) {
          if (x === y) continue;
          setLink(x, y, 'blackhole');
          setLink(y, x, 'blackhole');
        }
      }
    },
    heal() {
      for (const p of proxies.values()) {
        p.controller.setMode('pass');
        p.kafka.setMode('pass');
      }
    },
    async metadata(mOpts = {}) {
      const candidates = mOpts.from !== undefined ? [mOpts.from] : ids.filter(isUp);
      let lastError: Error = new Error('no node is up');
      for (const id of candidates) {
        try {
          const res = await fetchMetadata(node(id).kafkaPort, mOpts.topics ?? null, mOpts.timeoutMs ?? 5000);
          return {
            from: id,
            brokers: res.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port })),
            controllerId: res.controllerId ?? -1,
            partitions: res.topics
              .filter((t) => t.errorCode === 0 && !t.isInternal)
              .flatMap((t) =>
                t.partitions.map((p) => ({
                  topic: t.name ?? '',
                  partition: p.partitionIndex,
                  leader: p.leaderId,
                  leaderEpoch: p.leaderEpoch ?? -1,
                  replicas: [...p.replicaNodes],
                  isr: [...p.isrNodes],
                })),
              )
              .sort((x, y) => x.topic.localeCompare(y.topic) || x.partition - y.partition),
          };
        } catch (err) {
          lastError = err as Error;
        }
      }
      throw lastError;
    },
    async waitFor(pred, timeoutMs, what = 'condition') {
      const deadline = Date.now() + timeoutMs;
      let lastError: unknown = null;
      for (;;) {
        try {
          const v = await pred();
          if (v) return v;
          lastError = null;
        } catch (err) {
          lastError = err;
        }
        if (Date.now() > deadline) {
          throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
        }
        await sleep(200);
      }
    },
    async stopNodes() {
      await Promise.all([...nodes.values()].map((n) => stopNode(n)));
    },
    async stop(stopOpts = {}) {
      await cluster.stopNodes();
      await Promise.all([...proxies.values()].flatMap((p) => [p.controller.close(), p.kafka.close()]));
      if (stopOpts.failed) console.error(`cluster (seed ${opts.seed}) kept its data for inspection: ${root}`);
      else rmSync(root, { recursive: true, force: true });
    },
    output(id) {
      const n = node(id);
      return n.pastOutput + (n.process?.output() ?? '');
    },
    outputs() {
      return ids.map((id) => `--- node ${id} ---\n${cluster.output(id)}`).join('\n');
    },
  };

  try {
    await Promise.all(ids.map((id) => launch(node(id))));
  } catch (err) {
    await cluster.stop({ failed: true });
    throw err;
  }
  return cluster;
}
