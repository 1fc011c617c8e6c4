/**
 * Thresholds (harness/gate/threshold.ts): parsing every metric family, unit, scope and operator;
 * refusing bad expressions; evaluating against a hand-built summary.json-shaped object.
 */

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  evaluateThresholds,
  parseThreshold,
  THRESHOLD_METRICS,
  type Threshold,
  type ThresholdOp,
} from '../../harness/gate/threshold.ts';

const LATENCIES = ['ttft', 'itl', 'tpot', 'e2e', 'queue', 'ttft_intended', 'e2e_intended', 'inter_chunk'];
const STATS = ['mean', 'p50', 'p90', 'p95', 'p99', 'max'];

/** Parse, failing the test when the expression is refused. */
function ok(expr: string): Threshold {
  const r = parseThreshold(expr);
  assert.ok(r.ok, `expected "${expr}" to parse, got ${r.ok ? '' : r.message}`);
  return r.threshold;
}

function refused(expr: string): { message: string; allowed: string } {
  const r = parseThreshold(expr);
  assert.ok(!r.ok, `expected "${expr}" to be refused, got ${JSON.stringify(r)}`);
  return r;
}

describe('parseThreshold: metric families', () => {
  test('every latency metric and statistic maps to latency_ms.<metric>.<stat>', () => {
    for (const m of LATENCIES) {
      for (const s of STATS) {
        const t = ok(`${m}.${s} < 100ms`);
        assert.deepEqual(t.path, ['latency_ms', m, s]);
        assert.deepEqual(t.scope, { kind: 'run' });
        assert.equal(t.limit, 100);
      }
    }
  });

  test('latency units: us, ms, s, m and none (ms) convert to ms', () => {
    assert.equal(ok('ttft.p95 < 800us').limit, 0.8);
    assert.equal(ok('ttft.p95 < 800ms').limit, 800);
    assert.equal(ok('ttft.p95 < 1.5s').limit, 1500);
    assert.equal(ok('ttft.p95 < 2m').limit, 120_000);
    assert.equal(ok('ttft.p95 < 250').limit, 250);
    assert.equal(ok('e2e.p99 < 0.5m').limit, 30_000);
  });

  test('units are case-insensitive and spaces are optional', () => {
    assert.equal(ok('ttft.p95 < 800MS').limit, 800);
    assert.equal(ok('ttft.p95<2S').limit, 2000);
    assert.equal(ok('  itl.p50   <=   30ms  ').limit, 30);
  });

  test('send_lag.<stat> maps to client.send_lag_ms.<stat> and takes latency units', () => {
    for (const s of STATS) {
      const t = ok(`send_lag.${s} < 10ms`);
      assert.deepEqual(t.path, ['client', 'send_lag_ms', s]);
      assert.equal(t.limit, 10);
    }
    assert.equal(ok('send_lag.p99 < 1s').limit, 1000);
    assert.equal(ok('send_lag.p99 < 500us').limit, 0.5);
  });

  test('error_rate takes a percentage or a plain fraction', () => {
    const pct = ok('error_rate < 1%');
    assert.deepEqual(pct.path, ['error_rate']);
    assert.equal(pct.limit, 0.01);
    assert.equal(ok('error_rate < 0.01').limit, 0.01);
    assert.equal(ok('error_rate <= 0.5%').limit, 0.005);
  });

  test('goodput.fraction takes a percentage or a plain fraction', () => {
    const t = ok('goodput.fraction > 90%');
    assert.deepEqual(t.path, ['goodput', 'fraction']);
    assert.equal(t.limit, 0.9);
    assert.equal(ok('goodput.fraction > 0.9').limit, 0.9);
  });

  test('goodput and throughput rates take plain numbers', () => {
    const cases: Array<[string, string[]]> = [
      ['goodput.requests_per_s', ['goodput', 'requests_per_s']],
      ['goodput.output_tokens_per_s', ['goodput', 'output_tokens_per_s']],
      ['throughput.requests_per_s', ['throughput', 'requests_per_s']],
      ['throughput.output_tokens_per_s', ['throughput', 'output_tokens_per_s']],
      ['throughput.total_tokens_per_s', ['throughput', 'total_tokens_per_s']],
    ];
    for (const [metric, path] of cases) {
      const t = ok(`${metric} >= 12.5`);
      assert.deepEqual(t.path, path);
      assert.equal(t.limit, 12.5);
    }
  });

  test('request counts take plain numbers', () => {
    for (const k of ['total', 'ok', 'failed', 'dropped']) {
      const t = ok(`requests.${k} == 7`);
      assert.deepEqual(t.path, ['requests', k]);
      assert.equal(t.limit, 7);
    }
  });

  test('every name in THRESHOLD_METRICS parses (placeholders filled in)', () => {
    assert.ok(THRESHOLD_METRICS.length >= LATENCIES.length * STATS.length + STATS.length + 11);
    const fill = (m: string) => m.replace('<error code>', 'timeout_ttft').replace('<status>', '503').replace('<worker>', 'w0').replace('<query>', 'q').replace('<turn>', '2');
    for (const m of THRESHOLD_METRICS) ok(`${fill(m)} > 0`);
  });

  test('numbers: negative, exponent and leading dot are read', () => {
    assert.equal(ok('requests.failed > -1').limit, -1);
    assert.equal(ok('throughput.output_tokens_per_s > 1e3').limit, 1000);
    assert.equal(ok('goodput.fraction > .75').limit, 0.75);
  });

  test('the expression is kept as written', () => {
    assert.equal(ok('ttft.p95 < 800ms').expr, 'ttft.p95 < 800ms');
  });
});

