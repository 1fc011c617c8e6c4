/**
 * Prometheus mode (`observe.prometheus`): instead of scraping the endpoints itself, the harness
 * asks a Prometheus server that scrapes them, once the run is over: one `query_range` per
 * quantity over the run window, at `step`, evaluated at run-clock times 0, step, 2 x step, ...
 * (start = the wall-clock time of the run epoch). The PromQL of each quantity is below, the same
 * as docs/metrics.md lists; `observe.prometheus.queries` overrides one by name or adds a new one
 * (reported under `extra`). `$rate_window` in a query is replaced by the rate window (default 4 x
 * the larger of the step and the Prometheus scrape interval, as Grafana's $__rate_interval).
 */
import { Agent, request } from 'undici';
import { emptyValues, VALUE_KEYS, type ServerValues } from './derive.ts';
import type { ServerPoint } from './server-summary.ts';

/** The PromQL of each value, over every series Prometheus holds. */
export const DEFAULT_QUERIES: Readonly<Record<keyof ServerValues, string>> = {
  gateway_queue_depth: 'sum(floodgate_gateway_queue_depth)',
  worker_waiting: 'sum(vllm:num_requests_waiting)',
  queue_depth: 'sum(floodgate_gateway_queue_depth) + sum(vllm:num_requests_waiting)',
  running: 'sum(vllm:num_requests_running)',
  kv_cache_usage: 'avg(vllm:kv_cache_usage_perc)',
  kv_cache_usage_max: 'max(vllm:kv_cache_usage_perc)',
  gpu_utilization: 'avg(DCGM_FI_DEV_GPU_UTIL) / 100',
  gpu_memory_used_fraction: 'sum(DCGM_FI_DEV_FB_USED) / (sum(DCGM_FI_DEV_FB_USED) + sum(DCGM_FI_DEV_FB_FREE))',
  preemptions_per_s: 'sum(rate(vllm:num_preemptions_total[$rate_window]))',
  prefix_cache_hit_rate: 'sum(increase(vllm:prefix_cache_hits_total[$rate_window])) / sum(increase(vllm:prefix_cache_queries_total[$rate_window]))',
};

/** The same per worker (the `worker` label the gateway's service discovery sets). */
export const DEFAULT_WORKER_QUERIES: Readonly<Partial<Record<keyof ServerValues, string>>> = {
  worker_waiting: 'sum by (worker) (vllm:num_requests_waiting)',
  running: 'sum by (worker) (vllm:num_requests_running)',
  kv_cache_usage: 'avg by (worker) (vllm:kv_cache_usage_perc)',
  kv_cache_usage_max: 'max by (worker) (vllm:kv_cache_usage_perc)',
  gpu_utilization: 'avg by (worker) (DCGM_FI_DEV_GPU_UTIL) / 100',
  gpu_memory_used_fraction: 'sum by (worker) (DCGM_FI_DEV_FB_USED) / (sum by (worker) (DCGM_FI_DEV_FB_USED) + sum by (worker) (DCGM_FI_DEV_FB_FREE))',
  preemptions_per_s: 'sum by (worker) (rate(vllm:num_preemptions_total[$rate_window]))',
  prefix_cache_hit_rate: 'sum by (worker) (increase(vllm:prefix_cache_hits_total[$rate_window])) / sum by (worker) (increase(vllm:prefix_cache_queries_total[$rate_window]))',
};

export interface PrometheusQueryOptions {
  /** The Prometheus server's base URL (http://host:9090). */
  url: string;
  /** Wall-clock ms of the run epoch (t = 0) and the run's length. */
  startMs: number;
  durationMs: number;
  stepMs: number;
  /** Rate window; default 4 x max(step, the scrape interval Prometheus reports). */
  rateWindowMs?: number;
  /** Overrides and additions, by name. */
  queries?: Readonly<Record<string, string>>;
  timeoutMs?: number;
}

export interface PrometheusResult {
  points: ServerPoint[];
  /** The queries as sent (after overrides, before `$rate_window` substitution). */
  queries: Record<string, string>;
  rateWindowMs: number;
  /** One line per query that failed (the others still count). */
  errors: string[];
}

interface Matrix {
  status: string;
  error?: string;
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> };
}

function promDuration(ms: number): string {
  return `${Math.max(1, Math.round(ms))}ms`;
}

/** Prometheus durations as /api/v1/targets writes them (`1s`, `15s`, `1m`, `1m30s`, `500ms`). */
export function parsePromDuration(s: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ms|y|w|d|h|m|s)/g;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };
  let total = 0;
  let consumed = 0;
  for (const m of s.matchAll(re)) {
    total += Number(m[1]) * unit[m[2]!]!;
    consumed += m[0].length;
  }
  return consumed === s.length && consumed > 0 ? total : undefined;
}

