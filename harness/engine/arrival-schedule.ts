/**
 * When requests are meant to be sent: the open-loop arrival times of a run's stages and the
 * start times of closed-loop users. Pure functions of the stages and a seeded Rng.
 *
 * Rate function lambda(t), in req/s, t in ms from the run start. Stage i runs over
 * [start_i, start_i + durationMs), start_i = sum of the previous stages' durations.
 *   open stage:   linear from L to rateRps over [start_i, start_i + rampMs], then rateRps, where
 *                 L = the previous stage's rateRps if that stage is open, else 0 (0 for stage 0).
 *                 A ramp longer than the stage is cut off at the stage end (the next stage still
 *                 takes this stage's rateRps as its L).
 *   closed stage: 0 (its users are driven by completions, not by this schedule).
 * Integrated intensity Lambda(t) = integral_0^t lambda(s) ds / 1000 (expected sends by t).
 *
 * Arrivals by time rescaling: events E_1 < E_2 < ... of a unit-rate process in Lambda space,
 * one process across all stages, are mapped to t_j = Lambda^{-1}(E_j). Lambda is piecewise
 * linear-or-quadratic, so the inverse is exact per piece: on a piece starting at t0 with rate r0
 * and slope s (req/s per ms), the time tau after t0 at which y = 1000 * (E - Lambda(t0)) sends
 * are due solves s/2 tau^2 + r0 tau = y, tau = 2y / (r0 + sqrt(r0^2 + 2 s y)) (stable for any
 * sign of s; tau = y / r0 when s = 0). Zero-rate pieces hold no events and are skipped.
 *   constant: E_j = j (j = 0, 1, 2, ...): evenly spaced in Lambda, the first at the first instant
 *             of positive rate (rate 5 for 30 s: sends at 0, 200, 400, ... 29800 ms).
 *   poisson:  gaps E_j - E_{j-1} ~ Exponential(1), E_0 = 0 (not itself an event).
 *   gamma:    gaps ~ Gamma(shape k = burstiness, scale 1/k): mean 1, CV 1/sqrt(k), as in
 *             `vllm bench serve --burstiness`; k = 1 uses the exponential, so it equals poisson.
 * Only events with t < total duration are kept.
 */

import type { Arrival, ClosedStage, Stage } from '../scenario/scenario-types.ts';
import type { Rng } from '../workload/rng.ts';

/** One piece of the rate function: linear from r0 to r1 (req/s) over [t0, t1) ms. */
interface Piece {
  t0: number;
  t1: number;
  r0: number;
  /** d(rate)/dt in req/s per ms. */
  slope: number;
  /** Lambda(t0) and Lambda(t1): expected sends before the piece's start and end. */
  lambda0: number;
  lambda1: number;
  stage: number;
}

function checkStages(stages: readonly Stage[]): void {
  if (stages.length > 65536) throw new RangeError(`at most 65536 stages, got ${stages.length}`);
  for (const [i, s] of stages.entries()) {
    if (!(s.durationMs >= 0) || !Number.isFinite(s.durationMs)) {
      throw new RangeError(`stage ${i}: durationMs must be finite and >= 0, got ${s.durationMs}`);
    }
    if (!(s.rampMs >= 0) || !Number.isFinite(s.rampMs)) {
      throw new RangeError(`stage ${i}: rampMs must be finite and >= 0, got ${s.rampMs}`);
    }
    if (s.kind === 'open' && (!(s.rateRps >= 0) || !Number.isFinite(s.rateRps))) {
      throw new RangeError(`stage ${i}: rateRps must be finite and >= 0, got ${s.rateRps}`);
    }
  }
}

/** Start of each stage in ms from the run start: the sum of the previous stages' durations. */
export function stageStartsMs(stages: readonly Stage[]): number[] {
  const starts: number[] = [];
  let t = 0;
  for (const s of stages) {
    starts.push(t);
    t += s.durationMs;
  }
  return starts;
}

/** Total run length of the stages in ms (drain time not included). */
export function totalDurationMs(stages: readonly Stage[]): number {
  let t = 0;
  for (const s of stages) t += s.durationMs;
  return t;
}

/** The level an open stage ramps from: the previous stage's rate if open, else 0. */
function rampFrom(stages: readonly Stage[], i: number): number {
  const prev = i > 0 ? stages[i - 1] : undefined;
  return prev?.kind === 'open' ? prev.rateRps : 0;
}

function buildPieces(stages: readonly Stage[]): Piece[] {
  checkStages(stages);
  const pieces: Piece[] = [];
  let t = 0;
  let lambda = 0;
  const push = (t0: number, t1: number, r0: number, r1: number, stage: number): void => {
    if (!(t1 > t0)) return;
    const lambda1 = lambda + ((r0 + r1) / 2) * ((t1 - t0) / 1000);
    pieces.push({ t0, t1, r0, slope: (r1 - r0) / (t1 - t0), lambda0: lambda, lambda1, stage });
    lambda = lambda1;
  };
  for (const [i, s] of stages.entries()) {
    const end = t + s.durationMs;
    if (s.kind === 'open') {
      const from = rampFrom(stages, i);
      const ramp = Math.min(s.rampMs, s.durationMs);
      if (ramp > 0 && from !== s.rateRps) {
        const reached = from + ((s.rateRps - from) * ramp) / s.rampMs;
        push(t, t + ramp, from, reached, i);
        push(t + ramp, end, s.rateRps, s.rateRps, i);
      } else {
        push(t, end, s.rateRps, s.rateRps, i);
      }
    } else {
      push(t, end, 0, 0, i);
    }
    t = end;
  }
  return pieces;
}

