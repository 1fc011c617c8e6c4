/**
 * The Plan: what a run will send, decided before the first request and reproducible from the
 * scenario's seed. Open-loop stages get every request up front (intended send time, stage,
 * phase, prompt and output lengths). Closed-loop stages get their users' start times; each
 * user's sequence of lengths comes from its own seeded stream (`closedUserRng`), so it is the
 * same whichever client thread runs the user.
 */
import { Rng } from './rng.ts';
import { createLengthSampler } from './length-sampler.ts';
import { closedLoopUserStarts, openLoopArrivals, stageStartsMs, totalDurationMs } from '../engine/arrival-schedule.ts';
import type { Phase } from '../metrics/request-record.ts';
import type { LoadConfig, Scenario } from '../scenario/scenario-types.ts';

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
}

export interface ClosedStagePlan {
  stage: number;
  startMs: number;
  endMs: number;
  /** Start time of each user (ramped when the stage has a ramp). */
  userStartsMs: readonly number[];
  thinkTimeMs: { min: number; max: number };
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

/** The seeded stream of one closed-loop user (lengths and think times). */
export function closedUserRng(seed: number, stage: number, user: number): Rng {
  return new Rng(seed).fork(`closed-${stage}-${user}`);
}

export function buildPlan(scenario: Scenario): Plan {
  const { load, workload, seed } = scenario;
  const root = new Rng(seed);
  const totalMs = totalDurationMs(load.stages);
  const starts = stageStartsMs(load.stages);
  const arrivals = openLoopArrivals(load.stages, { arrival: load.arrival, burstiness: load.burstiness }, root.fork('arrivals'));
  const promptLen = createLengthSampler(workload.promptTokens, root.fork('prompt_tokens'));
  const outputLen = createLengthSampler(workload.outputTokens, root.fork('output_tokens'));
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
  }
  const closed: ClosedStagePlan[] = [];
  const seconds = Math.ceil(totalMs / 1000);
  const targetsPerSecond: Array<number | null> = new Array(seconds).fill(0);
  load.stages.forEach((s, i) => {
    if (s.kind !== 'closed') return;
    const startMs = starts[i]!;
    closed.push({ stage: i, startMs, endMs: startMs + s.durationMs, userStartsMs: Array.from(closedLoopUserStarts(s, startMs)), thinkTimeMs: s.thinkTimeMs });
    for (let sec = Math.floor(startMs / 1000); sec < Math.ceil((startMs + s.durationMs) / 1000); sec++) targetsPerSecond[sec] = null;
  });
  for (const r of open) {
    const sec = Math.floor(r.intendedMs / 1000);
    targetsPerSecond[sec] = (targetsPerSecond[sec] ?? 0) + 1;
  }
  return { seed, totalMs, stageStartsMs: starts, open, closed, targetsPerSecond };
}
