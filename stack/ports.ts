// The stack's ports: Kafka's, ClickHouse's, Prometheus's and Tributary's usual defaults, or free ones
// picked by the kernel (`--ports auto`, what tests use so that stacks never collide).
import { createServer } from 'node:net';

export interface StackPorts {
  broker: number;
  brokerMetrics: number;
  collector: number;
  agentMetrics: number;
  pipelinesMetrics: number;
  dashboards: number;
  stackMetrics: number;
  clickhouseHttp: number;
  clickhouseTcp: number;
  clickhouseInterserver: number;
  prometheus: number;
}

export const DEFAULT_PORTS: StackPorts = {
  broker: 9092,
  brokerMetrics: 9644,
  collector: 4318,
  agentMetrics: 9700,
  pipelinesMetrics: 9701,
  stackMetrics: 9702,
  dashboards: 3000,
  clickhouseHttp: 8123,
  clickhouseTcp: 9000,
  clickhouseInterserver: 9009,
  prometheus: 9090,
};

/** Distinct free ports on 127.0.0.1: all are bound at once before any is released, so none coincide. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** The ports of broker nodes 2..N of a cluster (node 1 uses `broker` and `brokerMetrics`) and every node's controller port. */
export interface ClusterPorts {
  /** Kafka listener of each node, node 1 first. */
  kafka: number[];
  metrics: number[];
  /** Controller-quorum listener of each node. */
  controller: number[];
}

/** Kafka's habit: brokers on consecutive ports from 9092; controllers from 9192; metrics from 9644. */
const DEFAULT_CONTROLLER_PORT = 9192;

export async function clusterPorts(ports: StackPorts, nodes: number, auto: boolean): Promise<ClusterPorts> {
  if (auto) {
    const extra = await freePorts(3 * nodes - 2);
    return {
      kafka: [ports.broker, ...extra.slice(0, nodes - 1)],
      metrics: [ports.brokerMetrics, ...extra.slice(nodes - 1, 2 * nodes - 2)],
      controller: extra.slice(2 * nodes - 2),
    };
  }
  const range = (from: number) => Array.from({ length: nodes }, (_, i) => from + i);
  return { kafka: range(ports.broker), metrics: range(ports.brokerMetrics), controller: range(DEFAULT_CONTROLLER_PORT) };
}

export async function autoPorts(): Promise<StackPorts> {
  const keys = Object.keys(DEFAULT_PORTS) as (keyof StackPorts)[];
  const ports = await freePorts(keys.length);
  return Object.fromEntries(keys.map((k, i) => [k, ports[i]])) as unknown as StackPorts;
}

/** Whether HOST:PORT can be listened on right now. */
export function portIsFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}
