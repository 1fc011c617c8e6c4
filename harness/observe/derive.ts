/**
 * From scraped /metrics to the server figures of a run: the quantities summary.json `server` and
 * server.json report, derived per scrape of one endpoint and combined over the endpoints of one
 * sample. Pure functions; the formulas are documented in docs/metrics.md ("Server samples").
 *
 *   gateway_queue_depth      sum of floodgate_gateway_queue_depth (every model)
 *   worker_waiting           sum of vllm:num_requests_waiting
 *   queue_depth              gateway_queue_depth + worker_waiting (those present)
 *   running                  sum of vllm:num_requests_running
 *   kv_cache_usage           vllm:kv_cache_usage_perc (0..1): mean over workers; _max: max over workers
 *   gpu_utilization          DCGM_FI_DEV_GPU_UTIL / 100 (a fraction 0..1), mean over GPUs
 *   gpu_memory_used_fraction sum DCGM_FI_DEV_FB_USED / sum (FB_USED + FB_FREE)
 *   preemptions_per_s        counter delta of vllm:num_preemptions_total / seconds between scrapes
 *   prefix_cache_hit_rate    delta vllm:prefix_cache_hits_total / delta vllm:prefix_cache_queries_total
 *                            (null when no tokens were queried in the interval)
 *
 * Counter deltas follow Prometheus: a value lower than the previous one is a reset (the process
 * restarted), and the delta is then the new value; a series seen for the first time contributes
 * nothing until its second scrape.
 */
import { seriesKey, type PromFamily } from './prom-text.ts';

export const M = {
  gatewayQueue: 'floodgate_gateway_queue_depth',
  waiting: 'vllm:num_requests_waiting',
  running: 'vllm:num_requests_running',
  kv: 'vllm:kv_cache_usage_perc',
  preemptions: 'vllm:num_preemptions_total',
  prefixQueries: 'vllm:prefix_cache_queries_total',
  prefixHits: 'vllm:prefix_cache_hits_total',
  gpuUtil: 'DCGM_FI_DEV_GPU_UTIL',
  fbUsed: 'DCGM_FI_DEV_FB_USED',
  fbFree: 'DCGM_FI_DEV_FB_FREE',
} as const;

/** The families a scrape needs (the parser skips every other line). */
export const SAMPLED_FAMILIES: ReadonlySet<string> = new Set([
  ...Object.values(M),
  // OpenMetrics-style counter family names (`x` holding `x_total`).
  'vllm:num_preemptions', 'vllm:prefix_cache_queries', 'vllm:prefix_cache_hits',
]);

/** The values one sample reports, for the whole target or for one worker. */
export interface ServerValues {
  queue_depth: number | null;
  gateway_queue_depth: number | null;
  worker_waiting: number | null;
  running: number | null;
  kv_cache_usage: number | null;
  kv_cache_usage_max: number | null;
  gpu_utilization: number | null;
  gpu_memory_used_fraction: number | null;
  preemptions_per_s: number | null;
  prefix_cache_hit_rate: number | null;
}

export const VALUE_KEYS: ReadonlyArray<keyof ServerValues> = [
  'queue_depth', 'gateway_queue_depth', 'worker_waiting', 'running', 'kv_cache_usage', 'kv_cache_usage_max',
  'gpu_utilization', 'gpu_memory_used_fraction', 'preemptions_per_s', 'prefix_cache_hit_rate',
];

export function emptyValues(): ServerValues {
  return {
    queue_depth: null, gateway_queue_depth: null, worker_waiting: null, running: null, kv_cache_usage: null, kv_cache_usage_max: null,
    gpu_utilization: null, gpu_memory_used_fraction: null, preemptions_per_s: null, prefix_cache_hit_rate: null,
  };
}

/** Counter values of one scrape, by series, for the next scrape's deltas. */
export interface CounterSnapshot {
  /** Scrape time (ms, any monotonic clock shared by the snapshots compared). */
  tMs: number;
  preemptions: Map<string, number>;
  prefixQueries: Map<string, number>;
  prefixHits: Map<string, number>;
}

