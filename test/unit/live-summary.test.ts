/**
 * liveSummary (harness/metrics/summary.ts): what abort_on_fail thresholds read during the run is
 * built by the same code as the final summary, so at the same stop time every live threshold
 * reads exactly the value the final summary.json holds; conversations.* too (open conversations
 * count as cut in both).
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
import { failedRecord, record } from '../fixtures/records.ts';
import type { RequestRecord } from '../../harness/metrics/request-record.ts';

test('at the same stop time, every live metric has the value of the final summary', () => {
  const sc = parseScenario(FIXTURE_SCENARIO, path.join(os.tmpdir(), 'live.yaml'));
  const plan = buildPlan(sc);
  const agg = new Aggregator(sc.load.stages.length, sc.slo, plan.targetsPerSecond);
  for (const r of fixtureRecords()) agg.add(r);
  const exprs = [
    ...THRESHOLD_METRICS.map((m) => m.replace('<error code>', 'http_500').replace('<status>', '500').replace('<worker>', 'w').replace('<query>', 'q').replace('<turn>', '2')),
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

test('conversations: live thresholds read the conversations block the final summary holds', () => {
  const sc = parseScenario(
    'name: chat\ntarget: {model: m}\nworkload: {prompt_tokens: 10, output_tokens: 4, conversation: {turns: 3}}\nload: {stages: [{name: chat, duration: 10s, users: 3}]}\n',
    path.join(os.tmpdir(), 'live-chat.yaml'),
  );
  const plan = buildPlan(sc);
  const agg = new Aggregator(sc.load.stages.length, sc.slo, plan.targetsPerSecond);
  const turn = (conversation: number, t: number, o: Partial<RequestRecord> = {}) =>
    record({ conversation, turn: t, conversationTurns: 3, user: conversation % 3, sentMs: 1000 * t, endMs: 1000 * t + 400, ttftMs: 50 * t + conversation, ...o });
  for (let t = 1; t <= 3; t++) agg.add(turn(1, t));
  for (let t = 1; t <= 3; t++) agg.add(turn(2, t));
  agg.add(turn(3, 1));
  agg.add(failedRecord('http_500', 500, { conversation: 3, turn: 2, conversationTurns: 3, sentMs: 2000, endMs: 2100 }));
  agg.add(turn(4, 1)); // still open: cut
  const exprs = THRESHOLD_METRICS.filter((m) => m.startsWith('conversations.')).flatMap((m) =>
    m.includes('<turn>') ? ['1', '2', '3', '10+'].map((t) => m.replace('<turn>', t)) : [m]);
  const parsed = exprs.map((e) => parseThreshold(`${e} > 0`));
  assert.ok(parsed.every((p) => p.ok && p.threshold.live), 'every conversations metric parses and is live');
  const ts = parsed.flatMap((p) => (p.ok ? [p.threshold] : []));
  const final = buildSummary({
    scenario: sc,
    plan,
    engine: { aggregator: agg, startedAt: new Date(), wallMs: 5000, interrupted: true, stoppedAtMs: 4500, abortedAtEnd: 0, threads: 1, eventLoopUtilization: 0.1, cpuPercent: 1 },
    targetUrl: 'http://x/v1',
    embedded: false,
    calibration: { source: 'server', tokenizer: 't', overheadTokens: 0, tokensPerWord: 1, exact: true, maxModelLen: 100 },
    version: '0',
  });
  const a = evaluateThresholds(ts, liveSummary(sc, plan, agg, 4500));
  assert.deepEqual(a, evaluateThresholds(ts, JSON.parse(JSON.stringify(final))));
  const value = (expr: string) => a.find((r) => r.expr === `${expr} > 0`)!.value;
  assert.equal(value('conversations.completed'), 2);
  assert.equal(value('conversations.failed'), 1);
  assert.equal(value('conversations.cut'), 1);
  assert.equal(value('conversations.completed_fraction'), 2 / 3);
  assert.equal(value('conversations.ttft_ms_by_turn.3.count'), 2);
  assert.equal(value('conversations.ttft_ms_by_turn.10+.count'), null, 'no turn 10: no value');
});
