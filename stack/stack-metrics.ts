// `tributary up`'s own /metrics (Prometheus job `stack`): the supervisor's view of each component and
// the demo generator's counters, read at scrape time.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { DemoCounters } from './demo-generator.ts';

export interface StackMetricsSources {
  components(): { name: string; running: boolean; restarts: number }[];
  demo(): DemoCounters | null;
}

export function stackRegistry(sources: StackMetricsSources): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tributary_stack_process_' });
  new Gauge({
    name: 'tributary_stack_component_up',
    help: '1 while the supervised component runs, 0 while it is down (crashed, waiting to restart)',
    labelNames: ['component'],
    registers: [registry],
    collect() {
      for (const c of sources.components()) this.set({ component: c.name }, c.running ? 1 : 0);
    },
  });
  new Counter({
    name: 'tributary_stack_component_restarts_total',
    help: 'Times the supervisor restarted a component after it exited on its own',
    labelNames: ['component'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of sources.components()) this.inc({ component: c.name }, c.restarts);
    },
  });
  const demo = (name: string, help: string, read: (d: DemoCounters) => number, labels: Record<string, string> = {}) =>
    new Counter({
      name,
      help,
      labelNames: Object.keys(labels),
      registers: [registry],
      collect() {
        const d = sources.demo();
        this.reset();
        if (d) this.inc(labels, read(d));
      },
    });
  demo('tributary_stack_demo_page_views_total', 'Page views the demo generator sent and the collector accepted', (d) => d.pageViewsSent);
  demo('tributary_stack_demo_page_view_failures_total', 'Page views the demo generator could not deliver', (d) => d.pageViewsFailed);
  demo('tributary_stack_demo_log_records_total', 'Log records the demo generator appended (error-burst records included)', (d) => d.logRecords + d.errorBurstRecords);
  demo('tributary_stack_demo_error_burst_records_total', 'ERROR records written by the error burst', (d) => d.errorBurstRecords);
  return registry;
}
