/**
 * `workload.trace`: replaying a trace file (docs/scenarios.md, "Replaying a trace"). Validates
 * the block (keys, types, ranges, which options fit which format), then, once `load` is read,
 * reads the trace at load time so that bad rows are reported before any traffic, at the trace
 * file's own line and column (FG_TRACE_BAD_ROW, ...). The read result is kept on the scenario
 * (`workload.trace.loaded`): the plan does not parse the file again.
 *
 * What still applies with a trace:
 * - `workload.prompt_tokens` / `output_tokens`: not allowed (FG_SCENARIO_CONFLICT): lengths come
 *   from the trace. The Scenario's promptTokens/outputTokens are set to the empirical
 *   distributions of the replayed requests' lengths (for reports and trace-unaware code).
 * - A trace with times replays open loop on its own clock. `load` and `load.stages` are optional;
 *   stages give only `duration` (and `name`): their total cuts the replay, and they name windows
 *   of it for per-stage results. `rate`, `users`, `ramp`, `think_time`, `arrival` and
 *   `burstiness` conflict. Each stage's rateRps is set to the trace's mean rate in its window.
 *   Without stages, one stage `trace` lasting just past the last request is made.
 * - A trace without times, `no_timestamps: closed_loop` (default): stages are required and take
 *   `users` (and `ramp`, `think_time`); each user sends the trace's next row when its last ends.
 *   `all_at_once`: stages (duration only) are required; every row is due at time 0.
 * - `max_in_flight`, `on_max_in_flight`, `warmup`, `cooldown`, `drain` apply as usual.
 * - `sessions: conversation` (with `history`): each session replayed as a conversation; needs
 *   session ids (a mapped fields.session or burstgpt, and at least one row with one), times,
 *   rate_scale 1 and the chat endpoint (checkTraceSessions), else FG_SCENARIO_CONFLICT.
 */

import { statSync } from 'node:fs';
import { isMap, isScalar, type YAMLMap } from 'yaml';
import { ConfigError } from '../errors.ts';
import { readTrace, traceFilePath } from '../workload/traces/index.ts';
import { TIME_UNITS, TRACE_DEFAULTS, TRACE_FORMATS, type TraceConfig, type TraceFieldMap } from '../workload/traces/trace-config.ts';
import type { LengthDist, LoadConfig, OpenStage, Stage, TargetConfig, WorkloadConfig } from './scenario-types.ts';
import { describe, formatMs, MapView, scalarValue, type NodeReader } from './yaml-node-reader.ts';
import { whyUnreadable } from '../util/file-errors.ts';

export const TRACE_KEYS = [
  'format', 'file', 'from', 'to', 'speed', 'rate_scale', 'duplicates', 'loop',
  'failed_rows', 'models', 'unmapped', 'no_timestamps', 'block_tokens', 'fields', 'sessions', 'history',
] as const;
export const TRACE_FIELD_KEYS = ['time', 'time_unit', 'input_tokens', 'output_tokens', 'session', 'model', 'tenant'] as const;

/** How the plan replays the trace: on its times, or (no times) closed loop / all at once. */
export type TraceMode = 'timed' | 'closed_loop' | 'all_at_once';

/** The block as validated, before the file is read. */
export interface TraceBlock {
  /** Undefined when the block has problems (reported). */
  config: TraceConfig | undefined;
  mode: TraceMode;
  /** `loop: true`: loop until the stages end. */
  loopUntilStages: boolean;
  map: MapView;
}

const LOOP_ALLOWED = 'an integer >= 1 (passes), a duration (loop until then, e.g. 1h), or true (loop until the stages end)';

