/**
 * The scenario schema: the one place that says which keys a scenario file has, their types,
 * ranges and defaults, and how they map onto the Scenario type (snake_case YAML keys, camelCase
 * fields, durations in milliseconds). docs/scenarios.md describes the same schema for users.
 *
 * Every check records an issue on the NodeReader and carries on, so one pass finds every problem.
 */

import { isMap, isScalar, isSeq, type Node } from 'yaml';
import type {
  ClientConfig,
  LoadConfig,
  Scenario,
  SloConfig,
  Stage,
  TargetConfig,
  ThresholdAbort,
  WorkloadConfig,
} from './scenario-types.ts';
import { parseThreshold } from '../gate/threshold.ts';
import { nearest } from '../util/did-you-mean.ts';
import { LENGTH_DIST_SHAPE, readLengthDist } from './length-distribution.ts';
import { readScenarioStack } from './scenario-stack.ts';
import { readObserve } from './scenario-observe.ts';
import { applyTrace, checkTraceLoadKeys, checkTraceSessions, checkTraceStage, defaultTraceLoad, readTraceBlock, type TraceMode } from './scenario-trace.ts';
import { readSharedPrefix } from './scenario-prefix.ts';
import { checkConversation, readConversation } from './scenario-conversation.ts';
import { readMix, settleMixLoad } from './scenario-mix.ts';
import { checkDataset, readDatasetWorkload } from './scenario-dataset.ts';
import { childPath, describe, formatMs, MapView, scalarValue, type NodeReader } from './yaml-node-reader.ts';

export const TOP_KEYS = ['name', 'description', 'seed', 'target', 'stack', 'workload', 'load', 'slo', 'thresholds', 'client', 'observe', 'mix'] as const;
export const TARGET_KEYS = [
  'url', 'model', 'api_key', 'endpoint', 'stream', 'headers', 'body',
  'ignore_eos', 'continuous_usage_stats', 'tokenizer', 'timeouts',
] as const;
export const TIMEOUT_KEYS = ['connect', 'ttft', 'total'] as const;
export const WORKLOAD_KEYS = ['prompt_tokens', 'output_tokens', 'shared_prefix', 'conversation', 'trace', 'dataset'] as const;
export const LOAD_KEYS = [
  'arrival', 'burstiness', 'stages', 'max_in_flight', 'on_max_in_flight', 'warmup', 'cooldown', 'drain',
] as const;
export const STAGE_KEYS = ['name', 'duration', 'rate', 'users', 'ramp', 'think_time'] as const;
export const SLO_KEYS = ['ttft', 'tpot', 'itl', 'e2e'] as const;
export const CLIENT_KEYS = ['threads', 'saturation_lag_p99'] as const;

/**
 * Request-body fields the harness sets itself, and the setting that controls each one instead.
 */
export const RESERVED_BODY_FIELDS: Readonly<Record<string, string>> = {
  model: 'target.model',
  messages: 'workload.prompt_tokens (prompts are generated to the planned length)',
  prompt: 'workload.prompt_tokens (prompts are generated to the planned length)',
  stream: 'target.stream',
  stream_options: 'target.stream and target.continuous_usage_stats',
  max_tokens: 'workload.output_tokens',
  max_completion_tokens: 'workload.output_tokens',
};

const NAME = /^[A-Za-z0-9._-]+$/;
const NAME_ALLOWED = 'a name of letters, digits, ".", "_" and "-" (not only dots): it names the run folder';
const STAGE_NAME = /^[A-Za-z0-9_-]+$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const DEFAULTS = {
  seed: 1,
  connectMs: 10_000,
  ttftMs: 60_000,
  totalMs: 600_000,
  drainMs: 30_000,
  saturationLagP99Ms: 5,
} as const;

/** Where the document came from, for the Scenario and for relative paths. */
export interface SchemaContext {
  /** The scenario's file name as given (Scenario.file). */
  file: string;
  /** Directory that relative paths in the file (empirical data, the stack file) start from. */
  baseDir: string;
  /** Variables for `${VAR}` in the stack file named by `stack`. Default: process.env. */
  env?: Record<string, string | undefined>;
}

/**
 * Validate a parsed document and build the Scenario (not yet frozen). Returns undefined when any
 * issue was recorded on `r` (including issues recorded before this call).
 */
