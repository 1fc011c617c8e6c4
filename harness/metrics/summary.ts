/**
 * summary.json: the run's results as DESIGN.md's contract states them (versioned with
 * `schema_version`). Built from the engine's Aggregator; a pure function of its inputs, so it
 * can be rebuilt and tested without running anything. Field meanings: docs/metrics.md.
 */
import { basename } from 'node:path';
import type { Aggregator } from './aggregator.ts';
import type { BlockSummary, EncodedBlock, StatsBlock } from './stats-block.ts';
import type { LatencyStats } from './latency-histogram.ts';
import type { Scenario } from '../scenario/scenario-types.ts';
import type { Plan } from '../workload/plan.ts';
import type { PromptCalibration } from '../workload/prompt-calibration.ts';
import type { ThresholdResult } from '../gate/threshold.ts';
import type { EngineResult } from '../engine/engine.ts';
import type { ServerSummary } from '../observe/server-summary.ts';
import { ConversationStats, type ConversationSummary } from './conversation-stats.ts';
import type { SummaryShard } from '../shard/shard-types.ts';

export const SCHEMA_VERSION = 1;

/** A client thread whose event loop is busier than this share of the run is saturated. */
export const SATURATED_ELU = 0.9;

export interface StageSummary extends BlockSummary {
  index: number;
  name: string;
  kind: 'open' | 'closed';
  /** Open loop: the stage's rate (req/s); closed loop: its users. */
  target_rate_rps: number | null;
  users: number | null;
  start_s: number;
  duration_s: number;
}

export interface Summary extends BlockSummary {
  schema_version: number;
  tool: { name: 'floodgate'; version: string };
  /** description: the scenario's own, null when it has none. */
  scenario: { name: string; file: string; seed: number; description: string | null };
  target: {
    url: string;
    model: string;
    endpoint: string;
    stream: boolean;
    embedded: boolean;
    /** Embedded runs: the stack that ran, and the tenant whose development key was sent (null: the scenario's own key). */
    stack?: { name: string; file: string; tenant: string | null };
  };
  started_at: string;
  /** Wall time of the run, from t = 0 to the last request's end (drain included). */
  duration_s: number;
  /** False when the run was interrupted (Ctrl-C, abort_on_fail): the figures cover what ran. */
  complete: boolean;
  interrupted: boolean;
  /**
   * Why the run was stopped before its end, when it was: by a signal (Ctrl-C, SIGTERM), or by an
   * `abort_on_fail` threshold that failed during it (`threshold` is its expression); `at_s` is
   * the run-clock time sending stopped. null for a run that ran its course. Absent in files
   * written before it existed.
   */
  aborted?: SummaryAborted | null;
  measurement: { warmup_s: number; cooldown_s: number; excluded: { warmup: number; cooldown: number } };
  prompts: { tokenizer: string; source: 'server' | 'builtin'; exact: boolean; overhead_tokens: number; tokens_per_word: number; max_model_len: number | null };
  /**
   * Scenarios with `workload.dataset` only (docs/metrics.md, "Prompt datasets"): the file's name
   * (no folder), its format and order, the usable entries requests were drawn from, and the
   * entries skipped as unusable. Counts only, never text.
   */
  dataset?: SummaryDataset;
  client: BlockSummary['client'] & {
    saturated: boolean;
    /** A run is saturated when the send lag p99 is above this bound (ms). */
    saturation_lag_p99_ms: number;
    threads: number;
    aborted_at_end: number;
    /** Busiest client thread's event-loop utilisation (0..1); near 1 the client is the bottleneck. */
    event_loop_utilization: number;
    /** CPU of the harness process over the run, % of one core. */
    cpu_percent: number;
  };
  slo: { ttft_ms: number | null; tpot_ms: number | null; itl_ms: number | null; e2e_ms: number | null };
  /**
   * The target's own metrics during the run (scraped /metrics or Prometheus, on the run clock;
   * harness/observe/server-summary.ts, docs/metrics.md). runScenario always fills it (source
   * `none` when nothing was sampled); buildSummary alone leaves it empty.
   */
  server: ServerSummary | Record<string, never>;
  stages: StageSummary[];
  by_tenant: Record<string, BlockSummary>;
  by_model: Record<string, BlockSummary>;
  /**
   * Scenarios with `workload.conversation` (or `workload.trace.sessions: conversation`) only (docs/metrics.md, "Conversations"): conversations
   * started, completed, failed and cut, their turns, durations and last prompts, TTFT by turn.
   */
  conversations?: ConversationSummary;
  thresholds: ThresholdResult[];
  /** Encoded histograms of the run block, for exact merging of runs and shards. */
  histograms: EncodedBlock;
  /**
   * Distributed load (docs/distributed.md): a shard's run (`harness run --shard I/N`: index,
   * count, start_at, plan_hash, ...) or a merged run (`harness merge`: merged_from, indices, ...).
   * Absent for an ordinary run.
   */
  shard?: SummaryShard;
}

