/**
 * Everything a view shows is in its URL, so a reload or a shared link restores it and back/forward walk
 * through it: `?view=<id>&range=1h&refresh=off&var-<name>=<value>`, and for a custom range
 * `range=custom&from=<epoch ms>&to=<epoch ms>`.
 */
export const RANGES: Record<string, number> = {
  '5m': 5 * 60_000,
  '15m': 15 * 60_000,
  '1h': 3_600_000,
  '6h': 6 * 3_600_000,
  '24h': 24 * 3_600_000,
  '7d': 7 * 24 * 3_600_000,
};
export const REFRESH_MS: Record<string, number> = { off: 0, '5s': 5_000, '10s': 10_000, '30s': 30_000, '1m': 60_000 };

export const DEFAULT_RANGE = '1h';

export interface UiState {
  view: string;
  /** A key of RANGES, or 'custom' with from/to. */
  range: string;
  from?: number;
  to?: number;
  refresh: string;
  vars: Record<string, string>;
}

export function readState(search: string, defaultView: string): UiState {
  const q = new URLSearchParams(search);
  const vars: Record<string, string> = {};
  for (const [key, value] of q) if (key.startsWith('var-')) vars[key.slice(4)] = value;
  let range = q.get('range') ?? DEFAULT_RANGE;
  const from = Number(q.get('from'));
  const to = Number(q.get('to'));
  const customOk = Number.isSafeInteger(from) && Number.isSafeInteger(to) && q.has('from') && q.has('to') && from < to;
  if (range === 'custom' ? !customOk : !(range in RANGES)) range = DEFAULT_RANGE;
  const refresh = q.get('refresh') ?? 'off';
  return {
    view: q.get('view') || defaultView,
    range,
    ...(range === 'custom' ? { from, to } : {}),
    refresh: refresh in REFRESH_MS ? refresh : 'off',
    vars,
  };
}

export function stateToSearch(s: UiState): string {
  const q = new URLSearchParams();
  q.set('view', s.view);
  q.set('range', s.range);
  if (s.range === 'custom' && s.from !== undefined && s.to !== undefined) {
    q.set('from', String(s.from));
    q.set('to', String(s.to));
  }
  q.set('refresh', s.refresh);
  for (const [name, value] of Object.entries(s.vars)) if (value !== '') q.set(`var-${name}`, value);
  return `?${q}`;
}

/** The absolute range to query now: a preset ends at the current second. */
export function resolveRange(s: UiState, now = Date.now()): { from: number; to: number } {
  if (s.range === 'custom' && s.from !== undefined && s.to !== undefined) return { from: s.from, to: s.to };
  const to = Math.ceil(now / 1000) * 1000;
  return { from: to - (RANGES[s.range] ?? RANGES[DEFAULT_RANGE]), to };
}
