/**
 * The sweep file (`harness sweep FILE.yaml`): a scenario (the traffic), a stack file, a matrix of
 * stack parameters by dotted path (cartesian product, in file order) and a load axis (fixed rates,
 * or a saturation search). Every cell's stack is built and validated here, before anything runs.
 *
 *   name: batching
 *   scenario: ../scenarios/ramp.yaml          # relative to this file
 *   stack: ../reference-stack/stacks/default.yaml   # default: the default stack
 *   matrix:
 *     workers[0].sim.max_num_seqs: [16, 64, 256]
 *     gateway.routing: [round_robin, least_outstanding]
 *   load: {rates: [2, 4, 8]}                  # or {search: {start: 2, target_goodput: 0.9, precision: 0.05, max: 256}}
 *   cell: {duration: 20s, time_scale: 10}
 *   price: {gpu_hour: 2.5}
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { isMap, isSeq, parse, parseDocument } from 'yaml';
import { ConfigError, type ConfigIssue } from '../errors.ts';
import { parseOverridePath } from '../scenario/scenario-overrides.ts';
import { parseScenario } from '../scenario/load-scenario.ts';
import { parseDuration } from '../util/duration.ts';
import { parseStack } from '../../reference-stack/stack/load-stack.ts';
import { DEFAULT_STACK_FILE } from '../../reference-stack/stack/start-stack.ts';
import type { StackConfig } from '../../reference-stack/stack/stack-types.ts';
import type { Scenario } from '../scenario/scenario-types.ts';

export const SWEEP_KEYS = ['name', 'description', 'scenario', 'stack', 'matrix', 'load', 'cell', 'price'] as const;

export type SweepLoad =
  | { kind: 'rates'; rates: number[] }
  | { kind: 'search'; start: number; targetGoodput: number; precision: number; max: number; maxSteps: number };

export interface SweepCell {
  /** Stable id: a slug of the values plus a short hash of them. */
  id: string;
  /** The cell's value of every matrix path, in file order. */
  values: Record<string, unknown>;
  /** The stack file text with the cell's values set. */
  stackText: string;
  stack: StackConfig;
  /** GPUs the cell's simulated workers use (tensor_parallel_size each). */
  gpus: number;
}

export interface SweepSpec {
  name: string;
  description: string | null;
  file: string;
  scenarioFile: string;
  scenarioText: string;
  /** The scenario as validated (with a placeholder target), for its SLO and model. */
  scenario: Scenario;
  stackFile: string;
  matrix: Array<{ path: string; values: unknown[] }>;
  cells: SweepCell[];
  load: SweepLoad;
  /** Simulated-world duration of one measurement, ms. */
  durationMs: number;
  timeScale: number;
  gpuHour: number | null;
}

const DEFAULT_SEARCH = { targetGoodput: 0.9, precision: 0.05, maxSteps: 12 };

/** Read and validate a sweep file; every cell's stack is validated too. */
export function loadSweep(file: string): SweepSpec {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new ConfigError([issue('FG_SWEEP_NOT_FOUND', file, '', `sweep file "${file}" cannot be read`)]);
  }
  return parseSweep(text, file);
}