/** Read `workload.trace` (undefined when the workload has none). */
export function readTraceBlock(workload: MapView, seed: number, baseDir: string): TraceBlock | undefined {
  if (!workload.has('trace')) return undefined;
  const r = workload.r;
  const m = workload.map('trace');
  if (!m) return { config: undefined, mode: 'timed', loopUntilStages: false, map: new MapView(r, emptyMap(workload), workload.pathOf('trace')) };
  const start = r.issues.length;
  m.checkKeys(TRACE_KEYS);
  const format = m.oneOf('format', TRACE_FORMATS);
  if (!m.has('format')) m.missing('format', '"format" is required', TRACE_FORMATS.join(', '));
  const file = m.str('file', true);
  if (file !== undefined && file.trim() === '') m.missing('file', '"file" must not be empty', 'a path to the trace file, relative to the scenario');
  else if (file !== undefined) {
    const path = traceFilePath({ file }, baseDir);
    let why: string | undefined;
    try {
      const st = statSync(path);
      if (!st.isFile()) why = 'is not a file';
    } catch (err) {
      why = whyUnreadable(err);
    }
    if (why) r.report('FG_SCENARIO_TRACE_FILE', m.get('file'), m.pathOf('file'), `trace file "${path}" ${why}`, { value: file, allowed: 'a readable trace file (relative to the scenario\'s folder, or absolute)' });
  }

  // fields (csv/jsonl) and whether the rows have times.
  const mapped = format === 'csv' || format === 'jsonl';
  let fields: TraceFieldMap | undefined;
  if (m.has('fields') && format !== undefined && !mapped) {
    r.report('FG_SCENARIO_CONFLICT', m.keyNode('fields'), m.pathOf('fields'), `fields applies to format csv or jsonl; ${format} has fixed columns`, { allowed: 'remove fields, or use format: csv / jsonl' });
  } else if (mapped) {
    const fm = m.map('fields');
    if (!m.has('fields')) m.missing('fields', `a ${format} trace needs fields: which column or key holds the time and the token counts`, 'fields: {time, time_unit, input_tokens, output_tokens, session, model, tenant}');
    if (fm) fields = readFields(fm);
  }
  const timed = !mapped || (fields ? fields.time !== undefined : hasKey(m, 'fields', 'time'));
  const noTimestamps = m.oneOf('no_timestamps', ['closed_loop', 'all_at_once'] as const);
  if (m.has('no_timestamps') && format !== undefined && timed) {
    r.report('FG_SCENARIO_CONFLICT', m.keyNode('no_timestamps'), m.pathOf('no_timestamps'), `no_timestamps applies to a trace without times; this ${format} trace has them${mapped ? ' (fields.time)' : ''}`, { allowed: 'remove no_timestamps, or fields.time' });
  }
  const mode: TraceMode = timed ? 'timed' : noTimestamps ?? 'closed_loop';

  // Time options.
  const fromMs = m.duration('from');
  const toMs = m.duration('to', { positive: true });
  const speed = m.num('speed', { min: 0, minExclusive: true });
  for (const key of ['from', 'to', 'speed'] as const) {
    if (m.has(key) && !timed) r.report('FG_SCENARIO_CONFLICT', m.keyNode(key), m.pathOf(key), `${key} applies to a trace with times; this one has none (no fields.time)`, { allowed: `remove ${key}, or map fields.time` });
  }
  if (fromMs !== undefined && toMs !== undefined && toMs <= fromMs) {
    r.report('FG_SCENARIO_BAD_VALUE', m.get('to'), m.pathOf('to'), `to (${formatMs(toMs)}) is not after from (${formatMs(fromMs)})`, { value: formatMs(toMs), allowed: `a duration > ${formatMs(fromMs)} (from)` });
  }
  const rateScale = m.num('rate_scale', { min: 0, minExclusive: true, max: 1000 });
  const duplicates = m.oneOf('duplicates', ['spread', 'same_time'] as const);

  let loop: TraceConfig['loop'] | undefined;
  let loopUntilStages = false;
  const loopNode = m.get('loop');
  if (loopNode !== undefined) {
    const path = m.pathOf('loop');
    const v = isScalar(loopNode) ? loopNode.value : undefined;
    if (typeof v === 'number') loop = r.num(loopNode, path, { integer: true, min: 1 });
    else if (v === true) loopUntilStages = true;
    else if (typeof v === 'string') {
      const ms = r.duration(loopNode, path, { positive: true });
      if (ms !== undefined) loop = { untilMs: ms };
    } else r.report(v === false ? 'FG_SCENARIO_BAD_VALUE' : 'FG_SCENARIO_TYPE', loopNode, path, `expected ${LOOP_ALLOWED}, got ${describe(loopNode)}`, { value: scalarValue(loopNode), allowed: LOOP_ALLOWED });
    if (!timed && (typeof v === 'string' || v === true)) {
      r.report('FG_SCENARIO_CONFLICT', loopNode, path, 'looping until a time needs a trace with times; give a number of passes', { value: v, allowed: 'an integer >= 1' });
    }
  }

  const failedRows = m.oneOf('failed_rows', ['drop', 'keep'] as const);
  const hasModelField = format === 'burstgpt' || (mapped && (fields?.model !== undefined || hasKey(m, 'fields', 'model')));
  const models = readModels(m, format, hasModelField);
  const unmapped = m.oneOf('unmapped', ['error', 'drop', 'keep'] as const);
  if (m.has('unmapped') && !m.has('models')) {
    r.report('FG_SCENARIO_CONFLICT', m.keyNode('unmapped'), m.pathOf('unmapped'), 'unmapped applies only with models (a map of the trace\'s model names to the target\'s)', { allowed: 'add models, or remove unmapped' });
  }
  const blockTokens = m.num('block_tokens', { integer: true, min: 1 });
  if (m.has('block_tokens') && format !== undefined && format !== 'mooncake') {
    r.report('FG_SCENARIO_CONFLICT', m.keyNode('block_tokens'), m.pathOf('block_tokens'), `block_tokens applies to mooncake traces (hash_ids); this is ${format}`, { allowed: 'remove block_tokens, or use format: mooncake' });
  }

  // Sessions as conversations (docs/scenarios.md, "Sessions as conversations").
  const sessions = m.oneOf('sessions', ['requests', 'conversation'] as const);
  const history = m.oneOf('history', ['included', 'excluded'] as const);
  if (m.has('history') && sessions !== 'conversation') {
    r.report('FG_SCENARIO_CONFLICT', m.keyNode('history'), m.pathOf('history'), 'history applies only with sessions: conversation (it says what a later turn\'s input length counts)', { allowed: 'add sessions: conversation, or remove history' });
  }
  if (sessions === 'conversation' && format !== undefined) {
    const hasSession = format === 'burstgpt' || (mapped && (fields?.session !== undefined || hasKey(m, 'fields', 'session')));
    if (!hasSession) {
      r.report('FG_SCENARIO_CONFLICT', m.get('sessions'), m.pathOf('sessions'), `sessions: conversation replays the trace's session ids, and this ${format} trace has none${mapped ? ' (no fields.session)' : ''}`, { value: 'conversation', allowed: mapped ? 'map fields.session, or sessions: requests' : 'sessions: requests (or a trace with session ids: burstgpt, csv, jsonl)' });
    } else if (!timed) {
      r.report('FG_SCENARIO_CONFLICT', m.get('sessions'), m.pathOf('sessions'), 'sessions: conversation needs a trace with times (fields.time): each turn is sent at its own time or after the previous answer', { value: 'conversation', allowed: 'map fields.time, or sessions: requests' });
    }
    if (rateScale !== undefined && rateScale !== 1) {
      r.report('FG_SCENARIO_CONFLICT', m.get('rate_scale'), m.pathOf('rate_scale'), 'rate_scale does not apply with sessions: conversation (a copied row would be an extra turn of its session)', { value: rateScale, allowed: 'remove rate_scale, or sessions: requests' });
    }
  }

  if (r.issues.length > start || format === undefined || file === undefined || (mapped && !fields)) return { config: undefined, mode, loopUntilStages, map: m };
  const config: TraceConfig = {
    format,
    file,
    speed: speed ?? TRACE_DEFAULTS.speed,
    rateScale: rateScale ?? TRACE_DEFAULTS.rateScale,
    duplicates: duplicates ?? TRACE_DEFAULTS.duplicates,
    loop: loop ?? TRACE_DEFAULTS.loop,
    failedRows: failedRows ?? TRACE_DEFAULTS.failedRows,
    unmapped: unmapped ?? TRACE_DEFAULTS.unmapped,
    noTimestamps: noTimestamps ?? TRACE_DEFAULTS.noTimestamps,
    blockTokens: blockTokens ?? TRACE_DEFAULTS.blockTokens,
    seed,
  };
  if (sessions === 'conversation') {
    config.sessions = 'conversation';
    config.history = history ?? TRACE_DEFAULTS.history;
  }
  if (fromMs !== undefined) config.fromMs = fromMs;
  if (toMs !== undefined) config.toMs = toMs;
  if (models) config.models = models;
  if (fields) config.fields = fields;
  return { config, mode, loopUntilStages, map: m };
}

