/**
 * Thresholds, k6-style: `ttft.p95 < 800ms`, `error_rate < 1%`, `goodput.fraction > 0.9`,
 * `by_tenant.free.ttft.p95 < 2s`, `server.kv_cache_usage.max < 95%`. Parsed at scenario load
 * against the known shape of summary.json (so a typo fails before any traffic), evaluated against
 * summary.json after the run, and, for `abort_on_fail` thresholds, against the live aggregate
 * during it (harness/run/run-scenario.ts). docs/scenarios.md has the grammar for users.
 *
 * Grammar:  path  op  number[unit]
 *   path    [scope.] metric
 *   scope   by_tenant.<name> | by_model.<name> | stages.<name-or-index>   (a block of summary.json)
 *   metric  a shorthand: <latency>.<stat> (latency_ms.<latency>.<stat>), send_lag.<stat>
 *           (client.send_lag_ms.<stat>); or any dotted path to a number in the block:
 *           error_rate, requests.failed, errors.<code>, http_status.<nnn>, throughput.*,
 *           goodput.*, latency_ms.<latency>.<stat>, tokens.*, client.send_lag_ms.<stat>, window_s;
 *           stages also: start_s, duration_s, target_rate_rps, users; the whole run also:
 *           duration_s, measurement.excluded.*, client.{event_loop_utilization, cpu_percent,
 *           threads, aborted_at_end}, server.<value>.{mean,p95,max}, server.samples,
 *           server.totals.*, server.by_worker.<name>.<value>.<stat>, server.extra.<query>.<stat>,
 *           and with workload.conversation: conversations.{started, completed, failed, cut,
 *           completed_fraction, turns.*, duration_s.*, last_prompt_tokens.*},
 *           conversations.ttft_ms_by_turn.<turn>.{count,p50,p95} (turn 1 .. 9, or 10+)
 *   op      < <= > >= == !=
 *   unit    latencies (ms): us ms s m, none = ms; seconds (s): us ms s m, none = s;
 *           ratios (0..1): %, none = a fraction; percent (cpu_percent): %, none; counts and
 *           rates: none
 *
 * A threshold with no value to compare (no successful request for a TTFT, no such tenant)
 * fails, with the reason; unlike k6, which long skipped thresholds on metrics without data
 * (grafana/k6#1346): a gate that passes because nothing was measured is not a gate.
 */

import { nearest } from '../util/did-you-mean.ts';
import { isRequestErrorCode } from '../client/request-error-codes.ts';
import { TURN_BUCKETS } from '../metrics/conversation-stats.ts';

export type ThresholdOp = '<' | '<=' | '>' | '>=' | '==' | '!=';

/**
 * The unit of a metric's value in summary.json (and of a threshold's limit, margin):
 * ms / s: durations; ratio: a fraction 0..1 (shown as %); percent: already in % (cpu_percent);
 * count: a whole number; number: any other plain number (rates per second, means).
 */
export type MetricUnit = 'ms' | 's' | 'ratio' | 'percent' | 'count' | 'number';

export interface Threshold {
  expr: string;
  /** The block of summary.json the path is read in (the whole summary, or a by_tenant/by_model/stage block). */
  scope: { kind: 'run' } | { kind: 'by_tenant' | 'by_model' | 'stages'; key: string };
  /** Path inside the block, e.g. ['latency_ms','ttft','p95'] or ['error_rate']. */
  path: readonly string[];
  op: ThresholdOp;
  /** Limit in the metric's own unit (ms for latencies, a fraction for ratios). */
  limit: number;
  unit: MetricUnit;
  /** Absent means 0 (error and status counts: a code never seen was seen 0 times). */
  absentIsZero: boolean;
  /**
   * Known while the run goes (from the request aggregate), so abort_on_fail can watch it; false
   * for what is only known after it (server samples, client CPU, duration).
   */
  live: boolean;
}

