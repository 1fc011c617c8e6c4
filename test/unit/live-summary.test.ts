/**
 * liveSummary (harness/metrics/summary.ts): what abort_on_fail thresholds read during the run is
 * built by the same code as the final summary, so at the same stop time every live threshold
 * reads exactly the value the final summary.json holds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { Aggregator } from '../../harness/metrics/aggregator.ts';
import { buildSummary, liveSummary } from '../../harness/metrics/summary.ts';
import { buildPlan } from '../../harness/workload/plan.ts';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { evaluateThresholds, parseThreshold, THRESHOLD_METRICS } from '../../harness/gate/threshold.ts';
import { FIXTURE_SCENARIO, fixtureRecords } from '../fixtures/run-data.ts';

test('at the same stop time, every live metric has the value of the final summary', () => {
  const sc = parseScenario(FIXTURE_SCENARIO, path.join(os.tmpdir(), 'live.yaml'));
  const plan = buildPlan(sc);
  const agg = new Aggregator(sc.load.stages.length, sc.slo, plan.targetsPerSecond);
  for (const r of fixtureRecords()) agg.add(r);
  const exprs = [
    ...THRESHOLD_METRICS.map((m) => m.replace('<error code>', 'http_500').replace('<status>', '500').replace('<worker>', 'w').replace('<query>', 'q')),
    'stages.spike.ttft.p95', 'stages.0.throughput.requests_per_s', 'stages.spike.window_s', 'by_tenant.free.error_rate', 'by_tenant.pro.goodput.requests_per_s', 'by_model.llama-3.1-8b.latency_ms.e2e.mean',
  ];
  const live = exprs.map((e) => parseThreshold(`${e} > 0`)).flatMap((p) => (p.ok && p.threshold.live ? [p.threshold] : []));
  assert.ok(live.length > 150, `${live.length} live thresholds`);
  for (const stopMs of [3000, 6500]) {
    const final = buildSummary({
      scenario: sc,
      plan,
      engine: { aggregator: agg, startedAt: new Date(), wallMs: stopMs + 500, interrupted: true, stoppedAtMs: stopMs, abortedAtEnd: 0, threads: 1, eventLoopUtilization: 0.1, cpuPercent: 1 },
      targetUrl: 'http://x/v1',
      embedded: false,
      calibration: { source: 'server', tokenizer: 't', overheadTokens: 0, tokensPerWord: 1, exact: true, maxModelLen: 100 },
      version: '0',
    });
    const a = evaluateThresholds(live, liveSummary(sc, plan, agg, stopMs));
    const b = evaluateThresholds(live, JSON.parse(JSON.stringify(final)));
    assert.deepEqual(a, b, `stopped at ${stopMs} ms`);
    assert.ok(a.some((r) => r.value !== null && r.value > 0));
  }
});
