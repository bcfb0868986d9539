import { readFileSync } from 'node:fs';

/** The parts of V8's .cpuprofile format (as written by node --cpu-prof) that a summary needs. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileEntry {
  /** `function (file:line)`, with the file relative to the repository or node_modules. */
  where: string;
  selfPercent: number;
}

export interface ProfileSummary {
  seconds: number;
  /** Share of samples where the process waited for I/O or timers. */
  idlePercent: number;
  /** This and the entries below are shares of the busy (not idle) time. */
  gcPercent: number;
  /** Share of self time per top-level area: our code by folder, each dependency, node internals. */
  byArea: ProfileEntry[];
  top: ProfileEntry[];
}

function shortUrl(url: string): string {
  if (!url) return '';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  const repo = /\/(broker|agents|pipelines|dashboards|lib|bin|bench|test)\//.exec(url);
  if (repo) return url.slice(repo.index + 1);
  return url.replace(/^file:\/\//, '');
}

function areaOf(url: string, functionName: string): string {
  if (functionName === '(garbage collector)') return 'garbage collector';
  if (functionName === '(program)') return 'V8 and native code (program)';
  if (!url) return 'native / built-in';
  if (url.startsWith('node:')) return 'node internals';
  const nm = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (nm) return nm[1];
  const short = shortUrl(url);
  const parts = short.split('/');
  return parts.length > 2 ? `${parts[0]}/${parts[1]}/` : short;
}

/** Self time per function and per area, idle share, from a profile written by `node --cpu-prof`. */
export function summarizeCpuProfile(path: string, topN = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  let total = 0;
  for (const us of selfUs.values()) total += us;
  const perFunction = new Map<string, number>();
  const perArea = new Map<string, number>();
  let idle = 0;
  let gc = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    if (functionName === '(garbage collector)') gc += us;
    const where = `${functionName || '(anonymous)'}${url ? ` (${shortUrl(url)}:${lineNumber + 1})` : ''}`;
    perFunction.set(where, (perFunction.get(where) ?? 0) + us);
    const area = areaOf(url, functionName);
    perArea.set(area, (perArea.get(area) ?? 0) + us);
  }
  const pct = (us: number, of: number) => (of > 0 ? (us / of) * 100 : 0);
  const busy = total - idle;
  const ranked = (m: Map<string, number>, n: number) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([where, us]) => ({ where, selfPercent: pct(us, busy) }));
  return {
    seconds: (profile.endTime - profile.startTime) / 1e6,
    idlePercent: pct(idle, total),
    gcPercent: pct(gc, busy),
    byArea: ranked(perArea, 12),
    top: ranked(perFunction, topN),
  };
}

export function renderProfileSummary(name: string, s: ProfileSummary): string {
  const lines = [`${name}: ${s.seconds.toFixed(1)} s profiled, idle ${s.idlePercent.toFixed(1)} %; of the busy time: GC ${s.gcPercent.toFixed(1)} %`];
  lines.push('  busy time by area (self):');
  for (const e of s.byArea) lines.push(`    ${e.selfPercent.toFixed(1).padStart(5)} %  ${e.where}`);
  lines.push('  top functions (self, share of busy time):');
  for (const e of s.top) lines.push(`    ${e.selfPercent.toFixed(1).padStart(5)} %  ${e.where}`);
  return lines.join('\n');
}
