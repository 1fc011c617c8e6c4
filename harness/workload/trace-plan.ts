/**
 * The plan of a trace replay (docs/scenarios.md, "Prompts from trace blocks"): what a trace
 * reader handed over (TraceReadResult, rows already windowed, sped up, scaled and cut) becomes
 * the open-loop requests of the run.
 *
 * - Arrivals: open loop, each request intended at its row's tMs (ms on the replay clock). A trace
 *   without times (tMs null) is replayed all at once (every row intended at 0) with
 *   `no_timestamps: all_at_once`, or closed loop (`closed_loop`, the default): the scenario's
 *   closed stages (users) replay the rows, dealt round-robin: user u of U sends rows u, u + U,
 *   u + 2U, ... in trace order, each when its last request ended (plus think time), until its
 *   rows or the stage run out. Each closed stage deals the whole trace afresh (a concurrency
 *   sweep replays the same rows at each level). Dealing is fixed in advance so that it does not
 *   depend on which client thread runs which user.
 * - Lengths: the row's inputTokens and outputTokens, as they are.
 * - Prompts: a row's Mooncake hash ids become shared prompt segments: block i is the text of
 *   segment key `h<id>`, `blockTokens` tokens (words, at one token per word), the last block
 *   cut to what the input length leaves; anything longer than the blocks is the request's own
 *   text. Rows without hash ids get a `shared_prefix` group prefix when the workload has one.
 * - model, tenant, session: carried over (rows without a model go to target.model).
 * - Run length: the trace's span (last arrival + 1 ms), cut by the scenario's stages when it has
 *   any (rows at or after their total are not planned; readers normally cut already). Stages:
 *   each request belongs to the stage whose window holds its time (stage 0 without stages).
 *   Without times, the stages' total (1 ms without stages: the drain then bounds the replay).
 * - targetsPerSecond: the planned requests per second of the replay.
 * - Sessions as conversations (`sessions: conversation`; docs/scenarios.md, "Sessions as
 *   conversations"): after the rows are planned as above (ids and keys by time order), each
 *   session's rows become one conversation: its first row is turn 1 (in `open`, conversation id =
 *   its id + 1), its later rows in time order are turns 2..n, carried on turn 1 (`traceTurns`);
 *   a row without a session is a conversation of one turn. `open` holds the first turns only.
 */
import { Rng } from './rng.ts';
import { phaseOf, sharedPrefixDraw, type ClosedStagePlan, type Plan, type PlannedRequest } from './plan.ts';
import { closedLoopUserStarts } from '../engine/arrival-schedule.ts';
import type { PromptSegment, PromptSpec } from './prompt-factory.ts';
import type { TraceReadResult, TraceRequest } from './traces/trace-types.ts';
import type { LoadConfig, Scenario, SharedPrefixConfig } from '../scenario/scenario-types.ts';

/** Tokens per Mooncake hash-id block when the trace says nothing else. */
export const DEFAULT_BLOCK_TOKENS = 512;

export type NoTimestamps = 'all_at_once' | 'closed_loop';

export interface TracePlanOptions {
  /** Model of rows that name none (the scenario's target.model). */
  model: string;
  /** The scenario's load: stages (their total cuts the replay; empty: the trace sets the length), warmup, cooldown. */
  load: Pick<LoadConfig, 'stages' | 'warmupMs' | 'cooldownMs'>;
  /** Rows without a time: all at once (default here), or closed loop (not planned yet). */
  noTimestamps?: NoTimestamps;
  /** Tokens per hash-id block; default the trace's blockTokens, else 512. */
  blockTokens?: number;
  /** `workload.shared_prefix`, for rows without hash ids, drawn from the seed's `shared_prefix` stream. */
  sharedPrefix?: SharedPrefixConfig;
  seed?: number;
  /** `conversation`: each session's rows as one conversation (see the module header); default `requests`. */
  sessions?: 'requests' | 'conversation';
  /** With sessions: conversation, whether a row's input length counts the history (default true). */
  historyIncluded?: boolean;
}

/** Segment key of Mooncake hash id `id` (shared-prefix groups use `p<g>`: the keys never meet). */
export function traceBlockKey(id: number): string {
  return `h${id}`;
}

/**
 * Run length of a replay: the trace's span (last time + 1 ms, at least 1 ms), cut by the stages'
 * total when there are stages; a trace without times runs for the stages' total (1 ms without).
 */