export interface ThresholdResult {
  expr: string;
  /** Observed value in `unit`; null when the metric has no value (e.g. no successful request). */
  value: number | null;
  limit: number;
  pass: boolean;
  op: ThresholdOp;
  unit: MetricUnit;
  /** value - limit, in `unit`; null without a value. */
  margin: number | null;
  /** margin relative to the limit, in % (100 * margin / |limit|); null without a value or when the limit is 0. */
  margin_pct: number | null;
  /** Why it failed, in words ("observed 950ms, limit 800ms, off by 150ms (+18.8%)"); null when it passed. */
  reason: string | null;
  /** True for an abort_on_fail threshold. */
  abort_on_fail?: boolean;
  /** The run was stopped early because this threshold failed during it (summary `aborted`). */
  aborted_run?: boolean;
}

export type ParsedThreshold =
  | { ok: true; threshold: Threshold }
  | {
      ok: false;
      /** FG_SCENARIO_BAD_THRESHOLD (syntax), FG_SCENARIO_THRESHOLD_METRIC (no such metric), FG_SCENARIO_THRESHOLD_UNIT (a unit that does not fit). */
      code: ThresholdErrorCode;
      message: string;
      allowed: string;
    };

export type ThresholdErrorCode = 'FG_SCENARIO_BAD_THRESHOLD' | 'FG_SCENARIO_THRESHOLD_METRIC' | 'FG_SCENARIO_THRESHOLD_UNIT';

// ---------------------------------------------------------------------------------------------
// The known shape of summary.json, as far as thresholds read it.

interface Leaf {
  leaf: MetricUnit;
  absentIsZero?: boolean;
  live?: boolean;
}
interface Dyn {
  /** Any key (checked by `check` when given); `what` names it in messages and candidate lists. */
  dyn: { what: string; check?: (key: string) => string | undefined; child: Shape };
}
type Shape = Leaf | Dyn | { [key: string]: Shape };

const STAT_KEYS = ['mean', 'p50', 'p90', 'p95', 'p99', 'max', 'min'] as const;
const LATENCIES = ['ttft', 'itl', 'tpot', 'e2e', 'queue', 'ttft_intended', 'e2e_intended', 'inter_chunk'] as const;
const SERVER_VALUES: Record<string, MetricUnit> = {
  queue_depth: 'number',
  gateway_queue_depth: 'number',
  worker_waiting: 'number',
  running: 'number',
  kv_cache_usage: 'ratio',
  kv_cache_usage_max: 'ratio',
  gpu_utilization: 'ratio',
  gpu_memory_used_fraction: 'ratio',
  preemptions_per_s: 'number',
  prefix_cache_hit_rate: 'ratio',
};

/** A key of conversations.ttft_ms_by_turn: "1" .. "9", then "10+" (conversation-stats.ts). */
function checkTurn(k: string): string | undefined {
  const last = `${TURN_BUCKETS}+`;
  if (k === last || (/^[1-9]\d*$/.test(k) && Number(k) < TURN_BUCKETS)) return undefined;
  return `"${k}" is not a turn of ttft_ms_by_turn (1 to ${TURN_BUCKETS - 1}, then ${last} for turns ${TURN_BUCKETS} and later)`;
}

const L = (leaf: MetricUnit, o: Omit<Leaf, 'leaf'> = {}): Leaf => ({ leaf, live: true, ...o });
const after = (leaf: MetricUnit): Leaf => ({ leaf, live: false });
const latencyStats = (): Shape => ({ ...Object.fromEntries(STAT_KEYS.map((s) => [s, L('ms')])), count: L('count') });
const serverStats = (unit: MetricUnit): Shape => ({ mean: after(unit), p95: after(unit), max: after(unit) });
const serverValues = (): Shape => Object.fromEntries(Object.entries(SERVER_VALUES).map(([k, u]) => [k, serverStats(u)]));

