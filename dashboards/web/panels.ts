/**
 * One panel: `<section class="panel" data-panel="<id>" data-state="loading|ready|empty|error">`, its body
 * drawn from the server's normalised data (see dashboards/panel-data.ts).
 */
import type uPlot from 'uplot';
import type { PanelDefinition } from '../definitions-loader.ts';
import type { PanelData } from '../panel-data.ts';
import { drawSeries, totalOf } from './charts.ts';
import { browser, el, type DomElement } from './dom.ts';
import { formatNumber } from './format.ts';

export { el };

export class PanelView {
  readonly section: DomElement;
  private readonly body: DomElement;
  private readonly panel: PanelDefinition;
  private chart: uPlot | null = null;

  constructor(panel: PanelDefinition) {
    this.panel = panel;
    this.section = el('section', { class: `panel panel-${panel.visualisation}`, 'data-panel': panel.id, 'data-state': 'loading' });
    const head = el('header', { class: 'panel-head' });
    head.append(el('h2', {}, panel.title), el('span', { class: 'panel-source', title: panel.query }, panel.source === 'clickhouse' ? 'SQL' : 'PromQL'));
    this.body = el('div', { class: 'panel-body' });
    this.body.append(el('div', { class: 'panel-loading' }, 'Loading…'));
    this.section.append(head, this.body);
  }

  loading(): void {
    // Keep what is drawn while refreshing; a first load shows the placeholder.
    this.section.dataset.state = 'loading';
  }

  error(message: string): void {
    this.destroyChart();
    this.section.dataset.state = 'error';
    this.section.removeAttribute('data-points');
    this.section.removeAttribute('data-total');
    this.body.replaceChildren(el('div', { class: 'panel-error', role: 'alert' }, message));
  }

  show(data: PanelData): void {
    this.destroyChart();
    this.section.removeAttribute('data-points');
    this.section.removeAttribute('data-total');
    const empty = (why: string) => {
      this.section.dataset.state = 'empty';
      this.body.replaceChildren(el('div', { class: 'panel-empty' }, why));
    };
    if (data.kind === 'stat') {
      if (data.value === null) return empty('No data in this range');
      const main = el('div', { class: 'stat' });
      main.append(el('span', { 'data-value': String(data.value), class: 'stat-value' }, formatNumber(data.value)));
      const extra = data.fields.slice(1);
      if (extra.length > 0) {
        const dl = el('dl', { class: 'stat-fields' });
        for (const f of extra) dl.append(el('dt', {}, f.name), el('dd', {}, typeof f.value === 'number' ? formatNumber(f.value) : String(f.value ?? '')));
        main.append(dl);
      }
      this.body.replaceChildren(main);
    } else if (data.kind === 'table') {
      if (data.rows.length === 0) return empty('No rows in this range');
      const table = el('table');
      const thead = el('thead');
      const tbody = el('tbody');
      const head = el('tr');
      for (const c of data.columns) head.append(el('th', { scope: 'col' }, c));
      thead.append(head);
      table.append(thead, tbody);
      const fragment = browser.document.createDocumentFragment();
      for (const row of data.rows) {
        const tr = el('tr');
        for (const v of row) tr.append(el('td', typeof v === 'number' ? { class: 'num' } : {}, v === null ? '' : String(v)));
        fragment.append(tr);
      }
      tbody.append(fragment);
      const scroll = el('div', { class: 'table-scroll' });
      scroll.append(table);
      this.body.replaceChildren(scroll);
    } else {
      if (data.x.length === 0 || data.series.length === 0) return empty('No data in this range');
      this.section.dataset.points = String(data.x.length);
      this.section.dataset.total = String(totalOf(data));
      const target = el('div', { class: 'chart' });
      this.body.replaceChildren(target);
      this.chart = drawSeries(target, data, this.panel.visualisation === 'bar' ? 'bar' : 'timeseries');
    }
    this.section.dataset.state = 'ready';
  }

  resize(): void {
    if (this.chart) this.chart.setSize({ width: Math.max(200, this.body.clientWidth), height: this.chart.height });
  }

  destroy(): void {
    this.destroyChart();
  }

  private destroyChart(): void {
    this.chart?.destroy();
    this.chart = null;
  }
}
