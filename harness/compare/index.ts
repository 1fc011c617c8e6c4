/** Run comparison and the regression gate (`harness compare`, `harness gate`). */
export * from './bootstrap.ts';
export * from './compare-metrics.ts';
export * from './run-sample.ts';
export * from './compare-runs.ts';
export * from './comparison.ts';
export * from './gate-spec.ts';
export * from './gate.ts';
export * from './compare-render.ts';
export * from './gate-render.ts';