export function parseSweep(text: string, file: string): SweepSpec {
  const issues: ConfigIssue[] = [];
  const bad = (p: string, message: string, value?: unknown, allowed?: string): void => {
    issues.push({ ...issue('FG_SWEEP_BAD_VALUE', file, p, message), ...(value !== undefined ? { value } : {}), ...(allowed ? { allowed } : {}) });
  };
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (e) {
    throw new ConfigError([issue('FG_SWEEP_YAML_SYNTAX', file, '', `not valid YAML: ${(e as Error).message.split('\n')[0]}`)]);
  }
  if (!isPlainObject(raw)) throw new ConfigError([issue('FG_SWEEP_BAD_VALUE', file, '', 'a sweep file is a map with name, scenario, matrix and load')]);
  for (const k of Object.keys(raw)) {
    if (!(SWEEP_KEYS as readonly string[]).includes(k)) issues.push({ ...issue('FG_SWEEP_UNKNOWN_KEY', file, k, `unknown key "${k}"`), allowed: SWEEP_KEYS.join(', ') });
  }
  const baseDir = path.dirname(path.resolve(file));
  const name = typeof raw['name'] === 'string' && /^[A-Za-z0-9._-]+$/.test(raw['name']) ? raw['name'] : undefined;
  if (name === undefined) bad('name', 'name is required: letters, digits, ".", "_" and "-"', raw['name']);
  const description = typeof raw['description'] === 'string' ? raw['description'] : null;

  // Scenario.
  let scenarioFile = '';
  let scenarioText = '';
  let scenario: Scenario | undefined;
  if (typeof raw['scenario'] !== 'string' || raw['scenario'] === '') bad('scenario', 'scenario is required: the path of a scenario file', raw['scenario']);
  else {
    scenarioFile = path.resolve(baseDir, raw['scenario']);
    try {
      scenarioText = fs.readFileSync(scenarioFile, 'utf8');
    } catch {
      issues.push(issue('FG_SWEEP_NOT_FOUND', file, 'scenario', `scenario file "${raw['scenario']}" cannot be read`));
    }
  }

  // Cell and price.
  const cell = raw['cell'] ?? {};
  let durationMs = 20_000;
  let timeScale = 10;
  if (!isPlainObject(cell)) bad('cell', 'cell is a map {duration, time_scale}', cell);
  else {
    for (const k of Object.keys(cell)) if (k !== 'duration' && k !== 'time_scale') issues.push({ ...issue('FG_SWEEP_UNKNOWN_KEY', file, `cell.${k}`, `unknown key "${k}"`), allowed: 'duration, time_scale' });
    if (cell['duration'] !== undefined) {
      const d = parseDuration(cell['duration']);
      if (d === undefined || d <= 0) bad('cell.duration', 'cell.duration is a duration above 0, e.g. 20s', cell['duration']);
      else durationMs = d;
    }
    if (cell['time_scale'] !== undefined) {
      if (!isPositive(cell['time_scale'])) bad('cell.time_scale', 'cell.time_scale is a number above 0', cell['time_scale']);
      else timeScale = cell['time_scale'];
    }
  }
  let gpuHour: number | null = null;
  const price = raw['price'];
  if (price !== undefined) {
    if (!isPlainObject(price) || !isPositive(price['gpu_hour'])) bad('price.gpu_hour', 'price is {gpu_hour: <price of one GPU per hour>}', price);
    else gpuHour = price['gpu_hour'];
  }

  // Load axis.
  let load: SweepLoad | undefined;
  const l = raw['load'];
  if (!isPlainObject(l) || (l['rates'] === undefined) === (l['search'] === undefined)) {
    bad('load', 'load is either {rates: [..]} or {search: {start, target_goodput, precision, max}}', l);
  } else if (l['rates'] !== undefined) {
    const rates = l['rates'];
    if (!Array.isArray(rates) || rates.length === 0 || !rates.every(isPositive)) bad('load.rates', 'load.rates is a non-empty list of rates above 0 (req/s)', rates);
    else load = { kind: 'rates', rates: [...new Set(rates as number[])] };
  } else {
    const s = l['search'];
    if (!isPlainObject(s)) bad('load.search', 'load.search is a map {start, target_goodput, precision, max, max_steps}', s);
    else {
      const allowed = ['start', 'target_goodput', 'precision', 'max', 'max_steps'];
      for (const k of Object.keys(s)) if (!allowed.includes(k)) issues.push({ ...issue('FG_SWEEP_UNKNOWN_KEY', file, `load.search.${k}`, `unknown key "${k}"`), allowed: allowed.join(', ') });
      const start = s['start'];
      const target = s['target_goodput'] ?? DEFAULT_SEARCH.targetGoodput;
      const precision = s['precision'] ?? DEFAULT_SEARCH.precision;
      const max = s['max'] ?? 1024;
      const maxSteps = s['max_steps'] ?? DEFAULT_SEARCH.maxSteps;
      let ok = true;
      if (!isPositive(start)) (bad('load.search.start', 'load.search.start is a rate above 0 (req/s)', start), (ok = false));
      if (typeof target !== 'number' || !(target > 0 && target <= 1)) (bad('load.search.target_goodput', 'target_goodput is a fraction in (0, 1]', target), (ok = false));
      if (typeof precision !== 'number' || !(precision > 0 && precision < 1)) (bad('load.search.precision', 'precision is a relative precision in (0, 1), e.g. 0.05', precision), (ok = false));
      if (!isPositive(max) || (isPositive(start) && max < start)) (bad('load.search.max', 'max is a rate at or above start', max), (ok = false));
      if (typeof maxSteps !== 'number' || !Number.isInteger(maxSteps) || maxSteps < 2) (bad('load.search.max_steps', 'max_steps is an integer >= 2', maxSteps), (ok = false));
      if (ok) load = { kind: 'search', start: start as number, targetGoodput: target as number, precision: precision as number, max: max as number, maxSteps: maxSteps as number };
    }
  }

  // Stack and matrix.
  const stackFile = raw['stack'] === undefined ? DEFAULT_STACK_FILE : typeof raw['stack'] === 'string' ? path.resolve(baseDir, raw['stack']) : '';
  let stackText = '';
  if (stackFile === '') bad('stack', 'stack is the path of a stack file', raw['stack']);
  else {
    try {
      stackText = fs.readFileSync(stackFile, 'utf8');
    } catch {
      issues.push(issue('FG_SWEEP_NOT_FOUND', file, 'stack', `stack file "${String(raw['stack'])}" cannot be read`));
    }
  }
  const matrix: Array<{ path: string; values: unknown[] }> = [];
  const m = raw['matrix'];
  if (m !== undefined && !isPlainObject(m)) bad('matrix', 'matrix is a map {<dotted stack path>: [values..]}', m);
  else if (m) {
    for (const [p, values] of Object.entries(m)) {
      if (!parseOverridePath(p)) {
        issues.push({ ...issue('FG_SWEEP_MATRIX_PATH', file, `matrix.${p}`, `"${p}" is not a dotted path like workers[0].sim.max_num_seqs`), value: p });
        continue;
      }
      if (!Array.isArray(values) || values.length === 0) bad(`matrix.${p}`, `matrix.${p} is a non-empty list of values`, values);
      else matrix.push({ path: p, values });
    }
  }

  if (issues.length > 0) throw new ConfigError(issues);

  // The scenario, validated once with a placeholder target and the sweep's stage.
  try {
    scenario = parseScenario(scenarioText, scenarioFile, { overrides: scenarioOverrides({ url: 'http://127.0.0.1:9/v1', apiKey: 'placeholder', rate: 1, durationMs, timeScale: 1 }), env: { ...process.env, FLOODGATE_API_KEY: process.env['FLOODGATE_API_KEY'] ?? 'placeholder' } });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    throw new ConfigError(e.issues.map((i) => ({ ...i, code: 'FG_SWEEP_SCENARIO_INVALID', message: `scenario: ${i.code} ${i.message}` })));
  }
  if (scenario.workload.conversation !== undefined || scenario.workload.trace !== undefined) {
    throw new ConfigError([issue('FG_SWEEP_SCENARIO_INVALID', file, 'scenario', 'a sweep needs an open-loop scenario (no workload.conversation or workload.trace): it sets the rate')]);
  }

  const cells = expandMatrix(matrix).map((values) => buildCell(file, stackFile, stackText, values));
  const cellIssues = cells.flatMap((c) => ('issues' in c ? c.issues : []));
  if (cellIssues.length > 0) throw new ConfigError(cellIssues);
  return {
    name: name!,
    description,
    file,
    scenarioFile,
    scenarioText,
    scenario,
    stackFile,
    matrix,
    cells: cells as SweepCell[],
    load: load!,
    durationMs,
    timeScale,
    gpuHour,
  };
}

