/**
 * Thresholds over any summary.json metric (harness/gate/threshold.ts): full dotted paths,
 * breakdowns by stage, tenant and model, the units each metric takes, the coded refusals with
 * "did you mean", which metrics abort_on_fail can watch, and results that say how far off they
 * are, evaluated against a summary built by the real buildSummary.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  evaluateThresholds,
  formatMargin,
  formatMetric,
  parseThreshold,
  type Threshold,
  type ThresholdResult,
} from '../../harness/gate/threshold.ts';
import { fixtureRecords, fixtureRunData } from '../fixtures/run-data.ts';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { issuesOf } from '../fixtures/config-issues.ts';

function ok(expr: string): Threshold {
  const r = parseThreshold(expr);
  assert.ok(r.ok, `expected "${expr}" to parse, got ${r.ok ? '' : r.message}`);
  return r.threshold;
}

function refused(expr: string, code: string): { message: string; allowed: string } {
  const r = parseThreshold(expr);
  assert.ok(!r.ok, `expected "${expr}" to be refused`);
  assert.equal(r.code, code, `${expr}: ${r.message}`);
  assert.ok(r.allowed.length > 0);
  return r;
}

describe('full paths into summary.json', () => {
  const cases: Array<[string, Threshold['scope'], string[], number, string, boolean]> = [
    ['latency_ms.ttft.p99 < 1s', { kind: 'run' }, ['latency_ms', 'ttft', 'p99'], 1000, 'ms', true],
    ['latency_ms.e2e_intended.min >= 5ms', { kind: 'run' }, ['latency_ms', 'e2e_intended', 'min'], 5, 'ms', true],
    ['ttft.count > 100', { kind: 'run' }, ['latency_ms', 'ttft', 'count'], 100, 'count', true],
    ['throughput.output_tokens_per_s > 1000', { kind: 'run' }, ['throughput', 'output_tokens_per_s'], 1000, 'number', true],
    ['client.send_lag_ms.p99 < 5ms', { kind: 'run' }, ['client', 'send_lag_ms', 'p99'], 5, 'ms', true],
    ['server.kv_cache_usage.max < 95%', { kind: 'run' }, ['server', 'kv_cache_usage', 'max'], 0.95, 'ratio', false],
    ['server.queue_depth.p95 < 10', { kind: 'run' }, ['server', 'queue_depth', 'p95'], 10, 'number', false],
    ['server.by_worker.w-0.running.max <= 64', { kind: 'run' }, ['server', 'by_worker', 'w-0', 'running', 'max'], 64, 'number', false],
    ['server.totals.preemptions == 0', { kind: 'run' }, ['server', 'totals', 'preemptions'], 0, 'count', false],
    ['client.cpu_percent < 80%', { kind: 'run' }, ['client', 'cpu_percent'], 80, 'percent', false],
    ['client.event_loop_utilization < 0.9', { kind: 'run' }, ['client', 'event_loop_utilization'], 0.9, 'ratio', false],
    ['duration_s < 2m', { kind: 'run' }, ['duration_s'], 120, 's', false],
    ['window_s >= 500ms', { kind: 'run' }, ['window_s'], 0.5, 's', true],
    ['errors.http_503 == 0', { kind: 'run' }, ['errors', 'http_503'], 0, 'count', true],
    ['errors.timeout_ttft < 5', { kind: 'run' }, ['errors', 'timeout_ttft'], 5, 'count', true],
    ['http_status.429 <= 10', { kind: 'run' }, ['http_status', '429'], 10, 'count', true],
    ['tokens.output_mean > 100', { kind: 'run' }, ['tokens', 'output_mean'], 100, 'number', true],
    ['measurement.excluded.warmup < 10', { kind: 'run' }, ['measurement', 'excluded', 'warmup'], 10, 'count', true],
    ['stages.spike.ttft.p95 < 1s', { kind: 'stages', key: 'spike' }, ['latency_ms', 'ttft', 'p95'], 1000, 'ms', true],
    ['stages.1.latency_ms.itl.p99 < 60ms', { kind: 'stages', key: '1' }, ['latency_ms', 'itl', 'p99'], 60, 'ms', true],
    ['stages.spike.duration_s == 10', { kind: 'stages', key: 'spike' }, ['duration_s'], 10, 's', true],
    ['by_model.llama-3.1-8b.error_rate < 1%', { kind: 'by_model', key: 'llama-3.1-8b' }, ['error_rate'], 0.01, 'ratio', true],
    ['by_model.meta-llama/Llama-3.1-8B.latency_ms.ttft.p95 < 2s', { kind: 'by_model', key: 'meta-llama/Llama-3.1-8B' }, ['latency_ms', 'ttft', 'p95'], 2000, 'ms', true],
    ['by_tenant.free.goodput.fraction > 0.9', { kind: 'by_tenant', key: 'free' }, ['goodput', 'fraction'], 0.9, 'ratio', true],
    ['by_tenant.free.errors.http_429 < 3', { kind: 'by_tenant', key: 'free' }, ['errors', 'http_429'], 3, 'count', true],
  ];
  for (const [expr, scope, path, limit, unit, live] of cases) {
    test(expr, () => {
      const t = ok(expr);
      assert.deepEqual(t.scope, scope);
      assert.deepEqual(t.path, path);
      assert.equal(t.limit, limit);
      assert.equal(t.unit, unit);
      assert.equal(t.live, live, 'live');
    });
  }

  test('a shorthand and its full path are the same threshold', () => {
    for (const [short, full] of [['ttft.p95 < 800ms', 'latency_ms.ttft.p95 < 800ms'], ['send_lag.p99 < 5ms', 'client.send_lag_ms.p99 < 5ms'], ['by_tenant.free.itl.p99 < 60ms', 'by_tenant.free.latency_ms.itl.p99 < 60ms']] as const) {
      const a = ok(short);
      const b = ok(full);
      assert.deepEqual([a.scope, a.path, a.limit, a.unit], [b.scope, b.path, b.limit, b.unit]);
    }
  });
});

describe('units', () => {
  test('durations in seconds take us/ms/s/m and a plain number is seconds', () => {
    assert.equal(ok('duration_s < 90').limit, 90);
    assert.equal(ok('duration_s < 1500ms').limit, 1.5);
    assert.equal(ok('duration_s < 2m').limit, 120);
    assert.equal(ok('window_s > 250000us').limit, 0.25);
  });

  test('ratios take % or a fraction; cpu_percent takes % or a plain percentage', () => {
    assert.equal(ok('server.gpu_utilization.mean > 50%').limit, 0.5);
    assert.equal(ok('server.gpu_utilization.mean > 0.5').limit, 0.5);
    assert.equal(ok('client.cpu_percent < 150%').limit, 150);
    assert.equal(ok('client.cpu_percent < 150').limit, 150);
  });

  test('a unit that does not fit is FG_SCENARIO_THRESHOLD_UNIT, saying what fits', () => {
    const pct = refused('latency_ms.ttft.p95 < 80%', 'FG_SCENARIO_THRESHOLD_UNIT');
    assert.match(pct.allowed, /us, ms, s or m/);
    assert.match(refused('errors.http_500 < 5%', 'FG_SCENARIO_THRESHOLD_UNIT').allowed, /plain number/);
    refused('server.queue_depth.p95 < 10%', 'FG_SCENARIO_THRESHOLD_UNIT');
    refused('server.kv_cache_usage.max < 1s', 'FG_SCENARIO_THRESHOLD_UNIT');
    refused('duration_s < 50%', 'FG_SCENARIO_THRESHOLD_UNIT');
    refused('client.cpu_percent < 5ms', 'FG_SCENARIO_THRESHOLD_UNIT');
    refused('ttft.count > 5s', 'FG_SCENARIO_THRESHOLD_UNIT');
    refused('tokens.output > 1m', 'FG_SCENARIO_THRESHOLD_UNIT');
  });

  test('a word that is no unit, or a non-finite number, is FG_SCENARIO_BAD_THRESHOLD', () => {
    refused('ttft.p95 < 800h', 'FG_SCENARIO_BAD_THRESHOLD');
    refused('ttft.p95 < 8kb', 'FG_SCENARIO_BAD_THRESHOLD');
    refused('ttft.p95 < 1e999', 'FG_SCENARIO_BAD_THRESHOLD');
    refused('ttft..p95 < 1s', 'FG_SCENARIO_BAD_THRESHOLD');
    refused('ttft.p95 === 1s', 'FG_SCENARIO_BAD_THRESHOLD');
  });
});

describe('paths that cannot exist: FG_SCENARIO_THRESHOLD_METRIC with "did you mean"', () => {
  const cases: Array<[string, string | undefined]> = [
    ['latency_ms.ttft.p95x < 1s', 'latency_ms.ttft.p95'],
    ['latency_ms.ttf.p95 < 1s', 'latency_ms.ttft.p95'],
    ['throughput.output_token_per_s > 5', 'throughput.output_tokens_per_s'],
    ['server.kv_cache_usag.max < 0.9', 'server.kv_cache_usage.max'],
    ['server.queue_depth.p99 < 3', 'server.queue_depth.p95'],
    ['client.send_lag.p99 < 5ms', 'client.send_lag_ms.p99'],
    ['goodput.fractoin > 0.9', 'goodput.fraction'],
    ['stages.spike.ttft.p59 < 1s', 'ttft.p50'],
    ['requests < 5', undefined],
    ['latency_ms.ttft < 1s', 'latency_ms.ttft.p50'],
    ['banana.split > 1', undefined],
  ];
  for (const [expr, hint] of cases) {
    test(expr, () => {
      const r = refused(expr, 'FG_SCENARIO_THRESHOLD_METRIC');
      if (hint) assert.ok(r.message.includes(`did you mean "${hint}"?`), r.message);
      else assert.doesNotMatch(r.message, /did you mean/);
      assert.match(r.allowed, /summary\.json|block/);
    });
  }

  test('an error code that is no request error code, an HTTP status that is no status', () => {
    assert.match(refused('errors.http_5000 == 0', 'FG_SCENARIO_THRESHOLD_METRIC').message, /not a request error code/);
    assert.match(refused('errors.timeout == 0', 'FG_SCENARIO_THRESHOLD_METRIC').message, /not a request error code/);
    assert.match(refused('http_status.abc == 0', 'FG_SCENARIO_THRESHOLD_METRIC').message, /not an HTTP status/);
  });

  test('run-only metrics in a breakdown say they exist for the whole run only', () => {
    const r = refused('by_tenant.free.server.queue_depth.p95 < 3', 'FG_SCENARIO_THRESHOLD_METRIC');
    assert.match(r.message, /for the whole run only/);
    assert.match(r.message, /in a tenant block/);
    refused('stages.spike.duration_s.max < 3', 'FG_SCENARIO_THRESHOLD_METRIC');
    refused('by_model.m.client.cpu_percent < 50', 'FG_SCENARIO_THRESHOLD_METRIC');
    assert.match(refused('by_model.m.start_s > 1', 'FG_SCENARIO_THRESHOLD_METRIC').allowed, /model block/);
  });

  test('a scope without a name and a metric is FG_SCENARIO_BAD_THRESHOLD', () => {
    refused('by_model.m < 1', 'FG_SCENARIO_BAD_THRESHOLD');
    refused('stages.spike < 1', 'FG_SCENARIO_BAD_THRESHOLD');
  });
});

/** Results against a summary built from records (fixtures/run-data.ts): 10 requests, 2 HTTP 500s in the spike. */
function results(...exprs: string[]): ThresholdResult[] {
  return fixtureRunData({ thresholds: exprs, server: true }).summary.thresholds;
}