function readFields(m: MapView): TraceFieldMap | undefined {
  m.checkKeys(TRACE_FIELD_KEYS);
  const name = (key: string, required = false): string | undefined => {
    const v = m.str(key, required);
    if (v !== undefined && v.trim() === '') {
      m.missing(key, `"${key}" must not be empty`, 'a column name (CSV header) or key (JSONL)');
      return undefined;
    }
    return v;
  };
  const time = name('time');
  const timeUnit = m.oneOf('time_unit', TIME_UNITS);
  if (m.has('time_unit') && !m.has('time')) {
    m.r.report('FG_SCENARIO_CONFLICT', m.keyNode('time_unit'), m.pathOf('time_unit'), 'time_unit applies only with time', { allowed: 'add time, or remove time_unit' });
  }
  const inputTokens = name('input_tokens', true);
  const outputTokens = name('output_tokens', true);
  const session = name('session');
  const model = name('model');
  const tenant = name('tenant');
  if (inputTokens === undefined || outputTokens === undefined) return undefined;
  const f: TraceFieldMap = { timeUnit: timeUnit ?? TRACE_DEFAULTS.timeUnit, inputTokens, outputTokens };
  if (time !== undefined) f.time = time;
  if (session !== undefined) f.session = session;
  if (model !== undefined) f.model = model;
  if (tenant !== undefined) f.tenant = tenant;
  return f;
}

