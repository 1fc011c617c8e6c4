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
 *   zip:                                      # named axes whose paths move together
 *     precision:
 *       workers[0].sim.quantization: [bf16, fp8]
 *       workers[0].sim.kv_cache_dtype: [auto, fp8]
 *   load: {rates: [2, 4, 8], target_goodput: 0.9}   # or {search: {start: 2, target_goodput: 0.9, precision: 0.05, max: 256}}
 *   cell: {duration: 20s, time_scale: 10}
 *   price: {gpu_hour: 2.5}
 *   deploy:                                   # optional: a real deployment instead of the simulated stack
 *     apply: ./apply-vllm.sh                  # run per cell with FLOODGATE_CELL_* in its environment
 *     ready: curl -fsS http://gpu-box:8000/health
 *     target: {url: http://gpu-box:8080/v1, api_key: ${FLOODGATE_API_KEY}}
 *
 * docs/sweeps.md is the reference.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { ConfigError, type ConfigIssue } from '../errors.ts';
import { looksLikeSweep } from './sweep-detect.ts';
import { parseOverridePath } from '../scenario/scenario-overrides.ts';
import { parseScenario } from '../scenario/load-scenario.ts';
import { parseDuration } from '../util/duration.ts';
import { parseStack } from '../../reference-stack/stack/load-stack.ts';
import { DEFAULT_STACK_FILE } from '../../reference-stack/stack/start-stack.ts';
import type { StackConfig } from '../../reference-stack/stack/stack-types.ts';
import type { Scenario } from '../scenario/scenario-types.ts';

export const SWEEP_KEYS = ['name', 'description', 'scenario', 'stack', 'matrix', 'zip', 'load', 'cell', 'price', 'deploy'] as const;

export type SweepLoad =
  | { kind: 'rates'; rates: number[]; targetGoodput: number }
  | { kind: 'search'; start: number; targetGoodput: number; precision: number; max: number; maxSteps: number };

/**
 * A real deployment measured instead of the simulated stack: `apply` (a shell command) makes the
 * deployment match a cell (it gets the cell's stack file and values in FLOODGATE_CELL_* variables),
 * `ready` is polled until it exits 0, then the measurement is sent to `target`.
 */
export interface SweepDeploy {
  apply: string;
  ready: string | null;
  teardown: string | null;
  url: string;
  apiKey: string;
  readyTimeoutMs: number;
  readyIntervalMs: number;
  /** Longest an apply or teardown command may run. */
  commandTimeoutMs: number;
  /** Apply once per cell (default) or before every measurement. */
  per: 'cell' | 'measurement';
  /** Working directory of the commands: the sweep file's folder. */
  cwd: string;
}

/** One axis of the cartesian product: a matrix path, or a zip group (several paths moving together). */
export interface SweepAxis {
  /** The matrix path, or the zip group's name. */
  name: string;
  kind: 'path' | 'zip';
  /** Per value of the axis: the stack paths it sets. */
  values: Array<Record<string, unknown>>;
}

export interface SweepCell {
  /** Stable id: a slug of the values plus a short hash of them. */
  id: string;
  /** The cell's value of every swept stack path, in file order. */
  values: Record<string, unknown>;
  /** One label per axis (matrix path or zip group name), for ids and reports. */
  labels: Record<string, unknown>;
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
  /** Every axis of the product in file order: matrix paths first, then zip groups. */
  axes: SweepAxis[];
  cells: SweepCell[];
  load: SweepLoad;
  /** Simulated-world duration of one measurement, ms. */
  durationMs: number;
  timeScale: number;
  gpuHour: number | null;
  deploy: SweepDeploy | null;
}

/** Whether `file` is a sweep file (looksLikeSweep); false for anything unreadable (the loader then says why). */
export function isSweepFile(file: string): boolean {
  try {
    return looksLikeSweep(parseDocument(fs.readFileSync(file, 'utf8')).toJS());
  } catch {
    return false;
  }
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
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = lineCounter.linePos(e.pos[0]);
    throw new ConfigError([{ code: 'FG_SWEEP_YAML_SYNTAX', file, line: pos.line, col: pos.col, path: '', message: `not valid YAML: ${e.message.split('\n')[0]}` }]);
  }
  const issues: ConfigIssue[] = [];
  const at = (segs: Array<string | number>): { line: number; col: number } => locate(doc, lineCounter, segs);
  const issue = (code: string, segs: Array<string | number>, message: string, extra: { value?: unknown; allowed?: string } = {}): void => {
    issues.push({ code, file, ...at(segs), path: pathText(segs), message, ...(extra.value !== undefined ? { value: extra.value } : {}), ...(extra.allowed ? { allowed: extra.allowed } : {}) });
  };
  const bad = (segs: Array<string | number>, message: string, value?: unknown, allowed?: string): void => issue('FG_SWEEP_BAD_VALUE', segs, message, { value, ...(allowed ? { allowed } : {}) });
  const unknownKeys = (obj: Record<string, unknown>, segs: string[], allowed: readonly string[]): void => {
    for (const k of Object.keys(obj)) if (!allowed.includes(k)) issue('FG_SWEEP_UNKNOWN_KEY', [...segs, k], `unknown key "${k}"`, { value: k, allowed: allowed.join(', ') });
  };
  const raw: unknown = doc.toJS();
  if (!isPlainObject(raw)) throw new ConfigError([{ code: 'FG_SWEEP_BAD_VALUE', file, line: 1, col: 1, path: '', message: 'a sweep file is a map with name, scenario, matrix (or zip) and load' }]);
  unknownKeys(raw, [], SWEEP_KEYS);
  const baseDir = path.dirname(path.resolve(file));
  const name = typeof raw['name'] === 'string' && /^[A-Za-z0-9._-]+$/.test(raw['name']) ? raw['name'] : undefined;
  if (name === undefined) bad(['name'], 'name is required: letters, digits, ".", "_" and "-"', raw['name']);
  const description = typeof raw['description'] === 'string' ? raw['description'] : null;

  // Scenario.
  let scenarioFile = '';
  let scenarioText = '';
  let scenario: Scenario | undefined;
  if (typeof raw['scenario'] !== 'string' || raw['scenario'] === '') bad(['scenario'], 'scenario is required: the path of a scenario file (relative to the sweep file)', raw['scenario']);
  else {
    scenarioFile = path.resolve(baseDir, raw['scenario']);
    try {
      scenarioText = fs.readFileSync(scenarioFile, 'utf8');
    } catch {
      issue('FG_SWEEP_NOT_FOUND', ['scenario'], `scenario file "${raw['scenario']}" cannot be read (looked for ${scenarioFile})`, { value: raw['scenario'] });
    }
  }

  // Cell and price.
  const cell = raw['cell'] ?? {};
  let durationMs = 20_000;
  let timeScale: number | undefined;
  if (!isPlainObject(cell)) bad(['cell'], 'cell is a map {duration, time_scale}', cell);
  else {
    unknownKeys(cell, ['cell'], ['duration', 'time_scale']);
    if (cell['duration'] !== undefined) {
      const d = parseDuration(cell['duration']);
      if (d === undefined || d <= 0) bad(['cell', 'duration'], 'cell.duration is a duration above 0, e.g. 20s', cell['duration']);
      else durationMs = d;
    }
    if (cell['time_scale'] !== undefined) {
      if (!isPositive(cell['time_scale'])) bad(['cell', 'time_scale'], 'cell.time_scale is a number above 0', cell['time_scale']);
      else timeScale = cell['time_scale'];
    }
  }
  let gpuHour: number | null = null;
  const price = raw['price'];
  if (price !== undefined) {
    if (!isPlainObject(price) || !isPositive(price['gpu_hour'])) bad(['price', 'gpu_hour'], 'price is {gpu_hour: <price of one GPU per hour>}', isPlainObject(price) ? price['gpu_hour'] : price);
    else unknownKeys(price, ['price'], ['gpu_hour']), (gpuHour = price['gpu_hour']);
  }

  // Load axis.
  let load: SweepLoad | undefined;
  const l = raw['load'];
  const checkTarget = (segs: string[], v: unknown): v is number => {
    if (typeof v === 'number' && v > 0 && v <= 1) return true;
    bad(segs, 'target_goodput is a fraction in (0, 1]: the share of requests that must meet the SLO', v);
    return false;
  };
  if (!isPlainObject(l) || (l['rates'] === undefined) === (l['search'] === undefined)) {
    bad(['load'], 'load is either {rates: [..], target_goodput} or {search: {start, target_goodput, precision, max}}', l);
  } else if (l['rates'] !== undefined) {
    unknownKeys(l, ['load'], ['rates', 'target_goodput']);
    const rates = l['rates'];
    const target = l['target_goodput'] ?? DEFAULT_SEARCH.targetGoodput;
    if (!Array.isArray(rates) || rates.length === 0 || !rates.every(isPositive)) bad(['load', 'rates'], 'load.rates is a non-empty list of rates above 0 (req/s)', rates);
    else if (checkTarget(['load', 'target_goodput'], target)) load = { kind: 'rates', rates: [...new Set(rates as number[])], targetGoodput: target };
  } else {
    unknownKeys(l, ['load'], ['search']);
    const s = l['search'];
    if (!isPlainObject(s)) bad(['load', 'search'], 'load.search is a map {start, target_goodput, precision, max, max_steps}', s);
    else {
      unknownKeys(s, ['load', 'search'], ['start', 'target_goodput', 'precision', 'max', 'max_steps']);
      const start = s['start'];
      const target = s['target_goodput'] ?? DEFAULT_SEARCH.targetGoodput;
      const precision = s['precision'] ?? DEFAULT_SEARCH.precision;
      const max = s['max'] ?? 1024;
      const maxSteps = s['max_steps'] ?? DEFAULT_SEARCH.maxSteps;
      let ok = true;
      const no = (segs: string[], message: string, v: unknown): void => (bad(['load', 'search', ...segs], message, v), void (ok = false));
      if (!isPositive(start)) no(['start'], 'load.search.start is a rate above 0 (req/s)', start);
      if (!checkTarget(['load', 'search', 'target_goodput'], target)) ok = false;
      if (typeof precision !== 'number' || !(precision > 0 && precision < 1)) no(['precision'], 'precision is a relative precision in (0, 1), e.g. 0.05', precision);
      if (!isPositive(max) || (isPositive(start) && max < start)) no(['max'], 'max is a rate at or above start', max);
      if (typeof maxSteps !== 'number' || !Number.isInteger(maxSteps) || maxSteps < 2) no(['max_steps'], 'max_steps is an integer >= 2', maxSteps);
      if (ok) load = { kind: 'search', start: start as number, targetGoodput: target as number, precision: precision as number, max: max as number, maxSteps: maxSteps as number };
    }
  }

  // A real deployment, or the simulated stack.
  const deploy = raw['deploy'] === undefined ? null : parseDeploy(raw['deploy'], baseDir, bad, unknownKeys);
  if (deploy !== null && timeScale !== undefined && timeScale !== 1) bad(['cell', 'time_scale'], 'cell.time_scale applies to the simulated stack only: a real deployment runs at its own speed (remove it, or set 1)', timeScale);

  // Stack and axes.
  const stackFile = raw['stack'] === undefined ? DEFAULT_STACK_FILE : typeof raw['stack'] === 'string' ? path.resolve(baseDir, raw['stack']) : '';
  let stackText = '';
  if (stackFile === '') bad(['stack'], 'stack is the path of a stack file (relative to the sweep file)', raw['stack']);
  else {
    try {
      stackText = fs.readFileSync(stackFile, 'utf8');
    } catch {
      issue('FG_SWEEP_NOT_FOUND', ['stack'], `stack file "${String(raw['stack'])}" cannot be read (looked for ${stackFile})`, { value: raw['stack'] });
    }
  }
  const matrix: Array<{ path: string; values: unknown[] }> = [];
  const axes: SweepAxis[] = [];
  const checkPath = (segs: Array<string | number>, p: string): boolean => {
    if (parseOverridePath(p)) return true;
    issue('FG_SWEEP_MATRIX_PATH', segs, `"${p}" is not a dotted path like workers[0].sim.max_num_seqs`, { value: p, allowed: 'key.key[index].key' });
    return false;
  };
  const m = raw['matrix'];
  if (m !== undefined && !isPlainObject(m)) bad(['matrix'], 'matrix is a map {<dotted stack path>: [values..]}', m);
  else if (m) {
    for (const [p, values] of Object.entries(m)) {
      if (!checkPath(['matrix', p], p)) continue;
      if (!Array.isArray(values) || values.length === 0) bad(['matrix', p], `matrix.${p} is a non-empty list of values`, values);
      else {
        matrix.push({ path: p, values });
        axes.push({ name: p, kind: 'path', values: values.map((v) => ({ [p]: v })) });
      }
    }
  }
  const z = raw['zip'];
  if (z !== undefined && !isPlainObject(z)) bad(['zip'], 'zip is a map {<group name>: {<dotted stack path>: [values..], ..}}: the i-th values of a group go together', z);
  else if (z) {
    for (const [g, group] of Object.entries(z)) {
      if (!/^[A-Za-z0-9_-]+$/.test(g)) bad(['zip', g], 'a zip group name is letters, digits, "_" and "-"', g);
      if (!isPlainObject(group) || Object.keys(group).length === 0) {
        bad(['zip', g], `zip.${g} is a map {<dotted stack path>: [values..]} with lists of one length`, group);
        continue;
      }
      const lists = Object.entries(group);
      const lengths = new Set(lists.map(([, v]) => (Array.isArray(v) ? v.length : -1)));
      let ok = true;
      for (const [p, v] of lists) {
        if (!checkPath(['zip', g, p], p)) ok = false;
        else if (!Array.isArray(v) || v.length === 0) (bad(['zip', g, p], `zip.${g}.${p} is a non-empty list of values`, v), (ok = false));
        else if (axes.some((a) => a.kind === 'path' ? a.name === p : Object.keys(a.values[0] ?? {}).includes(p))) (issue('FG_SWEEP_ZIP', ['zip', g, p], `"${p}" is already swept by another axis: a path belongs to one axis only`, { value: p }), (ok = false));
      }
      if (ok && lengths.size !== 1) {
        issue('FG_SWEEP_ZIP', ['zip', g], `the lists of zip.${g} have different lengths (${lists.map(([p, v]) => `${p}: ${(v as unknown[]).length}`).join(', ')}): the i-th values go together, so they must be equally long`, { value: [...lengths].join(', ') });
        ok = false;
      }
      if (!ok) continue;
      const n = (lists[0]![1] as unknown[]).length;
      axes.push({ name: g, kind: 'zip', values: Array.from({ length: n }, (_, i) => Object.fromEntries(lists.map(([p, v]) => [p, (v as unknown[])[i]]))) });
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
    throw new ConfigError([{ code: 'FG_SWEEP_SCENARIO_INVALID', file, ...at(['scenario']), path: 'scenario', message: 'a sweep needs an open-loop scenario (no workload.conversation or workload.trace): it sets the rate' }]);
  }

  const cells = expandAxes(axes).map((c) => buildCell(file, stackFile, stackText, c, at(['matrix'])));
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
    axes,
    cells: cells as SweepCell[],
    load: load!,
    durationMs,
    timeScale: deploy ? 1 : (timeScale ?? 10),
    gpuHour,
    deploy,
  };
}