describe('evaluation against a real summary: values, margins, reasons', () => {
  test('margin is observed minus limit in the unit, margin_pct relative to the limit', () => {
    const [a, b, c] = results('error_rate < 10%', 'ttft.max <= 100ms', 'requests.total >= 20');
    assert.equal(a!.value, 0.2);
    assert.equal(a!.pass, false);
    assert.ok(Math.abs(a!.margin! - 0.1) < 1e-12);
    assert.ok(Math.abs(a!.margin_pct! - 100) < 1e-9);
    assert.equal(a!.unit, 'ratio');
    assert.equal(a!.reason, 'observed 20%, limit 10%, off by 10% (+100%)');
    assert.equal(b!.value, 150);
    assert.equal(b!.reason, 'observed 150ms, limit 100ms, off by 50ms (+50%)');
    assert.equal(c!.value, 10);
    assert.equal(c!.margin, -10);
    assert.equal(c!.margin_pct, -50);
    assert.equal(c!.reason, 'observed 10, limit 20, off by 10 (-50%)');
  });

  test('a passing threshold has a margin and no reason', () => {
    const [r] = results('latency_ms.ttft.p50 < 1s');
    assert.equal(r!.pass, true);
    assert.equal(r!.reason, null);
    assert.ok(r!.margin! < 0);
  });

  test('a limit of 0 has no relative margin', () => {
    const [r] = results('errors.http_500 == 0');
    assert.deepEqual([r!.value, r!.pass, r!.margin, r!.margin_pct], [2, false, 2, null]);
    assert.equal(r!.reason, 'observed 2, limit 0, off by 2');
  });

  test('!= says the value equals what it must not', () => {
    const [r] = results('requests.failed != 2');
    assert.equal(r!.pass, false);
    assert.match(r!.reason!, /must not equal 2/);
  });

  test('breakdowns read their blocks: stage by name and index, tenant, model', () => {
    const r = results('stages.steady.error_rate == 0', 'stages.1.error_rate > 0.3', 'by_tenant.free.errors.http_500 == 2', 'by_tenant.pro.ttft.p95 < 120ms', 'by_model.llama-3.1-8b.requests.total == 10');
    assert.deepEqual(r.map((x) => [x.value, x.pass]), [[0, true], [2 / 6, true], [2, true], [100, true], [10, true]]);
  });

  test('an error code never seen counts 0 (absent is zero), in any block', () => {
    const r = results('errors.timeout_ttft == 0', 'by_tenant.pro.errors.http_500 == 0', 'http_status.503 == 0', 'http_status.200 == 8');
    assert.deepEqual(r.map((x) => [x.value, x.pass]), [[0, true], [0, true], [0, true], [8, true]]);
  });

  test('server metrics read the sampled server block', () => {
    const r = results('server.running.max <= 8', 'server.kv_cache_usage.mean < 20%', 'server.samples == 3');
    assert.equal(r[0]!.pass, true);
    assert.equal(r[1]!.pass, false);
    assert.equal(r[1]!.unit, 'ratio');
    assert.match(r[1]!.reason!, /^observed 23\.3%, limit 20%, off by 3\.33% \(\+17%\)$/);
    assert.equal(r[2]!.value, 3);
  });

  test('no value fails with the reason: no successful request, unknown tenant, not sampled', () => {
    const only500 = fixtureRunData({ thresholds: ['ttft.p95 < 1s', 'by_tenant.gold.error_rate < 1%', 'server.queue_depth.p95 < 5', 'stages.steady.error_rate < 1%'], records: fixtureRecordsFailedOnly() }).summary.thresholds;
    for (const t of only500) {
      assert.equal(t.value, null, t.expr);
      assert.equal(t.pass, false, t.expr);
      assert.equal(t.margin, null);
      assert.match(t.reason!, /^no value: /);
    }
    assert.match(only500[0]!.reason!, /no successful request/);
    assert.match(only500[1]!.reason!, /tenant "gold".*tenants seen: free/);
    assert.match(only500[2]!.reason!, /not in the summary/);
    assert.match(only500[3]!.reason!, /no request was sent/);
  });
});

