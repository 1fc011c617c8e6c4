/**
 * Reading a token-length distribution (`workload.prompt_tokens`, `workload.output_tokens`) from
 * its YAML form into a LengthDist: the integer shorthand, the five `dist` kinds, their bounds,
 * the lognormal mean+p90 fit, and empirical files.
 */

import { isAbsolute, join } from 'node:path';
import { isMap, isScalar, type Node } from 'yaml';
import type { LengthDist } from './scenario-types.ts';
import { fitLognormal } from '../workload/lognormal-fit.ts';
import { needsColumn, readEmpiricalFile } from './empirical-file.ts';
import { describe, formatNumber, type MapView, type NodeReader } from './yaml-node-reader.ts';

/** The `dist` kinds, in the order the docs list them. */
export const DIST_KINDS = ['fixed', 'uniform', 'normal', 'lognormal', 'empirical'] as const;
type DistKind = (typeof DIST_KINDS)[number];

/** The keys each kind accepts. */
export const DIST_KEYS: Readonly<Record<DistKind, readonly string[]>> = {
  fixed: ['dist', 'value', 'min', 'max'],
  uniform: ['dist', 'min', 'max'],
  normal: ['dist', 'mean', 'stddev', 'min', 'max'],
  lognormal: ['dist', 'mean', 'p90', 'mu', 'sigma', 'min', 'max'],
  empirical: ['dist', 'file', 'column', 'min', 'max'],
};
const ALL_KEYS = [...new Set(Object.values(DIST_KEYS).flat())];

/** What a length distribution may be, in words. */
export const LENGTH_DIST_SHAPE = 'a positive integer (fixed length), or a map with dist: fixed | uniform | normal | lognormal | empirical';

/**
 * Read one length distribution. `baseDir` is where relative empirical file paths start.
 * Returns undefined when it is invalid (the issues are recorded on `r`).
 */
export function readLengthDist(r: NodeReader, node: Node, path: string, baseDir: string): LengthDist | undefined {
  if (isScalar(node) && typeof node.value === 'number') {
    const value = r.num(node, path, { integer: true, min: 1 });
    return value === undefined ? undefined : { dist: 'fixed', value, min: 1, max: Infinity };
  }
  if (!isMap(node)) {
    r.report('FG_SCENARIO_TYPE', node, path, `expected ${LENGTH_DIST_SHAPE}, got ${describe(node)}`, { allowed: LENGTH_DIST_SHAPE });
    return undefined;
  }
  const m = r.asMap(node, path)!;
  const dist = m.oneOf('dist', DIST_KINDS);
  m.checkKeys(dist ? DIST_KEYS[dist] : ALL_KEYS);
  if (!m.has('dist')) m.missing('dist', '"dist" is required', DIST_KINDS.join(', '));
  const bounds = readBounds(m, dist === 'uniform');
  if (!dist) return undefined;
  switch (dist) {
    case 'fixed': {
      const value = m.num('value', { integer: true, min: 1 }, true);
      if (value === undefined || !bounds) return undefined;
      if (!inBounds(m, 'value', value, bounds)) return undefined;
      return { dist, value, min: bounds.min, max: bounds.max };
    }
    case 'uniform':
      return bounds ? { dist, min: bounds.min, max: bounds.max } : undefined;
    case 'normal': {
      const mean = m.num('mean', {}, true);
      const stddev = m.num('stddev', { min: 0 }, true);
      if (mean === undefined || stddev === undefined || !bounds) return undefined;
      if (!inBounds(m, 'mean', mean, bounds)) return undefined;
      return { dist, mean, stddev, min: bounds.min, max: bounds.max };
    }
    case 'lognormal':
      return readLognormal(m, bounds);
    case 'empirical':
      return readEmpirical(m, bounds, baseDir);
  }
}

interface Bounds {
  min: number;
  max: number;
}

/** min (default 1) and max (default .inf), or undefined when either is invalid or min > max. */
function readBounds(m: MapView, required: boolean): Bounds | undefined {
  const hadMin = m.has('min');
  const hadMax = m.has('max');
  const min = m.num('min', { integer: true, min: 1 }, required);
  const max = m.num('max', { integer: true, min: 1, allowInfinity: true }, required);
  if ((hadMin || required) && min === undefined) return undefined;
  if ((hadMax || required) && max === undefined) return undefined;
  const lo = min ?? 1;
  const hi = max ?? Infinity;
  if (lo > hi) {
    m.r.report('FG_SCENARIO_BAD_VALUE', m.get('max'), m.pathOf('max'), `max (${formatNumber(hi)}) is less than min (${lo})`, {
      value: hi,
      allowed: `an integer >= ${lo} (min)`,
    });
    return undefined;
  }
  return { min: lo, max: hi };
}