export function readScenario(r: NodeReader, rootNode: unknown, ctx: SchemaContext): Scenario | undefined {
  const root = r.deref(rootNode);
  if (!isMap(root)) {
    r.report('FG_SCENARIO_TYPE', { file: ctx.file, line: 1, col: 1 }, '', `a scenario must be a map of keys (name, target, workload, load, ...), got ${describe(root)}`, {
      value: scalarValue(root),
      allowed: `a map with keys ${TOP_KEYS.join(', ')}`,
    });
    return undefined;
  }
  const m = new MapView(r, root, '');
  m.checkKeys(TOP_KEYS);

  const nameNode = m.need('name', NAME_ALLOWED);
  const name = nameNode && r.str(nameNode, 'name');
  if (name !== undefined && (!NAME.test(name) || /^\.+$/.test(name))) {
    r.report('FG_SCENARIO_BAD_VALUE', nameNode, 'name', `name ${JSON.stringify(name)} cannot be used in a folder name`, {
      value: name,
      allowed: NAME_ALLOWED,
    });
  }
  const description = m.str('description');
  const seed = m.num('seed', { integer: true, min: 0 }) ?? DEFAULTS.seed;

  const targetMap = m.map('target', true);
  const target = targetMap && readTarget(targetMap);
  const stack = readScenarioStack(m, targetMap, ctx.baseDir, ctx.env ?? process.env);
  const workloadMap = m.map('workload', true);
  const trace = workloadMap && readTraceBlock(workloadMap, seed, ctx.baseDir);
  let workload = workloadMap && readWorkload(workloadMap, ctx.baseDir, trace !== undefined);
  // `mix:` (scenario-mix.ts): streams with loads of their own make load.stages optional.
  const mixRead = readMix(m, (rr, item, path, index) => readStage(rr, item, path, index).stage, target?.model);
  const mixOwn = mixRead !== undefined && !mixRead.weighted;
  const loadMap = m.map('load', trace?.mode !== 'timed' && !mixOwn);
  const loadRead = loadMap
    ? readLoad(loadMap, trace?.mode, mixOwn)
    : trace?.mode === 'timed'
      ? { config: defaultTraceLoad(DEFAULTS.drainMs), stageNames: undefined }
      : mixOwn
        ? { config: { arrival: 'poisson' as const, burstiness: 1, stages: [], maxInFlight: undefined, onMaxInFlight: 'wait' as const, warmupMs: 0, cooldownMs: 0, drainMs: DEFAULTS.drainMs }, stageNames: ['mix'] }
        : undefined;
  let load = loadRead?.config;
  if (trace && workload && load) {
    const applied = applyTrace(r, trace, workload, load, ctx.baseDir);
    workload = applied?.workload;
    load = applied?.load;
  }
  if (mixRead) load = settleMixLoad(m, mixRead, load, loadMap, trace !== undefined);
  if (workloadMap) checkConversation(workloadMap, target, trace !== undefined);
  if (workloadMap) checkDataset(workloadMap, target);
  if (trace) checkTraceSessions(trace, target);
  const sloMap = m.map('slo');
  const slo = sloMap ? readSlo(sloMap) : {};
  const thresholdSeq = m.seq('thresholds');
  // Without a workload map its absence is reported already: conversations.* thresholds are not refused twice.
  const conversations = workloadMap === undefined || workloadMap.has('conversation') || trace?.config?.sessions === 'conversation';
  const thresholdsRead = thresholdSeq ? readThresholds(r, thresholdSeq.items, 'thresholds', loadRead?.stageNames, conversations) : { exprs: [], abortOnFail: [] };
  const clientMap = m.map('client');
  const client = clientMap ? readClient(clientMap) : { threads: 'auto' as const, saturationLagP99Ms: DEFAULTS.saturationLagP99Ms };
  const observe = readObserve(m);

  if (r.issues.length > 0 || name === undefined || !target || !workload || !load) return undefined;
  return {
    name,
    file: ctx.file,
    description: description === '' ? undefined : description,
    seed,
    target,
    ...(stack ? { stack } : {}),
    workload,
    load,
    slo,
    thresholds: thresholdsRead.exprs,
    ...(thresholdsRead.abortOnFail.length ? { abortOnFail: thresholdsRead.abortOnFail } : {}),
    client,
    ...(observe ? { observe } : {}),
    ...(mixRead?.streams ? { mix: mixRead.streams } : {}),
  };
}

