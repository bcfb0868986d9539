import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Logger } from '../../broker/server/logger.ts';
import type { AlertRule, RuleGroup } from './alert-rule.ts';
import { AlertStates, type Alert } from './alert-state.ts';
import { alertTransitions, type AlertStore } from './alert-store.ts';
import type { AlertsProvider, AlertsView, AlertTransition, RuleView } from './alerts-view.ts';
import { evaluateRules, type RuleQuery } from './evaluator.ts';
import type { Notifier } from './notifier.ts';

/**
 * Evaluates each rule group on its own interval (the first evaluation right after start), like Prometheus'
 * rule manager: a group's evaluations never overlap (one that overruns delays the next, missed ticks are
 * skipped, not queued), different groups run independently. After each evaluation the new state is saved
 * (when something changed), the state changes are appended to the history, and notifications are queued.
 *
 * The store is optional (no ClickHouse configured): the state then lives in memory only. A failed save is
 * logged and retried after the next evaluation; it never stops evaluating.
 */
export const DEFAULT_HISTORY_LIMIT = 500;
/** History rows held back while ClickHouse is unreachable; beyond this the oldest are dropped (and logged). */
const MAX_UNSAVED_HISTORY = 10_000;

export interface AlertSchedulerOptions {
  groups: readonly RuleGroup[];
  /** Called with the evaluation time of the group being evaluated. */
  query: (now: number) => RuleQuery;
  store?: AlertStore;
  notifier: Notifier;
  registry: Registry;
  log: Logger;
  /** Transitions kept in memory for view(); default 500. */
  historyLimit?: number;
}

interface SchedulerMetrics {
  evaluations: Counter<'group'>;
  failures: Counter<'group'>;
  duration: Histogram<'group'>;
  storeFailures: Counter;
}

