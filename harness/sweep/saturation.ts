/**
 * Saturation search: the highest request rate whose goodput fraction stays at or above a target.
 * Bracket by doubling from `start` until a rate fails (or `max` is reached), then bisect between
 * the highest passing and the lowest failing rate until hi/lo - 1 <= precision. Pure: the
 * measurement is a callback, so the search is tested against synthetic capacity curves.
 */

export interface SaturationOptions {
  /** First rate measured (req/s), > 0. */
  start: number;
  /** Goodput fraction a rate must reach to pass (0..1). */
  target: number;
  /** Relative precision of the answer: stop when hi / lo - 1 <= precision. */
  precision: number;
  /** Most measurements in all (bracketing + bisection). Default 20. */
  maxSteps?: number;
  /** Highest rate tried; when it passes, it is the answer (hi stays null). */
  max?: number;
}

export interface SaturationStep {
  rate: number;
  fraction: number;
  pass: boolean;
}

export interface SaturationResult {
  /** Highest rate that passed; null when even the lowest rate tried failed. */
  rate: number | null;
  /** Highest passing rate (null: none) and lowest failing rate (null: none failed). */
  lo: number | null;
  hi: number | null;
  /** True when hi / lo - 1 <= precision (or max passed); false when steps ran out first. */
  converged: boolean;
  steps: SaturationStep[];
}

export type Measure = (rate: number) => Promise<{ goodputFraction: number }>;

export async function searchSaturation(measure: Measure, o: SaturationOptions): Promise<SaturationResult> {
  if (!(o.start > 0)) throw new RangeError(`start must be > 0, got ${o.start}`);
  if (!(o.precision > 0)) throw new RangeError(`precision must be > 0, got ${o.precision}`);
  const maxSteps = o.maxSteps ?? 20;
  const max = o.max ?? Infinity;
  const steps: SaturationStep[] = [];
  const probe = async (rate: number): Promise<boolean> => {
    const { goodputFraction } = await measure(rate);
    const pass = Number.isFinite(goodputFraction) && goodputFraction >= o.target;
    steps.push({ rate, fraction: goodputFraction, pass });
    return pass;
  };
  let lo: number | null = null;
  let hi: number | null = null;
  // Bracket: double up from start until a failure (or max passes).
  let rate = Math.min(o.start, max);
  while (steps.length < maxSteps) {
    if (await probe(rate)) {
      lo = rate;
      if (rate >= max) return { rate: lo, lo, hi: null, converged: true, steps };
      rate = Math.min(rate * 2, max);
    } else {
      hi = rate;
      break;
    }
  }
  // The start itself failed: halve down until a pass (or the bracket is below precision).
  while (lo === null && hi !== null && steps.length < maxSteps) {
    const r = hi / 2;
    if (await probe(r)) lo = r;
    else hi = r;
  }
  if (lo === null || hi === null) return { rate: lo, lo, hi, converged: false, steps };
  // Bisect (geometric mean: the precision is relative).
  while (hi / lo - 1 > o.precision && steps.length < maxSteps) {
    const mid = Math.sqrt(lo * hi);
    if (await probe(mid)) lo = mid;
    else hi = mid;
  }
  return { rate: lo, lo, hi, converged: hi / lo - 1 <= o.precision, steps };
}