function readTarget(m: MapView): TargetConfig | undefined {
  m.checkKeys(TARGET_KEYS);
  const url = readUrl(m);
  const model = m.str('model', true);
  if (model !== undefined && model.trim() === '') m.missing('model', '"model" must not be empty', 'the model name the target serves');
  const apiKey = m.str('api_key');
  const endpoint = m.oneOf('endpoint', ['chat', 'completions'] as const) ?? 'chat';
  const stream = m.bool('stream') ?? true;
  const headersMap = m.map('headers');
  const headers = headersMap ? readHeaders(headersMap) : {};
  const bodyMap = m.map('body');
  const body = bodyMap ? readBody(bodyMap) : {};
  const ignoreEos = m.oneOf('ignore_eos', [true, false, 'auto'] as const) ?? 'auto';
  const continuousUsageStats = m.oneOf('continuous_usage_stats', [true, false, 'auto'] as const) ?? 'auto';
  const tokenizer = m.oneOf('tokenizer', ['auto', 'server', 'builtin'] as const) ?? 'auto';
  const timeoutsMap = m.map('timeouts');
  const timeouts = timeoutsMap ? readTimeouts(timeoutsMap) : { connectMs: DEFAULTS.connectMs, ttftMs: DEFAULTS.ttftMs, totalMs: DEFAULTS.totalMs };
  if (model === undefined || url === null || !timeouts) return undefined;
  return {
    url,
    model,
    apiKey: apiKey === '' ? undefined : apiKey,
    endpoint,
    stream,
    headers,
    body,
    ignoreEos,
    continuousUsageStats,
    tokenizer,
    timeouts,
  };
}

/** The base URL without trailing slashes; undefined when absent or empty; null when invalid. */
function readUrl(m: MapView): string | undefined | null {
  const node = m.get('url');
  if (node === undefined) return undefined;
  const path = m.pathOf('url');
  const text = m.r.str(node, path);
  if (text === undefined) return null;
  if (text.trim() === '') return undefined;
  const allowed = 'an http:// or https:// base URL without query or fragment, e.g. http://127.0.0.1:8000/v1';
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    m.r.report('FG_SCENARIO_BAD_VALUE', node, path, `${JSON.stringify(text)} is not a URL`, { value: text, allowed });
    return null;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    m.r.report('FG_SCENARIO_BAD_VALUE', node, path, `${JSON.stringify(text)} is not an http(s) URL (scheme ${parsed.protocol})`, { value: text, allowed });
    return null;
  }
  if (parsed.search || parsed.hash) {
    m.r.report('FG_SCENARIO_BAD_VALUE', node, path, `${JSON.stringify(text)} has a query or fragment; request paths are appended to the base URL`, { value: text, allowed });
    return null;
  }
  return text.trim().replace(/\/+$/, '');
}

function readHeaders(m: MapView): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of m.keys()) {
    const path = m.pathOf(key);
    if (!HEADER_NAME.test(key)) {
      m.r.report('FG_SCENARIO_BAD_VALUE', m.keyNode(key), path, `${JSON.stringify(key)} is not a valid HTTP header name`, {
        value: key,
        allowed: "letters, digits and !#$%&'*+.^_`|~-",
      });
      continue;
    }
    const node = m.get(key);
    if (node === undefined) continue; // empty value (e.g. an unset variable): header not sent
    const value = m.r.str(node, path);
    if (value === undefined) continue;
    if (/[\r\n\0]/.test(value)) {
      m.r.report('FG_SCENARIO_BAD_VALUE', node, path, 'a header value cannot contain a line break or NUL', { value, allowed: 'a single-line string' });
      continue;
    }
    out[key] = value;
  }
  return out;
}

function readBody(m: MapView): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of m.keys()) {
    const owner = RESERVED_BODY_FIELDS[key];
    if (owner !== undefined) {
      m.r.report('FG_SCENARIO_RESERVED_FIELD', m.keyNode(key), m.pathOf(key), `"${key}" is set by the harness; use ${owner} instead`, {
        value: key,
        allowed: `any field except ${Object.keys(RESERVED_BODY_FIELDS).join(', ')}; ${key} is controlled by ${owner}`,
      });
      continue;
    }
    out[key] = plainValue(m.r, m.get(key));
  }
  return out;
}

