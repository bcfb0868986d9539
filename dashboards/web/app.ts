/**
 * The dashboards UI: no framework, one module per concern. This one routes: it reads the state from the
 * URL (url-state.ts), draws the nav and the controls, builds the active view and loads its panels, and
 * re-loads them on the auto-refresh timer. Every control change becomes a new history entry, so
 * back/forward and reload show the same thing.
 */
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import type { DashboardDefinition } from '../definitions-loader.ts';
import { renderAlerts } from './alerts-view.ts';
import { fromLocalInput, toLocalInput } from './format.ts';
import { LiveTail } from './live-tail.ts';
import { browser, el, type DomElement, type FormControl } from './dom.ts';
import { PanelView } from './panels.ts';
import { readState, REFRESH_MS, resolveRange, stateToSearch, type UiState } from './url-state.ts';

interface DashboardSummary {
  id: string;
  title: string;
  description: string;
}

const { document, history } = browser;
const nav = document.getElementById('nav')!;
const main = document.getElementById('view')!;
const form = document.getElementById('controls')!;
const variablesBox = document.getElementById('variables')!;
const control = (name: string) => form.querySelector<FormControl>(`[name="${name}"]`)!;
const rangeSelect = control('range');
const refreshSelect = control('refresh');
const fromInput = control('from');
const toInput = control('to');
const location = browser.location;

let dashboards: DashboardSummary[] = [];
const definitions = new Map<string, Promise<DashboardDefinition>>();

/** What the active view holds, torn down before the next one is drawn. */
interface ActiveView {
  state: UiState;
  abort: AbortController;
  timer: ReturnType<typeof setInterval> | null;
  panels: PanelView[];
  tail: LiveTail | null;
}
let active: ActiveView | null = null;

async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(url, { signal });
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
  }
  if (!res.ok) throw new Error(body.code ? `${body.code}: ${body.message}` : (body.message ?? `HTTP ${res.status}`));
  return body as T;
}

function definition(id: string): Promise<DashboardDefinition> {
  let d = definitions.get(id);
  if (!d) {
    d = getJson<DashboardDefinition>(`/api/dashboards/${encodeURIComponent(id)}`);
    d.catch(() => definitions.delete(id));
    definitions.set(id, d);
  }
  return d;
}

// ---- state <-> controls ----

function stateFromControls(): UiState {
  const base = active?.state ?? readState(location.search, dashboards[0]?.id ?? 'alerts');
  const vars: Record<string, string> = {};
  for (const input of variablesBox.querySelectorAll<FormControl>('[name^="var-"]')) vars[input.name.slice(4)] = input.value;
  const s: UiState = { view: base.view, range: rangeSelect.value, refresh: refreshSelect.value, vars };
  if (s.range === 'custom') {
    const from = fromLocalInput(fromInput.value);
    const to = fromLocalInput(toInput.value);
    // A custom range that is not a range keeps the one shown.
    if (from !== null && to !== null && from < to) Object.assign(s, { from, to });
    else Object.assign(s, { range: base.range, from: base.from, to: base.to });
  }
  return s;
}

function showControls(s: UiState): void {
  rangeSelect.value = s.range;
  refreshSelect.value = s.refresh;
  const { from, to } = resolveRange(s);
  fromInput.value = toLocalInput(from);
  toInput.value = toLocalInput(to);
  form.classList.toggle('is-custom', s.range === 'custom');
}

function navigate(s: UiState): void {
  const search = stateToSearch(s);
  if (search !== location.search) history.pushState(null, '', search);
  void render(s);
}

// ---- nav ----

function renderNav(s: UiState): void {
  const links = [...dashboards.map((d) => ({ id: d.id, title: d.title })), { id: 'alerts', title: 'Alerts' }];
  nav.replaceChildren(
    ...links.map(({ id, title }) => {
      const a = el('a', { 'data-view': id, href: stateToSearch({ ...s, view: id, vars: {} }) }, title);
      if (id === s.view) a.setAttribute('aria-current', 'page');
      a.addEventListener('click', (e) => {
        if (e.metaKey || e.ctrlKey || e.shiftKey || (e.button ?? 0) !== 0) return;
        e.preventDefault();
        navigate({ ...(active?.state ?? s), view: id, vars: {} });
      });
      return a;
    }),
  );
}

