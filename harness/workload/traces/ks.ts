/**
 * Two-sample Kolmogorov-Smirnov statistic: how far apart two empirical distributions are (the
 * largest gap between their CDFs, 0 to 1). Used to check that a replay keeps the trace's length
 * distributions (thinning, duplication, windows) and that planned lengths follow the trace.
 */

/** D = sup |F_a(x) - F_b(x)| over all x; 0 for identical samples. Ties handled exactly. */
export function ksStatistic(a: readonly number[], b: readonly number[]): number {
  if (a.length === 0 || b.length === 0) throw new RangeError('ksStatistic needs two non-empty samples');
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i]!, y[j]!);
    while (i < x.length && x[i]! <= v) i++;
    while (j < y.length && y[j]! <= v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

/**
 * The critical D at significance `alpha` (large-sample approximation): c(alpha) * sqrt((n + m) /
 * (n m)), c(alpha) = sqrt(-ln(alpha / 2) / 2) (1.358 at 0.05). D above it: the samples differ.
 */
export function ksCritical(n: number, m: number, alpha = 0.05): number {
  return Math.sqrt(-Math.log(alpha / 2) / 2) * Math.sqrt((n + m) / (n * m));
}

/** Statistic, critical value and verdict (`same`: D <= critical). */
export function ksTest(a: readonly number[], b: readonly number[], alpha = 0.05): { d: number; critical: number; same: boolean } {
  const d = ksStatistic(a, b);
  const critical = ksCritical(a.length, b.length, alpha);
  return { d, critical, same: d <= critical };
}