export function traceRunMs(trace: TraceReadResult, stages: LoadConfig['stages']): number {
  let last = 0;
  let timed = false;
  for (const r of trace.requests) {
    if (r.tMs === null) continue;
    timed = true;
    if (r.tMs > last) last = r.tMs;
  }
  const span = Math.floor(last) + 1;
  if (stages.length === 0) return span;
  let total = 0;
  for (const s of stages) total += s.durationMs;
  return timed ? Math.min(span, total) : total;
}

/** A row as a planned request (id, key, time, stage and phase given by the caller). */
type RowPlanner = (r: TraceRequest, at: Pick<PlannedRequest, 'id' | 'key' | 'stage' | 'phase' | 'intendedMs'>) => PlannedRequest;

function rowPlanner(trace: TraceReadResult, opts: TracePlanOptions): RowPlanner {
  const blockTokens = opts.blockTokens ?? trace.blockTokens ?? DEFAULT_BLOCK_TOKENS;
  if (!(blockTokens >= 1) || !Number.isSafeInteger(blockTokens)) throw new RangeError(`blockTokens must be an integer >= 1, got ${blockTokens}`);
  // One segment object per hash id, shared by every request that carries it.
  const segments = new Map<number, PromptSegment>();
  const segment = (id: number): PromptSegment => {
    let s = segments.get(id);
    if (s === undefined) {
      s = Object.freeze({ key: traceBlockKey(id), tokens: blockTokens });
      segments.set(id, s);
    }
    return s;
  };
  const prefix = opts.sharedPrefix && sharedPrefixDraw(opts.sharedPrefix, new Rng(opts.seed ?? 1).fork('shared_prefix'));
  return (r, at) => {
    const p: PlannedRequest = {
      ...at,
      promptTokens: r.inputTokens,
      outputTokens: r.outputTokens,
      model: r.model ?? opts.model,
      tenant: r.tenant,
      user: undefined,
    };
    let spec: PromptSpec | undefined;
    if (r.hashIds !== undefined && r.hashIds.length > 0) spec = { shared: r.hashIds.map(segment) };
    else spec = prefix?.();
    if (spec) p.prompt = spec;
    if (r.session !== undefined) p.session = r.session;
    return p;
  };
}

/**
 * The rows of a trace without times for closed-loop replay, in trace order: key `r<row>` (the
 * row's own text is the same in every stage that replays it); id, stage, phase and intended time
 * are placeholders the executor replaces when it sends the row.
 */
export function closedRowsFromTrace(trace: TraceReadResult, opts: TracePlanOptions): PlannedRequest[] {
  const plan = rowPlanner(trace, opts);
  return trace.requests.map((r, i) => plan(r, { id: i, key: `r${i}`, stage: 0, phase: 'measure', intendedMs: 0 }));
}

/** The replay's requests (see the module header), sorted by intended time; ids and keys by that order. */
export function planFromTrace(trace: TraceReadResult, opts: TracePlanOptions): PlannedRequest[] {
  const noTimestamps = opts.noTimestamps ?? 'all_at_once';
  const plan = rowPlanner(trace, opts);
  const { stages } = opts.load;
  let stagesTotal = Infinity;
  if (stages.length > 0) {
    stagesTotal = 0;
    for (const s of stages) stagesTotal += s.durationMs;
  }
  const totalMs = traceRunMs(trace, stages);
  const starts: number[] = [];
  let acc = 0;
  for (const s of stages) {
    starts.push(acc);
    acc += s.durationMs;
  }
  const stageOf = (t: number): number => {
    let s = 0;
    for (let i = 0; i < starts.length; i++) if (t >= starts[i]!) s = i;
    return s;
  };

  const rows: Array<{ t: number; i: number }> = [];
  trace.requests.forEach((r, i) => {
    if (r.tMs === null && noTimestamps === 'closed_loop') {
      throw new RangeError(`trace line ${r.line}: no time, and no_timestamps is closed_loop: plan it with buildTracePlan (closed stages), not as open-loop arrivals`);
    }
    const t = r.tMs ?? 0;
    if (t >= stagesTotal) return;
    rows.push({ t, i });
  });
  // Readers hand rows over in arrival order; a stable sort keeps ties (and all-at-once rows) in file order.
  rows.sort((a, b) => a.t - b.t);

  const out: PlannedRequest[] = new Array(rows.length);
  for (let k = 0; k < rows.length; k++) {
    const { t, i } = rows[k]!;
    out[k] = plan(trace.requests[i]!, { id: k, key: `o${k}`, stage: stageOf(t), phase: phaseOf(opts.load as LoadConfig, totalMs, t), intendedMs: t });
  }
  return opts.sessions === 'conversation' ? sessionConversations(out, opts.historyIncluded ?? true) : out;
}