function readModels(m: MapView, format: string | undefined, hasModelField: boolean): Record<string, string> | undefined {
  if (!m.has('models')) return undefined;
  if (format !== undefined && !hasModelField) {
    m.r.report('FG_SCENARIO_CONFLICT', m.keyNode('models'), m.pathOf('models'), `models maps the trace's model names, and this ${format} trace has none${format === 'csv' || format === 'jsonl' ? ' (no fields.model)' : ''}`, { allowed: 'remove models, or map fields.model' });
    return undefined;
  }
  const mm = m.map('models');
  if (!mm) return undefined;
  const out: Record<string, string> = {};
  let ok = true;
  for (const key of mm.keys()) {
    const v = mm.str(key, true);
    if (v === undefined) ok = false;
    else if (v.trim() === '') {
      mm.missing(key, `the target model for "${key}" must not be empty`, 'a model name the target serves');
      ok = false;
    } else out[key] = v;
  }
  if (mm.keys().length === 0) {
    m.r.report('FG_SCENARIO_BAD_VALUE', mm.node, m.pathOf('models'), 'models is empty', { allowed: 'a map of trace model name -> target model name, e.g. {ChatGPT: llama-3.1-8b}' });
    ok = false;
  }
  return ok ? out : undefined;
}

function hasKey(m: MapView, key: string, sub: string): boolean {
  const n = m.get(key);
  return isMap(n) && n.items.some((p) => isScalar(p.key) && p.key.value === sub);
}