/** What one scrape of one endpoint gives, before combining endpoints. */
export interface EndpointReading {
  gatewayQueue: number | null;
  waiting: number | null;
  running: number | null;
  /** vllm:kv_cache_usage_perc of each series (one per engine). */
  kv: number[];
  /** DCGM_FI_DEV_GPU_UTIL of each GPU (0..100). */
  gpuUtil: number[];
  fbUsed: number | null;
  fbFree: number | null;
  /** Counter deltas since the previous scrape of this endpoint (null: no previous scrape). */
  preemptionsDelta: number | null;
  prefixQueriesDelta: number | null;
  prefixHitsDelta: number | null;
  /** Seconds since the previous scrape (null: none). */
  dtS: number | null;
}

function samplesOf(fams: ReadonlyMap<string, PromFamily>, name: string): Array<{ labels: Record<string, string>; value: number }> {
  const out: Array<{ labels: Record<string, string>; value: number }> = [];
  // The sample may sit in its own family (0.0.4: `# TYPE x_total counter`) or in an
  // OpenMetrics family without the suffix.
  const own = fams.get(name);
  if (own) for (const s of own.samples) if (s.name === name) out.push(s);
  if (name.endsWith('_total')) {
    const base = fams.get(name.slice(0, -'_total'.length));
    if (base) for (const s of base.samples) if (s.name === name) out.push(s);
  }
  return out.filter((s) => Number.isFinite(s.value));
}

function sumOf(fams: ReadonlyMap<string, PromFamily>, name: string): number | null {
  const s = samplesOf(fams, name);
  return s.length ? s.reduce((a, b) => a + b.value, 0) : null;
}

function counterMap(fams: ReadonlyMap<string, PromFamily>, name: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of samplesOf(fams, name)) m.set(seriesKey(s.labels), s.value);
  return m;
}

/**
 * Increase of a counter between two scrapes, summed over its series: a reset (value below the
 * previous one) counts the new value; a series without a previous value counts nothing.
 * Null when there is no previous scrape, or the counter is absent from both.
 */
export function counterDelta(prev: ReadonlyMap<string, number> | undefined, cur: ReadonlyMap<string, number>): number | null {
  if (prev === undefined) return null;
  if (prev.size === 0 && cur.size === 0) return null;
  let d = 0;
  for (const [k, v] of cur) {
    const p = prev.get(k);
    if (p === undefined) continue;
    d += v >= p ? v - p : v;
  }
  return d;
}

/** Read one endpoint's scrape, with the deltas from its previous scrape's counters. */
export function readEndpoint(fams: ReadonlyMap<string, PromFamily>, tMs: number, prev: CounterSnapshot | undefined): { reading: EndpointReading; counters: CounterSnapshot } {
  const counters: CounterSnapshot = {
    tMs,
    preemptions: counterMap(fams, M.preemptions),
    prefixQueries: counterMap(fams, M.prefixQueries),
    prefixHits: counterMap(fams, M.prefixHits),
  };
  const dtS = prev === undefined ? null : (tMs - prev.tMs) / 1000;
  const reading: EndpointReading = {
    gatewayQueue: sumOf(fams, M.gatewayQueue),
    waiting: sumOf(fams, M.waiting),
    running: sumOf(fams, M.running),
    kv: samplesOf(fams, M.kv).map((s) => s.value),
    gpuUtil: samplesOf(fams, M.gpuUtil).map((s) => s.value),
    fbUsed: sumOf(fams, M.fbUsed),
    fbFree: sumOf(fams, M.fbFree),
    preemptionsDelta: counterDelta(prev?.preemptions, counters.preemptions),
    prefixQueriesDelta: counterDelta(prev?.prefixQueries, counters.prefixQueries),
    prefixHitsDelta: counterDelta(prev?.prefixHits, counters.prefixHits),
    dtS: dtS !== null && dtS > 0 ? dtS : null,
  };
  return { reading, counters };
}

