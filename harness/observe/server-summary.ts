/**
 * summary.json `server` and the run folder's server.json: what the target's own metrics said
 * during the run, sampled from /metrics endpoints or queried from Prometheus, on the run clock.
 * Field meanings: docs/metrics.md ("Server samples") and reports/README.md.
 */
import { statsOf, VALUE_KEYS, type CounterDeltas, type ServerValues, type Stats } from './derive.ts';

/** One server.json point: a sample at `t_s` on the run clock (negative: before the run, the idle baseline). */
export interface ServerPoint extends ServerValues {
  t_s: number;
  /** The same values for each worker (by its `worker` label, else the endpoint's name). */
  by_worker: Record<string, ServerValues>;
  /** Endpoints that failed or were skipped in this sample (their figures are missing from the sums). */
  failed: string[];
  /** Prometheus mode: values of queries added by name in observe.prometheus.queries. */
  extra?: Record<string, number | null>;
  /** Scraping mode: counter increases since the previous sample, over every endpoint. */
  counters?: CounterDeltas;
}

export interface EndpointStatus {
  name: string;
  url: string;
  ok_scrapes: number;
  failed_scrapes: number;
  /** Samples it missed because its previous scrape was still running (slower than the interval). */
  skipped_scrapes: number;
  /** The last failure (`timeout`, `http_503`, `connection_refused`, ...), null when none. */
  last_error: string | null;
}

/** Statistics over the run's samples of each value. */
export type ServerBlocks = { [K in keyof ServerValues]: Stats };

export interface ServerSummary extends ServerBlocks {
  source: 'metrics' | 'prometheus' | 'none';
  /** Why nothing (or not everything) was sampled, in words; null when all went as configured. */
  note: string | null;
  /** Seconds between samples (metrics) or the query step (prometheus); null with source none. */
  interval_s: number | null;
  /** Samples within the run (t_s from 0 to duration_s). */
  samples: number;
  endpoints: EndpointStatus[];
  prometheus: { url: string; step_s: number; rate_window_s: number; queries: Record<string, string>; errors: string[] } | null;
  /** Values of the sample taken just before the run started (the idle target); null when none. */
  baseline: ServerValues | null;
  by_worker: Record<string, ServerBlocks>;
  /** Prometheus mode: statistics of the queries added by name. */
  extra: Record<string, Stats>;
  /**
   * Counter increases from the baseline sample (before the run) to the last one (after it), summed
   * over the workers, and the run's prefix-cache hit rate (hits / queries); null when not known
   * (Prometheus mode, or no counter exported).
   */
  totals: { preemptions: number | null; prefix_cache_queries: number | null; prefix_cache_hits: number | null; prefix_cache_hit_rate: number | null };
}

export function blocksOf(points: ReadonlyArray<ServerValues>): ServerBlocks {
  const out = {} as ServerBlocks;
  for (const k of VALUE_KEYS) out[k] = statsOf(points.map((p) => p[k]));
  return out;
}

/** The `server` block when nothing was sampled. */
export function noServerSummary(note: string | null): ServerSummary {
  return {
    source: 'none',
    note,
    interval_s: null,
    samples: 0,
    endpoints: [],
    prometheus: null,
    baseline: null,
    ...blocksOf([]),
    by_worker: {},
    extra: {},
    totals: { preemptions: null, prefix_cache_queries: null, prefix_cache_hits: null, prefix_cache_hit_rate: null },
  };
}

export interface ServerSummaryInput {
  source: 'metrics' | 'prometheus';
  note: string | null;
  intervalS: number;
  points: readonly ServerPoint[];
  /** Run length (s): samples from 0 to here are the run's. */
  durationS: number;
  endpoints?: EndpointStatus[];
  prometheus?: ServerSummary['prometheus'];
}

/** Statistics over the samples within the run; the last sample before it is the baseline. */
export function buildServerSummary(i: ServerSummaryInput): ServerSummary {
  // A little slack past the end: the final sample is taken as the run ends.
  const inRun = i.points.filter((p) => p.t_s >= 0 && p.t_s <= i.durationS + 0.5);
  const before = i.points.filter((p) => p.t_s < 0);
  const base = before.length ? before[before.length - 1]! : undefined;
  const workers = new Set<string>();
  for (const p of inRun) for (const w of Object.keys(p.by_worker)) workers.add(w);
  const by_worker: Record<string, ServerBlocks> = {};
  for (const w of [...workers].sort()) by_worker[w] = blocksOf(inRun.flatMap((p) => (p.by_worker[w] ? [p.by_worker[w]] : [])));
  const extraNames = new Set<string>();
  for (const p of inRun) for (const k of Object.keys(p.extra ?? {})) extraNames.add(k);
  const extra: Record<string, Stats> = {};
  for (const k of [...extraNames].sort()) extra[k] = statsOf(inRun.map((p) => p.extra?.[k] ?? null));
  const sum = (k: keyof CounterDeltas): number | null => {
    let s: number | null = null;
    for (const p of i.points) {
      const v = p.counters?.[k];
      if (v !== null && v !== undefined) s = (s ?? 0) + v;
    }
    return s;
  };
  const queries = sum('prefix_cache_queries');
  const hits = sum('prefix_cache_hits');
  return {
    source: i.source,
    note: i.note,
    interval_s: i.intervalS,
    samples: inRun.length,
    endpoints: i.endpoints ?? [],
    prometheus: i.prometheus ?? null,
    baseline: base ? valuesOnly(base) : null,
    ...blocksOf(inRun),
    by_worker,
    extra,
    totals: { preemptions: sum('preemptions'), prefix_cache_queries: queries, prefix_cache_hits: hits, prefix_cache_hit_rate: queries !== null && hits !== null && queries > 0 ? hits / queries : null },
  };
}

function valuesOnly(p: ServerValues): ServerValues {
  const out = {} as ServerValues;
  for (const k of VALUE_KEYS) out[k] = p[k];
  return out;
}