function renderVariables(d: DashboardDefinition | null, s: UiState): void {
  variablesBox.replaceChildren();
  for (const v of d?.variables ?? []) {
    const label = el('label', {}, v.label + ' ');
    let input: FormControl;
    if (v.kind === 'select') {
      input = el<FormControl>('select', { name: `var-${v.name}` });
      for (const o of v.options ?? []) input.append(el('option', { value: o }, o === '' ? 'All' : o));
      input.value = s.vars[v.name] ?? v.options?.[0] ?? '';
      input.addEventListener('change', () => navigate(stateFromControls()));
    } else {
      input = el<FormControl>('input', { name: `var-${v.name}`, type: 'search', placeholder: 'any', spellcheck: 'false' });
      input.value = s.vars[v.name] ?? '';
    }
    label.append(input);
    variablesBox.append(label);
  }
}

// ---- views ----

function teardown(): void {
  if (!active) return;
  active.abort.abort();
  if (active.timer) clearInterval(active.timer);
  for (const p of active.panels) p.destroy();
  active.tail?.destroy();
  active = null;
}

async function loadPanels(view: ActiveView, d: DashboardDefinition): Promise<void> {
  const { from, to } = resolveRange(view.state);
  await Promise.all(
    d.panels.map(async (panel, i) => {
      const pv = view.panels[i];
      const q = new URLSearchParams({ from: String(from), to: String(to) });
      for (const v of d.variables) {
        const value = view.state.vars[v.name];
        if (value !== undefined && value !== '') q.set(`var.${v.name}`, value);
      }
      pv.loading();
      try {
        const body = await getJson<{ data: import('../panel-data.ts').PanelData }>(`/api/dashboards/${encodeURIComponent(d.id)}/panels/${encodeURIComponent(panel.id)}?${q}`, view.abort.signal);
        if (!view.abort.signal.aborted) pv.show(body.data);
      } catch (err) {
        if (!view.abort.signal.aborted) pv.error((err as Error).message);
      }
    }),
  );
}

async function render(s: UiState): Promise<void> {
  teardown();
  const view: ActiveView = { state: s, abort: new AbortController(), timer: null, panels: [], tail: null };
  active = view;
  renderNav(s);
  showControls(s);
  const root = el('div', { 'data-view-root': s.view, class: 'view-root' });
  main.replaceChildren(root);
  const every = REFRESH_MS[s.refresh] ?? 0;

  if (s.view === 'alerts') {
    renderVariables(null, s);
    document.title = 'Alerts · Tributary';
    root.append(el('h1', {}, 'Alerts'));
    const box = el('div', { class: 'grid' });
    root.append(box);
    await renderAlerts(box, view.abort.signal);
    if (every > 0 && active === view) view.timer = setInterval(() => void renderAlerts(box, view.abort.signal), every);
    return;
  }

  let d: DashboardDefinition;
  try {
    d = await definition(s.view);
  } catch (err) {
    if (active !== view) return;
    renderVariables(null, s);
    root.append(el('div', { class: 'panel-error view-error', role: 'alert' }, `Cannot show ${s.view}: ${(err as Error).message}`));
    return;
  }
  if (active !== view) return;
  document.title = `${d.title} · Tributary`;
  renderVariables(d, s);
  const head = el('div', { class: 'view-head' });
  head.append(el('h1', {}, d.title), el('p', { class: 'description' }, d.description));
  const grid = el('div', { class: 'grid' });
  root.append(head, grid);
  if (d.id === 'logs') {
    view.tail = new LiveTail(s.vars);
    grid.append(view.tail.section);
    view.tail.resume();
  }
  view.panels = d.panels.map((p) => new PanelView(p));
  for (const p of view.panels) grid.append(p.section);
  await loadPanels(view, d);
  if (every > 0 && active === view) view.timer = setInterval(() => void loadPanels(view, d), every);
}

// ---- wiring ----

form.addEventListener('submit', (e) => {
  e.preventDefault();
  navigate(stateFromControls());
});
rangeSelect.addEventListener('change', () => {
  if (rangeSelect.value === 'custom') {
    // Start the custom range from what is shown now; Apply makes it the view's range.
    form.classList.add('is-custom');
    fromInput.focus();
    return;
  }
  navigate(stateFromControls());
});
refreshSelect.addEventListener('change', () => navigate(stateFromControls()));
browser.addEventListener('popstate', () => void render(readState(location.search, dashboards[0]?.id ?? 'alerts')));
let resizeTimer: ReturnType<typeof setTimeout> | undefined;
browser.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => active?.panels.forEach((p) => p.resize()), 100);
});

async function start(): Promise<void> {
  try {
    dashboards = await getJson<DashboardSummary[]>('/api/dashboards');
  } catch (err) {
    main.replaceChildren(el('div', { class: 'panel-error view-error', role: 'alert' }, `Cannot load the dashboards: ${(err as Error).message}`));
    return;
  }
  const s = readState(location.search, dashboards[0]?.id ?? 'alerts');
  history.replaceState(null, '', stateToSearch(s));
  await render(s);
}

void start();