describe('parseThreshold: operators', () => {
  test('each operator is recognised, two-character ones not split', () => {
    const ops: ThresholdOp[] = ['<', '<=', '>', '>=', '==', '!='];
    for (const op of ops) {
      const t = ok(`requests.failed ${op} 3`);
      assert.equal(t.op, op);
      assert.equal(t.limit, 3);
    }
    assert.equal(ok('requests.failed<=3').op, '<=');
    assert.equal(ok('requests.failed>=3').op, '>=');
  });
});

describe('parseThreshold: scopes', () => {
  test('by_tenant.NAME.', () => {
    const t = ok('by_tenant.free.ttft.p95 < 2s');
    assert.deepEqual(t.scope, { kind: 'by_tenant', key: 'free' });
    assert.deepEqual(t.path, ['latency_ms', 'ttft', 'p95']);
    assert.equal(t.limit, 2000);
  });

  test('by_model.NAME.', () => {
    const t = ok('by_model.llama-8b.error_rate < 2%');
    assert.deepEqual(t.scope, { kind: 'by_model', key: 'llama-8b' });
    assert.deepEqual(t.path, ['error_rate']);
    assert.equal(t.limit, 0.02);
  });

  test('stages.NAME. and stages.INDEX.', () => {
    const named = ok('stages.rps-8.ttft.p95 < 800ms');
    assert.deepEqual(named.scope, { kind: 'stages', key: 'rps-8' });
    assert.deepEqual(named.path, ['latency_ms', 'ttft', 'p95']);
    const indexed = ok('stages.2.goodput.fraction >= 0.95');
    assert.deepEqual(indexed.scope, { kind: 'stages', key: '2' });
    assert.deepEqual(indexed.path, ['goodput', 'fraction']);
    assert.equal(indexed.limit, 0.95);
  });

  test('a scope without a name and a metric is refused', () => {
    refused('by_tenant.free < 1');
    refused('stages.0 < 1');
    refused('by_model < 1');
  });

  test('a scoped unknown metric is refused', () => {
    refused('by_tenant.free.ttft < 1s');
    refused('stages.0.latency.p95 < 1s');
  });
});

describe('parseThreshold: bad expressions return ok:false', () => {
  test('unknown metric, with the nearest one suggested', () => {
    const r = refused('ttfb.p95 < 1s');
    assert.match(r.message, /did you mean "ttft\.p95"/);
    assert.ok(r.allowed.includes('<latency>.<stat>'));
    assert.ok(r.allowed.includes('latency_ms.{ttft,itl,'));
    const r2 = refused('eror_rate < 1%');
    assert.match(r2.message, /did you mean "error_rate"/);
  });

  test('unknown metric far from any known one: no suggestion', () => {
    const r = refused('banana.split.sundae < 1');
    assert.doesNotMatch(r.message, /did you mean/);
  });

  test('a latency without a statistic, or with an unknown statistic', () => {
    refused('ttft < 1s');
    refused('ttft.p42 < 1s');
    refused('send_lag < 10ms');
    refused('ttft.p95.max < 1s');
  });

  test('% on a latency', () => {
    refused('ttft.p95 < 80%');
    refused('send_lag.p99 < 1%');
  });

  test('a duration unit on a count, rate or fraction', () => {
    refused('requests.failed < 5ms');
    refused('requests.total > 10s');
    refused('throughput.requests_per_s > 5s');
    refused('goodput.requests_per_s > 1m');
    refused('error_rate < 1ms');
    refused('goodput.fraction > 0.9s');
  });

  test('malformed expressions', () => {
    for (const bad of ['', 'ttft.p95', 'ttft.p95 <', '< 800ms', 'ttft.p95 ~ 800ms', 'ttft.p95 => 1s', 'ttft.p95 < 800 ms ms', 'ttft.p95 < 800h', 'ttft.p95 < abc', 'ttft.p95 = 1s']) {
      refused(bad);
    }
  });

  test('never throws', () => {
    for (const s of ['\u0000', '.....', 'by_tenant..ttft.p95 < 1', '%%%', 'ttft.p95 < 1e999']) {
      assert.doesNotThrow(() => parseThreshold(s));
    }
  });
});

