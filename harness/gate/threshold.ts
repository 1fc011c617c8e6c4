/**
 * Thresholds, k6-style: `ttft.p95 < 800ms`, `error_rate < 1%`, `goodput.fraction > 0.9`,
 * `by_tenant.free.ttft.p95 < 2s`. Parsed at scenario load (so a typo fails before any traffic),
 * evaluated against summary.json after the run.
 *
 * Grammar:  [scope.] metric [.stat]  op  number[unit]
 *   scope   by_tenant.<name> | by_model.<name> | stages.<name-or-index>
 *   metric  ttft | itl | tpot | e2e | queue | ttft_intended | e2e_intended | inter_chunk  (stat:
 *           mean p50 p90 p95 p99 max; values in ms), error_rate, goodput.fraction,
 *           goodput.requests_per_s, throughput.requests_per_s | output_tokens_per_s |
 *           total_tokens_per_s, requests.total | ok | failed | dropped, send_lag.<stat>
 *   op      < <= > >= == !=
 *   unit    us ms s m (latencies), % (rates and fractions), none
 */

import { nearest } from '../util/did-you-mean.ts';

export type ThresholdOp = '<' | '<=' | '>' | '>=' | '==' | '!=';

export interface Threshold {
  expr: string;
  /** Dotted path into a summary block (the whole summary, or a by_tenant/by_model/stage block). */
  scope: { kind: 'run' } | { kind: 'by_tenant' | 'by_model' | 'stages'; key: string };
  /** Path inside the block, e.g. ['latency_ms','ttft','p95'] or ['error_rate']. */
  path: readonly string[];
  op: ThresholdOp;
  /** Limit in the summary's own units (ms for latencies, a fraction for % values). */
  limit: number;
}

export interface ThresholdResult {
  expr: string;
  /** Observed value; null when the metric has no value (e.g. no successful request). */
  value: number | null;
  limit: number;
  pass: boolean;
}

const STATS = ['mean', 'p50', 'p90', 'p95', 'p99', 'max'] as const;
const LATENCIES = ['ttft', 'itl', 'tpot', 'e2e', 'queue', 'ttft_intended', 'e2e_intended', 'inter_chunk'] as const;
const PLAIN: Record<string, readonly string[]> = {
  error_rate: ['error_rate'],
  'goodput.fraction': ['goodput', 'fraction'],
  'goodput.requests_per_s': ['goodput', 'requests_per_s'],
  'goodput.output_tokens_per_s': ['goodput', 'output_tokens_per_s'],
  'throughput.requests_per_s': ['throughput', 'requests_per_s'],
  'throughput.output_tokens_per_s': ['throughput', 'output_tokens_per_s'],
  'throughput.total_tokens_per_s': ['throughput', 'total_tokens_per_s'],
  'requests.total': ['requests', 'total'],
  'requests.ok': ['requests', 'ok'],
  'requests.failed': ['requests', 'failed'],
  'requests.dropped': ['requests', 'dropped'],
};

/** Metrics that are fractions of 1, and so may be written in %. */
const FRACTIONS = new Set(['error_rate', 'goodput.fraction']);

function isMetric(parts: readonly string[]): boolean {
  if (parts.length === 2 && (STATS as readonly string[]).includes(parts[1]!)) {
    return parts[0] === 'send_lag' || (LATENCIES as readonly string[]).includes(parts[0]!);
  }
  return PLAIN[parts.join('.')] !== undefined;
}

/** Every metric name a threshold accepts (for "allowed" lists and suggestions). */
export const THRESHOLD_METRICS: readonly string[] = [
  ...LATENCIES.flatMap((m) => STATS.map((s) => `${m}.${s}`)),
  ...STATS.map((s) => `send_lag.${s}`),
  ...Object.keys(PLAIN),
];

