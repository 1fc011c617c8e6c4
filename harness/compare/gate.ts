/**
 * evaluateGate: does a run regress against its baseline? Pure: a function of the comparison
 * (compare-runs.ts) and the limits (gate-spec.ts).
 *
 * The rule (docs/ci.md "The noise rule"): a metric fails when BOTH
 * 1. its change is worse than the allowed limit (practical significance: a change too small to
 *    matter is tolerated however certain it is), AND
 * 2. the change is beyond run-to-run noise: the whole interval of (run - baseline) lies on the
 *    bad side of zero (statistical significance: a change the samples cannot tell from noise is
 *    tolerated however large it looks, e.g. a p99 over a few hundred requests).
 * Without an interval (a folder without requests.jsonl) the limit alone decides. A run with no
 * value where the baseline has one (e.g. no successful request) fails; a metric the baseline has
 * no value for is not compared.
 */
import type { MetricComparison } from './compare-runs.ts';
import type { GateLimit } from './gate-spec.ts';

export type GateStatus = 'pass' | 'fail';

export interface GateRow {
  metric: string;
  unit: MetricComparison['unit'];
  baseline: number | null;
  run: number | null;
  delta: number | null;
  rel: number | null;
  /** The limit as written, e.g. `+10%`. */
  allowed: string;
  interval: MetricComparison['interval'];
  /** Change worse than the limit. */
  over_limit: boolean;
  /** Interval wholly on the bad side of 0; null without an interval. */
  beyond_noise: boolean | null;
  status: GateStatus;
  /** Why, in words: `regression`, `within limit`, `over the limit but within noise`, ... */
  reason: string;
}

export interface GateResult {
  pass: boolean;
  rows: GateRow[];
  /** The failing metrics' names. */
  failed: string[];
}

/** Relative changes are compared with this slack, so that exactly +10% is within a 10% limit. */
const EPS = 1e-9;

export function evaluateGate(comparisons: readonly MetricComparison[], limits: readonly GateLimit[]): GateResult {
  const rows = limits.map((l): GateRow => {
    const c = comparisons.find((x) => x.metric === l.metric);
    const base = {
      metric: l.metric,
      unit: l.def.unit,
      baseline: c?.a ?? null,
      run: c?.b ?? null,
      delta: c?.delta ?? null,
      rel: c?.rel ?? null,
      allowed: l.text,
      interval: c?.interval ?? null,
    };
    if (!c || c.a === null) return { ...base, over_limit: false, beyond_noise: null, status: 'pass', reason: 'not compared: the baseline has no value' };
    if (c.b === null) return { ...base, over_limit: true, beyond_noise: null, status: 'fail', reason: 'the run has no value (no successful request?)' };
    const sign = l.def.better === 'lower' ? 1 : -1;
    const worseBy = sign * c.delta!;
    let overLimit: boolean;
    if (l.kind === 'absolute') overLimit = worseBy > l.limit + EPS;
    else overLimit = c.rel === null ? worseBy > 0 : sign * c.rel > l.limit + EPS;
    const beyond = c.interval === null ? null : sign > 0 ? c.interval.abs[0] > 0 : c.interval.abs[1] < 0;
    const fail = overLimit && beyond !== false;
    let reason: string;
    if (fail) reason = beyond === null ? 'regression (over the limit; no per-request data to judge noise)' : 'regression: over the limit and beyond noise';
    else if (overLimit) reason = 'over the limit but within noise';
    else if (worseBy > 0) reason = beyond ? 'worse, beyond noise, but within the limit' : 'within the limit';
    else reason = c.verdict === 'better' ? 'better' : 'within the limit';
    return { ...base, over_limit: overLimit, beyond_noise: beyond, status: fail ? 'fail' : 'pass', reason };
  });
  const failed = rows.filter((r) => r.status === 'fail').map((r) => r.metric);
  return { pass: failed.length === 0, rows, failed };
}