/** A block: the run, a stage, a tenant, a model (stats-block.ts BlockSummary). */
const BLOCK: Record<string, Shape> = {
  requests: { total: L('count'), ok: L('count'), failed: L('count'), dropped: L('count') },
  error_rate: L('ratio'),
  errors: {
    dyn: {
      what: '<error code>',
      check: (k) => (isRequestErrorCode(k) ? undefined : `"${k}" is not a request error code (timeout_ttft, http_500, ... in docs/errors.md)`),
      child: L('count', { absentIsZero: true }),
    },
  },
  http_status: {
    dyn: { what: '<status>', check: (k) => (/^[1-5]\d\d$/.test(k) ? undefined : `"${k}" is not an HTTP status (100 to 599)`), child: L('count', { absentIsZero: true }) },
  },
  throughput: { requests_per_s: L('number'), output_tokens_per_s: L('number'), total_tokens_per_s: L('number') },
  goodput: { requests_per_s: L('number'), output_tokens_per_s: L('number'), fraction: L('ratio') },
  latency_ms: Object.fromEntries(LATENCIES.map((m) => [m, latencyStats()])),
  tokens: { prompt: L('count'), output: L('count'), prompt_mean: L('number'), output_mean: L('number') },
  client: { send_lag_ms: latencyStats() },
  window_s: L('s'),
};

const STAGE: Record<string, Shape> = {
  ...BLOCK,
  start_s: L('s'),
  duration_s: L('s'),
  target_rate_rps: L('number'),
  users: L('count'),
};

const RUN: Record<string, Shape> = {
  ...BLOCK,
  duration_s: after('s'),
  measurement: { excluded: { warmup: L('count'), cooldown: L('count') } },
  client: {
    send_lag_ms: latencyStats(),
    event_loop_utilization: after('ratio'),
    cpu_percent: after('percent'),
    threads: after('count'),
    aborted_at_end: after('count'),
    saturation_lag_p99_ms: after('ms'),
  },
  server: {
    ...(serverValues() as Record<string, Shape>),
    samples: after('count'),
    totals: { preemptions: after('count'), prefix_cache_queries: after('count'), prefix_cache_hits: after('count'), prefix_cache_hit_rate: after('ratio') },
    by_worker: { dyn: { what: '<worker>', child: serverValues() } },
    extra: { dyn: { what: '<query>', child: serverStats('number') } },
  },
  // Scenarios with workload.conversation only (checked at scenario load); live: the aggregate
  // holds them during the run (open conversations count as cut, as when sending stops).
  conversations: {
    started: L('count'),
    completed: L('count'),
    failed: L('count'),
    cut: L('count'),
    completed_fraction: L('ratio'),
    turns: { mean: L('number'), max: L('count') },
    duration_s: { mean: L('s'), p95: L('s') },
    last_prompt_tokens: { mean: L('number'), max: L('count') },
    ttft_ms_by_turn: { dyn: { what: '<turn>', check: checkTurn, child: { count: L('count'), p50: L('ms'), p95: L('ms') } } },
  },
};

const SHAPES = { run: RUN, stages: STAGE, by_tenant: BLOCK, by_model: BLOCK } as const;

function isLeaf(s: Shape): s is Leaf {
  return typeof (s as Leaf).leaf === 'string';
}
function isDyn(s: Shape): s is Dyn {
  return typeof (s as Dyn).dyn === 'object' && (s as Dyn).dyn !== null && 'child' in (s as Dyn).dyn;
}

/** Every path to a number under `shape` (dynamic keys as `<what>`). */
function leafPaths(shape: Shape, prefix: string): string[] {
  if (isLeaf(shape)) return [prefix];
  if (isDyn(shape)) return leafPaths(shape.dyn.child, `${prefix}.${shape.dyn.what}`);
  return Object.entries(shape).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
}

/** Shorthands: `ttft.p95` for latency_ms.ttft.p95, `send_lag.p99` for client.send_lag_ms.p99. */
function expandShorthand(parts: readonly string[]): string[] {
  if (parts.length === 2 && ((STAT_KEYS as readonly string[]).includes(parts[1]!) || parts[1] === 'count')) {
    if ((LATENCIES as readonly string[]).includes(parts[0]!)) return ['latency_ms', parts[0]!, parts[1]!];
    if (parts[0] === 'send_lag') return ['client', 'send_lag_ms', parts[1]!];
  }
  return [...parts];
}

const SHORTHANDS: readonly string[] = [
  ...LATENCIES.flatMap((m) => [...STAT_KEYS, 'count'].map((s) => `${m}.${s}`)),
  ...[...STAT_KEYS, 'count'].map((s) => `send_lag.${s}`),
];

