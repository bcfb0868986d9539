// Debian's rsyslogd as a log shipper beside the Tributary agent: imfile tails files, omkafka (librdkafka)
// produces each line to a broker on 127.0.0.1. Everything it writes (state files, pid file, its own log)
// stays in one work directory; only imfile and omkafka are loaded, so it opens no system socket (no
// imuxsock, no imklog) and cannot collide with a system rsyslog.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findExecutable, spawnBoundToParent } from '../../test/helpers/server-processes.ts';

const MODULE_DIR = '/usr/lib/x86_64-linux-gnu/rsyslog';
const STOP_GRACE_MS = 15_000;
const READY_TIMEOUT_MS = 30_000;

/**
 * librdkafka settings of the omkafka action, chosen to match the Tributary agent's shipper: acks=all with
 * idempotence, zstd, batches of up to 5,000 records / 1 MiB lingering up to 100 ms. The local queue is
 * raised from 100,000 messages so a backlog read at full speed waits in librdkafka instead of suspending
 * the action (omkafka suspends it on QUEUE_FULL).
 */
export const OMKAFKA_SETTINGS: Record<string, string> = {
  acks: 'all',
  'enable.idempotence': 'true',
  'compression.codec': 'zstd',
  'linger.ms': '100',
  'batch.num.messages': '5000',
  'batch.size': '1048576',
  'queue.buffering.max.messages': '1000000',
  'queue.buffering.max.kbytes': '1048576',
};

export interface RsyslogOptions {
  /** Files or globs imfile reads (from the beginning: there is no state file yet). */
  files: string[];
  brokerPort: number;
  topic: string;
  /** Holds the config, imfile's state files, the pid file and rsyslogd's own log; the caller removes it. */
  workDir: string;
  /** The `host` of every record; default `bench-host`, as the agent benchmark's `host_name`. */
  hostName?: string;
}

export interface RsyslogProcess {
  child: ChildProcess;
  pid: number;
  /** SIGTERM (omkafka flushes what librdkafka still holds), wait for exit; SIGKILL after 15 s. */
  stop(): Promise<void>;
  /** What rsyslogd printed and logged about itself so far, for failure messages. */
  logs(): string;
}

function quote(value: string): string {
  return JSON.stringify(value);
}

/**
 * One JSON object per line, the fields the agent's LogRecord carries for a plain line: the line, the file
 * it came from, the host. jsonf escapes each value as a JSON string.
 */
function rsyslogConfig(opts: RsyslogOptions, stateDir: string, ownLog: string): string {
  const confParam = Object.entries(OMKAFKA_SETTINGS).map(([k, v]) => quote(`${k}=${v}`)).join(', ');
  // processInternalMessages: Debian's build hands rsyslogd's messages about itself to journald otherwise;
  // here they go through the default ruleset into the work directory, where logs() finds them.
  return `
global(workDirectory=${quote(stateDir)} localHostname=${quote(opts.hostName ?? 'bench-host')} processInternalMessages="on")
module(load=${quote(`${MODULE_DIR}/imfile.so`)} mode="inotify")
module(load=${quote(`${MODULE_DIR}/omkafka.so`)})

template(name="tributary_json" type="list" option.jsonf="on") {
  property(outname="message" name="msg" format="jsonf")
  property(outname="file" name="$!metadata!filename" format="jsonf")
  property(outname="host" name="hostname" format="jsonf")
}

# The tailed lines have a ruleset of their own, so rsyslogd's messages about itself never reach the topic.
ruleset(name="to_kafka") {
  action(type="omkafka" broker=[${quote(`127.0.0.1:${opts.brokerPort}`)}] topic=${quote(opts.topic)}
         template="tributary_json" confParam=[${confParam}])
}
${opts.files.map((f) => `input(type="imfile" file=${quote(f)} tag="bench" addMetadata="on" freshStartTail="off" ruleset="to_kafka")`).join('\n')}

*.* action(type="omfile" file=${quote(ownLog)})
`;
}

/** `8.2302.0`, from the first line of `rsyslogd -v`. */
export function rsyslogVersion(): string {
  const out = execFileSync(rsyslogd(), ['-v'], { encoding: 'utf8' });
  const m = /rsyslogd\s+(\S+)/.exec(out);
  if (!m) throw new Error(`cannot read the version from rsyslogd -v: ${out.slice(0, 200)}`);
  return m[1];
}

/** The librdkafka omkafka links (`2.0.2`), from the Debian package that ships librdkafka.so.1. */
export function librdkafkaVersion(): string {
  const out = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'librdkafka1'], { encoding: 'utf8' });
  return out.replace(/-[^-]*$/, '');
}

function rsyslogd(): string {
  const path = findExecutable('rsyslogd');
  if (!path) throw new Error('rsyslogd not found (install Debian\'s rsyslog and rsyslog-kafka packages)');
  return path;
}

/**
 * Starts rsyslogd in the foreground with a config of its own and resolves once it logged its start
 * message (config loaded, inputs and actions set up); it runs until stop().
 */
export async function startRsyslog(opts: RsyslogOptions): Promise<RsyslogProcess> {
  const stateDir = join(opts.workDir, 'state');
  mkdirSync(stateDir, { recursive: true });
  const confPath = join(opts.workDir, 'rsyslog.conf');
  const ownLog = join(opts.workDir, 'rsyslogd.log');
  writeFileSync(confPath, rsyslogConfig(opts, stateDir, ownLog));

  const child = spawnBoundToParent([rsyslogd(), '-n', '-f', confPath, '-i', join(opts.workDir, 'rsyslogd.pid')], opts.workDir);
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const logs = () => {
    let text = output;
    try {
      text += `\n--- ${ownLog}\n` + readFileSync(ownLog, 'utf8').slice(-8000);
    } catch {}
    return text;
  };

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };

  let died = false;
  void exited.then(() => (died = true));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!/\] start$/m.test(logs())) {
    if (died) throw new Error(`rsyslogd exited with ${child.exitCode ?? child.signalCode} before it started:\n${logs()}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`rsyslogd did not log its start within ${READY_TIMEOUT_MS} ms:\n${logs()}`);
    }
    await sleep(10);
  }
  return { child, pid: child.pid!, logs, stop };
}