export interface SummaryDataset {
  file: string;
  format: 'sharegpt' | 'jsonl';
  order: 'sequential' | 'random';
  entries_used: number;
  skipped: number;
}

export type SummaryAborted = { by: 'signal'; at_s: number } | { by: 'threshold'; threshold: string; at_s: number };

/** The request blocks of a summary: what thresholds read during the run, built as the final summary builds them. */
export interface SummaryBlocks {
  run: BlockSummary;
  stages: StageSummary[];
  by_tenant: Record<string, BlockSummary>;
  by_model: Record<string, BlockSummary>;
}

/**
 * The run, stage, tenant and model blocks of `agg`, for a run whose sending stopped at
 * `stoppedAtMs` (undefined: the stages ran their course). buildSummary uses this, and so does
 * the live evaluation of abort_on_fail thresholds (with the current time as `stoppedAtMs`), so
 * a threshold reads the same figures, by the same definitions, during the run and after it.
 */
export function summarizeBlocks(scenario: Scenario, plan: Plan, agg: Aggregator, stoppedAtMs: number | undefined): SummaryBlocks {
  const load = scenario.load;
  const measureStart = load.warmupMs;
  const measureEnd = Math.min(plan.totalMs - load.cooldownMs, stoppedAtMs ?? Infinity);
  const runWindow = windowMs(agg.run, measureStart, measureEnd);
  const run = agg.run.summarize(runWindow);
  const stages: StageSummary[] = load.stages.map((s, idx) => {
    const start = plan.stageStartsMs[idx]!;
    const from = Math.max(start, measureStart);
    const to = Math.min(start + s.durationMs, measureEnd);
    const block = agg.stages[idx]!;
    return {
      index: idx,
      name: s.name,
      kind: s.kind,
      target_rate_rps: s.kind === 'open' ? s.rateRps : null,
      users: s.kind === 'closed' ? s.users : null,
      start_s: start / 1000,
      duration_s: s.durationMs / 1000,
      ...block.summarize(windowMs(block, from, Math.max(from, to))),
    };
  });
  const blocks = (m: Map<string, StatsBlock>) =>
    Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)).map(([k, b]) => [k, b.summarize(windowMs(b, measureStart, measureEnd))]));
  return { run, stages, by_tenant: blocks(agg.byTenant), by_model: blocks(agg.byModel) };
}

/**
 * The `conversations` block of a `workload.conversation` scenario (undefined otherwise), as it
 * stands: conversations still open count as cut. The final summary and the live one both take it.
 */
function conversationsOf(scenario: Scenario, agg: Aggregator): { conversations?: ConversationSummary } {
  const stats = agg.conversations ?? new ConversationStats();
  // A trace replayed with sessions as conversations: the block, with how often a turn's new text was clamped.
  if (scenario.workload.trace?.sessions === 'conversation') return { conversations: { ...stats.summarize(), new_text_clamped: stats.newTextClamped } };
  return scenario.workload.conversation ? { conversations: stats.summarize() } : {};
}

/**
 * What a threshold sees during the run at run-clock time `nowMs`: the summary's request blocks
 * and conversations as they would be if sending stopped now (summary.json's shape, without what
 * is only known after the run: server samples, client CPU, duration).
 */
