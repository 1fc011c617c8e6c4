/**
 * A run read for comparison: its summary.json figures and the samples its noise intervals are
 * drawn from, taken from requests.jsonl (measured requests only, `phase: measure`):
 * - per request (sorted Float64Arrays, for percentiles): ttft_ms, tpot_ms, e2e_ms, itl_mean_ms of
 *   ok requests; schedule_lag_ms of every sent request;
 * - per request, in row order (for means and proportions): the same values (NaN where absent),
 *   `failed` (1/0 over sent requests) and `good` (1/0: ok and meeting the run's SLOs, as
 *   harness/metrics/stats-block.ts meetsSlo; dropped requests, never sent, count as 0 rows);
 * - per second (from each run's measurement start, by the second a request ended): ok requests,
 *   output tokens, good requests.
 * A folder without requests.jsonl (e.g. a baseline kept as summary.json alone) has no samples:
 * its comparisons get no interval.
 */
import { loadRunData, type RequestLine, type RunData } from '../report/run-data.ts';
import type { Summary } from '../metrics/summary.ts';
import type { SampleColumn, SeriesColumn } from './compare-metrics.ts';

export interface RunSample {
  /** The folder as given. */
  dir: string;
  summary: Summary;
  /** False when the folder has no requests.jsonl (no noise intervals). */
  hasRequests: boolean;
  /** Measured requests read (sent ones; dropped ones are not in requests.jsonl). */
  measured: number;
  /** Sorted values of the percentile columns. */
  sorted: Record<'ttft' | 'tpot' | 'e2e' | 'itl' | 'send_lag', Float64Array>;
  /** Row-aligned columns for means and proportions (NaN = no value in that row). */
  rows: Record<SampleColumn, Float64Array>;
  /** Per-second series over the measurement. */
  series: Record<SeriesColumn, Float64Array>;
}

/** Reads a run folder (or a baseline folder: summary.json + requests.jsonl) for comparison. */
export function loadRunSample(dir: string): RunSample {
  return runSampleOf(loadRunData(dir));
}

function val(v: number | null | undefined): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : Number.NaN;
}

function sortedOf(v: Float64Array): Float64Array {
  return Float64Array.from(v.filter((x) => x === x)).sort();
}

/** Builds the samples of a run already read. */
export function runSampleOf(data: RunData): RunSample {
  const s = data.summary;
  const measured: RequestLine[] = data.requests.filter((r) => (r.phase ?? 'measure') === 'measure');
  const dropped = s.requests?.dropped ?? 0;
  const n = measured.length;
  const rows = n + (n > 0 ? dropped : 0);
  const col = () => new Float64Array(rows).fill(Number.NaN);
  const r: RunSample['rows'] = { ttft: col(), tpot: col(), e2e: col(), itl: col(), send_lag: col(), failed: col(), good: col() };
  const slo = s.slo ?? { ttft_ms: null, tpot_ms: null, itl_ms: null, e2e_ms: null };
  const startMs = (s.measurement?.warmup_s ?? 0) * 1000;
  let lastEnd = 0;
  for (const q of measured) if (q.end_ms !== null && q.end_ms > lastEnd) lastEnd = q.end_ms;
  const seconds = n > 0 ? Math.max(1, Math.ceil((lastEnd - startMs) / 1000)) : 0;
  const series: RunSample['series'] = { ok: new Float64Array(seconds), output_tokens: new Float64Array(seconds), good: new Float64Array(seconds) };
  measured.forEach((q, i) => {
    r.send_lag[i] = val(q.schedule_lag_ms);
    r.failed[i] = q.ok ? 0 : 1;
    let good = 0;
    if (q.ok) {
      r.ttft[i] = val(q.ttft_ms);
      r.tpot[i] = val(q.tpot_ms);
      r.e2e[i] = val(q.e2e_ms);
      r.itl[i] = val(q.itl_mean_ms);
      good = meetsSloLine(q, slo) ? 1 : 0;
    }
    r.good[i] = good;
    if (q.ok && q.end_ms !== null) {
      const sec = Math.min(seconds - 1, Math.max(0, Math.floor((q.end_ms - startMs) / 1000)));
      series.ok[sec] = series.ok[sec]! + 1;
      series.output_tokens[sec] = series.output_tokens[sec]! + (q.output_tokens ?? 0);
      series.good[sec] = series.good[sec]! + good;
    }
  });
  // Dropped requests were never sent: not in the error rate, but not good either.
  for (let i = n; i < rows; i++) r.good[i] = 0;
  return {
    dir: data.dir,
    summary: s,
    hasRequests: n > 0,
    measured: n,
    sorted: { ttft: sortedOf(r.ttft), tpot: sortedOf(r.tpot), e2e: sortedOf(r.e2e), itl: sortedOf(r.itl), send_lag: sortedOf(r.send_lag) },
    rows: r,
    series,
  };
}

/** meetsSlo (harness/metrics/stats-block.ts) on a requests.jsonl line; ITL by the request's mean gap. */
export function meetsSloLine(q: RequestLine, slo: Summary['slo']): boolean {
  if (!q.ok) return false;
  if (slo.ttft_ms != null && !(q.ttft_ms !== null && q.ttft_ms <= slo.ttft_ms)) return false;
  if (slo.e2e_ms != null && !(q.e2e_ms !== null && q.e2e_ms <= slo.e2e_ms)) return false;
  if (slo.tpot_ms != null && q.tpot_ms !== null && q.tpot_ms > slo.tpot_ms) return false;
  if (slo.itl_ms != null && q.itl_mean_ms !== null && q.itl_mean_ms > slo.itl_ms) return false;
  return true;
}