/** Open-loop send rate (req/s) at `tMs` ms from the run start; 0 outside [0, total). */
export function rateAt(stages: readonly Stage[], tMs: number): number {
  checkStages(stages);
  let start = 0;
  for (const [i, s] of stages.entries()) {
    const end = start + s.durationMs;
    if (tMs >= start && tMs < end) {
      if (s.kind === 'closed') return 0;
      const into = tMs - start;
      if (into < s.rampMs) {
        const from = rampFrom(stages, i);
        return from + ((s.rateRps - from) * into) / s.rampMs;
      }
      return s.rateRps;
    }
    start = end;
  }
  return 0;
}

/** Expected number of open-loop sends over all stages: integral of rateAt over [0, total) / 1000. */
export function expectedCount(stages: readonly Stage[]): number {
  const pieces = buildPieces(stages);
  return pieces.length === 0 ? 0 : pieces[pieces.length - 1]!.lambda1;
}

/** Open-loop arrival schedule: intended send times and the stage each one belongs to. */
export interface OpenLoopArrivals {
  /** Intended send times in ms from the run start, ascending, each in [0, total duration). */
  timesMs: Float64Array;
  /** Index in `stages` of the stage each send falls in. */
  stage: Uint16Array;
}

/**
 * Intended send times of the open-loop stages (closed stages get none), by time rescaling of a
 * unit-rate constant, Poisson or gamma process (see the module header). `rng` is only read for
 * poisson and gamma; pass a stream of its own, e.g. `rng.fork('arrivals')`. Deterministic: same
 * stages, options and seed, same arrays.
 */
export function openLoopArrivals(
  stages: readonly Stage[],
  options: { arrival: Arrival; burstiness: number },
  rng: Rng,
): OpenLoopArrivals {
  const { arrival, burstiness } = options;
  if (arrival === 'gamma' && (!(burstiness > 0) || !Number.isFinite(burstiness))) {
    throw new RangeError(`burstiness must be finite and > 0, got ${burstiness}`);
  }
  const pieces = buildPieces(stages).filter((p) => p.lambda1 > p.lambda0);
  const total = totalDurationMs(stages);
  const lambdaTotal = pieces.length === 0 ? 0 : pieces[pieces.length - 1]!.lambda1;

  // Capacity: expected count plus a wide margin for the spread of the count (sd ~ CV * sqrt(n));
  // grown by doubling if a draw still exceeds it.
  const cv = arrival === 'gamma' ? 1 / Math.sqrt(burstiness) : 1;
  let capacity = Math.ceil(lambdaTotal + 8 * Math.max(1, cv) * Math.sqrt(lambdaTotal) + 16);
  let times = new Float64Array(capacity);
  let stageOf = new Uint16Array(capacity);
  let n = 0;

  const nextGap: () => number =
    arrival === 'constant'
      ? () => 1
      : arrival === 'poisson' || burstiness === 1
        ? () => rng.exponential(1)
        : () => rng.gamma(burstiness, 1 / burstiness);

  let p = 0;
  let piece = pieces[0];
  // Constant: E_j = j exactly (counted, not summed, so no rounding drift). Otherwise E_1 = gap.
  let index = 0;
  let e = arrival === 'constant' ? 0 : nextGap();
  while (piece !== undefined && e < lambdaTotal) {
    while (piece.lambda1 <= e) {
      piece = pieces[++p];
      if (piece === undefined) break;
    }
    if (piece === undefined) break;
    const y = 1000 * (e - piece.lambda0);
    const s = piece.slope;
    let tau: number;
    if (!(y > 0)) {
      tau = 0; // also avoids 0/0 at the start of a ramp from rate 0
    } else if (s === 0) {
      tau = y / piece.r0;
    } else {
      const disc = piece.r0 * piece.r0 + 2 * s * y;
      tau = (2 * y) / (piece.r0 + Math.sqrt(disc > 0 ? disc : 0));
    }
    let t = piece.t0 + tau;
    if (t > piece.t1) t = piece.t1; // rounding at a piece's end must not overtake the next piece
    if (!(t < total)) break;
    if (n === capacity) {
      capacity *= 2;
      const grownTimes = new Float64Array(capacity);
      grownTimes.set(times);
      times = grownTimes;
      const grownStages = new Uint16Array(capacity);
      grownStages.set(stageOf);
      stageOf = grownStages;
    }
    times[n] = t;
    stageOf[n] = piece.stage;
    n++;
    e = arrival === 'constant' ? ++index : e + nextGap();
  }
  return { timesMs: times.slice(0, n), stage: stageOf.slice(0, n) };
}

/**
 * Start times (ms from the run start) of a closed stage's users: user u of `users` starts at
 * stageStartMs + rampMs * u / users, so all start at stageStartMs when rampMs is 0.
 */
export function closedLoopUserStarts(stage: ClosedStage, stageStartMs: number): Float64Array {
  const starts = new Float64Array(stage.users);
  for (let u = 0; u < stage.users; u++) starts[u] = stageStartMs + (stage.rampMs * u) / stage.users;
  return starts;
}