/** The cartesian product of the matrix, the first path outermost; one empty cell for no matrix. */
export function expandMatrix(matrix: ReadonlyArray<{ path: string; values: readonly unknown[] }>): Array<Record<string, unknown>> {
  let out: Array<Record<string, unknown>> = [{}];
  for (const { path: p, values } of matrix) out = out.flatMap((cell) => values.map((v) => ({ ...cell, [p]: v })));
  return out;
}

/** Stable cell id: a readable slug of the values plus 8 hex digits of their hash. */
export function cellId(values: Record<string, unknown>): string {
  const entries = Object.entries(values);
  if (entries.length === 0) return 'base';
  const slug = entries
    .map(([p, v]) => `${p.split('.').pop()!.replace(/\[\d+\]/g, '')}-${typeof v === 'object' ? 'x' : String(v)}`)
    .join('_')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .slice(0, 80);
  const hash = createHash('sha256').update(JSON.stringify(entries)).digest('hex').slice(0, 8);
  return `${slug}-${hash}`;
}

/** The stack text with `values` set by dotted path; issues when a path does not exist in the stack file. */
export function applyStackValues(stackText: string, values: Record<string, unknown>, sweepFile: string): { text: string; issues: ConfigIssue[] } {
  const doc = parseDocument(stackText);
  const issues: ConfigIssue[] = [];
  for (const [p, v] of Object.entries(values)) {
    const segs = parseOverridePath(p)!;
    const parentSegs = segs.slice(0, -1);
    const parent = parentSegs.length === 0 ? doc.contents : doc.getIn(parentSegs, true);
    const last = segs[segs.length - 1]!;
    const fits = typeof last === 'number' ? isSeq(parent) && last < parent.items.length : isMap(parent);
    if (!fits) {
      issues.push({ ...issue('FG_SWEEP_MATRIX_PATH', sweepFile, `matrix.${p}`, `"${p}" does not exist in the stack file (its parent "${parentSegs.join('.') || '<document>'}" is not ${typeof last === 'number' ? 'a list that long' : 'a map'})`), value: p });
      continue;
    }
    doc.setIn(segs, doc.createNode(v));
  }
  return { text: String(doc), issues };
}

