// Runs the stack's components as child processes: started one after another, each awaited until it says
// it is ready; restarted with backoff when one crashes; stopped in reverse order. Children write to
// <logDir>/<name>.log, never to the terminal, so the terminal shows only progress lines and errors.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { findExecutable, SYSTEM_BINARY_DIRS } from './required-packages.ts';

export type ReadyCheck =
  /** A line of the child's output (stdout or stderr) that says it is ready. */
  | { line: RegExp }
  /** Polled until it resolves true (servers that print nothing useful: ClickHouse, Prometheus). */
  | { probe: () => Promise<boolean> };

export interface ComponentSpec {
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  ready: ReadyCheck;
  /** Shown in the progress line: `✓ broker ready on <address>`. */
  address: string;
  readyTimeoutMs?: number;
  /** After SIGTERM, how long before SIGKILL. */
  stopTimeoutMs?: number;
  /** Log files the component writes itself, shown (tails) with its output when it fails. */
  extraLogFiles?: string[];
  /**
   * Runs once the component is ready, before the next one starts (and after each restart): set-up that
   * needs it running, such as creating topics. A rejection counts as a failure to start.
   */
  afterReady?: () => Promise<void>;
}

export interface SupervisorOptions {
  logDir: string;
  /** Progress lines (one per component started, restarted or stopped). */
  print: (line: string) => void;
  /** Errors: a crash, a failed restart. */
  printError: (line: string) => void;
  /** Restart backoff: the first delay, doubled per consecutive failure up to `max`. */
  backoff?: { initialMs: number; maxMs: number };
  /** A component that ran this long before crashing restarts after the initial delay again. */
  stableAfterMs?: number;
}

/** A component did not become ready; the message carries the tail of its log. */
export class StartError extends Error {
  override name = 'StartError';
  readonly component: string;
  constructor(component: string, reason: string, logTail: string) {
    super(`${component} ${reason}${logTail ? `\n--- last lines of its log\n${logTail}` : ''}`);
    this.component = component;
  }
}

const DEFAULT_READY_TIMEOUT_MS = 60_000;
const DEFAULT_STOP_TIMEOUT_MS = 10_000;
const TAIL_LINES = 30;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** One component: its current process, its log, and how often it was restarted. */
class Supervised {
  readonly spec: ComponentSpec;
  readonly logPath: string;
  child: ChildProcess | null = null;
  exited: Promise<void> = Promise.resolve();
  restarts = 0;
  backoffMs = 0;
  startedAt = 0;
  restartTimer: NodeJS.Timeout | null = null;
  /** The last lines of output of the current process, for failure messages. */
  tail: string[] = [];
  private partial = '';
  private lineWaiters: ((line: string) => void)[] = [];
  private log: WriteStream;
  private logClosed = false;

  constructor(spec: ComponentSpec, logDir: string) {
    this.spec = spec;
    this.logPath = join(logDir, `${spec.name}.log`);
    this.log = createWriteStream(this.logPath, { flags: 'a' });
    // A full disk must not take the whole stack down: the log is for people, the component keeps running.
    this.log.on('error', () => {});
  }

  /** Output can still arrive after 'exit' (the pipes drain later), possibly after the log was closed. */
  private write(data: string | Buffer): void {
    if (!this.logClosed) this.log.write(data);
  }