/** Every metric a threshold accepts on the whole run (shorthands first), for "allowed" lists and suggestions. */
export const THRESHOLD_METRICS: readonly string[] = [...SHORTHANDS, ...leafPaths(RUN, '')];

/** The paths under a shape, compactly: keys with the same sub-paths grouped, `a.{b,c}.{p50,p95}`. */
function groups(shape: Record<string, Shape>): string[] {
  const bySuffix = new Map<string, string[]>();
  for (const [k, v] of Object.entries(shape)) {
    const suffix = compact(v);
    bySuffix.set(suffix, [...(bySuffix.get(suffix) ?? []), k]);
  }
  return [...bySuffix].map(([suffix, keys]) => `${keys.length > 1 ? `{${keys.join(',')}}` : keys[0]}${suffix}`);
}
function compact(shape: Shape): string {
  if (isLeaf(shape)) return '';
  if (isDyn(shape)) return `.${shape.dyn.what}${compact(shape.dyn.child)}`;
  const g = groups(shape as Record<string, Shape>);
  return g.length === 1 ? `.${g[0]}` : `.{${g.join(', ')}}`;
}

const SHORTHAND_ALLOWED = `<latency>.<stat> or send_lag.<stat> (latency one of ${LATENCIES.join(', ')}; stat one of ${[...STAT_KEYS, 'count'].join(', ')})`;

/** What a scope's metrics may be, in words, for "allowed". */
const ALLOWED_BY_SCOPE: Record<keyof typeof SHAPES, string> = {
  run: `${SHORTHAND_ALLOWED}, or a path in summary.json: ${groups(RUN).join(', ')}`,
  stages: `${SHORTHAND_ALLOWED}, or a path in a stage block: ${groups(STAGE).join(', ')}`,
  by_tenant: `${SHORTHAND_ALLOWED}, or a path in a tenant block: ${groups(BLOCK).join(', ')}`,
  by_model: `${SHORTHAND_ALLOWED}, or a path in a model block: ${groups(BLOCK).join(', ')}`,
};

/** Metrics by scope kind (for suggestions inside a scope). */
const METRICS_BY_SCOPE: Record<keyof typeof SHAPES, readonly string[]> = {
  run: THRESHOLD_METRICS,
  stages: [...SHORTHANDS, ...leafPaths(STAGE, '')],
  by_tenant: [...SHORTHANDS, ...leafPaths(BLOCK, '')],
  by_model: [...SHORTHANDS, ...leafPaths(BLOCK, '')],
};

type Resolved = { ok: true; path: string[]; leaf: Leaf } | { ok: false; at: number; why?: string };

/** Walk `parts` (shorthand expanded) down `shape`. */
function resolve(parts: readonly string[], shape: Record<string, Shape>): Resolved {
  const path = expandShorthand(parts);
  let cur: Shape = shape;
  for (let i = 0; i < path.length; i++) {
    const k = path[i]!;
    if (isLeaf(cur)) return { ok: false, at: i };
    if (isDyn(cur)) {
      const why = cur.dyn.check?.(k);
      if (why !== undefined || k === '') return { ok: false, at: i, ...(why ? { why } : {}) };
      cur = cur.dyn.child;
      continue;
    }
    const next: Shape | undefined = Object.hasOwn(cur, k) ? (cur as Record<string, Shape>)[k] : undefined;
    if (next === undefined) return { ok: false, at: i };
    cur = next;
  }
  return isLeaf(cur) ? { ok: true, path, leaf: cur } : { ok: false, at: path.length };
}

// ---------------------------------------------------------------------------------------------
// Parsing

// The name part takes any non-space text before the operator, so that scope names such as
// `llama-3.1-8b` or `meta-llama/Llama-3.1-8B` can stand in it.
const EXPR = /^\s*([^\s<>=!]+)\s*(<=|>=|==|!=|<|>)\s*(-?[0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z%]+)?\s*$/i;
const UNITS = ['us', 'ms', 's', 'm', '%'];
const TO_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

const SYNTAX_ALLOWED = 'e.g. "ttft.p95 < 800ms", "error_rate < 1%", "goodput.fraction > 0.9"; op one of < <= > >= == !=; unit one of us ms s m %';