function addNullable(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return a + b;
}

function mean(xs: readonly number[]): number | null {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

/**
 * Combine the readings of one sample (one per endpoint that answered) into the sample's values.
 * A single reading gives that endpoint's own values (by_worker).
 */
export function combine(readings: readonly EndpointReading[]): ServerValues {
  const v = emptyValues();
  const kvPerWorker: number[] = [];
  const util: number[] = [];
  let used: number | null = null;
  let total: number | null = null;
  let hits: number | null = null;
  let queries: number | null = null;
  for (const r of readings) {
    v.gateway_queue_depth = addNullable(v.gateway_queue_depth, r.gatewayQueue);
    v.worker_waiting = addNullable(v.worker_waiting, r.waiting);
    v.running = addNullable(v.running, r.running);
    const kv = mean(r.kv);
    if (kv !== null) kvPerWorker.push(kv);
    util.push(...r.gpuUtil.filter((u) => Number.isFinite(u)));
    if (r.fbUsed !== null && r.fbFree !== null) {
      used = (used ?? 0) + r.fbUsed;
      total = (total ?? 0) + r.fbUsed + r.fbFree;
    }
    if (r.preemptionsDelta !== null && r.dtS !== null) v.preemptions_per_s = (v.preemptions_per_s ?? 0) + r.preemptionsDelta / r.dtS;
    if (r.prefixQueriesDelta !== null && r.prefixHitsDelta !== null) {
      hits = (hits ?? 0) + r.prefixHitsDelta;
      queries = (queries ?? 0) + r.prefixQueriesDelta;
    }
  }
  v.queue_depth = addNullable(v.gateway_queue_depth, v.worker_waiting);
  v.kv_cache_usage = mean(kvPerWorker);
  v.kv_cache_usage_max = kvPerWorker.length ? Math.max(...kvPerWorker) : null;
  const u = mean(util);
  v.gpu_utilization = u === null ? null : u / 100;
  v.gpu_memory_used_fraction = used !== null && total !== null && total > 0 ? used / total : null;
  v.prefix_cache_hit_rate = hits !== null && queries !== null && queries > 0 ? hits / queries : null;
  return v;
}

/** Counter increases of one sample since the previous one, summed over endpoints (null: no delta known). */
export interface CounterDeltas {
  preemptions: number | null;
  prefix_cache_queries: number | null;
  prefix_cache_hits: number | null;
}

export function sumDeltas(readings: readonly EndpointReading[]): CounterDeltas {
  const out: CounterDeltas = { preemptions: null, prefix_cache_queries: null, prefix_cache_hits: null };
  for (const r of readings) {
    out.preemptions = addNullable(out.preemptions, r.preemptionsDelta);
    out.prefix_cache_queries = addNullable(out.prefix_cache_queries, r.prefixQueriesDelta);
    out.prefix_cache_hits = addNullable(out.prefix_cache_hits, r.prefixHitsDelta);
  }
  return out;
}

/** Whether a reading holds any worker or GPU figure (it goes into by_worker), not only gateway ones. */
export function isWorkerReading(r: EndpointReading): boolean {
  return r.waiting !== null || r.running !== null || r.kv.length > 0 || r.gpuUtil.length > 0 || r.fbUsed !== null || r.preemptionsDelta !== null;
}

export interface Stats {
  mean: number | null;
  p95: number | null;
  max: number | null;
}

/** mean, p95 (nearest rank) and max of the non-null values; all null without any. */
export function statsOf(values: ReadonlyArray<number | null | undefined>): Stats {
  const xs = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (xs.length === 0) return { mean: null, p95: null, max: null };
  const rank = Math.max(1, Math.ceil(0.95 * xs.length));
  return { mean: xs.reduce((a, b) => a + b, 0) / xs.length, p95: xs[rank - 1]!, max: xs[xs.length - 1]! };
}