/** A summary.json-shaped object with the blocks thresholds read. */
function block(o: { ttftP95: number | null; errorRate: number | null; fraction: number | null; total: number }): Record<string, unknown> {
  return {
    requests: { total: o.total, ok: o.total, failed: 0, dropped: 0 },
    error_rate: o.errorRate,
    throughput: { requests_per_s: 4, output_tokens_per_s: 400, total_tokens_per_s: 1200 },
    goodput: { requests_per_s: 3, output_tokens_per_s: 300, fraction: o.fraction },
    latency_ms: { ttft: { mean: 100, p50: 90, p90: 150, p95: o.ttftP95, p99: 300, max: 400 } },
    client: { send_lag_ms: { mean: 0.5, p50: 0.4, p90: 1, p95: 2, p99: 4, max: 9 } },
  };
}

const SUMMARY = {
  ...block({ ttftP95: 200, errorRate: 0.004, fraction: 0.95, total: 100 }),
  stages: [
    { index: 0, name: 'warm', ...block({ ttftP95: 120, errorRate: 0, fraction: 1, total: 10 }) },
    { index: 1, name: 'spike', ...block({ ttftP95: 900, errorRate: 0.05, fraction: 0.5, total: 60 }) },
    { index: 2, name: 'idle', ...block({ ttftP95: null, errorRate: null, fraction: null, total: 0 }) },
  ],
  by_tenant: { free: block({ ttftP95: 1500, errorRate: 0.02, fraction: 0.8, total: 30 }) },
  by_model: { m: block({ ttftP95: 210, errorRate: 0.001, fraction: 0.97, total: 100 }) },
};

function evaluate(...exprs: string[]) {
  return evaluateThresholds(exprs.map(ok), SUMMARY);
}