/** A node as a plain JS value (aliases followed; loose scalars as typed at load time). */
function plainValue(r: NodeReader, node: unknown): unknown {
  const n = r.deref(node);
  if (n === undefined) return null;
  if (isScalar(n)) return n.value ?? null;
  if (isSeq(n)) return n.items.map((item) => plainValue(r, item));
  const obj: Record<string, unknown> = {};
  for (const pair of n.items) {
    const k = r.deref(pair.key);
    obj[isScalar(k) ? String(k.value) : String(pair.key)] = plainValue(r, pair.value);
  }
  return obj;
}

function readTimeouts(m: MapView): TargetConfig['timeouts'] | undefined {
  m.checkKeys(TIMEOUT_KEYS);
  const connectMs = m.duration('connect', { positive: true });
  const ttftMs = m.duration('ttft', { positive: true });
  const totalMs = m.duration('total', { positive: true });
  const connect = connectMs ?? DEFAULTS.connectMs;
  const ttft = ttftMs ?? DEFAULTS.ttftMs;
  const total = totalMs ?? DEFAULTS.totalMs;
  const ttftOk = !m.has('ttft') || ttftMs !== undefined;
  const totalOk = !m.has('total') || totalMs !== undefined;
  if (ttftOk && totalOk && ttft > total) {
    const key = m.has('ttft') ? 'ttft' : 'total';
    m.r.report('FG_SCENARIO_BAD_VALUE', m.get(key), m.pathOf(key), `ttft timeout (${formatMs(ttft)}) is longer than the total timeout (${formatMs(total)})`, {
      value: m.has('ttft') ? formatMs(ttft) : formatMs(total),
      allowed: key === 'ttft' ? `a duration <= ${formatMs(total)} (timeouts.total)` : `a duration >= ${formatMs(ttft)} (timeouts.ttft)`,
    });
    return undefined;
  }
  return { connectMs: connect, ttftMs: ttft, totalMs: total };
}

function readWorkload(m: MapView, baseDir: string, traced: boolean): WorkloadConfig | undefined {
  m.checkKeys(WORKLOAD_KEYS);
  // A dataset gives the prompts (scenario-dataset.ts); it conflicts with a trace, prompt_tokens, ...
  if (m.has('dataset')) return readDatasetWorkload(m, baseDir, traced);
  if (traced) {
    // Lengths come from the trace (scenario-trace.ts fills them in).
    for (const key of ['prompt_tokens', 'output_tokens', 'shared_prefix']) {
      if (!m.has(key)) continue;
      const later = m.r.offset(m.keyNode(key)) > m.r.offset(m.keyNode('trace')) ? key : 'trace';
      m.r.report('FG_SCENARIO_CONFLICT', m.keyNode(later), m.pathOf(later), `${key} does not apply with trace: ${key === 'shared_prefix' ? 'a Mooncake trace gives the shared prefixes (hash_ids), other traces record none' : 'the lengths come from the trace'}`, { allowed: `trace or ${key}, not both` });
    }
    const none: WorkloadConfig['promptTokens'] = { dist: 'fixed', value: 1, min: 1, max: Infinity };
    return { promptTokens: none, outputTokens: none };
  }
  const promptNode = m.need('prompt_tokens', LENGTH_DIST_SHAPE);
  const outputNode = m.need('output_tokens', LENGTH_DIST_SHAPE);
  const promptTokens = promptNode && readLengthDist(m.r, promptNode, m.pathOf('prompt_tokens'), baseDir);
  const outputTokens = outputNode && readLengthDist(m.r, outputNode, m.pathOf('output_tokens'), baseDir);
  const sharedPrefix = readSharedPrefix(m, promptTokens);
  if (m.has('shared_prefix') && !sharedPrefix) return undefined;
  const conversation = readConversation(m, baseDir, (node, path) => readThinkTime(m.r, node, path));
  if (m.has('conversation') && !conversation) return undefined;
  return promptTokens && outputTokens ? { promptTokens, outputTokens, ...(sharedPrefix ? { sharedPrefix } : {}), ...(conversation ? { conversation } : {}) } : undefined;
}

