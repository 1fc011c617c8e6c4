/** The gate's --max-regression grammar and its rule: over the limit AND beyond noise. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_GATE_SPEC, parseGateSpec } from '../../harness/compare/gate-spec.ts';
import { evaluateGate } from '../../harness/compare/gate.ts';
import type { MetricComparison } from '../../harness/compare/compare-runs.ts';
import { FloodgateError } from '../../harness/errors.ts';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof FloodgateError);
    return `${e.code}: ${e.message}`;
  }
  assert.fail('did not throw');
}

test('good specs parse: relative, absolute, pp, aliases, signs', () => {
  const l = parseGateSpec('ttft.p95=10%, itl.p99=+5ms,e2e.p95=1.5s,error_rate=+0.5pp,throughput=-5%,goodput=2pp,send_lag.p99=250us');
  assert.deepEqual(
    l.map((x) => [x.metric, x.kind, +x.limit.toFixed(6), x.text]),
    [
      ['ttft.p95', 'relative', 0.1, '+10%'],
      ['itl.p99', 'absolute', 5, '+5ms'],
      ['e2e.p95', 'absolute', 1500, '+1.5s'],
      ['error_rate', 'absolute', 0.005, '+0.5pp'],
      ['throughput.output_tokens_per_s', 'relative', 0.05, '-5%'],
      ['goodput.fraction', 'absolute', 0.02, '-2pp'],
      ['send_lag.p99', 'absolute', 0.25, '+250us'],
    ],
  );
  assert.ok(parseGateSpec(DEFAULT_GATE_SPEC).length >= 5);
});

test('bad specs are coded errors, every problem at once, with did-you-mean', () => {
  const unknown = code(() => parseGateSpec('ttft.p59=10%'));
  assert.match(unknown, /^FG_GATE_UNKNOWN_METRIC: /);
  assert.match(unknown, /did you mean "ttft\.p95"\?|did you mean "ttft\.p50"\?/);
  assert.match(code(() => parseGateSpec('ttft.p95=10')), /^FG_GATE_BAD_SPEC: .*needs a unit/);
  assert.match(code(() => parseGateSpec('ttft.p95=-10%')), /^FG_GATE_BAD_SPEC: .*rises/);
  assert.match(code(() => parseGateSpec('throughput=+5%')), /^FG_GATE_BAD_SPEC: .*falls/);
  assert.match(code(() => parseGateSpec('throughput=5ms')), /^FG_GATE_BAD_SPEC: .*does not apply/);
  assert.match(code(() => parseGateSpec('ttft.p95=2pp')), /^FG_GATE_BAD_SPEC: /);
  assert.match(code(() => parseGateSpec('ttft.p95=10%,ttft.p95=5%')), /^FG_GATE_BAD_SPEC: .*twice/);
  assert.match(code(() => parseGateSpec('')), /^FG_GATE_BAD_SPEC: /);
  assert.match(code(() => parseGateSpec('ttft.p95=10%,')), /^FG_GATE_BAD_SPEC: /);
  assert.match(code(() => parseGateSpec('ttft.p95 < 10%')), /^FG_GATE_BAD_SPEC: /);
  const mixed = code(() => parseGateSpec('tft.p95=10%,e2e.p95=10'));
  assert.match(mixed, /^FG_GATE_BAD_SPEC: .*unknown metric "tft\.p95".*needs a unit/);
});

function cmp(o: Partial<MetricComparison>): MetricComparison {
  return { metric: 'ttft.p95', unit: 'ms', better: 'lower', a: 100, b: 125, delta: 25, rel: 0.25, interval: { abs: [15, 35], rel: [0.15, 0.35] }, verdict: 'worse', method: null, ...o };
}

test('a metric fails only when over its limit AND beyond noise', () => {
  const limits = parseGateSpec('ttft.p95=10%');
  assert.equal(evaluateGate([cmp({})], limits).pass, false);
  const noisy = evaluateGate([cmp({ interval: { abs: [-5, 60], rel: [-0.05, 0.6] }, verdict: 'within noise' })], limits);
  assert.equal(noisy.pass, true);
  assert.equal(noisy.rows[0]!.reason, 'over the limit but within noise');
  assert.equal(evaluateGate([cmp({ b: 105, delta: 5, rel: 0.05, interval: { abs: [2, 8], rel: [0.02, 0.08] } })], limits).pass, true);
  // No per-request data: the limit alone decides.
  assert.equal(evaluateGate([cmp({ interval: null, verdict: 'no interval' })], limits).pass, false);
  // The run has no value where the baseline has one.
  assert.equal(evaluateGate([cmp({ b: null, delta: null, rel: null, interval: null, verdict: 'n/a' })], limits).pass, false);
  // Higher is better: a drop fails, a rise passes.
  const tp = parseGateSpec('throughput=5%');
  const base = { metric: 'throughput.output_tokens_per_s', unit: 'tok/s' as const, better: 'higher' as const, a: 1000 };
  assert.equal(evaluateGate([cmp({ ...base, b: 900, delta: -100, rel: -0.1, interval: { abs: [-150, -50], rel: [-0.15, -0.05] } })], tp).pass, false);
  assert.equal(evaluateGate([cmp({ ...base, b: 1100, delta: 100, rel: 0.1, interval: { abs: [50, 150], rel: [0.05, 0.15] } })], tp).pass, true);
  // A zero baseline with a relative limit: any certain increase is over it; pp limits compare absolutely.
  const er = { metric: 'error_rate', unit: 'fraction' as const, a: 0, b: 0.02, delta: 0.02, rel: null, interval: { abs: [0.01, 0.03] as [number, number], rel: null } };
  assert.equal(evaluateGate([cmp(er)], parseGateSpec('error_rate=50%')).pass, false);
  assert.equal(evaluateGate([cmp(er)], parseGateSpec('error_rate=+3pp')).pass, true);
  assert.equal(evaluateGate([cmp(er)], parseGateSpec('error_rate=+1pp')).pass, false);
});
