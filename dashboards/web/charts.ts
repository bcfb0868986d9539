/**
 * Time series and bar charts with uPlot. A category axis (a bar chart of services, browsers, …) is drawn
 * on x = 0…n-1 with the categories as tick labels.
 */
import uPlot from 'uplot';
import type { SeriesData } from '../panel-data.ts';
import type { DomElement } from './dom.ts';
import { formatNumber } from './format.ts';

const PALETTE = ['#4f8cff', '#f5a524', '#22c55e', '#ef4444', '#a855f7', '#14b8a6', '#ec4899', '#84cc16', '#f97316', '#64748b'];
const HEIGHT = 220;

export function drawSeries(target: DomElement, data: SeriesData, visualisation: 'timeseries' | 'bar'): uPlot {
  const categories = data.axis === 'category' ? (data.x as string[]) : null;
  const xs = categories ? categories.map((_, i) => i) : (data.x as number[]);
  const bars = visualisation === 'bar';
  const barPaths = bars ? uPlot.paths.bars!({ size: [0.7, 80], gap: 1 }) : undefined;
  const opts: uPlot.Options = {
    width: Math.max(200, target.clientWidth),
    height: HEIGHT,
    legend: { show: data.series.length > 1 || !categories },
    cursor: { drag: { x: !categories, y: false } },
    scales: {
      x: categories ? { time: false, range: [-0.5, Math.max(0.5, categories.length - 0.5)] } : { time: true },
      // Bars are read by their height: the axis starts at zero.
      ...(bars ? { y: { range: (_u: uPlot, min: number, max: number): uPlot.Range.MinMax => [Math.min(0, min), max > 0 ? max * 1.05 : 1] } } : {}),
    },
    axes: [
      categories
        ? { stroke: '#9aa4b2', grid: { show: false }, values: (_u, ticks) => ticks.map((t) => (Number.isInteger(t) ? (categories[t] ?? '') : '')), splits: () => categories.map((_, i) => i) }
        : { stroke: '#9aa4b2', grid: { stroke: '#2a2f3a' } },
      { stroke: '#9aa4b2', grid: { stroke: '#2a2f3a' }, values: (_u, ticks) => ticks.map((t) => formatNumber(t)), size: 60 },
    ],
    series: [
      categories ? { label: 'category', value: (_u, v) => (v == null ? '' : (categories[v] ?? '')) } : {},
      ...data.series.map((s, i) => {
        const color = PALETTE[i % PALETTE.length];
        return {
          label: s.name,
          stroke: color,
          width: bars ? 0 : 1.5,
          fill: bars ? color + 'cc' : color + '1a',
          paths: barPaths,
          points: { show: !bars && data.x.length < 60 },
          spanGaps: false,
          value: (_u: uPlot, v: number | null) => formatNumber(v),
        };
      }),
    ],
  };
  const aligned = [xs, ...data.series.map((s) => s.values)] as uPlot.AlignedData;
  // uPlot's own types name the DOM's HTMLElement, which this Node-typed project does not have.
  return new uPlot(opts, aligned, target as unknown as ConstructorParameters<typeof uPlot>[2]);
}

/** Sum of every plotted value that is not null: what `data-total` carries for tests and the eye. */
export function totalOf(data: SeriesData): number {
  let total = 0;
  for (const s of data.series) for (const v of s.values) if (v !== null) total += v;
  return total;
}