/**
 * Sessions as conversations: the first row of each session (rows in time order) becomes turn 1,
 * carrying the later rows as turns 2..n; a row without a session is a one-turn conversation.
 * Returns the first turns, in time order.
 */
export function sessionConversations(rows: readonly PlannedRequest[], historyIncluded: boolean): PlannedRequest[] {
  const bySession = new Map<string, PlannedRequest[]>();
  const firsts: PlannedRequest[] = [];
  for (const r of rows) {
    if (r.session === undefined) {
      firsts.push(r);
      continue;
    }
    const list = bySession.get(r.session);
    if (list) list.push(r);
    else {
      bySession.set(r.session, [r]);
      firsts.push(r);
    }
  }
  for (const f of firsts) {
    const turns = f.session === undefined ? [f] : bySession.get(f.session)!;
    const id = f.id + 1;
    turns.forEach((t, k) => (t.conversation = { id, turn: k + 1, turns: turns.length }));
    if (turns.length > 1) f.traceTurns = { later: turns.slice(1), historyIncluded };
  }
  return firsts;
}

/** What the plan reads of a scenario's `workload.trace` (TraceConfig, trace-config.ts). */
export interface TraceReplay {
  /** Default `closed_loop`, as in TRACE_DEFAULTS. */
  noTimestamps?: NoTimestamps;
  blockTokens?: number;
  /** The trace as read at load time. */
  loaded?: TraceReadResult;
  sessions?: 'requests' | 'conversation';
  history?: 'included' | 'excluded';
}

/** The Plan of a scenario replaying a trace (buildPlan calls this when the workload has a trace). */
export function buildTracePlan(scenario: Scenario, replay: TraceReplay): Plan {
  const trace = replay.loaded;
  if (trace === undefined) throw new RangeError('workload.trace has not been read (TraceConfig.loaded is absent): read the trace before planning');
  const { load, workload, seed } = scenario;
  const noTimestamps = replay.noTimestamps ?? 'closed_loop';
  const opts: TracePlanOptions = {
    model: scenario.target.model,
    load,
    noTimestamps,
    ...(replay.blockTokens !== undefined ? { blockTokens: replay.blockTokens } : {}),
    ...(workload.sharedPrefix ? { sharedPrefix: workload.sharedPrefix } : {}),
    seed,
    ...(replay.sessions === 'conversation' ? { sessions: 'conversation' as const, historyIncluded: replay.history !== 'excluded' } : {}),
  };
  const totalMs = traceRunMs(trace, load.stages);
  const starts: number[] = [];
  let acc = 0;
  for (const s of load.stages) {
    starts.push(acc);
    acc += s.durationMs;
  }
  if (starts.length === 0) starts.push(0);
  const targetsPerSecond: Array<number | null> = new Array(Math.max(1, Math.ceil(totalMs / 1000))).fill(0);

  if (noTimestamps === 'closed_loop' && trace.requests.some((r) => r.tMs === null)) {
    if (!load.stages.some((s) => s.kind === 'closed')) {
      throw new RangeError('a trace without times replayed closed loop needs closed stages (users)');
    }
    const rows = closedRowsFromTrace(trace, opts);
    const closed: ClosedStagePlan[] = [];
    load.stages.forEach((s, i) => {
      if (s.kind !== 'closed') return;
      const startMs = starts[i]!;
      closed.push({ stage: i, startMs, endMs: startMs + s.durationMs, userStartsMs: Array.from(closedLoopUserStarts(s, startMs)), thinkTimeMs: s.thinkTimeMs, rows });
      for (let sec = Math.floor(startMs / 1000); sec < Math.ceil((startMs + s.durationMs) / 1000); sec++) targetsPerSecond[sec] = null;
    });
    return { seed, totalMs, stageStartsMs: starts, open: [], closed, targetsPerSecond };
  }

  const open = planFromTrace(trace, opts);
  for (const f of open) {
    for (const r of [f, ...(f.traceTurns?.later ?? [])]) {
      const sec = Math.floor(r.intendedMs / 1000);
      targetsPerSecond[sec] = (targetsPerSecond[sec] ?? 0) + 1;
    }
  }
  return { seed, totalMs, stageStartsMs: starts, open, closed: [], targetsPerSecond };
}
