/**
 * A comparison of several runs against the first (the reference): what `harness compare` prints
 * and writes with --json, and what `harness gate` evaluates. Notes say what makes the runs less
 * comparable (another scenario, plan seed or SLO; an incomplete run; no per-request data).
 */
import path from 'node:path';
import { DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES } from './bootstrap.ts';
import { compareRuns, type CompareOptions, type MetricComparison } from './compare-runs.ts';
import type { RunSample } from './run-sample.ts';

export interface RunInfo {
  /** A, B, C, ... in the order given. */
  label: string;
  dir: string;
  name: string;
  scenario: string | null;
  seed: number | null;
  started_at: string | null;
  requests: number | null;
  has_requests: boolean;
}

export interface Comparison {
  /** The reference run (the first) and the others. */
  runs: RunInfo[];
  resamples: number;
  confidence: number;
  seed: number;
  /** One entry per run after the first: its metrics against the reference. */
  against: { label: string; metrics: MetricComparison[] }[];
  notes: string[];
}

export function runInfo(s: RunSample, i: number): RunInfo {
  return {
    label: String.fromCharCode(65 + (i % 26)) + (i >= 26 ? String(Math.floor(i / 26)) : ''),
    dir: s.dir,
    name: path.basename(path.resolve(s.dir)),
    scenario: s.summary.scenario?.name ?? null,
    seed: s.summary.scenario?.seed ?? null,
    started_at: s.summary.started_at ?? null,
    requests: s.summary.requests?.total ?? null,
    has_requests: s.hasRequests,
  };
}

/** Compares runs[1..] against runs[0]. */
export function buildComparison(runs: readonly RunSample[], opts: CompareOptions = {}): Comparison {
  const infos = runs.map(runInfo);
  const ref = runs[0]!;
  const notes: string[] = [];
  runs.forEach((r, i) => {
    const who = `${infos[i]!.label} (${infos[i]!.name})`;
    if (r.summary.complete === false) notes.push(`${who} is incomplete (interrupted): its figures cover what ran`);
    if (!r.hasRequests) notes.push(`${who} has no requests.jsonl: no noise intervals against it`);
    if (i === 0) return;
    if (r.summary.scenario?.name !== ref.summary.scenario?.name) notes.push(`${who} ran scenario "${r.summary.scenario?.name}", A ran "${ref.summary.scenario?.name}"`);
    else if (r.summary.scenario?.seed !== ref.summary.scenario?.seed) notes.push(`${who} used plan seed ${r.summary.scenario?.seed}, A seed ${ref.summary.scenario?.seed}: other arrivals and lengths, so more spread`);
    if (JSON.stringify(r.summary.slo) !== JSON.stringify(ref.summary.slo)) notes.push(`${who} has other SLOs than A: goodput figures do not compare`);
  });
  return {
    runs: infos,
    resamples: opts.resamples ?? DEFAULT_RESAMPLES,
    confidence: opts.confidence ?? DEFAULT_CONFIDENCE,
    seed: opts.seed ?? 1,
    against: runs.slice(1).map((r, i) => ({ label: infos[i + 1]!.label, metrics: compareRuns(ref, r, opts) })),
    notes,
  };
}