function parseDeploy(
  d: unknown,
  baseDir: string,
  bad: (segs: Array<string | number>, message: string, value?: unknown) => void,
  unknownKeys: (obj: Record<string, unknown>, segs: string[], allowed: readonly string[]) => void,
): SweepDeploy | null {
  if (!isPlainObject(d)) {
    bad(['deploy'], 'deploy is a map {apply, ready, teardown, target: {url, api_key}, ready_timeout, ready_interval, command_timeout, per}', d);
    return null;
  }
  unknownKeys(d, ['deploy'], ['apply', 'ready', 'teardown', 'target', 'ready_timeout', 'ready_interval', 'command_timeout', 'per']);
  let ok = true;
  const no = (segs: string[], message: string, v: unknown): void => (bad(['deploy', ...segs], message, v), void (ok = false));
  const command = (k: string, required: boolean): string | null => {
    const v = d[k];
    if (v === undefined && !required) return null;
    if (typeof v !== 'string' || v.trim() === '') return no([k], `deploy.${k} is a shell command${required ? ' (required)' : ''}`, v), null;
    return v;
  };
  const apply = command('apply', true);
  const ready = command('ready', false);
  const teardown = command('teardown', false);
  const duration = (k: string, dflt: number): number => {
    if (d[k] === undefined) return dflt;
    const ms = parseDuration(d[k]);
    if (ms === undefined || ms <= 0) return no([k], `deploy.${k} is a duration above 0, e.g. 10m`, d[k]), dflt;
    return ms;
  };
  const readyTimeoutMs = duration('ready_timeout', 15 * 60_000);
  const readyIntervalMs = duration('ready_interval', 5_000);
  const commandTimeoutMs = duration('command_timeout', 30 * 60_000);
  const per = d['per'] ?? 'cell';
  if (per !== 'cell' && per !== 'measurement') no(['per'], 'deploy.per is "cell" (apply once per cell) or "measurement" (apply before every measurement)', per);
  let url = '';
  let apiKey = '';
  const t = d['target'];
  if (!isPlainObject(t)) no(['target'], 'deploy.target is {url: <base URL with /v1>, api_key: <key, e.g. ${FLOODGATE_API_KEY}>}', t);
  else {
    unknownKeys(t, ['deploy', 'target'], ['url', 'api_key']);
    const u = typeof t['url'] === 'string' ? expandEnv(t['url']) : undefined;
    if (u === undefined || typeof u !== 'string' || !/^https?:\/\/[^\s]+$/.test(u)) no(['target', 'url'], 'deploy.target.url is an http(s) base URL, e.g. http://gpu-box:8080/v1', t['url']);
    else url = u.replace(/\/+$/, '');
    const k = t['api_key'] === undefined ? '${FLOODGATE_API_KEY}' : t['api_key'];
    const key = typeof k === 'string' ? expandEnv(k) : undefined;
    if (typeof key !== 'string') no(['target', 'api_key'], `deploy.target.api_key: ${key === undefined ? 'is a string' : `environment variable ${key.missing} is not set`}`, typeof k === 'string' ? k : '(not a string)');
    else apiKey = key;
  }
  if (!ok || apply === null) return null;
  return { apply, ready, teardown, url, apiKey, readyTimeoutMs, readyIntervalMs, commandTimeoutMs, per: per as 'cell' | 'measurement', cwd: baseDir };
}