function emptyMap(workload: MapView): YAMLMap {
  return workload.node;
}

/**
 * The stage checks of a trace replay, called by readStage: reports the stage keys that do not
 * apply in `mode`; returns true when the stage needs neither rate nor users (timed, all at once).
 */
export function checkTraceStage(m: MapView, mode: TraceMode): boolean {
  const noKind = mode !== 'closed_loop';
  const banned = noKind ? ['rate', 'users', 'ramp', 'think_time'] : ['rate'];
  for (const key of banned) {
    if (!m.has(key)) continue;
    const why = noKind
      ? mode === 'timed'
        ? `${key} does not apply when a trace is replayed: the trace gives the arrival times (a stage takes duration and name)`
        : `${key} does not apply to an all-at-once replay (a stage takes duration and name)`
      : 'rate does not apply to a closed-loop trace replay: give users';
    m.r.report('FG_SCENARIO_CONFLICT', m.keyNode(key), m.pathOf(key), why, { allowed: noKind ? 'duration, name' : 'users, with ramp and think_time' });
  }
  if (!noKind && !m.has('users') && !m.has('rate')) m.missing('users', 'a closed-loop trace replay needs users (concurrent users sending the trace\'s rows)', 'users');
  return noKind;
}

/**
 * `load.arrival` with a trace: the trace gives the arrivals. (`burstiness` needs
 * `arrival: gamma`, so it is reported already, by that rule or through arrival.)
 */
export function checkTraceLoadKeys(m: MapView): void {
  for (const key of ['arrival']) {
    if (m.has(key)) m.r.report('FG_SCENARIO_CONFLICT', m.keyNode(key), m.pathOf(key), `${key} does not apply when a trace is replayed: the trace gives the arrivals`, { allowed: `remove ${key}` });
  }
}

/**
 * `sessions: conversation` with the rest of the scenario: the completions endpoint has no
 * message history (reported at `sessions`).
 */
export function checkTraceSessions(block: TraceBlock, target: TargetConfig | undefined): void {
  const m = block.map;
  if (block.config?.sessions !== 'conversation' || target === undefined || target.endpoint === 'chat') return;
  m.r.report('FG_SCENARIO_CONFLICT', m.get('sessions'), m.pathOf('sessions'), `sessions: conversation needs target.endpoint: chat (the history is a list of messages); endpoint is ${target.endpoint}`, { value: 'conversation', allowed: 'set target.endpoint: chat, or sessions: requests' });
}

/** `load` when a timed trace's scenario has none: the defaults, stages made from the trace. */
export function defaultTraceLoad(drainMs: number): LoadConfig {
  return { arrival: 'poisson', burstiness: 1, stages: [], maxInFlight: undefined, onMaxInFlight: 'wait', warmupMs: 0, cooldownMs: 0, drainMs };
}

/**
 * Read the trace (once, at load time) and finish the workload and load: the read result on
 * `workload.trace.loaded`, lengths as empirical distributions, stage rates from the trace (or a
 * `trace` stage when none were given). Returns undefined when anything is wrong (reported).
 */