interface LoadResult {
  /** Undefined when anything in `load` is invalid. */
  config: LoadConfig | undefined;
  /** Stage names by index; undefined when some stage's name is unknown (threshold checks skipped). */
  stageNames: string[] | undefined;
}

function readLoad(m: MapView, traceMode?: TraceMode, mixOwn = false): LoadResult {
  const r = m.r;
  m.checkKeys(LOAD_KEYS);
  if (traceMode) checkTraceLoadKeys(m);
  const arrival = m.oneOf('arrival', ['constant', 'poisson', 'gamma'] as const);
  const arrivalOk = !m.has('arrival') || arrival !== undefined;
  const burstiness = m.num('burstiness', { min: 0, minExclusive: true });
  if (m.has('burstiness') && arrivalOk && (arrival ?? 'poisson') !== 'gamma') {
    r.report('FG_SCENARIO_CONFLICT', m.keyNode('burstiness'), m.pathOf('burstiness'), `burstiness applies only to arrival: gamma (arrival is ${arrival ?? 'poisson, the default'})`, {
      allowed: 'set arrival: gamma, or remove burstiness',
    });
  }

  const stagesSeq = m.seq('stages', traceMode !== 'timed' && !mixOwn);
  let reads: StageRead[] = [];
  if (stagesSeq) {
    if (stagesSeq.items.length === 0) {
      r.report('FG_SCENARIO_BAD_VALUE', stagesSeq, m.pathOf('stages'), 'stages is empty', { allowed: 'a list of at least one stage' });
    }
    reads = stagesSeq.items.map((item, i) => readStage(r, item, childPath(m.pathOf('stages'), i), i, traceMode));
    checkStageNames(r, reads, m.pathOf('stages'));
  }
  const stages = reads.map((s) => s.stage);

  const maxInFlight = m.num('max_in_flight', { integer: true, min: 1 });
  const onMaxInFlight = m.oneOf('on_max_in_flight', ['wait', 'drop'] as const) ?? 'wait';
  const warmupMs = m.duration('warmup');
  const cooldownMs = m.duration('cooldown');
  const drainMs = m.duration('drain') ?? DEFAULTS.drainMs;
  const warmOk = !m.has('warmup') || warmupMs !== undefined;
  const coolOk = !m.has('cooldown') || cooldownMs !== undefined;

  const valid = (stagesSeq !== undefined && stages.length > 0 && stages.every((s) => s !== undefined)) || ((traceMode === 'timed' || mixOwn) && !m.has('stages'));
  const okStages = valid ? (stages as Stage[]) : undefined;
  // A timed trace without stages gets its stage from the trace's span: checked there (scenario-trace.ts).
  if (okStages && okStages.length > 0 && warmOk && coolOk) {
    const totalMs = okStages.reduce((sum, s) => sum + s.durationMs, 0);
    const w = warmupMs ?? 0;
    const c = cooldownMs ?? 0;
    if (w + c >= totalMs) {
      const key = m.has('warmup') ? 'warmup' : 'cooldown';
      r.report('FG_SCENARIO_BAD_VALUE', m.get(key), m.pathOf(key), `warmup (${formatMs(w)}) + cooldown (${formatMs(c)}) leave nothing of the stages' ${formatMs(totalMs)} to measure`, {
        value: key === 'warmup' ? formatMs(w) : formatMs(c),
        allowed: `warmup + cooldown < ${formatMs(totalMs)} (the stages' total duration)`,
      });
    }
  }
  const names = reads.map((s) => s.name);
  const stageNames = mixOwn && !stagesSeq ? ['mix'] : stagesSeq && names.every((n) => n !== undefined) ? (names as string[]) : undefined;
  if (!okStages || !arrivalOk) return { config: undefined, stageNames };
  return {
    config: {
      arrival: arrival ?? 'poisson',
      burstiness: burstiness ?? 1,
      stages: okStages,
      maxInFlight,
      onMaxInFlight,
      warmupMs: warmupMs ?? 0,
      cooldownMs: cooldownMs ?? 0,
      drainMs,
    },
    stageNames,
  };
}

