/**
 * buildSummary (harness/metrics/summary.ts): the summary.json contract of DESIGN.md, the
 * measurement windows of docs/metrics.md (run, stages, interrupted runs), warmup/cooldown
 * exclusion, per-model and per-tenant blocks, and the saturation verdict; the terminal summary's
 * server block.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { Aggregator } from '../../harness/metrics/aggregator.ts';
import { buildSummary, SATURATED_ELU, type SummaryInput } from '../../harness/metrics/summary.ts';
import { buildPlan } from '../../harness/workload/plan.ts';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { failedRecord, record } from '../fixtures/records.ts';
import type { RequestRecord } from '../../harness/metrics/request-record.ts';
import { renderSummary } from '../../harness/report/console-summary.ts';
import { buildServerSummary, noServerSummary, type ServerPoint } from '../../harness/observe/server-summary.ts';
import { emptyValues } from '../../harness/observe/derive.ts';

const sc = parseScenario(
  `name: s
target: {url: "http://127.0.0.1:1/v1", model: m}
workload: {prompt_tokens: 10, output_tokens: 4}
load: {arrival: constant, warmup: 1s, cooldown: 1s, stages: [{name: a, duration: 4s, rate: 2}, {name: b, duration: 4s, rate: 4}]}
slo: {ttft: 200ms}
client: {saturation_lag_p99: 10ms}`,
  path.join(os.tmpdir(), 's.yaml'),
);
const plan = buildPlan(sc);

function summarize(records: RequestRecord[], o: { engine?: Partial<SummaryInput['engine']> } = {}) {
  const agg = new Aggregator(sc.load.stages.length, sc.slo, plan.targetsPerSecond);
  for (const r of records) agg.add(r);
  const { engine, ...rest } = o;
  return buildSummary({
    scenario: sc,
    plan,
    targetUrl: 'http://127.0.0.1:1/v1',
    embedded: false,
    calibration: { source: 'server', tokenizer: 'server /tokenize', overheadTokens: 1, tokensPerWord: 1, exact: true, maxModelLen: 4096 },
    version: '0.0.0',
    ...rest,
    engine: {
      aggregator: agg,
      startedAt: new Date('2026-11-27T13:00:00Z'),
      wallMs: 9000,
      interrupted: false,
      stoppedAtMs: undefined,
      abortedAtEnd: 0,
      threads: 1,
      eventLoopUtilization: 0.2,
      cpuPercent: 12,
      ...engine,
    },
  });
}

describe('summary.json contract', () => {
  test('has every field DESIGN.md names, versioned', () => {
    const s = summarize([record({ stage: 0, intendedMs: 2000, sentMs: 2000, endMs: 2400 })]);
    assert.equal(s.schema_version, 1);
    assert.deepEqual(s.scenario, { name: 's', file: path.join(os.tmpdir(), 's.yaml'), seed: 1, description: null });
    assert.deepEqual(Object.keys(s.requests).sort(), ['dropped', 'failed', 'ok', 'total']);
    assert.deepEqual(Object.keys(s.throughput).sort(), ['output_tokens_per_s', 'requests_per_s', 'total_tokens_per_s']);
    assert.deepEqual(Object.keys(s.goodput).sort(), ['fraction', 'output_tokens_per_s', 'requests_per_s']);
    for (const m of ['ttft', 'itl', 'tpot', 'e2e', 'queue']) {
      for (const k of ['mean', 'p50', 'p90', 'p95', 'p99', 'max']) assert.ok(k in s.latency_ms[m as 'ttft'], `${m}.${k}`);
    }
    assert.ok('send_lag_ms' in s.client && 'saturated' in s.client);
    assert.equal(s.started_at, '2026-11-27T13:00:00.000Z');
    assert.equal(s.duration_s, 9);
    assert.equal(s.target.embedded, false);
    assert.deepEqual(s.server, {});
    assert.equal(s.stages.length, 2);
    assert.deepEqual(s.thresholds, []);
    assert.equal(s.histograms.ok, 1);
    assert.equal(s.prompts.exact, true);
  });
});

describe('windows and exclusion', () => {
  test('warmup and cooldown requests are excluded and counted', () => {
    const s = summarize([
      record({ phase: 'warmup', intendedMs: 100, sentMs: 100, endMs: 500 }),
      record({ phase: 'measure', intendedMs: 2000, sentMs: 2000, endMs: 2400 }),
      record({ phase: 'cooldown', stage: 1, intendedMs: 7500, sentMs: 7500, endMs: 7900 }),
    ]);
    assert.equal(s.requests.total, 1);
    assert.deepEqual(s.measurement.excluded, { warmup: 1, cooldown: 1 });
  });

  test('run window: warmup end to the later of (stages end - cooldown) and the last end', () => {
    // Nominal window 1 s .. 7 s = 6 s; 12 ok requests -> 2 req/s.
    const recs = Array.from({ length: 12 }, (_, i) => record({ stage: i < 6 ? 0 : 1, intendedMs: 1000 + i * 400, sentMs: 1000 + i * 400, endMs: 1400 + i * 400 }));
    assert.equal(summarize(recs).throughput.requests_per_s, 2);
    assert.equal(summarize(recs).window_s, 6);
    // A request ending at 10 s stretches the window to 9 s.
    const late = [...recs, record({ stage: 1, intendedMs: 6000, sentMs: 6000, endMs: 10_000 })];
    assert.equal(summarize(late).window_s, 9);
    assert.equal(summarize(late).throughput.requests_per_s, 13 / 9);
  });

  test('stage windows: from the stage start (or warmup end) to its end or its last request', () => {
    const s = summarize([
      record({ stage: 0, intendedMs: 1500, sentMs: 1500, endMs: 1900 }),
      record({ stage: 1, intendedMs: 4500, sentMs: 4500, endMs: 9500 }),
    ]);
    assert.equal(s.stages[0]!.window_s, 3); // 1 s (warmup end) .. 4 s
    assert.equal(s.stages[1]!.window_s, 5.5); // 4 s .. 9.5 s (its request ends after the stage)
    assert.deepEqual([s.stages[0]!.name, s.stages[0]!.target_rate_rps, s.stages[1]!.start_s], ['a', 2, 4]);
  });

  test('an interrupted run ends its windows where sending stopped', () => {
    const s = summarize([record({ stage: 0, intendedMs: 1500, sentMs: 1500, endMs: 1900 }), record({ stage: 0, intendedMs: 2000, sentMs: 2000, endMs: 2400 })], {
      engine: { interrupted: true, stoppedAtMs: 3000 },
    });
    assert.equal(s.complete, false);
    assert.equal(s.window_s, 2); // 1 s .. 3 s, not 1 s .. 7 s
    assert.equal(s.throughput.requests_per_s, 1);
    assert.equal(s.stages[1]!.window_s, 0);
  });
});

describe('blocks, goodput and saturation', () => {
  test('by_model and by_tenant blocks, goodput by the scenario SLO', () => {
    const s = summarize([
      record({ model: 'x', tenant: 't1', intendedMs: 2000, sentMs: 2000, endMs: 2400, ttftMs: 100 }),
      record({ model: 'x', tenant: 't2', intendedMs: 2100, sentMs: 2100, endMs: 2500, ttftMs: 300 }),
      failedRecord('http_500', 500, { model: 'y', tenant: 't2', intendedMs: 2200, sentMs: 2200, endMs: 2300 }),
    ]);
    assert.deepEqual(Object.keys(s.by_model), ['x', 'y']);
    assert.equal(s.by_model.x!.requests.ok, 2);
    assert.equal(s.by_model.y!.error_rate, 1);
    assert.equal(s.by_tenant.t2!.requests.total, 2);
    assert.equal(s.goodput.fraction, 1 / 3); // only the 100 ms TTFT meets ttft <= 200ms
    assert.deepEqual(s.errors, { http_500: 1 });
    assert.deepEqual(s.slo, { ttft_ms: 200, tpot_ms: null, itl_ms: null, e2e_ms: null });
  });

  test('saturated when the send lag p99 passes the bound, or a client thread is nearly always busy', () => {
    const onTime = [record({ intendedMs: 2000, sentMs: 2001, scheduleLagMs: 1, endMs: 2400 })];
    assert.equal(summarize(onTime).client.saturated, false);
    const late = [record({ intendedMs: 2000, sentMs: 2050, scheduleLagMs: 50, endMs: 2400 })];
    assert.equal(summarize(late).client.saturated, true);
    assert.equal(summarize(onTime, { engine: { eventLoopUtilization: SATURATED_ELU + 0.01 } }).client.saturated, true);
    assert.equal(summarize(onTime, { engine: { eventLoopUtilization: SATURATED_ELU - 0.01 } }).client.saturated, false);
  });
});

describe('the terminal summary', () => {
  test("shows the server's side next to the client's: sampled figures, or why there are none", () => {
    const s = summarize([record({ id: 0, sentMs: 1000 }), record({ id: 1, sentMs: 1500 })]);
    const point = (t: number, running: number, kv: number): ServerPoint => ({
      ...emptyValues(),
      t_s: t,
      running,
      queue_depth: 1,
      kv_cache_usage: kv,
      by_worker: {},
      failed: [],
    });
    s.server = buildServerSummary({ source: 'metrics', note: null, intervalS: 1, durationS: 2, points: [point(0, 2, 0.1), point(1, 8, 0.4), point(2, 4, 0.2)] });
    const text = renderSummary(s, undefined);
    assert.match(text, /server \(metrics, 3 samples\)\s+mean\s+p95\s+max/);
    assert.match(text, /running\s+4\.7\s+8\s+8/);
    assert.match(text, /KV-cache usage\s+23\.3%\s+40\.0%\s+40\.0%/);
    assert.doesNotMatch(text, /GPU utilisation/, 'figures nobody exported are left out');
    s.server = noServerSummary('the target has no /metrics');
    assert.match(renderSummary(s, undefined), /server {6}not sampled: the target has no \/metrics/);
  });
});