async function getJson(agent: Agent, url: string, timeoutMs: number): Promise<unknown> {
  const res = await request(url, { dispatcher: agent, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.body.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
  }
  if (res.statusCode !== 200) {
    const err = (body as { error?: string }).error;
    throw new Error(`HTTP ${res.statusCode}${err ? `: ${err}` : ''}`);
  }
  return body;
}

/** The largest scrape interval among Prometheus's active targets; undefined when it does not say. */
async function scrapeIntervalMs(agent: Agent, base: string, timeoutMs: number): Promise<number | undefined> {
  try {
    const body = (await getJson(agent, `${base}/api/v1/targets?state=active`, timeoutMs)) as { data?: { activeTargets?: Array<{ scrapeInterval?: string }> } };
    let max: number | undefined;
    for (const t of body.data?.activeTargets ?? []) {
      const ms = t.scrapeInterval === undefined ? undefined : parsePromDuration(t.scrapeInterval);
      if (ms !== undefined && (max === undefined || ms > max)) max = ms;
    }
    return max;
  } catch {
    return undefined;
  }
}

export async function queryPrometheus(o: PrometheusQueryOptions): Promise<PrometheusResult> {
  const base = o.url.replace(/\/+$/, '');
  const timeoutMs = o.timeoutMs ?? 10_000;
  const agent = new Agent({ connect: { timeout: timeoutMs } });
  const errors: string[] = [];
  try {
    const scrapeMs = o.rateWindowMs === undefined ? await scrapeIntervalMs(agent, base, timeoutMs) : undefined;
    const rateWindowMs = o.rateWindowMs ?? 4 * Math.max(o.stepMs, scrapeMs ?? 15_000);
    const queries: Record<string, string> = { ...DEFAULT_QUERIES, ...o.queries };
    const overridden = new Set(Object.keys(o.queries ?? {}));
    const steps = Math.floor(o.durationMs / o.stepMs) + 1;
    const points: ServerPoint[] = Array.from({ length: steps }, (_, k) => ({ t_s: (k * o.stepMs) / 1000, ...emptyValues(), by_worker: {}, failed: [] }));
    const extraNames = Object.keys(queries).filter((k) => !(VALUE_KEYS as readonly string[]).includes(k));
    if (extraNames.length) for (const p of points) p.extra = Object.fromEntries(extraNames.map((k) => [k, null]));
    const startS = o.startMs / 1000;
    const endS = (o.startMs + (steps - 1) * o.stepMs) / 1000;
    const range = async (promql: string) => {
      const q = promql.replaceAll('$rate_window', promDuration(rateWindowMs));
      const u = `${base}/api/v1/query_range?${new URLSearchParams({ query: q, start: startS.toFixed(3), end: endS.toFixed(3), step: `${o.stepMs / 1000}` })}`;
      const body = (await getJson(agent, u, timeoutMs)) as Matrix;
      if (body.status !== 'success' || !body.data) throw new Error(body.error ?? 'no data');
      return body.data.result;
    };
    /** Index of a result timestamp (s) among the points. */
    const indexOf = (ts: number) => Math.round((ts * 1000 - o.startMs) / o.stepMs);
    const valueOf = (s: string) => {
      const v = Number(s);
      return Number.isFinite(v) ? v : null;
    };
    const jobs: Array<Promise<void>> = [];
    for (const [name, promql] of Object.entries(queries)) {
      jobs.push(
        range(promql).then(
          (result) => {
            // An aggregate query gives one series; if an override gives several, they are summed.
            for (const series of result) {
              for (const [ts, raw] of series.values) {
                const p = points[indexOf(ts)];
                const v = valueOf(raw);
                if (!p || v === null) continue;
                if ((VALUE_KEYS as readonly string[]).includes(name)) {
                  const key = name as keyof ServerValues;
                  p[key] = (p[key] ?? 0) + v;
                } else p.extra![name] = (p.extra![name] ?? 0) + v;
              }
            }
          },
          (e: unknown) => {
            errors.push(`${name}: ${(e as Error).message}`);
          },
        ),
      );
    }
    for (const [name, promql] of Object.entries(DEFAULT_WORKER_QUERIES)) {
      if (overridden.has(name)) continue; // an overridden quantity has no per-worker default
      jobs.push(
        range(promql).then(
          (result) => {
            for (const series of result) {
              const w = series.metric.worker;
              if (w === undefined) continue;
              for (const [ts, raw] of series.values) {
                const p = points[indexOf(ts)];
                const v = valueOf(raw);
                if (!p || v === null) continue;
                const bw = (p.by_worker[w] ??= emptyValues());
                bw[name as keyof ServerValues] = v;
              }
            }
          },
          (e: unknown) => {
            errors.push(`by worker ${name}: ${(e as Error).message}`);
          },
        ),
      );
    }
    await Promise.all(jobs);
    // queue_depth with only one of its parts present: the part (the default query needs both).
    if (!overridden.has('queue_depth')) {
      for (const p of points) {
        if (p.queue_depth === null && (p.gateway_queue_depth !== null || p.worker_waiting !== null)) p.queue_depth = (p.gateway_queue_depth ?? 0) + (p.worker_waiting ?? 0);
      }
    }
    return { points, queries, rateWindowMs, errors };
  } finally {
    await agent.close().catch(() => undefined);
  }
}