function unitsAllowed(u: MetricUnit): string {
  switch (u) {
    case 'ms':
      return 'us, ms, s or m (a plain number is ms)';
    case 's':
      return 'us, ms, s or m (a plain number is seconds)';
    case 'ratio':
      return '% or a plain fraction (1% = 0.01)';
    case 'percent':
      return '% or a plain number (already in %)';
    case 'count':
    case 'number':
      return 'a plain number, without a unit';
  }
}

/** The limit in the metric's unit, or undefined when `unit` does not fit it. */
function convert(n: number, unit: string | undefined, u: MetricUnit): number | undefined {
  if (unit === undefined) return n;
  switch (u) {
    case 'ms':
      return TO_MS[unit] === undefined ? undefined : n * TO_MS[unit]!;
    case 's':
      return TO_MS[unit] === undefined ? undefined : (n * TO_MS[unit]!) / 1000;
    case 'ratio':
      return unit === '%' ? n / 100 : undefined;
    case 'percent':
      return unit === '%' ? n : undefined;
    default:
      return undefined;
  }
}

/** Parse one threshold expression; never throws. */
export function parseThreshold(expr: string): ParsedThreshold {
  const bad = (code: ThresholdErrorCode, message: string, allowed: string): ParsedThreshold => ({ ok: false, code, message, allowed });
  const m = EXPR.exec(expr);
  if (!m) return bad('FG_SCENARIO_BAD_THRESHOLD', `threshold "${expr}" is not of the form "<metric> <op> <value>[unit]"`, SYNTAX_ALLOWED);
  const [, name, op, num, unitRaw] = m as unknown as [string, string, ThresholdOp, string, string | undefined];
  const unit = unitRaw?.toLowerCase();
  if (unit !== undefined && !UNITS.includes(unit)) {
    return bad('FG_SCENARIO_BAD_THRESHOLD', `threshold "${expr}": "${unitRaw}" is not a unit`, SYNTAX_ALLOWED);
  }
  const n = Number(num);
  if (!Number.isFinite(n)) return bad('FG_SCENARIO_BAD_THRESHOLD', `threshold "${expr}": ${num} is not a finite number`, SYNTAX_ALLOWED);

  const parts = name.split('.');
  if (parts.some((p) => p === '')) {
    return bad('FG_SCENARIO_BAD_THRESHOLD', `threshold "${expr}": "${name}" has an empty name between dots`, SYNTAX_ALLOWED);
  }
  let scope: Threshold['scope'] = { kind: 'run' };
  let rest = parts;
  const head = parts[0]!;
  if (head === 'by_tenant' || head === 'by_model' || head === 'stages') {
    // The scope's name may itself hold dots (model names): the metric is the first tail that
    // resolves; without one, the first tail that starts like a metric (for the message).
    const tail = parts.slice(1);
    const shape = SHAPES[head];
    let split = -1;
    for (let i = 1; i < tail.length; i++) {
      if (resolve(tail.slice(i), shape).ok) {
        split = i;
        break;
      }
    }
    if (split < 0) {
      if (tail.length < 2) {
        return bad('FG_SCENARIO_BAD_THRESHOLD', `threshold "${expr}": ${head} needs a name and a metric, e.g. ${head}.NAME.ttft.p95`, `${head}.<name>.<metric>, the metric ${ALLOWED_BY_SCOPE[head]}`);
      }
      const heads = new Set([...Object.keys(RUN), ...LATENCIES, 'send_lag']);
      split = head === 'stages' ? 1 : tail.findIndex((p, i) => i > 0 && heads.has(p));
      if (split < 1) split = tail.length - (tail.length >= 3 ? 2 : 1);
    }
    scope = { kind: head, key: tail.slice(0, split).join('.') };
    rest = tail.slice(split);
  }
  const kind = scope.kind;
  const r = resolve(rest, SHAPES[kind]);
  const metric = rest.join('.');
  if (!r.ok) {
    const candidates = METRICS_BY_SCOPE[kind];
    const hint = nearest(metric, candidates);
    const where = kind === 'run' ? '' : ` in a ${kind === 'stages' ? 'stage' : kind === 'by_tenant' ? 'tenant' : 'model'} block`;
    const onlyRun = kind !== 'run' && resolve(rest, RUN).ok ? ` ("${metric}" exists for the whole run only)` : '';
    const detail = r.why ? `: ${r.why}` : '';
    return bad(
      'FG_SCENARIO_THRESHOLD_METRIC',
      `threshold "${expr}": summary.json has no metric "${metric}"${where}${detail}${onlyRun}${hint ? ` (did you mean "${hint}"?)` : ''}`,
      ALLOWED_BY_SCOPE[kind],
    );
  }
  const limit = convert(n, unit, r.leaf.leaf);
  if (limit === undefined) {
    return bad('FG_SCENARIO_THRESHOLD_UNIT', `threshold "${expr}": "${metric}" is ${describeUnit(r.leaf.leaf)} and takes ${unitsAllowed(r.leaf.leaf)}; "${unitRaw}" does not apply`, unitsAllowed(r.leaf.leaf));
  }
  return {
    ok: true,
    threshold: { expr, scope, path: r.path, op, limit, unit: r.leaf.leaf, absentIsZero: r.leaf.absentIsZero === true, live: r.leaf.live === true },
  };
}

