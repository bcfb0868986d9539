import { readFileSync } from 'node:fs';

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  // Fields after the command name (which may contain spaces): utime is the 14th, stime the 15th field.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Resident set size in MiB, from /proc/<pid>/status. */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * Samples a process while a measurement runs: CPU as a percentage of one core over the window, RSS once
 * per `intervalMs` (average and maximum).
 */
export class ProcessUsage {
  private readonly pid: number;
  private readonly cpuAtStart: number;
  private readonly startedAt = performance.now();
  private readonly rss: number[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(pid: number, intervalMs = 1000) {
    this.pid = pid;
    this.cpuAtStart = cpuSeconds(pid);
    this.rss.push(rssMiB(pid));
    this.timer = setInterval(() => this.rss.push(rssMiB(pid)), intervalMs);
  }

  stop(): { cpuPercent: number; rssAvgMiB: number; rssMaxMiB: number } {
    clearInterval(this.timer);
    this.rss.push(rssMiB(this.pid));
    const elapsed = (performance.now() - this.startedAt) / 1000;
    return {
      cpuPercent: ((cpuSeconds(this.pid) - this.cpuAtStart) / elapsed) * 100,
      rssAvgMiB: this.rss.reduce((a, b) => a + b, 0) / this.rss.length,
      rssMaxMiB: Math.max(...this.rss),
    };
  }
}