interface StageRead {
  stage: Stage | undefined;
  /** The stage's name (given or `stage-<index>`); undefined when the given name is invalid. */
  name: string | undefined;
  /** Where to report a problem with the name. */
  nameAt: unknown;
}

function readStage(r: NodeReader, item: unknown, path: string, index: number, traceMode?: TraceMode): StageRead {
  const m = r.asMap(item, path, 'a stage map (duration, rate or users, ...)');
  if (!m) return { stage: undefined, name: undefined, nameAt: item };
  m.checkKeys(STAGE_KEYS);
  const durationMs = m.duration('duration', { positive: true }, true);
  // A trace replay's stage: duration and name only (or users for a closed-loop replay).
  const traceStage = traceMode !== undefined && checkTraceStage(m, traceMode);
  if (traceStage || (traceMode === 'closed_loop' && !m.has('users'))) {
    const nameRaw = m.str('name');
    const okName = nameRaw === undefined || STAGE_NAME.test(nameRaw);
    if (!okName) r.report('FG_SCENARIO_BAD_VALUE', m.get('name'), m.pathOf('name'), `stage name ${JSON.stringify(nameRaw)} cannot be used in a threshold (stages.<name>.ttft.p95)`, { value: nameRaw, allowed: 'letters, digits, "_" and "-"' });
    const name = okName ? nameRaw ?? `stage-${index}` : undefined;
    const read = { name, nameAt: m.get('name') ?? m.node };
    if (!traceStage || durationMs === undefined || name === undefined) return { ...read, stage: undefined };
    return { ...read, stage: { index, name, durationMs, rampMs: 0, kind: 'open', rateRps: 0 } };
  }
  const hasRate = m.has('rate');
  const hasUsers = m.has('users');
  const rateRps = m.num('rate', { min: 0 });
  const users = m.num('users', { integer: true, min: 0 });
  let kindOk = true;
  if (hasRate && hasUsers) {
    const later = r.offset(m.keyNode('users')) >= r.offset(m.keyNode('rate')) ? 'users' : 'rate';
    r.report('FG_SCENARIO_CONFLICT', m.keyNode(later), m.pathOf(later), 'a stage has rate (open loop) or users (closed loop), not both', {
      allowed: 'rate or users',
    });
    kindOk = false;
  } else if (!hasRate && !hasUsers) {
    m.missing('rate', 'a stage needs rate (requests/s, open loop) or users (concurrent users, closed loop)', 'rate or users');
    kindOk = false;
  }
  const rampMs = m.duration('ramp');
  if (rampMs !== undefined && durationMs !== undefined && rampMs > durationMs) {
    r.report('FG_SCENARIO_BAD_VALUE', m.get('ramp'), m.pathOf('ramp'), `ramp (${formatMs(rampMs)}) is longer than the stage (${formatMs(durationMs)})`, {
      value: formatMs(rampMs),
      allowed: `a duration from 0 to ${formatMs(durationMs)} (the stage's duration)`,
    });
  }
  let thinkTimeMs: { min: number; max: number } | undefined = { min: 0, max: 0 };
  if (m.has('think_time')) {
    if (hasRate && !hasUsers) {
      r.report('FG_SCENARIO_CONFLICT', m.keyNode('think_time'), m.pathOf('think_time'), 'think_time applies to closed-loop stages (users) only; this stage has rate', {
        allowed: 'use users instead of rate, or remove think_time',
      });
      thinkTimeMs = undefined;
    } else {
      thinkTimeMs = readThinkTime(r, m.get('think_time')!, m.pathOf('think_time'));
    }
  }
  const nameRaw = m.str('name');
  if (nameRaw !== undefined && !STAGE_NAME.test(nameRaw)) {
    r.report('FG_SCENARIO_BAD_VALUE', m.get('name'), m.pathOf('name'), `stage name ${JSON.stringify(nameRaw)} cannot be used in a threshold (stages.<name>.ttft.p95)`, {
      value: nameRaw,
      allowed: 'letters, digits, "_" and "-"',
    });
  }
  const badRamp = m.has('ramp') && (rampMs === undefined || (durationMs !== undefined && rampMs > durationMs));
  const badName = m.has('name') && (nameRaw === undefined || !STAGE_NAME.test(nameRaw));
  const name = badName ? undefined : nameRaw ?? `stage-${index}`;
  const read = { name, nameAt: m.get('name') ?? m.node };
  if (!kindOk || durationMs === undefined || badRamp || name === undefined || !thinkTimeMs) return { ...read, stage: undefined };
  const base = { index, name, durationMs, rampMs: rampMs ?? 0 };
  if (hasRate) return { ...read, stage: rateRps === undefined ? undefined : { ...base, kind: 'open', rateRps } };
  return { ...read, stage: users === undefined ? undefined : { ...base, kind: 'closed', users, thinkTimeMs } };
}