/** `${VAR}` from the environment; the first missing variable when one is not set. */
function expandEnv(s: string): string | { missing: string } {
  let missing: string | undefined;
  const out = s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, v: string) => {
    const val = process.env[v];
    if (val === undefined) missing ??= v;
    return val ?? '';
  });
  return missing === undefined ? out : { missing };
}

/** Line and column of the key at `segs` (or of the node, or of its nearest existing parent). */
function locate(doc: Document, lc: LineCounter, segs: Array<string | number>): { line: number; col: number } {
  for (let n = segs.length; n >= 0; n--) {
    const parent = n <= 1 ? doc.contents : doc.getIn(segs.slice(0, n - 1), true);
    if (n > 0 && isMap(parent)) {
      const pair = parent.items.find((p) => (p.key as { value?: unknown } | null)?.value === segs[n - 1]);
      const range = (pair?.key as { range?: [number, number, number] } | null)?.range;
      if (range) return lc.linePos(range[0]);
    }
    const node = n === 0 ? doc.contents : doc.getIn(segs.slice(0, n), true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range) return lc.linePos(range[0]);
  }
  return { line: 1, col: 1 };
}

function pathText(segs: Array<string | number>): string {
  return segs.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

/** The cartesian product of the matrix, the first path outermost; one empty cell for no matrix. */
export function expandMatrix(matrix: ReadonlyArray<{ path: string; values: readonly unknown[] }>): Array<Record<string, unknown>> {
  return expandAxes(matrix.map((m) => ({ name: m.path, kind: 'path' as const, values: m.values.map((v) => ({ [m.path]: v })) }))).map((c) => c.values);
}

/**
 * The cartesian product of the axes (matrix paths, then zip groups), the first axis outermost:
 * per cell, the stack paths it sets and one label per axis (a path's value; a zip group's values
 * joined by "+").
 */
export function expandAxes(axes: readonly SweepAxis[]): Array<{ values: Record<string, unknown>; labels: Record<string, unknown> }> {
  let out: Array<{ values: Record<string, unknown>; labels: Record<string, unknown> }> = [{ values: {}, labels: {} }];
  for (const axis of axes) {
    out = out.flatMap((cell) =>
      axis.values.map((set) => ({
        values: { ...cell.values, ...set },
        labels: { ...cell.labels, [axis.name]: axis.kind === 'path' ? set[axis.name] : Object.values(set).map(labelOf).join('+') },
      })),
    );
  }
  return out;
}

function labelOf(v: unknown): string {
  return v === null ? 'null' : typeof v === 'object' ? (Array.isArray(v) ? `${v.length}` : 'x') : String(v);
}

/**
 * Stable cell id: a readable slug of the axis labels plus 8 hex digits of their hash. A list
 * value (e.g. a whole `workers` list) reads as its length.
 */
export function cellId(labels: Record<string, unknown>): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return 'base';
  const slug = entries
    .map(([p, v]) => `${p.split('.').pop()!.replace(/\[\d+\]/g, '')}-${labelOf(v)}`)
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

function buildCell(
  sweepFile: string,
  stackFile: string,
  stackText: string,
  c: { values: Record<string, unknown>; labels: Record<string, unknown> },
  pos: { line: number; col: number },
): SweepCell | { issues: ConfigIssue[] } {
  const { values, labels } = c;
  const id = cellId(labels);
  const { text, issues } = applyStackValues(stackText, values, sweepFile);
  if (issues.length > 0) return { issues: issues.map((i) => ({ ...i, ...pos })) };
  try {
    const stack = parseStack(text, stackFile);
    return { id, values, labels, stackText: text, stack, gpus: countGpus(stack) };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const desc = Object.entries(values).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ');
    return {
      issues: e.issues.map((i) => ({ ...i, code: 'FG_SWEEP_INVALID_CELL', file: sweepFile, ...pos, path: 'matrix', message: `cell ${desc} makes an invalid stack: ${i.code} ${i.path}: ${i.message}` })),
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
    // About 20 server samples per measurement (50 ms to 1 s apart in wall time).
    'observe.interval': `${Math.round(Math.min(1000, Math.max(50, o.durationMs / k / 20)))}ms`,
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