function inBounds(m: MapView, key: string, v: number, b: Bounds): boolean {
  if (v >= b.min && v <= b.max) return true;
  m.r.report('FG_SCENARIO_BAD_VALUE', m.get(key), m.pathOf(key), `${key} ${formatNumber(v)} lies outside [min, max] = [${b.min}, ${formatNumber(b.max)}]`, {
    value: v,
    allowed: `a number from ${b.min} to ${formatNumber(b.max)}`,
  });
  return false;
}

function readLognormal(m: MapView, bounds: Bounds | undefined): LengthDist | undefined {
  const byMean = ['mean', 'p90'].filter((k) => m.has(k));
  const byMu = ['mu', 'sigma'].filter((k) => m.has(k));
  if (byMean.length > 0 && byMu.length > 0) {
    // Point at whichever pair was written second: that is the one the user added on top.
    const a = m.keyNode(byMean[0]!);
    const b = m.keyNode(byMu[0]!);
    const later = m.r.offset(a) > m.r.offset(b) ? byMean[0]! : byMu[0]!;
    m.r.report('FG_SCENARIO_CONFLICT', m.keyNode(later), m.pathOf(later), 'lognormal takes mean and p90, or mu and sigma, not both', {
      allowed: 'mean + p90, or mu + sigma',
    });
    return undefined;
  }
  if (byMean.length === 0 && byMu.length === 0) {
    m.missing('mean', 'lognormal needs mean and p90, or mu and sigma', 'mean + p90, or mu + sigma');
    return undefined;
  }
  if (byMu.length > 0) {
    const mu = m.num('mu', {}, true);
    const sigma = m.num('sigma', { min: 0, minExclusive: true }, true);
    if (mu === undefined || sigma === undefined || !bounds) return undefined;
    return { dist: 'lognormal', mu, sigma, min: bounds.min, max: bounds.max };
  }
  const mean = m.num('mean', { min: 0, minExclusive: true }, true);
  const p90 = m.num('p90', { min: 0, minExclusive: true }, true);
  if (mean === undefined || p90 === undefined || !bounds) return undefined;
  if (!inBounds(m, 'mean', mean, bounds)) return undefined;
  // mean and p90 describe the clamped distribution, i.e. the lengths actually sent.
  const fit = fitLognormal(mean, p90, bounds.min, bounds.max);
  if (!fit.ok) {
    m.r.report('FG_SCENARIO_BAD_VALUE', m.node, m.path, `cannot fit a lognormal to mean ${mean} and p90 ${p90}: ${fit.reason}`, {
      value: { mean, p90 },
      allowed: `mean and p90 strictly between min and max with a lognormal shape (p90 above the median), or mu and sigma`,
    });
    return undefined;
  }
  return { dist: 'lognormal', mu: fit.mu, sigma: fit.sigma, min: bounds.min, max: bounds.max };
}

function readEmpirical(m: MapView, bounds: Bounds | undefined, baseDir: string): LengthDist | undefined {
  const file = m.str('file', true);
  const column = m.str('column');
  if (file === undefined) return undefined;
  if (file.trim() === '') {
    m.missing('file', '"file" must not be empty', 'a path to a file of token counts');
    return undefined;
  }
  const csv = needsColumn(file);
  if (csv && column === undefined) {
    if (!m.has('column')) m.missing('column', 'a CSV empirical file needs "column": the header of the column holding the lengths', 'a column name from the header row');
    return undefined;
  }
  if (!csv && column !== undefined) {
    m.r.report('FG_SCENARIO_CONFLICT', m.keyNode('column'), m.pathOf('column'), `"column" applies to .csv files only, and "${file}" is not one`, {
      allowed: 'omit column, or use a .csv file',
    });
    return undefined;
  }
  const dataPath = isAbsolute(file) ? file : join(baseDir, file);
  const data = readEmpiricalFile(dataPath, column);
  const filePath = m.pathOf('file');
  for (const p of data.problems) {
    if (p.kind === 'file') {
      m.r.report('FG_SCENARIO_EMPIRICAL_FILE', m.get('file'), filePath, p.message, { value: dataPath, allowed: 'an existing file of token counts (.txt lines, .csv with column, .json array)' });
    } else if (p.kind === 'column') {
      m.r.report('FG_SCENARIO_BAD_VALUE', m.get('column'), m.pathOf('column'), p.message, { value: column, allowed: p.allowed });
    } else {
      m.r.report('FG_SCENARIO_EMPIRICAL_VALUE', { file: dataPath, line: p.line, col: p.col }, filePath, p.message, { value: p.text, allowed: 'a non-negative integer' });
    }
  }
  if (data.problems.length > 0 || !bounds) return undefined;
  return { dist: 'empirical', values: data.values, file: dataPath, min: bounds.min, max: bounds.max };
}