function schedulerMetrics(registry: Registry, states: () => AlertStates): SchedulerMetrics {
  new Gauge({
    name: 'tributary_alerts',
    help: 'Alerts by state (pending, firing, resolved and kept for its notification).',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const counts = { pending: 0, firing: 0, resolved: 0 };
      for (const a of states().alerts()) counts[a.status]++;
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  return {
    evaluations: new Counter({ name: 'tributary_alert_group_evaluations_total', help: 'Evaluations of a rule group.', labelNames: ['group'], registers: [registry] }),
    failures: new Counter({ name: 'tributary_alert_rule_evaluation_failures_total', help: 'Rule evaluations that failed (query error or unusable result), by group.', labelNames: ['group'], registers: [registry] }),
    duration: new Histogram({
      name: 'tributary_alert_group_evaluation_duration_seconds',
      help: 'How long one evaluation of a rule group took, queries included.',
      labelNames: ['group'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    storeFailures: new Counter({ name: 'tributary_alert_store_failures_total', help: 'Failed saves of the alert state or history to ClickHouse (retried after the next evaluation).', registers: [registry] }),
  };
}

export class AlertScheduler implements AlertsProvider {
  readonly #groups: readonly RuleGroup[];
  readonly #query: (now: number) => RuleQuery;
  readonly #store: AlertStore | undefined;
  readonly #notifier: Notifier;
  readonly #log: Logger;
  readonly #historyLimit: number;
  readonly #metrics: SchedulerMetrics;
  #states = new AlertStates();
  #history: AlertTransition[] = [];
  /** History rows not yet written (a failed write is retried with the next ones). */
  #unsavedHistory: AlertTransition[] = [];
  #stateDirty = false;
  #saving: Promise<void> = Promise.resolve();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #inFlight = new Set<Promise<void>>();
  #stopped = false;
  #started = false;

  constructor(opts: AlertSchedulerOptions) {
    this.#groups = opts.groups;
    this.#query = opts.query;
    this.#store = opts.store;
    this.#notifier = opts.notifier;
    this.#log = opts.log;
    this.#historyLimit = opts.historyLimit ?? DEFAULT_HISTORY_LIMIT;
    this.#metrics = schedulerMetrics(opts.registry, () => this.#states);
  }

  /** Restores the saved state (if a store is set), then starts evaluating every group. */
  async start(): Promise<void> {
    if (this.#started) throw new Error('the alert scheduler was already started');
    // A failed restore may be retried: nothing is marked started until it succeeded.
    if (this.#store) {
      const saved = await this.#store.load();
      if (saved) {
        this.#states = AlertStates.restore(saved.snapshot);
        this.#notifier.restoreNotified(saved.notified);
        const firing = this.#states.alerts().filter((a) => a.status === 'firing').length;
        this.#log.info(`alert state restored (${this.#states.alerts().length} alerts, ${firing} firing, saved ${new Date(saved.savedAt).toISOString()})`);
      }
      this.#history = await this.#store.history(this.#historyLimit);
    }
    this.#started = true;
    // Rules removed from the files since the state was saved are forgotten.
    this.#states.retainRules(this.#groups.flatMap((g) => g.rules.map((r) => r.name)));
    const start = Date.now();
    for (const group of this.#groups) this.#schedule(group, start, 0);
    const rules = this.#groups.reduce((n, g) => n + g.rules.length, 0);
    this.#log.info(`evaluating ${rules} alert rules in ${this.#groups.length} groups`);
  }

  /** Stops scheduling, waits for evaluations in flight, and saves what is not saved yet. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await Promise.all([...this.#inFlight]);
    await this.#persist();
  }

  view(): AlertsView {
    const rules = this.#groups.flatMap((g) => g.rules.map((r) => this.#ruleView(r)));
    return { rules, history: this.#history.map((t) => ({ ...t, labels: { ...t.labels } })) };
  }

  /** Every current alert (for tests and the `tributary_alerts` gauge's readers). */
  alerts(): Alert[] {
    return this.#states.alerts();
  }

  #ruleView(rule: AlertRule): RuleView {
    const health = this.#states.ruleHealth(rule.name);
    const alerts = this.#states.alerts(rule.name);
    const state = alerts.some((a) => a.status === 'firing') ? 'firing' : alerts.some((a) => a.status === 'pending') ? 'pending' : 'inactive';
    return {
      name: rule.name,
      group: rule.group,
      kind: rule.kind,
      expr: rule.expr,
      threshold: { ...rule.threshold },
      forMs: rule.forMs,
      labels: { ...rule.labels },
      annotations: { ...rule.annotations },
      health: health?.health ?? 'unknown',
      lastError: health?.lastError ?? null,
      lastEvaluatedAt: health?.lastEvaluatedAt ?? null,
      state,
      alerts,
    };
  }

  /** Runs evaluation number `tick` of the group at start + tick × interval (or now, if that has passed). */
  #schedule(group: RuleGroup, start: number, tick: number): void {
    if (this.#stopped) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      const run = this.#evaluate(group).finally(() => this.#inFlight.delete(run));
      this.#inFlight.add(run);
      void run.then(() => {
        // Skip the ticks an overrunning evaluation missed instead of running them back to back.
        const next = Math.max(tick + 1, Math.ceil((Date.now() - start) / group.intervalMs));
        this.#schedule(group, start, next);
      });
    }, Math.max(0, start + tick * group.intervalMs - Date.now()));
    this.#timers.add(timer);
  }

  async #evaluate(group: RuleGroup): Promise<void> {
    const now = Date.now();
    const names = group.rules.map((r) => r.name);
    const before = names.flatMap((n) => this.#states.alerts(n));
    const healthBefore = names.map((n) => this.#states.ruleHealth(n)?.health);
    const endTimer = this.#metrics.duration.startTimer({ group: group.name });
    try {
      const result = await evaluateRules(group.rules, this.#query(now), this.#states, now);
      this.#metrics.evaluations.inc({ group: group.name });
      for (const e of result.evaluations) {
        if (e.error === undefined) continue;
        this.#metrics.failures.inc({ group: group.name });
        const rule = group.rules.find((r) => r.name === e.rule);
        // Logged when a rule turns unhealthy, not on every evaluation of a rule that stays broken.
        if (healthBefore[names.indexOf(e.rule)] !== 'err') this.#log.warn(`alert rule ${e.rule} (${rule?.kind}) failed: ${e.error}`);
      }
      const after = names.flatMap((n) => this.#states.alerts(n));
      const transitions = alertTransitions(before, after, now);
      this.#recordHistory(transitions);
      const notifiedBefore = JSON.stringify(this.#notifier.notified());
      this.#notifier.notify(group, result.notifications, after, now);
      this.#notifier.retain(this.#states.alerts().map((a) => a.fingerprint));
      const healthChanged = names.some((n, i) => this.#states.ruleHealth(n)?.health !== healthBefore[i]);
      if (transitions.length > 0 || healthChanged || JSON.stringify(this.#notifier.notified()) !== notifiedBefore) this.#stateDirty = true;
      for (const n of result.notifications) this.#log.info(`alert ${n.alert.rule} ${JSON.stringify(n.alert.labels)} ${n.status}`);
    } catch (err) {
      // evaluateRules turns query failures into rule errors; anything here is a bug, which must not stop the loop.
      this.#metrics.failures.inc({ group: group.name });
      this.#log.error(`evaluating alert group ${group.name} failed: ${(err as Error).stack ?? err}`);
    } finally {
      endTimer();
    }
    await this.#persist();
  }

  #recordHistory(transitions: AlertTransition[]): void {
    if (transitions.length === 0) return;
    const newestFirst = [...transitions].reverse();
    this.#history = [...newestFirst, ...this.#history].slice(0, this.#historyLimit);
    this.#unsavedHistory.push(...transitions);
    const excess = this.#unsavedHistory.length - MAX_UNSAVED_HISTORY;
    if (excess > 0) {
      this.#unsavedHistory.splice(0, excess);
      this.#log.error(`alert history: ${excess} transitions dropped, ClickHouse has been unreachable too long`);
    }
  }

  /** Saves history and state if anything is unsaved; saves are serialised so the newest state is written last. */
  #persist(): Promise<void> {
    const store = this.#store;
    if (!store) return Promise.resolve();
    this.#saving = this.#saving.then(async () => {
      if (this.#unsavedHistory.length === 0 && !this.#stateDirty) return;
      const rows = this.#unsavedHistory.splice(0);
      const dirty = this.#stateDirty;
      this.#stateDirty = false;
      try {
        await store.appendHistory(rows);
      } catch (err) {
        this.#unsavedHistory.unshift(...rows);
        this.#stateDirty ||= dirty;
        this.#metrics.storeFailures.inc();
        this.#log.error(`saving alert history failed, will retry: ${(err as Error).message}`);
        return;
      }
      if (!dirty) return;
      try {
        await store.save(this.#states.snapshot(), this.#notifier.notified());
      } catch (err) {
        this.#stateDirty = true;
        this.#metrics.storeFailures.inc();
        this.#log.error(`saving alert state failed, will retry: ${(err as Error).message}`);
      }
    });
    return this.#saving;
  }
}