function readThinkTime(r: NodeReader, node: Node, path: string): { min: number; max: number } | undefined {
  if (isMap(node)) {
    const m = r.asMap(node, path)!;
    m.checkKeys(['min', 'max']);
    const min = m.duration('min', {}, true);
    const max = m.duration('max', {}, true);
    if (min === undefined || max === undefined) return undefined;
    if (min > max) {
      r.report('FG_SCENARIO_BAD_VALUE', m.get('max'), m.pathOf('max'), `max (${formatMs(max)}) is less than min (${formatMs(min)})`, {
        value: formatMs(max),
        allowed: `a duration >= ${formatMs(min)} (min)`,
      });
      return undefined;
    }
    return { min, max };
  }
  const ms = r.duration(node, path);
  return ms === undefined ? undefined : { min: ms, max: ms };
}

/** Stage names must be unique: thresholds select stages by name. */
function checkStageNames(r: NodeReader, reads: readonly StageRead[], path: string): void {
  const seen = new Map<string, number>();
  reads.forEach((s, i) => {
    if (s.name === undefined) return;
    const first = seen.get(s.name);
    if (first === undefined) {
      seen.set(s.name, i);
      return;
    }
    r.report('FG_SCENARIO_BAD_VALUE', s.nameAt, childPath(childPath(path, i), 'name'), `stage name "${s.name}" is already used by stage ${first}`, {
      value: s.name,
      allowed: 'a name no other stage has',
    });
  });
}

function readSlo(m: MapView): SloConfig {
  m.checkKeys(SLO_KEYS);
  const slo: SloConfig = {};
  const ttftMs = m.duration('ttft', { positive: true });
  const tpotMs = m.duration('tpot', { positive: true });
  const itlMs = m.duration('itl', { positive: true });
  const e2eMs = m.duration('e2e', { positive: true });
  if (ttftMs !== undefined) slo.ttftMs = ttftMs;
  if (tpotMs !== undefined) slo.tpotMs = tpotMs;
  if (itlMs !== undefined) slo.itlMs = itlMs;
  if (e2eMs !== undefined) slo.e2eMs = e2eMs;
  return slo;
}

/** Keys of a threshold written as a map (k6's threshold object, snake_case). */
export const THRESHOLD_KEYS = ['threshold', 'abort_on_fail', 'delay_abort_eval'] as const;

interface ThresholdsRead {
  exprs: string[];
  abortOnFail: ThresholdAbort[];
}

/**
 * `thresholds:` entries are expressions (`"ttft.p95 < 800ms"`) or maps
 * `{threshold: "...", abort_on_fail: true, delay_abort_eval: 10s}`.
 */