describe('evaluateThresholds', () => {
  test('pass and fail on run-level metrics, with the observed value and limit', () => {
    const [a, b, c, d] = evaluate('ttft.p95 < 800ms', 'ttft.p95 < 0.1s', 'error_rate < 1%', 'send_lag.p99 < 2ms');
    assert.deepEqual(a, { expr: 'ttft.p95 < 800ms', value: 200, limit: 800, pass: true, op: '<', unit: 'ms', margin: -600, margin_pct: -75, reason: null });
    assert.deepEqual(b, { expr: 'ttft.p95 < 0.1s', value: 200, limit: 100, pass: false, op: '<', unit: 'ms', margin: 100, margin_pct: 100, reason: 'observed 200ms, limit 100ms, off by 100ms (+100%)' });
    assert.deepEqual({ ...c, margin: Number(c!.margin!.toFixed(6)), margin_pct: Number(c!.margin_pct!.toFixed(6)) }, { expr: 'error_rate < 1%', value: 0.004, limit: 0.01, pass: true, op: '<', unit: 'ratio', margin: -0.006, margin_pct: -60, reason: null });
    assert.deepEqual(d, { expr: 'send_lag.p99 < 2ms', value: 4, limit: 2, pass: false, op: '<', unit: 'ms', margin: 2, margin_pct: 100, reason: 'observed 4ms, limit 2ms, off by 2ms (+100%)' });
  });

  test('each operator compares as its name says', () => {
    const cases: Array<[string, boolean]> = [
      ['requests.total < 100', false],
      ['requests.total < 101', true],
      ['requests.total <= 100', true],
      ['requests.total <= 99', false],
      ['requests.total > 100', false],
      ['requests.total > 99', true],
      ['requests.total >= 100', true],
      ['requests.total >= 101', false],
      ['requests.total == 100', true],
      ['requests.total == 99', false],
      ['requests.total != 99', true],
      ['requests.total != 100', false],
    ];
    const results = evaluate(...cases.map(([e]) => e));
    for (const [i, [expr, pass]] of cases.entries()) {
      assert.equal(results[i]!.pass, pass, expr);
      assert.equal(results[i]!.value, 100, expr);
    }
  });

  test('plain-number families read their fields', () => {
    const r = evaluate('throughput.requests_per_s >= 4', 'throughput.total_tokens_per_s > 1300', 'goodput.output_tokens_per_s == 300', 'goodput.fraction > 90%');
    assert.deepEqual(r.map((x) => [x.value, x.pass]), [[4, true], [1200, false], [300, true], [0.95, true]]);
  });

  test('stage lookup by name and by index reads the same block', () => {
    const r = evaluate('stages.spike.ttft.p95 < 800ms', 'stages.1.ttft.p95 < 800ms', 'stages.warm.error_rate == 0', 'stages.0.goodput.fraction >= 1');
    assert.deepEqual(r.map((x) => [x.value, x.pass]), [[900, false], [900, false], [0, true], [1, true]]);
  });

  test('by_tenant and by_model scopes read their blocks', () => {
    const r = evaluate('by_tenant.free.ttft.p95 < 2s', 'by_tenant.free.error_rate < 1%', 'by_model.m.ttft.p95 < 200ms');
    assert.deepEqual(r.map((x) => [x.value, x.pass]), [[1500, true], [0.02, false], [210, false]]);
  });

  test('a metric with no value (null) fails with value null, whatever the operator', () => {
    const r = evaluate('stages.idle.ttft.p95 < 1s', 'stages.2.error_rate < 1%', 'stages.idle.goodput.fraction != 0.5');
    for (const x of r) assert.deepEqual([x.value, x.pass], [null, false], x.expr);
  });

  test('a missing scope or field fails with value null', () => {
    const r = evaluate('stages.nope.ttft.p95 < 1s', 'stages.7.ttft.p95 < 1s', 'by_tenant.paid.ttft.p95 < 1s', 'by_model.other.error_rate < 1%', 'itl.p95 < 1s');
    for (const x of r) assert.deepEqual([x.value, x.pass], [null, false], x.expr);
  });

  test('a summary with no stages array fails stage thresholds instead of throwing', () => {
    const [r] = evaluateThresholds([ok('stages.0.ttft.p95 < 1s')], { latency_ms: {} });
    assert.deepEqual([r!.value, r!.pass], [null, false]);
  });

  test('a non-finite or non-numeric value counts as no value', () => {
    const summary = { error_rate: Number.NaN, requests: { total: '5' }, goodput: { fraction: Infinity } };
    const r = evaluateThresholds([ok('error_rate < 1'), ok('requests.total < 10'), ok('goodput.fraction > 0')], summary);
    for (const x of r) assert.deepEqual([x.value, x.pass], [null, false], x.expr);
  });

  test('results keep the order of the thresholds', () => {
    const exprs = ['requests.total > 1', 'error_rate < 1%', 'stages.spike.ttft.p95 < 1s'];
    assert.deepEqual(evaluate(...exprs).map((x) => x.expr), exprs);
  });
});

describe('parseThreshold: scope names with dots and slashes', () => {
  test('a model name with dots is the scope key; the metric is the known tail', () => {
    const p = parseThreshold('by_model.llama-3.1-8b.ttft.p95 < 1s');
    assert.ok(p.ok);
    assert.deepEqual(p.threshold.scope, { kind: 'by_model', key: 'llama-3.1-8b' });
    assert.deepEqual(p.threshold.path, ['latency_ms', 'ttft', 'p95']);
    assert.equal(p.threshold.limit, 1000);
  });

  test('a model name with a slash and dots, before a two-part metric', () => {
    const p = parseThreshold('by_model.meta-llama/Llama-3.1-8B-Instruct.goodput.fraction > 90%');
    assert.ok(p.ok);
    assert.deepEqual(p.threshold.scope, { kind: 'by_model', key: 'meta-llama/Llama-3.1-8B-Instruct' });
    assert.deepEqual(p.threshold.path, ['goodput', 'fraction']);
    assert.equal(p.threshold.limit, 0.9);
  });

  test('evaluates against a by_model block whose key has dots', () => {
    const p = parseThreshold('by_model.llama-3.1-8b.error_rate < 1%');
    assert.ok(p.ok);
    const [r] = evaluateThresholds([p.threshold], { by_model: { 'llama-3.1-8b': { error_rate: 0.02 } } });
    assert.deepEqual([r!.value, r!.pass], [0.02, false]);
  });
});

describe('parseThreshold: % only on fractions', () => {
  for (const e of ['requests.total < 5%', 'throughput.requests_per_s > 50%', 'goodput.requests_per_s > 1%', 'requests.failed <= 1%']) {
    test(`refused: ${e}`, () => {
      const p = parseThreshold(e);
      assert.equal(p.ok, false);
    });
  }
});