function describeUnit(u: MetricUnit): string {
  switch (u) {
    case 'ms':
      return 'a latency in ms';
    case 's':
      return 'a time in seconds';
    case 'ratio':
      return 'a fraction';
    case 'percent':
      return 'a percentage';
    case 'count':
      return 'a count';
    case 'number':
      return 'a plain number';
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/** Evaluate thresholds against a summary (summary.json's shape, or the live blocks of one). */
export function evaluateThresholds(thresholds: readonly Threshold[], summary: unknown): ThresholdResult[] {
  return thresholds.map((t) => evaluateOne(t, summary));
}

function evaluateOne(t: Threshold, summary: unknown): ThresholdResult {
  const unit = t.unit ?? 'number';
  const base = { expr: t.expr, limit: t.limit, op: t.op, unit };
  const found = scopeBlock(summary, t.scope);
  if (found.block === undefined) {
    return { ...base, value: null, pass: false, margin: null, margin_pct: null, reason: `no value: ${found.why}` };
  }
  let raw = dig(found.block, t.path);
  if (raw === undefined && t.absentIsZero && dig(found.block, t.path.slice(0, -1)) !== undefined) raw = 0;
  const v = typeof raw === 'number' && Number.isFinite(raw) ? raw : null;
  if (v === null) {
    return { ...base, value: null, pass: false, margin: null, margin_pct: null, reason: `no value: ${noValueWhy(t, found.block, raw)}` };
  }
  const pass = compare(v, t.op, t.limit);
  const margin = v - t.limit;
  const margin_pct = t.limit === 0 ? null : (margin / Math.abs(t.limit)) * 100;
  return { ...base, value: v, pass, margin, margin_pct, reason: pass ? null : failWhy(t, v, margin, margin_pct) };
}

function failWhy(t: Threshold, v: number, margin: number, pct: number | null): string {
  const u = t.unit ?? 'number';
  if (t.op === '!=') return `observed ${formatMetric(v, u)}, which must not equal ${formatMetric(t.limit, u)}`;
  return `observed ${formatMetric(v, u)}, limit ${formatMetric(t.limit, u)}, off by ${formatMargin(margin, u, pct)}`;
}

function noValueWhy(t: Threshold, block: unknown, raw: unknown): string {
  const p = t.path.join('.');
  if (raw === undefined && t.path[0] === 'conversations') {
    const conv = (block as { conversations?: unknown } | null)?.conversations;
    if (conv === undefined) return 'the summary has no conversations (the scenario has no workload.conversation)';
    if (t.path[1] === 'ttft_ms_by_turn') return `no measured turn ${t.path[2]} succeeded`;
  }
  if (raw === undefined) return `${p} is not in the summary`;
  if (raw === null) {
    const req = (block as { requests?: { ok?: number; failed?: number } }).requests;
    if (t.path[0] === 'latency_ms' || t.path[0] === 'tokens') {
      return req && req.ok === 0 ? `${p} has no samples (no successful request)` : `${p} has no samples`;
    }
    if (t.path[0] === 'error_rate') return 'no request was sent';
    if (t.path[0] === 'server') return `${p} was not sampled (see summary.server.note)`;
    if (t.path[0] === 'conversations') return `${p} has no value (no conversation ${t.path[1] === 'completed_fraction' ? 'ended' : 'completed'})`;
    return `${p} is null (nothing to compute it from)`;
  }
  return `${p} is not a finite number (${JSON.stringify(raw)})`;
}

function scopeBlock(summary: unknown, scope: Threshold['scope']): { block: unknown; why: string } {
  if (scope.kind === 'run') return { block: summary, why: 'no summary' };
  const s = (summary ?? {}) as Record<string, unknown>;
  if (scope.kind === 'stages') {
    const stages = (Array.isArray(s.stages) ? s.stages : []) as Array<Record<string, unknown>>;
    const block = stages.find((st, i) => st.name === scope.key || String(i) === scope.key);
    return { block, why: `no stage "${scope.key}" in the summary` };
  }
  const map = (s[scope.kind] ?? {}) as Record<string, unknown>;
  const block = Object.hasOwn(map, scope.key) ? map[scope.key] : undefined;
  const have = Object.keys(map);
  const what = scope.kind === 'by_tenant' ? 'tenant' : 'model';
  return { block, why: `no request of ${what} "${scope.key}" was measured (${what}s seen: ${have.length ? have.join(', ') : 'none'})` };
}

function dig(obj: unknown, path: readonly string[]): unknown {
  let cur = obj;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, k)) return undefined;
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

// ---------------------------------------------------------------------------------------------
// Display, shared by the terminal table, summary.md and junit.xml

function trim(v: number, digits: number): string {
  return String(Number(v.toFixed(digits)));
}

/** A value in its metric's unit, for people: `812ms`, `1.25s`, `0.4%`, `12`, `3.5`. */
export function formatMetric(v: number | null, unit: MetricUnit): string {
  if (v === null) return 'no value';
  const a = Math.abs(v);
  switch (unit) {
    case 'ms':
      if (a >= 1000) return `${trim(v / 1000, 3)}s`;
      return `${trim(v, a >= 100 ? 1 : a >= 1 ? 2 : 3)}ms`;
    case 's':
      return `${trim(v, 3)}s`;
    case 'ratio':
      return `${trim(v * 100, a * 100 >= 10 ? 1 : a * 100 >= 0.1 ? 2 : 4)}%`;
    case 'percent':
      return `${trim(v, 1)}%`;
    case 'count':
      return trim(v, 0);
    case 'number':
      return trim(v, a >= 100 ? 1 : 3);
  }
}

/** How far off: `150ms (+18.8%)`; the sign of the relative part says above (+) or below (-) the limit. */
export function formatMargin(margin: number, unit: MetricUnit, pct: number | null): string {
  const rel = pct === null ? '' : ` (${pct >= 0 ? '+' : '-'}${trim(Math.abs(pct), Math.abs(pct) >= 10 ? 0 : 1)}%)`;
  return `${formatMetric(Math.abs(margin), unit)}${rel}`;
}

/** The limit as a condition: `< 800ms`. */
export function formatLimit(r: Pick<ThresholdResult, 'op' | 'limit' | 'unit'>): string {
  return `${r.op} ${formatMetric(r.limit, r.unit)}`;
}

/**
 * How far off a failed threshold is, for a table's "off by" column: `150ms (+18.8%)`; why there
 * is no value; or why a threshold whose final figure passes still failed (it stopped the run).
 * Empty for a passed one.
 */
export function formatOffBy(t: Pick<ThresholdResult, 'pass' | 'value' | 'op' | 'unit' | 'margin' | 'margin_pct' | 'reason'>): string {
  if (t.pass) return '';
  if (t.value === null) return t.reason ?? 'no value';
  if (t.reason?.startsWith('failed during the run')) return t.reason;
  if (t.op === '!=') return 'equal to the limit';
  if (t.margin === null || t.margin === undefined) return t.reason ?? '';
  return formatMargin(t.margin, t.unit ?? 'number', t.margin_pct ?? null);
}