/** Only the two HTTP 500s of the spike stage. */
function fixtureRecordsFailedOnly() {
  return fixtureRecords().filter((r) => !r.ok);
}

describe('display', () => {
  test('formatMetric writes each unit as people read it', () => {
    assert.equal(formatMetric(812.345, 'ms'), '812.3ms');
    assert.equal(formatMetric(1250, 'ms'), '1.25s');
    assert.equal(formatMetric(0.4567, 'ms'), '0.457ms');
    assert.equal(formatMetric(0.004, 'ratio'), '0.4%');
    assert.equal(formatMetric(0.2, 'ratio'), '20%');
    assert.equal(formatMetric(80, 'percent'), '80%');
    assert.equal(formatMetric(12, 'count'), '12');
    assert.equal(formatMetric(3.14159, 'number'), '3.142');
    assert.equal(formatMetric(90, 's'), '90s');
    assert.equal(formatMetric(null, 'ms'), 'no value');
  });

  test('formatMargin gives the size and the relative sign', () => {
    assert.equal(formatMargin(150, 'ms', 18.75), '150ms (+19%)');
    assert.equal(formatMargin(-0.05, 'ratio', -5), '5% (-5%)');
    assert.equal(formatMargin(2, 'count', null), '2');
  });
});

describe('scenario syntax: strings or maps with abort_on_fail and delay_abort_eval', () => {
  const base = `name: t
target: {model: m}
workload: {prompt_tokens: 10, output_tokens: 4}
load: {stages: [{name: spike, duration: 10s, rate: 1}]}
`;
  test('maps and strings mix; abort_on_fail thresholds are listed with their index and delay', () => {
    const sc = parseScenario(
      `${base}thresholds:
  - "ttft.p95 < 800ms"
  - {threshold: "error_rate < 1%", abort_on_fail: true, delay_abort_eval: 10s}
  - {threshold: "server.queue_depth.p95 < 5"}
  - {threshold: "stages.spike.itl.p99 < 60ms", abort_on_fail: true}
  - {threshold: "goodput.fraction > 0.9", abort_on_fail: false}
`,
      '/tmp/t.yaml',
    );
    assert.deepEqual(sc.thresholds, ['ttft.p95 < 800ms', 'error_rate < 1%', 'server.queue_depth.p95 < 5', 'stages.spike.itl.p99 < 60ms', 'goodput.fraction > 0.9']);
    assert.deepEqual(sc.abortOnFail, [
      { index: 1, expr: 'error_rate < 1%', delayMs: 10_000 },
      { index: 3, expr: 'stages.spike.itl.p99 < 60ms', delayMs: 0 },
    ]);
    assert.ok(Object.isFrozen(sc.abortOnFail));
  });

  test('strings only: no abortOnFail', () => {
    const sc = parseScenario(`${base}thresholds: ["error_rate < 1%"]\n`, '/tmp/t.yaml');
    assert.equal(sc.abortOnFail, undefined);
  });

  test('abort_on_fail on a metric known only after the run is FG_SCENARIO_CONFLICT', () => {
    for (const expr of ['server.kv_cache_usage.max < 90%', 'client.cpu_percent < 80', 'duration_s < 1m']) {
      const issues = issuesOf(() => parseScenario(`${base}thresholds: [{threshold: "${expr}", abort_on_fail: true}]\n`, '/tmp/t.yaml'));
      assert.deepEqual(issues.map((i) => [i.code, i.path]), [['FG_SCENARIO_CONFLICT', 'thresholds[0].abort_on_fail']], expr);
      assert.match(issues[0]!.message, /only known after the run/);
    }
  });

  test('every problem of a threshold map is reported at once, each with what is allowed', () => {
    const issues = issuesOf(() =>
      parseScenario(`${base}thresholds: [{threshold: "ttfb.p95 < 1s", abort_on_fial: true, delay_abort_eval: soon}]\n`, '/tmp/t.yaml'),
    );
    assert.deepEqual(issues.map((i) => i.code).sort(), ['FG_SCENARIO_BAD_DURATION', 'FG_SCENARIO_CONFLICT', 'FG_SCENARIO_THRESHOLD_METRIC', 'FG_SCENARIO_UNKNOWN_KEY']);
    for (const i of issues) assert.ok(i.allowed && i.line > 0, i.code);
    assert.match(issues.find((i) => i.code === 'FG_SCENARIO_UNKNOWN_KEY')!.message, /did you mean "abort_on_fail"/);
  });
});