  get alive(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  launch(pdeathsig: string | null): void {
    const { command, args } = this.spec;
    this.tail = [];
    this.partial = '';
    this.write(`--- ${new Date().toISOString()} starting: ${command} ${args.join(' ')}\n`);
    // setpriv makes the kernel kill the child if this process dies without stopping it (SIGKILL, a
    // crash); detached puts it in its own process group, so a Ctrl-C at the terminal reaches only this
    // process, which then stops the components in order instead of all at once.
    const argv = pdeathsig ? [pdeathsig, '--pdeathsig', 'KILL', '--', command, ...args] : [command, ...args];
    const child = spawn(argv[0], argv.slice(1), { cwd: this.spec.cwd, env: this.spec.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.child = child;
    this.startedAt = Date.now();
    const onData = (d: Buffer) => {
      this.write(d);
      this.scan(d.toString('utf8'));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    this.exited = new Promise((resolve) => {
      child.once('error', (err) => {
        this.write(`--- failed to start: ${err.message}\n`);
        this.tail.push(`failed to start: ${err.message}`);
        resolve();
      });
      child.once('exit', (code, signal) => {
        this.write(`--- exited with ${signal ?? `code ${code}`}\n`);
        resolve();
      });
    });
  }

  private scan(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop()!;
    for (const line of lines) {
      this.tail.push(line);
      if (this.tail.length > TAIL_LINES) this.tail.shift();
      for (const w of this.lineWaiters) w(line);
    }
  }

  onLine(fn: (line: string) => void): () => void {
    this.lineWaiters.push(fn);
    return () => (this.lineWaiters = this.lineWaiters.filter((w) => w !== fn));
  }

  logTail(): string {
    const parts = [...this.tail, ...(this.partial ? [this.partial] : [])].join('\n');
    const extra = (this.spec.extraLogFiles ?? []).map((f) => {
      try {
        const lines = readFileSync(f, 'utf8').trimEnd().split('\n').slice(-TAIL_LINES / 2);
        return `--- ${f}\n${lines.join('\n')}`;
      } catch {
        return '';
      }
    });
    return [parts, ...extra].filter(Boolean).join('\n');
  }

  closeLog(): Promise<void> {
    if (this.logClosed) return Promise.resolve();
    this.logClosed = true;
    return new Promise((resolve) => this.log.end(resolve));
  }
}

export class Supervisor {
  private readonly opts: Required<SupervisorOptions>;
  private readonly components: Supervised[] = [];
  private readonly pdeathsig = findExecutable(['setpriv'], [...(process.env.PATH ?? '').split(':'), ...SYSTEM_BINARY_DIRS]);
  private stopping = false;

  constructor(opts: SupervisorOptions) {
    this.opts = { backoff: { initialMs: 1000, maxMs: 30_000 }, stableAfterMs: 60_000, ...opts };
    mkdirSync(opts.logDir, { recursive: true });
  }

  /** How many times a component was restarted after a crash. */
  restarts(name: string): number {
    return this.components.find((c) => c.spec.name === name)?.restarts ?? 0;
  }

  /** Names and restart counts, for the stack's own metrics. */
  status(): { name: string; running: boolean; restarts: number }[] {
    return this.components.map((c) => ({ name: c.spec.name, running: c.alive, restarts: c.restarts }));
  }

  /**
   * Starts each component after the previous one is ready; the members of an inner array start together and
   * are waited for together (a broker cluster's nodes: none is ready until a quorum of them runs). If one does
   * not get ready, those already running are stopped and a StartError (with the tail of the failed one's log)
   * is thrown.
   */
  async startAll(specs: (ComponentSpec | ComponentSpec[])[]): Promise<void> {
    for (const step of specs) {
      const group = Array.isArray(step) ? step : [step];
      if (this.stopping) throw new StartError(group[0].name, 'was not started: the stack is stopping', '');
      const started = group.map((spec) => new Supervised(spec, this.opts.logDir));
      this.components.push(...started);
      const began = Date.now();
      const results = await Promise.allSettled(
        started.map(async (c) => {
          await this.launchUntilReady(c);
          this.opts.print(`✓ ${c.spec.name} ready on ${c.spec.address} (${seconds(Date.now() - began)})`);
        }),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) {
        await this.stopAll();
        throw failed.reason;
      }
      for (const c of started) this.watch(c);
    }
  }

  /** Stops every component in reverse start order: SIGTERM, then SIGKILL after its stop timeout. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    for (const c of [...this.components].reverse()) {
      if (c.restartTimer) clearTimeout(c.restartTimer);
      c.restartTimer = null;
      if (c.alive) {
        const began = Date.now();
        const killed = await this.terminate(c);
        this.opts.print(`■ ${c.spec.name} stopped (${seconds(Date.now() - began)}${killed ? ', killed: it did not stop in time' : ''})`);
      }
      await c.closeLog();
    }
  }

  /** SIGKILL to every component still running (a second Ctrl-C); a stopAll() in progress then finishes at once. */
  killAll(): void {
    this.stopping = true;
    for (const c of this.components) if (c.alive) c.child!.kill('SIGKILL');
  }

  /** SIGTERM, wait, SIGKILL after the stop timeout; resolves true when it had to be killed. */
  private async terminate(c: Supervised): Promise<boolean> {
    if (!c.alive) return false;
    const child = c.child!;
    let killed = false;
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, c.spec.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS);
    await c.exited;
    clearTimeout(timer);
    return killed;
  }

  private async launchUntilReady(c: Supervised): Promise<void> {
    const { spec } = c;
    c.launch(this.pdeathsig);
    const timeoutMs = spec.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    let settled = false;
    let cleanup = () => {};
    const outcome = await new Promise<{ ok: true } | { ok: false; reason: string }>((resolve) => {
      const finish = (r: { ok: true } | { ok: false; reason: string }) => {
        if (settled) return;
        settled = true;
        cleanup();
        resolve(r);
      };
      const timer = setTimeout(() => finish({ ok: false, reason: `did not get ready within ${seconds(timeoutMs)}` }), timeoutMs);
      void c.exited.then(() => {
        const child = c.child!;
        finish({ ok: false, reason: `exited (${child.signalCode ?? `code ${child.exitCode}`}) before it was ready` });
      });
      let offLine = () => {};
      if ('line' in spec.ready) {
        const pattern = spec.ready.line;
        offLine = c.onLine((line) => {
          if (pattern.test(line)) finish({ ok: true });
        });
      } else {
        const probe = spec.ready.probe;
        const poll = async () => {
          while (!settled) {
            if (await probe().catch(() => false)) return finish({ ok: true });
            await new Promise((r) => setTimeout(r, 100));
          }
        };
        void poll();
      }
      cleanup = () => {
        clearTimeout(timer);
        offLine();
      };
    });
    if (!outcome.ok) {
      await this.terminate(c);
      throw new StartError(spec.name, outcome.reason, c.logTail());
    }
    if (spec.afterReady) {
      try {
        await spec.afterReady();
      } catch (err) {
        await this.terminate(c);
        throw new StartError(spec.name, `was ready, but setting it up failed: ${(err as Error).message}`, c.logTail());
      }
    }
  }

  /** Restarts the component whenever it exits while the stack is not stopping. */
  private watch(c: Supervised): void {
    void c.exited.then(() => {
      if (this.stopping) return;
      const child = c.child!;
      const ranMs = Date.now() - c.startedAt;
      const { initialMs, maxMs } = this.opts.backoff;
      c.backoffMs = ranMs >= this.opts.stableAfterMs || c.backoffMs === 0 ? initialMs : Math.min(c.backoffMs * 2, maxMs);
      c.restarts++;
      this.opts.printError(
        `✗ ${c.spec.name} exited (${child.signalCode ?? `code ${child.exitCode}`}) after ${seconds(ranMs)}; restart ${c.restarts} in ${seconds(c.backoffMs)} (log: ${c.logPath})`,
      );
      c.restartTimer = setTimeout(() => void this.restart(c), c.backoffMs);
    });
  }

  private async restart(c: Supervised): Promise<void> {
    c.restartTimer = null;
    if (this.stopping) return;
    const began = Date.now();
    try {
      await this.launchUntilReady(c);
    } catch (err) {
      if (this.stopping) return;
      this.opts.printError(`✗ ${(err as Error).message.split('\n')[0]} (restart ${c.restarts})`);
      // The failed attempt counts as a crash: back off further and try again.
      this.watchFailedRestart(c);
      return;
    }
    if (this.stopping) return;
    this.opts.print(`↻ ${c.spec.name} restarted, ready on ${c.spec.address} (${seconds(Date.now() - began)}, restart ${c.restarts})`);
    this.watch(c);
  }

  private watchFailedRestart(c: Supervised): void {
    const { maxMs } = this.opts.backoff;
    c.backoffMs = Math.min(c.backoffMs * 2, maxMs);
    c.restarts++;
    this.opts.printError(`✗ ${c.spec.name}: restart ${c.restarts} in ${seconds(c.backoffMs)} (log: ${c.logPath})`);
    c.restartTimer = setTimeout(() => void this.restart(c), c.backoffMs);
  }
}
