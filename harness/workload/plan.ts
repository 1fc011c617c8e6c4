/**
 * The Plan: what a run will send, decided before the first request and reproducible from the
 * scenario's seed. Open-loop stages get every request up front (intended send time, stage,
 * phase, prompt and output lengths). Closed-loop stages get their users' start times; each
 * user's sequence of lengths comes from its own seeded stream (`closedUserRng`), so it is the
 * same whichever client thread runs the user. In a `mix:`, a closed stage's users carry their
 * stream (`ClosedStagePlan.streams`): a stream's own closed stages, or a seeded deal of the users
 * of load.stages' closed stages to the weighted streams.
 *
 * Prompt composition: a request may carry a PromptSpec (prompt-factory.ts), shared segments that
 * start its prompt: a `workload.shared_prefix` group prefix (drawn here for open-loop requests,
 * by the executor for closed-loop ones, each from a stream of its own: `sharedPrefixDraw`), or a
 * trace's hash-id blocks (trace-plan.ts). A scenario with a trace is planned by trace-plan.ts.
 */
import { Rng } from './rng.ts';
import { createLengthSampler } from './length-sampler.ts';
import { closedLoopUserStarts, openLoopArrivals, stageStartsMs, totalDurationMs } from '../engine/arrival-schedule.ts';
import type { Phase } from '../metrics/request-record.ts';
import type { LoadConfig, MixStream, Scenario, SharedPrefixConfig, Stage } from '../scenario/scenario-types.ts';
import type { PromptSpec } from './prompt-factory.ts';
import { buildTracePlan } from './trace-plan.ts';
import { datasetPicker } from './dataset.ts';

export interface PlannedRequest {
  /** Unique id in the run (open-loop: index in the schedule). */
  id: number;
  /** Label that seeds the prompt text (stable for a given seed and plan position). */
  key: string;
  stage: number;
  phase: Phase;
  intendedMs: number;
  promptTokens: number;
  outputTokens: number;
  model: string;
  tenant: string | undefined;
  user: number | undefined;
  /**
   * How the prompt is composed (shared segments first, then the request's own text); absent:
   * the request's own text only. Keys and lengths, never text.
   */
  prompt?: PromptSpec;
  /** Conversation/session id from a trace, carried over (not sent). */
  session?: string;
  /**
   * `workload.conversation`: the run-unique conversation id, this request's turn (1-based) and
   * the conversation's planned turns. Closed loop: set by the executor. Open loop: set by the
   * plan on each arrival (turn 1 of a new conversation, id = request id + 1, turns drawn from the
   * `conversation-turns` stream); its later turns are made by the executor that sends turn 1.
   */
  conversation?: { id: number; turn: number; turns: number };
  /**
   * A trace session replayed as a conversation (`workload.trace.sessions: conversation`), on its
   * turn 1 only: the session's later rows as planned turns 2..n (ids, keys, trace times, lengths
   * as the rows give them), sent by the executor that sends turn 1, each at the later of its time
   * and the previous turn's end; `historyIncluded`: a row's input length counts the history
   * (the new text is the rest). Absent otherwise.
   */
  traceTurns?: { later: PlannedRequest[]; historyIncluded: boolean };
  /** `mix:` stream index (its key, priority and headers in the template); absent: no mix. */
  mix?: number;
  /**
   * `workload.dataset`: the index of the entry whose messages are sent (usable entries in file
   * order); promptTokens is its Llama-3 count. An index, never text.
   */
  dataset?: number;
}

export interface ClosedStagePlan {
  stage: number;
  startMs: number;
  endMs: number;
  /** Start time of each user (ramped when the stage has a ramp). */
  userStartsMs: readonly number[];
  thinkTimeMs: { min: number; max: number };
  /**
   * Closed-loop replay of a trace without times (trace-plan.ts): the trace's rows in order
   * (lengths, prompt, model, tenant, session; id, stage, phase, intended time and user are set
   * when sent). User u of U sends rows u, u + U, u + 2U, ..., each when its last request ended
   * (plus think time), until its rows or the stage run out. Absent: lengths from the workload.
   */
  rows?: readonly PlannedRequest[];
  /**
   * The users (indices into userStartsMs) this process runs: a shard's share (`--shard`,
   * harness/shard/shard-plan.ts). Absent: every user. Each user keeps its index, so its seeded
   * stream, its dealt rows and its conversations are the same on any shard.
   */
  users?: readonly number[];
  /**
   * What seeds its users' streams (`closedUserRng`) and prompt keys; absent: the stage index. A
   * `mix:` stream's own closed stage j has `mix-<stream name>-<j>` (`stage` is then the run stage
   * it starts in; each request is recorded in the run stage its intended time falls in).
   */
  label?: string;
  /**
   * `mix:` (docs/scenarios.md, "Mixes"): the stream (index in `mix`) of each user, whose key,
   * model, tenant and priority its requests carry: a stream's own closed stage gives every user
   * that stream; a closed stage of load.stages deals its users to the weighted streams by a seeded
   * draw (user u gets the same stream in every stage). Absent: no mix.
   */
  streams?: readonly number[];
}

