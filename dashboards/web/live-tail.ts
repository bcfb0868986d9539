/**
 * The Logs view's live tail: an EventSource on /api/logs/tail with the view's filters. Newest line on
 * top, at most MAX_LINES kept. Pausing closes the stream (the server stops its consumer); resuming opens
 * a new one, from that moment on.
 */
import type { TailedRecord } from '../log-tail.ts';
import { browser, el, type DomElement, type EventSourceLike } from './dom.ts';

const MAX_LINES = 200;
const FILTERS = ['service', 'severity', 'host', 'text'] as const;

export class LiveTail {
  readonly section: DomElement;
  private readonly list: DomElement;
  private readonly button: DomElement;
  private readonly status: DomElement;
  private readonly filters: Record<string, string>;
  private source: EventSourceLike | null = null;

  constructor(vars: Record<string, string>) {
    this.filters = Object.fromEntries(FILTERS.map((f) => [f, vars[f] ?? '']));
    this.section = el('section', { class: 'panel panel-tail', 'data-panel': 'live-tail', 'data-state': 'loading' });
    const head = el('header', { class: 'panel-head' });
    this.status = el('span', { class: 'tail-status' }, 'connecting…');
    this.button = el('button', { type: 'button', name: 'tail' }, 'Pause');
    this.button.addEventListener('click', () => (this.source ? this.pause() : this.resume()));
    const shown = FILTERS.filter((f) => this.filters[f] !== '').map((f) => `${f}: ${this.filters[f]}`).join(', ');
    head.append(el('h2', {}, 'Live tail'), el('span', { class: 'tail-filters' }, shown || 'all records'), this.status, this.button);
    this.list = el('ol', { class: 'tail-lines' });
    this.section.append(head, this.list);
  }

  resume(): void {
    const q = new URLSearchParams();
    for (const f of FILTERS) if (this.filters[f] !== '') q.set(f, this.filters[f]);
    const source = new browser.EventSource(`/api/logs/tail?${q}`);
    this.source = source;
    this.button.textContent = 'Pause';
    this.section.dataset.state = 'loading';
    this.status.textContent = 'connecting…';
    source.addEventListener('ready', () => {
      this.section.dataset.state = 'ready';
      this.status.textContent = 'live';
      this.section.querySelector('.panel-error')?.remove();
    });
    source.addEventListener('log', (e) => this.add(JSON.parse(e.data ?? 'null') as TailedRecord));
    source.addEventListener('tail-error', (e) => this.fail(JSON.parse(e.data ?? 'null').message));
    source.addEventListener('error', () => {
      // EventSource reconnects by itself after a dropped connection; a refused one (4xx/5xx) is final.
      if (source.readyState === browser.EventSource.CLOSED) {
        this.fail('the live tail could not connect (the server refused or is gone)');
        this.source = null;
        this.button.textContent = 'Resume';
      } else this.status.textContent = 'reconnecting…';
    });
  }

  pause(): void {
    this.source?.close();
    this.source = null;
    this.button.textContent = 'Resume';
    this.status.textContent = 'paused';
  }

  destroy(): void {
    this.source?.close();
    this.source = null;
  }

  private fail(message: string): void {
    this.section.dataset.state = 'error';
    this.status.textContent = 'error';
    let box = this.section.querySelector('.panel-error');
    if (!box) this.list.before((box = el('div', { class: 'panel-error', role: 'alert' })));
    box.textContent = message;
  }

  private add(r: TailedRecord): void {
    const li = el('li', { 'data-offset': String(r.offset), 'data-partition': String(r.partition), class: `sev-${String(r.record.severity).toLowerCase()}` });
    const time = new Date(Number(r.record.time)).toISOString().replace('T', ' ').slice(0, 23);
    li.append(
      el('time', {}, time),
      el('span', { class: 'sev' }, String(r.record.severity)),
      el('span', { class: 'svc' }, String(r.record.service)),
      el('span', { class: 'host' }, String(r.record.host)),
      el('span', { class: 'body' }, String(r.record.body)),
    );
    this.list.prepend(li);
    while (this.list.children.length > MAX_LINES) this.list.lastElementChild!.remove();
  }
}
