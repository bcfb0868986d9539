import { breaches, type AlertRule } from './alert-rule.ts';
import { alertLabels, labelsFingerprint, type ActiveSeries, type AlertStates, type Notification } from './alert-state.ts';

/** One series of a rule's result: a PromQL sample or a ClickHouse row. */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export type RuleQuery = (rule: AlertRule) => Promise<Sample[]>;

export interface RuleEvaluation {
  rule: string;
  /** Every series the query returned, breaching or not (for the dashboards). */
  samples: Sample[];
  error?: string;
}

export interface EvaluationResult {
  notifications: Notification[];
  evaluations: RuleEvaluation[];
}

/**
 * Evaluates rules at `now`: queries run concurrently, then each rule's result is applied to `states` in rule
 * order. A failed query (or a result with two series for one label set) marks the rule errored and leaves its
 * alerts as they were — an outage of ClickHouse or Prometheus must neither resolve nor fire anything.
 */
export async function evaluateRules(rules: readonly AlertRule[], query: RuleQuery, states: AlertStates, now: number): Promise<EvaluationResult> {
  const results = await Promise.allSettled(rules.map(async (rule) => query(rule)));
  const notifications: Notification[] = [];
  const evaluations: RuleEvaluation[] = [];
  rules.forEach((rule, i) => {
    const result = results[i];
    if (result.status === 'rejected') {
      const error = result.reason instanceof Error ? result.reason.message : String(result.reason);
      states.markError(rule.name, error, now);
      evaluations.push({ rule: rule.name, samples: [], error });
      return;
    }
    const samples = result.value;
    const error = checkSamples(rule, samples);
    if (error) {
      states.markError(rule.name, error, now);
      evaluations.push({ rule: rule.name, samples, error });
      return;
    }
    const active: ActiveSeries[] = samples.filter((s) => breaches(rule, s.value)).map((s) => ({ labels: s.labels, value: s.value }));
    notifications.push(...states.observe(rule, active, now));
    evaluations.push({ rule: rule.name, samples });
  });
  return { notifications, evaluations };
}

function checkSamples(rule: AlertRule, samples: unknown): string | null {
  if (!Array.isArray(samples)) return 'the query did not return a list of series';
  const seen = new Set<string>();
  for (const s of samples as Sample[]) {
    if (typeof s !== 'object' || s === null || typeof s.value !== 'number' || typeof s.labels !== 'object' || s.labels === null) {
      return `the query returned a malformed series: ${JSON.stringify(s)}`;
    }
    const fingerprint = labelsFingerprint(alertLabels(rule, s.labels));
    if (seen.has(fingerprint)) return `the result has more than one series for the label set ${JSON.stringify(alertLabels(rule, s.labels))}`;
    seen.add(fingerprint);
  }
  return null;
}
