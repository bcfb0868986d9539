// Reads what the dashboards web app shows, through its DOM contract (dashboards/web): panels are
// `section.panel[data-panel][data-state]`, a stat carries its raw number in `data-value`, a table is a
// real <table>, a chart carries `data-points` and `data-total`.
import type { Page } from 'playwright-core';

export type PanelState = 'loading' | 'ready' | 'empty' | 'error';

export interface PanelReading {
  state: PanelState;
  error: string;
  /** A stat's raw number. */
  value: number | null;
  /** A table's header cells and body rows, as text. */
  columns: string[];
  rows: string[][];
  /** A chart's x values and the sum of everything plotted. */
  points: number | null;
  total: number | null;
}

export async function readPanel(page: Page, panel: string): Promise<PanelReading> {
  return page.$eval(`section.panel[data-panel="${panel}"]`, (el) => {
    const num = (v: string | null) => (v === null || v === '' ? null : Number(v));
    const table = el.querySelector('table');
    return {
      state: el.getAttribute('data-state') as PanelState,
      error: el.querySelector('.panel-error')?.textContent ?? '',
      value: num(el.querySelector('[data-value]')?.getAttribute('data-value') ?? null),
      columns: table ? [...table.querySelectorAll('th')].map((th) => th.textContent ?? '') : [],
      rows: table ? [...table.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')) : [],
      points: num(el.getAttribute('data-points')),
      total: num(el.getAttribute('data-total')),
    };
  });
}

/** Every panel of the current view has finished loading (ready, empty or error). */
export async function panelsSettled(page: Page): Promise<boolean> {
  return page.$$eval('section.panel[data-panel]:not([data-panel="live-tail"])', (els) => els.length > 0 && els.every((el) => el.getAttribute('data-state') !== 'loading'));
}

/** Ids and states of the current view's panels, for failure messages. */
export async function panelStates(page: Page): Promise<string> {
  return (await page.$$eval('section.panel[data-panel]', (els) => els.map((el) => `${el.getAttribute('data-panel')}=${el.getAttribute('data-state')}`))).join(' ');
}
