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