function readThresholds(r: NodeReader, items: readonly unknown[], path: string, stageNames: readonly string[] | undefined, conversations: boolean): ThresholdsRead {
  const out: ThresholdsRead = { exprs: [], abortOnFail: [] };
  items.forEach((item, i) => {
    const p = childPath(path, i);
    const node = r.deref(item);
    if (r.isEmpty(item)) {
      r.report('FG_SCENARIO_TYPE', node ?? item, p, 'expected a threshold expression, got nothing', { allowed: 'e.g. "ttft.p95 < 800ms", or {threshold: "...", abort_on_fail: true}' });
      return;
    }
    let exprNode: unknown = item;
    let exprPath = p;
    let abort: { on: boolean; delayMs: number; at: unknown } | undefined;
    if (isMap(node)) {
      const m = new MapView(r, node, p);
      m.checkKeys(THRESHOLD_KEYS);
      exprNode = m.need('threshold', 'a threshold expression, e.g. "ttft.p95 < 800ms"');
      exprPath = m.pathOf('threshold');
      const on = m.bool('abort_on_fail');
      const delayMs = m.duration('delay_abort_eval');
      if (m.has('delay_abort_eval') && on !== true && (on !== undefined || !m.has('abort_on_fail'))) {
        r.report('FG_SCENARIO_CONFLICT', m.keyNode('delay_abort_eval'), m.pathOf('delay_abort_eval'), 'delay_abort_eval applies only with abort_on_fail: true', {
          allowed: 'set abort_on_fail: true, or remove delay_abort_eval',
        });
      }
      if (on === true) abort = { on, delayMs: delayMs ?? 0, at: m.keyNode('abort_on_fail') };
      if (exprNode === undefined) return;
    } else if (isSeq(node)) {
      r.report('FG_SCENARIO_TYPE', node, p, 'expected a threshold expression or a threshold map, got a list', {
        allowed: 'e.g. "ttft.p95 < 800ms", or {threshold: "...", abort_on_fail: true}',
      });
      return;
    }
    const expr = r.str(exprNode, exprPath);
    if (expr === undefined) return;
    const parsed = parseThreshold(expr);
    if (!parsed.ok) {
      r.report(parsed.code, r.deref(exprNode), exprPath, parsed.message, { value: expr, allowed: parsed.allowed });
      return;
    }
    const scope = parsed.threshold.scope;
    if (scope.kind === 'stages' && stageNames) {
      const key = scope.key;
      const isIndex = /^\d+$/.test(key) && Number(key) < stageNames.length;
      if (!stageNames.includes(key) && !isIndex) {
        const hint = nearest(key, stageNames);
        r.report('FG_SCENARIO_BAD_THRESHOLD', r.deref(exprNode), exprPath, `threshold "${expr}": no stage named "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}`, {
          value: expr,
          allowed: `a stage name (${stageNames.join(', ')}) or index (0 to ${stageNames.length - 1})`,
        });
        return;
      }
    }
    if (!conversations && scope.kind === 'run' && parsed.threshold.path[0] === 'conversations') {
      r.report('FG_SCENARIO_THRESHOLD_METRIC', r.deref(exprNode), exprPath, `threshold "${expr}": summary.json has conversations only for a scenario with workload.conversation, and this one has none`, {
        value: expr,
        allowed: 'conversations.* thresholds with workload.conversation (docs/scenarios.md, "Conversations"), or a metric of the requests',
      });
      return;
    }
    if (abort && !parsed.threshold.live) {
      r.report('FG_SCENARIO_CONFLICT', abort.at, childPath(p, 'abort_on_fail'), `threshold "${expr}": ${parsed.threshold.path.join('.')} is only known after the run, so abort_on_fail cannot watch it`, {
        allowed: 'abort_on_fail on a request metric (latencies, error_rate, errors, goodput, throughput, requests) or conversations.*, or remove abort_on_fail',
      });
      return;
    }
    if (abort) out.abortOnFail.push({ index: out.exprs.length, expr, delayMs: abort.delayMs });
    out.exprs.push(expr);
  });
  return out;
}

function readClient(m: MapView): ClientConfig {
  m.checkKeys(CLIENT_KEYS);
  let threads: number | 'auto' = 'auto';
  const node = m.get('threads');
  if (node !== undefined) {
    const path = m.pathOf('threads');
    const allowed = 'auto, or an integer from 1 to 64';
    if (isScalar(node) && typeof node.value === 'number') {
      threads = m.r.num(node, path, { integer: true, min: 1, max: 64 }) ?? 'auto';
    } else if (isScalar(node) && typeof node.value === 'string') {
      if (node.value !== 'auto') {
        m.r.report('FG_SCENARIO_BAD_VALUE', node, path, `${JSON.stringify(node.value)} is not auto or an integer`, { value: node.value, allowed });
      }
    } else {
      m.r.report('FG_SCENARIO_TYPE', node, path, `expected ${allowed}, got ${describe(node)}`, { value: scalarValue(node), allowed });
    }
  }
  const saturationLagP99Ms = m.duration('saturation_lag_p99', { positive: true }) ?? DEFAULTS.saturationLagP99Ms;
  return { threads, saturationLagP99Ms };
}