export function liveSummary(scenario: Scenario, plan: Plan, agg: Aggregator, nowMs: number): Record<string, unknown> {
  const b = summarizeBlocks(scenario, plan, agg, nowMs);
  return { ...b.run, measurement: { excluded: { ...agg.excluded } }, stages: b.stages, by_tenant: b.by_tenant, by_model: b.by_model, ...conversationsOf(scenario, agg) };
}

/** summary.json's `dataset`: the file's base name and counts, never its folder or text. */
function datasetOf(scenario: Scenario): { dataset?: SummaryDataset } {
  const d = scenario.workload.dataset;
  if (!d) return {};
  return { dataset: { file: basename(d.file), format: d.format, order: d.order, entries_used: d.loaded.count, skipped: d.loaded.skipped } };
}

export interface SummaryInput {
  scenario: Scenario;
  plan: Plan;
  /** What the engine returned (its aggregator, clock, interruption and client figures). */
  engine: Omit<EngineResult, 'epochNs'>;
  targetUrl: string;
  embedded: boolean;
  calibration: PromptCalibration;
  version: string;
}

/**
 * Window that a block's rates are divided by: from `startMs` to the later of its nominal end
 * and its last request's end (a backlog that drains after the stage still counts in its window).
 */
function windowMs(b: StatsBlock, startMs: number, nominalEndMs: number): number {
  const end = Math.max(nominalEndMs, Number.isFinite(b.lastEndMs) ? b.lastEndMs : nominalEndMs);
  return Math.max(0, end - startMs);
}

export function buildSummary(i: SummaryInput): Summary {
  const { scenario, plan } = i;
  const e = i.engine;
  const agg = e.aggregator;
  const load = scenario.load;
  const { run, stages, by_tenant, by_model } = summarizeBlocks(scenario, plan, agg, e.stoppedAtMs);
  const lag: LatencyStats = run.client.send_lag_ms;
  const bound = scenario.client.saturationLagP99Ms;
  return {
    schema_version: SCHEMA_VERSION,
    tool: { name: 'floodgate', version: i.version },
    scenario: { name: scenario.name, file: scenario.file, seed: scenario.seed, description: scenario.description ?? null },
    target: { url: i.targetUrl, model: scenario.target.model, endpoint: scenario.target.endpoint, stream: scenario.target.stream, embedded: i.embedded },
    started_at: e.startedAt.toISOString(),
    duration_s: e.wallMs / 1000,
    complete: !e.interrupted,
    interrupted: e.interrupted,
    aborted: e.interrupted ? { by: 'signal', at_s: (e.stoppedAtMs ?? e.wallMs) / 1000 } : null,
    measurement: { warmup_s: load.warmupMs / 1000, cooldown_s: load.cooldownMs / 1000, excluded: { ...agg.excluded } },
    prompts: {
      tokenizer: i.calibration.tokenizer,
      source: i.calibration.source,
      exact: i.calibration.exact,
      overhead_tokens: i.calibration.overheadTokens,
      tokens_per_word: i.calibration.tokensPerWord,
      max_model_len: i.calibration.maxModelLen ?? null,
    },
    ...datasetOf(scenario),
    ...run,
    client: {
      ...run.client,
      // Saturated: the client sent late (lag p99 over the bound), or a client thread's event
      // loop was busy nearly all the time, so chunks and deadlines waited for it.
      saturated: (lag.p99 !== null && lag.p99 > bound) || e.eventLoopUtilization > SATURATED_ELU,
      saturation_lag_p99_ms: bound,
      threads: e.threads,
      aborted_at_end: e.abortedAtEnd,
      event_loop_utilization: e.eventLoopUtilization,
      cpu_percent: e.cpuPercent,
    },
    slo: {
      ttft_ms: scenario.slo.ttftMs ?? null,
      tpot_ms: scenario.slo.tpotMs ?? null,
      itl_ms: scenario.slo.itlMs ?? null,
      e2e_ms: scenario.slo.e2eMs ?? null,
    },
    server: {},
    stages,
    by_tenant,
    by_model,
    ...conversationsOf(scenario, agg),
    thresholds: [],
    histograms: agg.run.encode(),
  };
}