function buildCell(sweepFile: string, stackFile: string, stackText: string, values: Record<string, unknown>): SweepCell | { issues: ConfigIssue[] } {
  const id = cellId(values);
  const { text, issues } = applyStackValues(stackText, values, sweepFile);
  if (issues.length > 0) return { issues };
  try {
    const stack = parseStack(text, stackFile);
    return { id, values, stackText: text, stack, gpus: countGpus(stack) };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const desc = Object.entries(values).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ');
    return {
      issues: e.issues.map((i) => ({ ...i, code: 'FG_SWEEP_INVALID_CELL', file: sweepFile, line: 0, col: 0, path: 'matrix', message: `cell ${desc} makes an invalid stack: ${i.code} ${i.path}: ${i.message}` })),
    };
  }
}

/** GPUs of a stack's simulated workers: tensor_parallel_size each (1 when unset). */
export function countGpus(stack: StackConfig): number {
  let n = 0;
  for (const w of stack.workers) {
    if (w.kind !== 'sim') continue;
    const tp = (w.sim as { tensorParallelSize?: number }).tensorParallelSize;
    n += typeof tp === 'number' && tp > 0 ? tp : 1;
  }
  return n;
}

/**
 * Overrides that turn the scenario into one measurement: against `url` with `apiKey`, one
 * constant-rate stage, no warmup/cooldown, no thresholds, no embedded stack. `timeScale`: the
 * stack runs that many times faster, so the stage is sent at rate * timeScale for
 * duration / timeScale and the SLO is divided by it (figures are scaled back by the caller).
 */
export function scenarioOverrides(o: { url: string; apiKey: string; rate: number; durationMs: number; timeScale: number; slo?: Scenario['slo'] }): Record<string, unknown> {
  const k = o.timeScale;
  const ms = (v: number): string => `${+(v / k).toFixed(3)}ms`;
  const out: Record<string, unknown> = {
    'target.url': o.url,
    'target.api_key': o.apiKey,
    stack: '',
    'load.stages': [{ name: 'sweep', duration: ms(o.durationMs), rate: o.rate * k }],
    'load.warmup': '0',
    'load.cooldown': '0',
    'load.drain': ms(Math.max(o.durationMs, 10_000)),
    thresholds: [],
  };
  if (o.slo) {
    if (o.slo.ttftMs !== undefined) out['slo.ttft'] = ms(o.slo.ttftMs);
    if (o.slo.tpotMs !== undefined) out['slo.tpot'] = ms(o.slo.tpotMs);
    if (o.slo.itlMs !== undefined) out['slo.itl'] = ms(o.slo.itlMs);
    if (o.slo.e2eMs !== undefined) out['slo.e2e'] = ms(o.slo.e2eMs);
  }
  return out;
}

function issue(code: string, file: string, p: string, message: string): ConfigIssue {
  return { code, file, line: 0, col: 0, path: p, message };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isPositive(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0;
}
