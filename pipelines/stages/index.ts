/** The stream stages, by name: each a factory taking its options and returning a StageDefinition. */
export { logsStage } from './logs-stage.ts';
export { metricsStage } from './metrics-stage.ts';
export { pageviewsStage, type PageviewsStageOptions } from './pageviews-stage.ts';
export type { StageOptions } from './decode.ts';
