import { fmt, progress } from './stats.ts';

/** Every measured figure is the median of at least this many runs. */
export const MIN_RUNS = 5;

/** One figure of the suite: the median of several runs, with the spread the runs showed. */
export interface Figure {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

/** A table cell: a measured figure, a stated fact (a setting, a version) or nothing measured. */
export type Cell = Figure | string | null;

export interface Column {
  name: string;
  /** Digits after the point when the column's figures are printed. */
  digits?: number;
}

export interface ResultTable {
  /** Stable key in the JSON results, e.g. `brokers.produce`. */
  id: string;
  title: string;
  /** Settings, durability and anything else a reader needs to judge the figures; printed under the table. */
  notes: string[];
  columns: Column[];
  rows: { label: string; cells: Cell[] }[];
}

/** What one section of the suite hands back: its tables and the version of every peer it ran. */
export interface SectionResult {
  tables: ResultTable[];
  /** Peer name -> version as the peer printed it (`redis-server`: `7.0.15`). */
  peers: Record<string, string>;
}

export interface SectionOptions {
  /** The short variant: same workloads where possible, fewer and shorter runs (whole suite under 5 minutes). */
  quick: boolean;
  /** Runs per figure; at least 5. */
  runs: number;
  /** Where CPU profiles go when `cpuProfile` is set. */
  profileDir: string;
  /** Run the Tributary processes with --cpu-prof (for the closing note's "where the time goes"). */
  cpuProfile: boolean;
}

export type Section = (opts: SectionOptions) => Promise<SectionResult>;

export function figure(samples: number[]): Figure {
  if (samples.length === 0) throw new Error('a figure needs at least one run');
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], runs: samples };
}

export function isFigure(cell: Cell): cell is Figure {
  return typeof cell === 'object' && cell !== null;
}

/**
 * Runs `measure` `runs` times and turns each metric it returns into a figure. Every run reports progress,
 * so a long suite shows where it is.
 */
export async function repeatRuns<K extends string>(label: string, runs: number, measure: (run: number) => Promise<Record<K, number>>): Promise<Record<K, Figure>> {
  const samples = new Map<K, number[]>();
  for (let run = 0; run < runs; run++) {
    const started = performance.now();
    const result = await measure(run);
    for (const [key, value] of Object.entries(result) as [K, number][]) {
      if (!samples.has(key)) samples.set(key, []);
      samples.get(key)!.push(value);
    }
    progress(`  ${label}: run ${run + 1}/${runs} (${fmt((performance.now() - started) / 1000, 1)} s)`);
  }
  return Object.fromEntries([...samples].map(([key, values]) => [key, figure(values)])) as Record<K, Figure>;
}

function renderCell(cell: Cell, column: Column): string {
  if (cell === null) return '–';
  if (typeof cell === 'string') return cell;
  const d = column.digits ?? 0;
  if (cell.min === cell.max) return fmt(cell.median, d);
  return `${fmt(cell.median, d)} (${fmt(cell.min, d)}–${fmt(cell.max, d)})`;
}

/** A Markdown table: each figure as `median (min–max)`, numbers right-aligned, notes as a list below. */
export function renderMarkdown(table: ResultTable): string {
  const lines = [
    `### ${table.title}`,
    '',
    `| | ${table.columns.map((c) => c.name).join(' | ')} |`,
    `|---|${table.columns.map(() => '---:').join('|')}|`,
    ...table.rows.map((r) => `| ${r.label} | ${r.cells.map((c, i) => renderCell(c, table.columns[i])).join(' | ')} |`),
  ];
  if (table.notes.length) lines.push('', ...table.notes.map((n) => `- ${n}`));
  return lines.join('\n');
}