export interface Plan {
  seed: number;
  totalMs: number;
  stageStartsMs: readonly number[];
  open: PlannedRequest[];
  closed: ClosedStagePlan[];
  /** Planned open-loop arrivals per second of the run (null for seconds of closed-loop stages). */
  targetsPerSecond: Array<number | null>;
}

/** Which phase a request intended at `tMs` belongs to. */
export function phaseOf(load: LoadConfig, totalMs: number, tMs: number): Phase {
  if (tMs < load.warmupMs) return 'warmup';
  if (load.cooldownMs > 0 && tMs >= totalMs - load.cooldownMs) return 'cooldown';
  return 'measure';
}

/** The seeded stream of one closed-loop user (lengths and think times); `stage`: its stage's index or label. */
export function closedUserRng(seed: number, stage: number | string, user: number): Rng {
  return new Rng(seed).fork(`closed-${stage}-${user}`);
}

/** Segment key of shared-prefix group `g` (trace blocks use `h<id>`: the keys never meet). */
export function sharedPrefixKey(group: number): string {
  return `p${group}`;
}

/**
 * A seeded shared-prefix draw: each call decides whether the next request gets a group prefix
 * (probability `share`) and which group (uniform), from `rng` (a stream of its own). The prefix
 * keeps at least one word of the request's own text: a prompt no longer than the prefix gets the
 * prefix cut (the lengths planned are never raised).
 */
export function sharedPrefixDraw(cfg: SharedPrefixConfig, rng: Rng): () => PromptSpec | undefined {
  const specs: PromptSpec[] = [];
  for (let g = 0; g < cfg.groups; g++) specs.push(Object.freeze({ shared: Object.freeze([Object.freeze({ key: sharedPrefixKey(g), tokens: cfg.tokens })]), minOwnWords: 1 }));
  return () => {
    if (!(rng.next() < cfg.share)) return undefined;
    return specs[rng.int(0, cfg.groups - 1)];
  };
}

export function buildPlan(scenario: Scenario): Plan {
  // A trace replay (workload.trace, a TraceConfig with the rows read at load time) is planned from the trace.
  if (scenario.workload.trace) return buildTracePlan(scenario, scenario.workload.trace);
  const { load, workload, seed } = scenario;
  const root = new Rng(seed);
  const totalMs = totalDurationMs(load.stages);
  const starts = stageStartsMs(load.stages);
  const arrivals = scenario.mix
    ? mixArrivals(scenario.mix, load, starts, root)
    : { ...openLoopArrivals(load.stages, { arrival: load.arrival, burstiness: load.burstiness }, root.fork('arrivals')), stream: undefined };
  const promptLen = createLengthSampler(workload.promptTokens, root.fork('prompt_tokens'));
  const outputLen = createLengthSampler(workload.outputTokens, root.fork('output_tokens'));
  const prefix = workload.sharedPrefix && sharedPrefixDraw(workload.sharedPrefix, root.fork('shared_prefix'));
  const ds = workload.dataset;
  const dsRng = ds && root.fork('dataset');
  const pick = ds && datasetPicker(ds.loaded.count, ds.order, () => dsRng!.next());
  // Open-loop conversations: each arrival starts one; its planned turns are drawn here (seeded, shard-independent).
  const convTurns = workload.conversation && createLengthSampler(workload.conversation.turns, root.fork('conversation-turns'));
  const open: PlannedRequest[] = new Array(arrivals.timesMs.length);
  for (let i = 0; i < arrivals.timesMs.length; i++) {
    const t = arrivals.timesMs[i]!;
    open[i] = {
      id: i,
      key: `o${i}`,
      stage: arrivals.stage[i]!,
      phase: phaseOf(load, totalMs, t),
      intendedMs: t,
      promptTokens: promptLen(),
      outputTokens: outputLen(),
      model: scenario.target.model,
      tenant: undefined,
      user: undefined,
    };
    if (arrivals.stream) {
      const st = scenario.mix![arrivals.stream[i]!]!;
      open[i]!.model = st.model;
      open[i]!.tenant = st.tenant;
      open[i]!.mix = st.index;
    }
    const spec = prefix?.();
    if (spec) open[i]!.prompt = spec;
    if (ds && pick) {
      const k = pick();
      open[i]!.dataset = k;
      open[i]!.promptTokens = ds.loaded.promptTokens[k]!;
      if (ds.outputTokens === 'from_data') open[i]!.outputTokens = ds.loaded.outputTokens[k]!;
    }
    if (convTurns) open[i]!.conversation = { id: i + 1, turn: 1, turns: convTurns() };
  }
  const closed: ClosedStagePlan[] = [];
  const seconds = Math.ceil(totalMs / 1000);
  const targetsPerSecond: Array<number | null> = new Array(seconds).fill(0);
  // A mix's weighted streams share the closed stages' users: user u's stream, one seeded draw per user index.
  const weighted = scenario.mix?.filter((m) => m.stages === undefined) ?? [];
  const mostUsers = load.stages.reduce((n, s) => (s.kind === 'closed' ? Math.max(n, s.users) : n), 0);
  const userStreams = weighted.length > 0 ? weightedDraws(weighted, mostUsers, root.fork('mix-users')) : [];
  load.stages.forEach((s, i) => {
    if (s.kind !== 'closed') return;
    const startMs = starts[i]!;
    const c: ClosedStagePlan = { stage: i, startMs, endMs: startMs + s.durationMs, userStartsMs: Array.from(closedLoopUserStarts(s, startMs)), thinkTimeMs: s.thinkTimeMs };
    if (weighted.length > 0) c.streams = userStreams.slice(0, s.users);
    closed.push(c);
    for (let sec = Math.floor(startMs / 1000); sec < Math.ceil((startMs + s.durationMs) / 1000); sec++) targetsPerSecond[sec] = null;
  });
  // A mix stream's own closed stages, on the run's clock: every user sends as the stream.
  for (const m of scenario.mix ?? []) {
    if (m.stages === undefined) continue;
    const own = stageStartsMs(m.stages);
    m.stages.forEach((s, j) => {
      if (s.kind !== 'closed') return;
      const startMs = own[j]!;
      closed.push({
        stage: stageAt(starts, load.stages.length, startMs),
        label: `mix-${m.name}-${j}`,
        startMs,
        endMs: startMs + s.durationMs,
        userStartsMs: Array.from(closedLoopUserStarts(s, startMs)),
        thinkTimeMs: s.thinkTimeMs,
        streams: new Array<number>(s.users).fill(m.index),
      });
    });
  }
  for (const r of open) {
    const sec = Math.floor(r.intendedMs / 1000);
    targetsPerSecond[sec] = (targetsPerSecond[sec] ?? 0) + 1;
  }
  return { seed, totalMs, stageStartsMs: starts, open, closed, targetsPerSecond };
}

