/**
 * The replay options of a trace (`workload.trace` in a scenario; docs/scenarios.md, "Replaying a
 * trace"). Validated by harness/scenario/scenario-trace.ts; read by readTrace() (index.ts).
 */

import type { TraceReadResult } from './trace-types.ts';

export const TRACE_FORMATS = ['mooncake', 'azure', 'burstgpt', 'csv', 'jsonl'] as const;
export type TraceFormat = (typeof TRACE_FORMATS)[number];

/** Unit of a mapped trace's time field: numbers in s, ms or us, or a datetime string. */
export const TIME_UNITS = ['s', 'ms', 'us', 'datetime'] as const;
export type TimeUnit = (typeof TIME_UNITS)[number];

/** `fields` of a csv/jsonl trace: which column (CSV header) or key (JSONL) holds what. */
export interface TraceFieldMap {
  /** Arrival time; absent: the trace has no times (see TraceConfig.noTimestamps). */
  time?: string;
  /** Unit of `time` (default `s`). */
  timeUnit: TimeUnit;
  inputTokens: string;
  outputTokens: string;
  session?: string;
  model?: string;
  tenant?: string;
}

export interface TraceConfig {
  format: TraceFormat;
  /** The trace file, as written (relative paths start from the scenario's folder). */
  file: string;
  /** Keep rows at or after this time on the trace's clock (ms from its first row). Default 0. */
  fromMs?: number;
  /** Keep rows before this time on the trace's clock. Default: the end. */
  toMs?: number;
  /** Replay speed: 2 replays twice as fast (times divided by 2). Default 1. */
  speed: number;
  /**
   * Rate scaling: each row is sent floor(s) times, plus once more with probability s - floor(s)
   * (seeded). 0.5 keeps about half the rows, 2.5 sends each row 2 or 3 times. Default 1.
   */
  rateScale: number;
  /** Where the extra copies of a duplicated row go: spread over the gap to the next arrival (default), or at the same instant. */
  duplicates: 'spread' | 'same_time';
  /** Passes over the trace (default 1), or `{untilMs}`: repeat until the replay clock reaches it (the last pass is cut there). */
  loop: number | { untilMs: number };
  /**
   * Cut: requests at or after this replay time are not sent. Set by the scenario loader to the
   * stages' total duration when stages are given (and to loop.untilMs).
   */
  cutMs?: number;
  /** Rows with 0 output tokens (BurstGPT's failed requests): dropped (default) or kept and sent with 1 output token. */
  failedRows: 'keep' | 'drop';
  /** Trace model name -> target model name. Absent: rows carry no model (all go to target.model). */
  models?: Readonly<Record<string, string>>;
  /** With `models`, rows of a model not in the map: an error (default), dropped, or sent under the trace's own name. */
  unmapped: 'error' | 'drop' | 'keep';
  /** A trace without times (csv/jsonl without fields.time): closed loop (default) or all at once. */
  noTimestamps: 'closed_loop' | 'all_at_once';
  /** Mooncake: tokens per hash-id block (default 512). */
  blockTokens: number;
  /**
   * How rows with a session id are replayed: as independent requests (`requests`, default), or
   * each session as one multi-turn conversation (`conversation`; docs/scenarios.md, "Sessions as
   * conversations").
   */
  sessions?: 'requests' | 'conversation';
  /**
   * With `sessions: conversation`, what a later row's input length means: the whole prompt, the
   * history included (`included`, default), or the new text only (`excluded`).
   */
  history?: 'included' | 'excluded';
  /** csv / jsonl: the field mapping (required for those formats). */
  fields?: TraceFieldMap;
  /** Seed of the rate scaling (and duplicate placement): the scenario's seed. */
  seed: number;
  /**
   * The trace as read at load time (set by loadScenario, so the file is parsed once); absent on
   * a code-built config: call readTrace().
   */
  loaded?: TraceReadResult;
}

/** The defaults of every optional setting, for code building a TraceConfig. */
export const TRACE_DEFAULTS = {
  speed: 1,
  rateScale: 1,
  duplicates: 'spread',
  loop: 1,
  failedRows: 'drop',
  unmapped: 'error',
  noTimestamps: 'closed_loop',
  blockTokens: 512,
  sessions: 'requests',
  history: 'included',
  seed: 1,
  timeUnit: 's',
} as const;

/** True when the trace's rows carry arrival times (every format but csv/jsonl without fields.time). */
export function traceHasTimes(config: Pick<TraceConfig, 'format' | 'fields'>): boolean {
  return (config.format !== 'csv' && config.format !== 'jsonl') || config.fields?.time !== undefined;
}