// The name part takes any non-space text before the operator, so that scope names such as
// `llama-3.1-8b` or `meta-llama/Llama-3.1-8B` can stand in it.
const EXPR = /^\s*([^\s<>=!]+)\s*(<=|>=|==|!=|<|>)\s*(-?[0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*(us|ms|s|m|%)?\s*$/i;

export type ParsedThreshold = { ok: true; threshold: Threshold } | { ok: false; message: string; allowed: string };

/** Parse one threshold expression; never throws. */
export function parseThreshold(expr: string): ParsedThreshold {
  const m = EXPR.exec(expr);
  if (!m) {
    return {
      ok: false,
      message: `threshold "${expr}" is not of the form "<metric> <op> <value>[unit]"`,
      allowed: 'e.g. "ttft.p95 < 800ms", "error_rate < 1%", "goodput.fraction > 0.9"; op one of < <= > >= == !=',
    };
  }
  const [, name, op, num, unitRaw] = m as unknown as [string, string, ThresholdOp, string, string | undefined];
  const unit = unitRaw?.toLowerCase();
  let rest = name.split('.');
  let scope: Threshold['scope'] = { kind: 'run' };
  const head = rest[0];
  if (head === 'by_tenant' || head === 'by_model' || head === 'stages') {
    // The scope's name may itself hold dots: the metric is the longest known tail.
    const tail = rest.slice(1);
    let split = -1;
    for (let i = 1; i < tail.length; i++) {
      if (isMetric(tail.slice(i))) {
        split = i;
        break;
      }
    }
    if (split < 0) {
      if (tail.length < 2) {
        return { ok: false, message: `threshold "${expr}": ${head} needs a name and a metric, e.g. ${head}.NAME.ttft.p95`, allowed: THRESHOLD_METRICS.join(', ') };
      }
      split = tail.length - (tail.length >= 3 ? 2 : 1);
    }
    scope = { kind: head, key: tail.slice(0, split).join('.') };
    rest = tail.slice(split);
  }
  const metric = rest.join('.');
  let path: string[];
  let isLatency = false;
  if ((LATENCIES as readonly string[]).includes(rest[0]!) && rest.length === 2 && (STATS as readonly string[]).includes(rest[1]!)) {
    path = ['latency_ms', rest[0]!, rest[1]!];
    isLatency = true;
  } else if (rest[0] === 'send_lag' && rest.length === 2 && (STATS as readonly string[]).includes(rest[1]!)) {
    path = ['client', 'send_lag_ms', rest[1]!];
    isLatency = true;
  } else if (PLAIN[metric]) {
    path = [...PLAIN[metric]!];
  } else {
    const hint = nearest(metric, THRESHOLD_METRICS);
    return {
      ok: false,
      message: `threshold "${expr}": unknown metric "${metric}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
      allowed: THRESHOLD_METRICS.join(', '),
    };
  }
  let limit = Number(num);
  if (isLatency) {
    if (unit === '%') return { ok: false, message: `threshold "${expr}": a latency takes us, ms, s or m, not %`, allowed: 'us, ms, s, m' };
    if (unit === 'us') limit /= 1000;
    else if (unit === 's') limit *= 1000;
    else if (unit === 'm') limit *= 60_000;
  } else if (unit === '%' && FRACTIONS.has(metric)) {
    limit /= 100;
  } else if (unit !== undefined) {
    return { ok: false, message: `threshold "${expr}": "${metric}" takes ${FRACTIONS.has(metric) ? '% or a plain fraction' : 'a plain number'}; "${unit}" does not apply`, allowed: FRACTIONS.has(metric) ? '% or a plain fraction' : 'a plain number' };
  }
  return { ok: true, threshold: { expr, scope, path, op, limit } };
}

/** Evaluate thresholds against a summary (summary.json's shape). */
export function evaluateThresholds(thresholds: readonly Threshold[], summary: unknown): ThresholdResult[] {
  return thresholds.map((t) => {
    const block = scopeBlock(summary, t.scope);
    const value = block === undefined ? undefined : dig(block, t.path);
    const v = typeof value === 'number' && Number.isFinite(value) ? value : null;
    return { expr: t.expr, value: v, limit: t.limit, pass: v !== null && compare(v, t.op, t.limit) };
  });
}

function scopeBlock(summary: unknown, scope: Threshold['scope']): unknown {
  if (scope.kind === 'run') return summary;
  const s = summary as Record<string, unknown>;
  if (scope.kind === 'stages') {
    const stages = (s.stages ?? []) as Array<Record<string, unknown>>;
    return stages.find((st, i) => st.name === scope.key || String(i) === scope.key);
  }
  return (s[scope.kind] as Record<string, unknown> | undefined)?.[scope.key];
}

function dig(obj: unknown, path: readonly string[]): unknown {
  let cur = obj;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

function compare(v: number, op: ThresholdOp, limit: number): boolean {
  switch (op) {
    case '<': return v < limit;
    case '<=': return v <= limit;
    case '>': return v > limit;
    case '>=': return v >= limit;
    case '==': return v === limit;
    case '!=': return v !== limit;
  }
}