/**
 * The open-loop arrivals of a `mix:` (docs/scenarios.md, "Mixes"), in time order: each stream
 * with stages of its own gets the arrival process of its open stages (its own seeded stream, `mix-<name>`), on the
 * run's clock; the arrivals of load.stages (when a stream has a weight) are shared among the
 * weighted streams by a seeded draw (`mix-weights`). Ties keep stream order.
 */
export function mixArrivals(
  mix: readonly MixStream[],
  load: LoadConfig,
  starts: readonly number[],
  root: Rng,
): { timesMs: number[]; stage: number[]; stream: number[] } {
  const options = { arrival: load.arrival, burstiness: load.burstiness };
  const all: Array<{ t: number; stage: number; stream: number }> = [];
  const weighted = mix.filter((s) => s.stages === undefined);
  if (weighted.length > 0) {
    const shared = openLoopArrivals(load.stages, options, root.fork('arrivals'));
    const picks = weightedDraws(weighted, shared.timesMs.length, root.fork('mix-weights'));
    for (let i = 0; i < shared.timesMs.length; i++) all.push({ t: shared.timesMs[i]!, stage: shared.stage[i]!, stream: picks[i]! });
  }
  for (const s of mix) {
    if (s.stages === undefined) continue;
    const a = openLoopArrivals(s.stages as Stage[], options, root.fork(`mix-${s.name}`));
    for (const t of a.timesMs) all.push({ t, stage: stageAt(starts, load.stages.length, t), stream: s.index });
  }
  all.sort((a, b) => a.t - b.t || a.stream - b.stream);
  return { timesMs: all.map((a) => a.t), stage: all.map((a) => a.stage), stream: all.map((a) => a.stream) };
}

/**
 * `n` seeded draws among the weighted streams, each with probability weight / total weights:
 * the streams' indices in `mix`.
 */
export function weightedDraws(weighted: readonly MixStream[], n: number, draw: Rng): number[] {
  const total = weighted.reduce((sum, s) => sum + s.weight!, 0);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    let x = draw.next() * total;
    let pick = weighted[weighted.length - 1]!;
    for (const s of weighted) {
      x -= s.weight!;
      if (x < 0) {
        pick = s;
        break;
      }
    }
    out[i] = pick.index;
  }
  return out;
}

/** Index of the stage (of `count`, starting at `starts`) that time `t` falls in. */
export function stageAt(starts: readonly number[], count: number, t: number): number {
  let i = 0;
  while (i + 1 < count && starts[i + 1]! <= t) i++;
  return i;
}
