import { spawn, type ChildProcess } from 'node:child_process';

/**
 * A long-running `kcat -G` consumer-group member: collects every message it prints ("partition offset
 * value") and the partitions librdkafka reports as assigned to it.
 */
export class KcatGroupMember {
  readonly name: string;
  readonly child: ChildProcess;
  readonly messages: { partition: number; offset: number; value: string }[] = [];
  assigned: number[] = [];
  stderr = '';
  private partial = '';
  private readonly exited: Promise<void>;

  constructor(name: string, port: number, group: string, topic: string, extra: string[] = []) {
    this.name = name;
    this.child = spawn(
      'kcat',
      ['-u', '-b', `127.0.0.1:${port}`, '-G', group, '-o', 'beginning', '-f', '%p %o %s\\n', '-X', 'session.timeout.ms=6000', '-X', 'heartbeat.interval.ms=500', '-X', 'auto.commit.interval.ms=200', ...extra, topic],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => {
      const lines = (this.partial + d).split('\n');
      this.partial = lines.pop()!;
      for (const line of lines) {
        const [p, o, ...v] = line.split(' ');
        this.messages.push({ partition: Number(p), offset: Number(o), value: v.join(' ') });
      }
    });
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (d: string) => {
      this.stderr += d;
      for (const m of d.matchAll(/rebalanced \(memberid [^)]*\): assigned: ([^\n]*)/g)) {
        this.assigned = [...m[1].matchAll(/\[(\d+)\]/g)].map((x) => Number(x[1]));
      }
      if (/rebalanced \(memberid [^)]*\): revoked:/.test(d)) this.assigned = [];
    });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  /** SIGTERM: kcat leaves the group and commits on the way out. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }

  /** SIGKILL: a crashed member; the group finds out when its session times out. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
