/**
 * Time series for the report's charts, at most `maxPoints` points per series, so that a report
 * stays small however long the run was (a day's soak is 86,400 one-second points).
 *
 * Client series (timeseries.json, one point per second): up to `maxPoints` seconds are kept as
 * they are. Beyond that, consecutive seconds are grouped into buckets of k = ceil(n / maxPoints)
 * seconds, and each bucket becomes one point at its middle:
 *   rates (target, sent, ok, failed, dropped, output tokens)  sum over the bucket / its seconds:
 *        the mean per second, so the area under a curve (a total) is kept; target over the seconds
 *        that have one (open loop), null when none has
 *   in_flight, send_lag_max                                   max over the bucket (peaks stay visible)
 *   ttft_p50, itl_p50, e2e_p50                                mean of the seconds' medians, weighted
 *                                                             by their completed requests
 *   ttft_p95, itl_p95                                         max over the bucket: the worst second
 * Server samples (server.json, t_s >= 0 only; the baseline before the run is in the summary):
 * kept as they are up to `maxPoints`, else groups of k consecutive samples, at their mean time:
 * queue depths, running, KV-cache usage and GPU memory take the group's max; GPU utilisation, the
 * preemption rate and the prefix-cache hit rate its mean.
 */
import type { SeriesPoint } from '../../metrics/time-series.ts';
import type { ServerPoint } from '../../observe/server-summary.ts';

export const MAX_SERIES_POINTS = 2000;

export const CLIENT_KEYS = [
  'target', 'sent', 'ok', 'failed', 'dropped', 'in_flight', 'output_tokens',
  'ttft_p50', 'ttft_p95', 'itl_p50', 'itl_p95', 'e2e_p50', 'send_lag_max',
] as const;
export type ClientKey = (typeof CLIENT_KEYS)[number];

export const SERVER_KEYS = [
  'queue_depth', 'gateway_queue_depth', 'worker_waiting', 'running', 'kv_cache_usage', 'kv_cache_usage_max',
  'gpu_utilization', 'gpu_memory_used_fraction', 'preemptions_per_s', 'prefix_cache_hit_rate',
] as const;
export type ServerKey = (typeof SERVER_KEYS)[number];

export type Column = Array<number | null>;

export interface ClientColumns {
  /** Seconds per point: 1 when not downsampled. */
  bucket_s: number;
  /** Middle of each point's bucket, seconds on the run clock. */
  x: number[];
  cols: Record<ClientKey, Column>;
}

export interface ServerColumns {
  /** Samples per point: 1 when not downsampled. */
  group: number;
  x: number[];
  cols: Record<ServerKey, Column>;
}

type Agg = 'rate' | 'target' | 'max' | 'weighted';

const CLIENT_AGG: Record<ClientKey, Agg> = {
  target: 'target', sent: 'rate', ok: 'rate', failed: 'rate', dropped: 'rate', output_tokens: 'rate',
  in_flight: 'max', send_lag_max: 'max',
  ttft_p50: 'weighted', itl_p50: 'weighted', e2e_p50: 'weighted',
  ttft_p95: 'max', itl_p95: 'max',
};

const SERVER_MEAN: ReadonlySet<ServerKey> = new Set(['gpu_utilization', 'preemptions_per_s', 'prefix_cache_hit_rate']);

/** Rounded for the JSON blob: 4 significant digits at least, never fewer than 3 decimals below 1. */
export function roundValue(v: number | null | undefined): number | null {
  if (v === null || v === undefined || !Number.isFinite(v)) return null;
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v * 10) / 10;
  if (a >= 1) return Math.round(v * 1000) / 1000;
  return Math.round(v * 100_000) / 100_000;
}

function numOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function downsampleClient(points: readonly SeriesPoint[], maxPoints = MAX_SERIES_POINTS): ClientColumns {
  const n = points.length;
  const k = n <= maxPoints ? 1 : Math.ceil(n / maxPoints);
  const x: number[] = [];
  const cols = Object.fromEntries(CLIENT_KEYS.map((key) => [key, [] as Column])) as Record<ClientKey, Column>;
  for (let i = 0; i < n; i += k) {
    const bucket = points.slice(i, Math.min(n, i + k));
    const len = bucket.length;
    x.push(roundValue(bucket[0]!.t + len / 2)!);
    for (const key of CLIENT_KEYS) {
      const agg = CLIENT_AGG[key];
      let out: number | null = null;
      if (agg === 'rate') {
        let sum = 0;
        for (const p of bucket) sum += numOrNull(p[key]) ?? 0;
        out = sum / len;
      } else if (agg === 'target') {
        let sum = 0;
        let m = 0;
        for (const p of bucket) {
          const v = numOrNull(p.target);
          if (v !== null) {
            sum += v;
            m++;
          }
        }
        out = m > 0 ? sum / m : null;
      } else if (agg === 'max') {
        for (const p of bucket) {
          const v = numOrNull(p[key]);
          if (v !== null && (out === null || v > out)) out = v;
        }
      } else {
        let sum = 0;
        let w = 0;
        for (const p of bucket) {
          const v = numOrNull(p[key]);
          if (v === null) continue;
          const weight = Math.max(1, p.ok);
          sum += v * weight;
          w += weight;
        }
        out = w > 0 ? sum / w : null;
      }
      cols[key].push(roundValue(out));
    }
  }
  return { bucket_s: k, x, cols };
}

/** null when there are no samples within the run. */
export function downsampleServer(points: readonly ServerPoint[] | null, maxPoints = MAX_SERIES_POINTS): ServerColumns | null {
  if (!points) return null;
  const inRun = points.filter((p) => typeof p.t_s === 'number' && p.t_s >= 0).sort((a, b) => a.t_s - b.t_s);
  const n = inRun.length;
  if (n === 0) return null;
  const k = n <= maxPoints ? 1 : Math.ceil(n / maxPoints);
  const x: number[] = [];
  const cols = Object.fromEntries(SERVER_KEYS.map((key) => [key, [] as Column])) as Record<ServerKey, Column>;
  for (let i = 0; i < n; i += k) {
    const group = inRun.slice(i, Math.min(n, i + k));
    let t = 0;
    for (const p of group) t += p.t_s;
    x.push(roundValue(t / group.length)!);
    for (const key of SERVER_KEYS) {
      let out: number | null = null;
      if (SERVER_MEAN.has(key)) {
        let sum = 0;
        let m = 0;
        for (const p of group) {
          const v = numOrNull(p[key]);
          if (v !== null) {
            sum += v;
            m++;
          }
        }
        out = m > 0 ? sum / m : null;
      } else {
        for (const p of group) {
          const v = numOrNull(p[key]);
          if (v !== null && (out === null || v > out)) out = v;
        }
      }
      cols[key].push(roundValue(out));
    }
  }
  return { group: k, x, cols };
}

/** Does the column hold any value? (A series without one is left out of the charts.) */
export function hasValues(col: Column | undefined): boolean {
  return col !== undefined && col.some((v) => v !== null);
}