export function applyTrace(r: NodeReader, block: TraceBlock, workload: WorkloadConfig, load: LoadConfig, baseDir: string): { workload: WorkloadConfig; load: LoadConfig } | undefined {
  const config = block.config;
  if (!config) return undefined;
  const m = block.map;
  const stagesMs = load.stages.reduce((s, st) => s + st.durationMs, 0);
  const traced: TraceConfig = { ...config };
  if (load.stages.length > 0) traced.cutMs = stagesMs;
  if (block.loopUntilStages) {
    if (load.stages.length === 0) {
      r.report('FG_SCENARIO_MISSING_FIELD', m.get('loop'), m.pathOf('loop'), 'loop: true loops until the stages end, and load.stages is not given', { allowed: 'give load.stages, or loop: <duration> / <passes>' });
      return undefined;
    }
    traced.loop = { untilMs: stagesMs };
  }
  const start = r.issues.length;
  let loaded;
  try {
    loaded = readTrace(traced, baseDir);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const i of err.issues) {
      if (i.code === 'FG_TRACE_FILE') {
        r.report('FG_SCENARIO_TRACE_FILE', m.get('file'), m.pathOf('file'), i.message, { value: config.file, allowed: i.allowed ?? 'a readable trace file' });
      } else {
        r.report(i.code, { file: i.file, line: i.line, col: i.col }, i.path, i.message, { value: i.value, allowed: i.allowed ?? '' });
      }
    }
    return undefined;
  }
  if (loaded.requests.length === 0) {
    const why = Object.entries(loaded.report.skipped).map(([k, n]) => `${n} ${k}`).join(', ');
    r.report('FG_TRACE_EMPTY', m.node, m.path, `no request of the trace's ${loaded.report.rowsRead} rows is left to send${why ? ` (left out: ${why})` : ''}`, { allowed: 'a window, cut, rate_scale and row filters that keep at least one row' });
  }
  if (config.sessions === 'conversation' && loaded.requests.length > 0 && !loaded.requests.some((q) => q.session !== undefined)) {
    r.report('FG_SCENARIO_CONFLICT', m.get('sessions'), m.pathOf('sessions'), `sessions: conversation, and no row of the trace (${loaded.report.file}) has a session id`, { value: 'conversation', allowed: 'a trace whose rows carry session ids, or sessions: requests' });
  }
  if (r.issues.length > start) return undefined;
  traced.loaded = loaded;

  const inputs = loaded.requests.map((q) => q.inputTokens);
  const outputs = loaded.requests.map((q) => q.outputTokens);
  const empirical = (values: number[]): LengthDist => ({ dist: 'empirical', values, file: loaded.report.file, min: 1, max: Infinity });
  const newWorkload: WorkloadConfig = { ...workload, promptTokens: empirical(inputs), outputTokens: empirical(outputs), trace: traced };

  let stages: Stage[] = [...load.stages];
  if (block.mode === 'timed') {
    if (stages.length === 0) {
      const durationMs = Math.floor(loaded.report.spanMs ?? 0) + 1;
      stages = [{ index: 0, name: 'trace', durationMs, rampMs: 0, kind: 'open', rateRps: (loaded.requests.length * 1000) / durationMs }];
      const w = load.warmupMs;
      const c = load.cooldownMs;
      if (w + c >= durationMs) {
        r.report('FG_SCENARIO_BAD_VALUE', m.node, m.path, `warmup (${formatMs(w)}) + cooldown (${formatMs(c)}) leave nothing of the trace's ${formatMs(durationMs)} to measure`, { value: formatMs(w + c), allowed: `warmup + cooldown < ${formatMs(durationMs)} (the replay's length)` });
        return undefined;
      }
    } else {
      let t0 = 0;
      stages = stages.map((s) => {
        const t1 = t0 + s.durationMs;
        const n = loaded.requests.filter((q) => q.tMs !== null && q.tMs >= t0 && q.tMs < t1).length;
        t0 = t1;
        return s.kind === 'open' ? ({ ...s, rateRps: (n * 1000) / s.durationMs } satisfies OpenStage) : s;
      });
    }
  } else if (block.mode === 'all_at_once') {
    stages = stages.map((s, i) => (s.kind === 'open' ? { ...s, rateRps: i === 0 ? (loaded.requests.length * 1000) / s.durationMs : 0 } : s));
  }
  return { workload: newWorkload, load: { ...load, stages } };
}