describe('conversations.*: the conversations block of workload.conversation scenarios', () => {
  test('paths, units and limits: counts, fractions, seconds, TTFT by turn in ms; all live', () => {
    const cases: Array<[string, string[], number, string]> = [
      ['conversations.completed_fraction > 0.8', ['conversations', 'completed_fraction'], 0.8, 'ratio'],
      ['conversations.completed_fraction >= 95%', ['conversations', 'completed_fraction'], 0.95, 'ratio'],
      ['conversations.failed == 0', ['conversations', 'failed'], 0, 'count'],
      ['conversations.cut < 10', ['conversations', 'cut'], 10, 'count'],
      ['conversations.turns.mean > 2.5', ['conversations', 'turns', 'mean'], 2.5, 'number'],
      ['conversations.duration_s.p95 < 2m', ['conversations', 'duration_s', 'p95'], 120, 's'],
      ['conversations.last_prompt_tokens.max < 8000', ['conversations', 'last_prompt_tokens', 'max'], 8000, 'count'],
      ['conversations.ttft_ms_by_turn.1.p95 < 1s', ['conversations', 'ttft_ms_by_turn', '1', 'p95'], 1000, 'ms'],
      ['conversations.ttft_ms_by_turn.9.p50 < 300', ['conversations', 'ttft_ms_by_turn', '9', 'p50'], 300, 'ms'],
      ['conversations.ttft_ms_by_turn.10+.p95 < 2s', ['conversations', 'ttft_ms_by_turn', '10+', 'p95'], 2000, 'ms'],
      ['conversations.ttft_ms_by_turn.3.count >= 5', ['conversations', 'ttft_ms_by_turn', '3', 'count'], 5, 'count'],
    ];
    for (const [expr, p, limit, unit] of cases) {
      const t = ok(expr);
      assert.deepEqual([t.scope, t.path, t.limit, t.unit, t.live], [{ kind: 'run' }, p, limit, unit, true], expr);
    }
  });

  test('turns that ttft_ms_by_turn cannot have, unknown fields, units that do not fit', () => {
    for (const turn of ['0', '10', '11', '01', 'x', '9+']) {
      assert.match(refused(`conversations.ttft_ms_by_turn.${turn}.p95 < 1s`, 'FG_SCENARIO_THRESHOLD_METRIC').message, /is not a turn of ttft_ms_by_turn \(1 to 9, then 10\+/, turn);
    }
    refused('conversations.ttft_ms_by_turn.2.p99 < 1s', 'FG_SCENARIO_THRESHOLD_METRIC');
    assert.match(refused('conversations.completd > 1', 'FG_SCENARIO_THRESHOLD_METRIC').message, /did you mean "conversations\.completed"\?/);
    assert.match(refused('by_tenant.free.conversations.failed == 0', 'FG_SCENARIO_THRESHOLD_METRIC').message, /for the whole run only/);
    assert.match(refused('conversations.completed_fraction > 5ms', 'FG_SCENARIO_THRESHOLD_UNIT').message, /a fraction/);
    assert.match(refused('conversations.ttft_ms_by_turn.2.p95 < 50%', 'FG_SCENARIO_THRESHOLD_UNIT').message, /a latency in ms/);
    assert.match(refused('conversations.failed < 1%', 'FG_SCENARIO_THRESHOLD_UNIT').message, /a count/);
  });

  const chat = `name: t
target: {model: m}
workload: {prompt_tokens: 10, output_tokens: 4, conversation: {turns: 3}}
load: {stages: [{name: chat, duration: 10s, users: 2}]}
`;
  test('a scenario with workload.conversation takes them, abort_on_fail included', () => {
    const sc = parseScenario(`${chat}thresholds: ["conversations.completed_fraction > 0.8", {threshold: "conversations.ttft_ms_by_turn.2.p95 < 1s", abort_on_fail: true}]\n`, '/tmp/t.yaml');
    assert.deepEqual(sc.thresholds, ['conversations.completed_fraction > 0.8', 'conversations.ttft_ms_by_turn.2.p95 < 1s']);
    assert.deepEqual(sc.abortOnFail, [{ index: 1, expr: 'conversations.ttft_ms_by_turn.2.p95 < 1s', delayMs: 0 }]);
  });

  test('a scenario without workload.conversation refuses them at load, at the threshold', () => {
    const base = chat.replace(', conversation: {turns: 3}', '');
    const issues = issuesOf(() => parseScenario(`${base}thresholds: ["error_rate < 1%", {threshold: "conversations.failed == 0"}]\n`, '/tmp/t.yaml'));
    assert.deepEqual(issues.map((i) => [i.code, i.path, i.line]), [['FG_SCENARIO_THRESHOLD_METRIC', 'thresholds[1].threshold', 5]]);
    assert.match(issues[0]!.message, /conversations only for a scenario with workload\.conversation/);
    assert.ok(issues[0]!.allowed);
  });

  test('no value says why: no conversations block, a turn never measured, nothing completed', () => {
    const ts = ['conversations.failed == 0', 'conversations.ttft_ms_by_turn.4.p95 < 1s', 'conversations.turns.mean > 1', 'conversations.completed_fraction > 0.5'].map(ok);
    const [a] = evaluateThresholds(ts.slice(0, 1), { requests: { ok: 1 } });
    assert.equal(a!.pass, false);
    assert.match(a!.reason!, /no value: the summary has no conversations \(the scenario has no workload\.conversation\)/);
    const conv = { started: 1, completed: 0, failed: 0, cut: 1, completed_fraction: null, turns: { mean: null, max: null }, duration_s: { mean: null, p95: null }, last_prompt_tokens: { mean: null, max: null }, ttft_ms_by_turn: { '1': { count: 1, p50: 80, p95: 80 } } };
    const [f, b, c, d] = evaluateThresholds(ts, { conversations: conv });
    assert.equal(f!.pass, true);
    assert.match(b!.reason!, /^no value: no measured turn 4 succeeded$/);
    assert.match(c!.reason!, /^no value: conversations\.turns\.mean has no value \(no conversation completed\)$/);
    assert.match(d!.reason!, /^no value: conversations\.completed_fraction has no value \(no conversation ended\)$/);
  });
});
