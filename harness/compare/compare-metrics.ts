/**
 * The metrics `harness compare` and `harness gate` compare: their names (the same names in the
 * gate's --max-regression spec), where each value is read in summary.json, which way is better,
 * and which per-request (or per-second) sample gives its noise interval. docs/ci.md lists them.
 */
import type { Summary } from '../metrics/summary.ts';

/** How a metric's bootstrap is drawn (harness/compare/bootstrap.ts). */
export type MetricKind = 'percentile' | 'mean' | 'proportion' | 'rate';

/** Per-request sample columns (ok, measured requests; send lag: every sent measured request). */
export type SampleColumn = 'ttft' | 'tpot' | 'e2e' | 'itl' | 'send_lag' | 'failed' | 'good';
/** Per-second series columns (measured requests by the second they ended). */
export type SeriesColumn = 'ok' | 'output_tokens' | 'good';

export interface MetricDef {
  /** Name in tables, JSON and the gate spec, e.g. `ttft.p95`. */
  name: string;
  /** What the value is, for tables. */
  unit: 'ms' | 'fraction' | 'req/s' | 'tok/s';
  /** Lower is better (latency, error rate, send lag) or higher is better (throughput, goodput). */
  better: 'lower' | 'higher';
  kind: MetricKind;
  /** Percentile for `percentile` metrics. */
  p?: number;
  /** Column whose resampling gives the interval. */
  column: SampleColumn | SeriesColumn;
  /**
   * The column only stands in for the metric (ITL: summary.json's ITL is over every token gap,
   * requests.jsonl keeps each request's mean gap): only the bootstrap's relative spread is used,
   * around the summary's own change.
   */
  proxy: boolean;
  /** The value in summary.json (null when the run has none). */
  read: (s: Summary) => number | null;
}

const LAT = ['ttft', 'itl', 'tpot', 'e2e'] as const;
const STATS = ['p50', 'p95', 'p99', 'mean'] as const;

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function latency(m: (typeof LAT)[number], stat: (typeof STATS)[number]): MetricDef {
  return {
    name: `${m}.${stat}`,
    unit: 'ms',
    better: 'lower',
    kind: stat === 'mean' ? 'mean' : 'percentile',
    ...(stat === 'mean' ? {} : { p: Number(stat.slice(1)) }),
    column: m,
    proxy: m === 'itl',
    read: (s) => num(s.latency_ms?.[m]?.[stat]),
  };
}

/** Every compared metric, in table order. */
export const COMPARE_METRICS: readonly MetricDef[] = [
  ...LAT.flatMap((m) => STATS.map((st) => latency(m, st))),
  { name: 'error_rate', unit: 'fraction', better: 'lower', kind: 'proportion', column: 'failed', proxy: false, read: (s) => num(s.error_rate) },
  { name: 'throughput.requests_per_s', unit: 'req/s', better: 'higher', kind: 'rate', column: 'ok', proxy: false, read: (s) => num(s.throughput?.requests_per_s) },
  { name: 'throughput.output_tokens_per_s', unit: 'tok/s', better: 'higher', kind: 'rate', column: 'output_tokens', proxy: false, read: (s) => num(s.throughput?.output_tokens_per_s) },
  { name: 'goodput.fraction', unit: 'fraction', better: 'higher', kind: 'proportion', column: 'good', proxy: false, read: (s) => num(s.goodput?.fraction) },
  { name: 'goodput.requests_per_s', unit: 'req/s', better: 'higher', kind: 'rate', column: 'good', proxy: false, read: (s) => num(s.goodput?.requests_per_s) },
  { name: 'send_lag.p99', unit: 'ms', better: 'lower', kind: 'percentile', p: 99, column: 'send_lag', proxy: false, read: (s) => num(s.client?.send_lag_ms?.p99) },
];

/** Short names accepted in the gate spec for longer metric names. */
export const METRIC_ALIASES: Readonly<Record<string, string>> = {
  throughput: 'throughput.output_tokens_per_s',
  goodput: 'goodput.fraction',
};

/** Every name the gate spec accepts (for "allowed" lists and suggestions). */
export const METRIC_NAMES: readonly string[] = [...COMPARE_METRICS.map((m) => m.name), ...Object.keys(METRIC_ALIASES)];

/** The metric a name (or alias) stands for, or undefined. */
export function metricByName(name: string): MetricDef | undefined {
  const full = METRIC_ALIASES[name] ?? name;
  return COMPARE_METRICS.find((m) => m.name === full);
}

/** The percentiles drawn in the terminal chart. */
export const CHART_METRICS: readonly string[] = ['ttft.p50', 'ttft.p95', 'ttft.p99', 'itl.p95', 'tpot.p95', 'e2e.p95', 'e2e.p99'];
