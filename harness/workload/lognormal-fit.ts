/**
 * Lognormal parameters from what users know about their traffic: a mean and a p90.
 *
 * The mean and p90 describe the lengths *as sampled*, after rounding is ignored and clamping to
 * [min, max] is applied, so `{mean: 800, p90: 2000, max: 8000}` means what it says even where no
 * unclamped lognormal has that mean and p90 (p90/mean can be at most e^0.821 = 2.27 for a pure
 * lognormal). With p = p90 fixed, mu = ln(p90) - z90*sigma, and the clamped mean
 *   E[clamp(X, lo, hi)] = lo*Phi(a) + e^(mu+sigma^2/2) * (Phi(b-sigma) - Phi(a-sigma)) + hi*(1-Phi(b)),
 *   a = (ln lo - mu)/sigma, b = (ln hi - mu)/sigma,
 * is solved for sigma by bisection on the first crossing (the smallest sigma that fits).
 */

const Z90 = 1.2815515655446004;

/** Standard normal CDF (Abramowitz-Stegun 7.1.26 erf, error < 1.5e-7). */
export function normalCdf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x) / Math.SQRT2);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-(x * x) / 2);
  return x >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}

/** Mean of a lognormal(mu, sigma) clamped to [lo, hi]. */
export function clampedLognormalMean(mu: number, sigma: number, lo: number, hi: number): number {
  const a = (Math.log(Math.max(lo, 1e-12)) - mu) / sigma;
  const b = Number.isFinite(hi) ? (Math.log(hi) - mu) / sigma : Infinity;
  const middle = Math.exp(mu + (sigma * sigma) / 2) * (normalCdf(b - sigma) - normalCdf(a - sigma));
  const top = Number.isFinite(hi) ? hi * (1 - normalCdf(b)) : 0;
  return lo * normalCdf(a) + middle + top;
}

export type LognormalFit = { ok: true; mu: number; sigma: number } | { ok: false; reason: string };

/** mu and sigma such that the lognormal clamped to [lo, hi] has this mean and p90. */
export function fitLognormal(mean: number, p90: number, lo: number, hi: number): LognormalFit {
  if (!(mean > 0) || !(p90 > 0)) return { ok: false, reason: 'mean and p90 must be positive' };
  if (!(p90 > lo) || !(p90 < hi)) return { ok: false, reason: `p90 must lie strictly between min (${lo}) and max (${hi})` };
  if (!(mean > lo) || !(mean < hi)) return { ok: false, reason: `mean must lie strictly between min (${lo}) and max (${hi})` };
  const f = (sigma: number) => clampedLognormalMean(Math.log(p90) - Z90 * sigma, sigma, lo, hi) - mean;
  // As sigma -> 0 the distribution collapses onto p90, so f(0+) = p90 - mean.
  let prevS = 1e-6;
  let prevF = p90 - mean;
  if (Math.abs(prevF) < 1e-9 * mean) return { ok: true, mu: Math.log(p90), sigma: 1e-6 };
  for (let s = 0.01; s <= 8; s += 0.01) {
    const v = f(s);
    if (Math.sign(v) !== Math.sign(prevF)) {
      let lo2 = prevS;
      let hi2 = s;
      for (let i = 0; i < 80; i++) {
        const mid = (lo2 + hi2) / 2;
        if (Math.sign(f(mid)) === Math.sign(prevF)) lo2 = mid;
        else hi2 = mid;
      }
      const sigma = (lo2 + hi2) / 2;
      return { ok: true, mu: Math.log(p90) - Z90 * sigma, sigma };
    }
    prevS = s;
    prevF = v;
  }
  return {
    ok: false,
    reason: `no lognormal clamped to [${lo}, ${hi}] has mean ${mean} and p90 ${p90}; raise max, or give mu and sigma`,
  };
}
