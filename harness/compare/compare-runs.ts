/**
 * compareRuns: the key metrics of run B against a reference run A, each with its change (B - A,
 * and relative to A), a bootstrap interval for that change, and a verdict. Pure: a function of
 * the two runs' samples and the seed.
 *
 * The interval (docs/ci.md "Noise"): the bootstrap distribution of the statistic's change,
 * drawn from the runs' own samples (bootstrap.ts), at `confidence` (95%) by the percentile
 * method, then moved so that it sits around the change summary.json shows (the summary's
 * percentiles come from HDR histograms, within 0.1% of the exact per-request ones). For metrics
 * whose sample only stands in for them (ITL: per-request mean gaps; throughput and goodput
 * rates: per-second counts), the *relative* interval is moved, and the absolute one is the
 * relative one times A.
 *
 * Verdict: `within noise` when the interval of B - A contains 0; otherwise B is `higher` or
 * `lower`, and `better` or `worse` by the metric's direction (lower is better for latency, error
 * rate and send lag; higher is better for throughput and goodput). `no interval` when a run has
 * no per-request data; `n/a` when a run has no value.
 */
import { Rng } from '../workload/rng.ts';
import {
  bootMeans,
  bootPairedSeriesMeans,
  bootPercentile,
  DEFAULT_CONFIDENCE,
  DEFAULT_RESAMPLES,
  drawsOf,
  meanSd,
  percentileInterval,
  percentileSorted,
  type BootDraws,
} from './bootstrap.ts';
import { COMPARE_METRICS, type MetricDef, type SampleColumn, type SeriesColumn } from './compare-metrics.ts';
import type { RunSample } from './run-sample.ts';

export type Verdict = 'better' | 'worse' | 'within noise' | 'no interval' | 'n/a';

export interface MetricComparison {
  metric: string;
  unit: MetricDef['unit'];
  better: MetricDef['better'];
  /** Values from summary.json; null when the run has none. */
  a: number | null;
  b: number | null;
  /** b - a, in the metric's unit. */
  delta: number | null;
  /** (b - a) / a; null when a is 0 (and b is not) or a value is missing. */
  rel: number | null;
  /** Interval of b - a (metric's unit) and of (b - a) / a; null without samples. */
  interval: { abs: [number, number]; rel: [number, number] | null } | null;
  verdict: Verdict;
  /** How the interval was drawn, in words. */
  method: string | null;
}

export interface CompareOptions {
  /** Bootstrap seed (default 1): same seed, same intervals. */
  seed?: number;
  /** Resamples per statistic (default 2000). */
  resamples?: number;
  /** Interval level (default 0.95). */
  confidence?: number;
}

const MEAN_COLUMNS: readonly SampleColumn[] = ['ttft', 'tpot', 'e2e', 'itl', 'failed', 'good'];

/** Compares every metric of COMPARE_METRICS (or `metrics`) of run B against run A. */
export function compareRuns(a: RunSample, b: RunSample, opts: CompareOptions = {}, metrics: readonly MetricDef[] = COMPARE_METRICS): MetricComparison[] {
  const seed = opts.seed ?? 1;
  const resamples = opts.resamples ?? DEFAULT_RESAMPLES;
  const confidence = opts.confidence ?? DEFAULT_CONFIDENCE;
  const root = new Rng(seed);
  const sampled = a.hasRequests && b.hasRequests;
  // Means share one resampling of each run's rows (one request = one row), drawn once.
  let means: { a: Float64Array[]; b: Float64Array[] } | undefined;
  const meansOf = () =>
    (means ??= {
      a: bootMeans(MEAN_COLUMNS.map((c) => a.rows[c]), resamples, root.fork('means:a')),
      b: bootMeans(MEAN_COLUMNS.map((c) => b.rows[c]), resamples, root.fork('means:b')),
    });

  return metrics.map((def) => {
    const va = def.read(a.summary);
    const vb = def.read(b.summary);
    const base = { metric: def.name, unit: def.unit, better: def.better, a: va, b: vb };
    if (va === null || vb === null) return { ...base, delta: null, rel: null, interval: null, verdict: 'n/a' as const, method: null };
    const delta = vb - va;
    const rel = va !== 0 ? delta / va : delta === 0 ? 0 : null;
    if (!sampled) return { ...base, delta, rel, interval: null, verdict: 'no interval' as const, method: null };

    let draws: BootDraws;
    let method: string;
    if (def.kind === 'percentile') {
      const col = def.column as keyof RunSample['sorted'];
      const sa = a.sorted[col];
      const sb = b.sorted[col];
      const rng = root.fork(def.name);
      draws = drawsOf(percentileSorted(sa, def.p!), percentileSorted(sb, def.p!), bootPercentile(sa, def.p!, resamples, rng), bootPercentile(sb, def.p!, resamples, rng));
      method = `bootstrap of the p${def.p} of ${sa.length} vs ${sb.length} requests${def.proxy ? ' (per-request mean ITL)' : ''}`;
    } else if (def.kind === 'rate') {
      const col = def.column as SeriesColumn;
      const sa = a.series[col];
      const sb = b.series[col];
      const boot = bootPairedSeriesMeans(sa, sb, resamples, root.fork(def.name));
      const t = Math.min(sa.length, sb.length);
      draws = drawsOf(meanSd(sa.subarray(0, t)).mean, meanSd(sb.subarray(0, t)).mean, boot.a, boot.b);
      method = `paired block bootstrap of ${t} per-second counts`;
    } else {
      const i = MEAN_COLUMNS.indexOf(def.column as SampleColumn);
      const m = meansOf();
      draws = drawsOf(meanSd(a.rows[def.column as SampleColumn]).mean, meanSd(b.rows[def.column as SampleColumn]).mean, m.a[i]!, m.b[i]!);
      const n = (s: RunSample) => meanSd(s.rows[def.column as SampleColumn]).count;
      method = `bootstrap of the ${def.kind} of ${n(a)} vs ${n(b)} requests${def.proxy ? ' (per-request mean ITL)' : ''}`;
    }
    const interval = intervalOf(def, va, delta, rel, draws, confidence);
    let verdict: Verdict = 'no interval';
    if (interval) {
      const [lo, hi] = interval.abs;
      const dir = lo > 0 ? 'higher' : hi < 0 ? 'lower' : 'same';
      verdict = dir === 'same' ? 'within noise' : (dir === 'lower') === (def.better === 'lower') ? 'better' : 'worse';
    }
    return { ...base, delta, rel, interval, verdict, method };
  });
}

function intervalOf(def: MetricDef, a: number, delta: number, rel: number | null, d: BootDraws, confidence: number): MetricComparison['interval'] {
  const relative = def.proxy || def.kind === 'rate';
  const thetaRel = d.a !== 0 ? d.b / d.a - 1 : Number.NaN;
  const relQ = percentileInterval(d.rel, confidence);
  const relInt: [number, number] | null = rel !== null && relQ && Number.isFinite(thetaRel) ? [rel + relQ[0] - thetaRel, rel + relQ[1] - thetaRel] : null;
  if (relative) {
    if (!relInt) return null;
    return { abs: [relInt[0] * a, relInt[1] * a], rel: relInt };
  }
  const absQ = percentileInterval(d.diff, confidence);
  if (!absQ || !Number.isFinite(d.b - d.a)) return null;
  const shift = delta - (d.b - d.a);
  return { abs: [absQ[0] + shift, absQ[1] + shift], rel: relInt };
}
