/** The Alerts view: rules with state and health, the current alerts, and recent state changes. */
import type { AlertsView } from '../alerts/alerts-view.ts';
import { formatNumber, formatTime } from './format.ts';
import { el, type DomElement, type DomNode } from './dom.ts';

const labelText = (labels: Record<string, string>) => Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(', ');

/** A table; `rowAttrs` gives each body row its attributes. */
function table(attrs: Record<string, string>, columns: string[], rows: (string | DomNode)[][], rowAttrs: (i: number) => Record<string, string> = () => ({})): DomElement {
  const t = el('table', attrs);
  const thead = el('thead');
  const body = el('tbody');
  const head = el('tr');
  for (const c of columns) head.append(el('th', { scope: 'col' }, c));
  thead.append(head);
  t.append(thead, body);
  for (const [i, r] of rows.entries()) {
    const tr = el('tr', rowAttrs(i));
    for (const cell of r) {
      const td = el('td');
      td.append(cell);
      tr.append(td);
    }
    body.append(tr);
  }
  return t;
}

function panel(id: string, title: string): { section: DomElement; body: DomElement } {
  const section = el('section', { class: 'panel panel-wide', 'data-panel': id, 'data-state': 'loading' });
  const head = el('header', { class: 'panel-head' });
  head.append(el('h2', {}, title));
  const body = el('div', { class: 'panel-body' });
  section.append(head, body);
  return { section, body };
}

export async function renderAlerts(root: DomElement, signal: AbortSignal): Promise<void> {
  const rules = panel('alert-rules', 'Rules');
  const current = panel('alerts-current', 'Current alerts');
  const history = panel('alerts-history', 'History');
  root.replaceChildren(rules.section, current.section, history.section);
  const sections = [rules, current, history];
  let view: AlertsView;
  try {
    const res = await fetch('/api/alerts', { signal });
    const body = (await res.json()) as AlertsView & { message?: string };
    if (!res.ok) throw new Error(body.message ?? `HTTP ${res.status}`);
    view = body as AlertsView;
  } catch (err) {
    if (signal.aborted) return;
    for (const s of sections) {
      s.section.dataset.state = 'error';
      s.body.replaceChildren(el('div', { class: 'panel-error', role: 'alert' }, (err as Error).message));
    }
    return;
  }

  const state = (s: string) => el('span', { class: `badge badge-${s}` }, s);
  const ruleRows = view.rules.map((r) => [r.name, state(r.state), state(r.health), r.lastError ?? '', `${r.kind}: ${r.expr} ${r.threshold.op} ${r.threshold.value}`, `${r.forMs / 1000}s`, r.lastEvaluatedAt ? formatTime(r.lastEvaluatedAt) : 'never']);
  const rulesTable = table({ 'data-alert-rules': '' }, ['Rule', 'State', 'Health', 'Last error', 'Expression', 'For', 'Last evaluated'], ruleRows, (i) => ({ 'data-rule': view.rules[i].name, 'data-state': view.rules[i].state }));
  rules.body.replaceChildren(rulesTable);
  rules.section.dataset.state = view.rules.length ? 'ready' : 'empty';
  if (!view.rules.length) rules.body.replaceChildren(el('div', { class: 'panel-empty' }, 'No alert rules are loaded'), rulesTable);

  const alerts = view.rules.flatMap((r) => r.alerts);
  current.body.replaceChildren(
    alerts.length
      ? table({ 'data-alerts': '' }, ['Rule', 'State', 'Labels', 'Value', 'Active since'], alerts.map((a) => [a.rule, state(a.status), labelText(a.labels), formatNumber(a.value), formatTime(a.activeAt)]))
      : el('div', { class: 'panel-empty' }, 'Nothing pending or firing'),
  );
  current.section.dataset.state = alerts.length ? 'ready' : 'empty';

  history.body.replaceChildren(
    view.history.length
      ? table({ 'data-alert-history': '' }, ['At', 'Rule', 'Labels', 'From', 'To', 'Value'], view.history.map((h) => [formatTime(h.at), h.rule, labelText(h.labels), h.from, h.to, formatNumber(h.value)]))
      : el('div', { class: 'panel-empty' }, 'No state changes yet'),
  );
  history.section.dataset.state = view.history.length ? 'ready' : 'empty';
}
