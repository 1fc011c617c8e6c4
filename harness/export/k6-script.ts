/**
 * `harness export k6`: turn a validated Scenario into a k6 script (ES module JavaScript with
 * `// @ts-check` and JSDoc types, checked against @types/k6 and harness/export/k6-sse.d.ts) that
 * sends the same traffic through the xk6-sse extension and measures TTFT, ITL, TPOT and E2E as
 * docs/metrics.md defines them, as far as k6 can (docs/k6.md says where it differs).
 *
 * Why JavaScript and not TypeScript: every k6 release and every xk6 build runs it (k6 runs .ts
 * only in recent releases, and the k6-operator often runs older custom builds), and `@ts-check`
 * still lets tsc check it against @types/k6.
 *
 * Load: the scenario's load is cut into windows at every stage boundary and at the warmup and
 * cooldown boundaries; each window becomes one k6 scenario (`ramping-arrival-rate` for open loop,
 * `constant-vus` / `ramping-vus` for closed loop) tagged with its stage and phase, so thresholds
 * read `{phase:measure}` only. What k6 cannot express is returned in `unsupported` (and written
 * into the script's header comment); only what cannot be approximated at all is refused
 * (FG_EXPORT_UNSUPPORTED).
 */
import { buildPlan } from '../workload/plan.ts';
import { stageStartsMs } from '../engine/arrival-schedule.ts';
import { PROMPT_FIRST_WORDS, PROMPT_WORDS } from '../workload/prompt-words.ts';
import { parseThreshold, type Threshold } from '../gate/threshold.ts';
import { UsageError } from '../errors.ts';
import { meanLength } from '../workload/length-sampler.ts';
import type { ClosedStage, LengthDist, Scenario, Stage } from '../scenario/scenario-types.ts';

export interface K6ExportOptions {
  /** Seconds per bucket of a replayed trace's arrival profile; default: 1 s, more for long traces (at most 600 buckets). */
  traceBucketS?: number;
}

export interface K6Export {
  script: string;
  /** What the script cannot express, one sentence each (also in the script's header comment). */
  unsupported: string[];
}

/** Markers around the options literal, so tools (and tests) can read it back with JSON.parse. */
export const OPTIONS_BEGIN = '/* FLOODGATE_OPTIONS_BEGIN */';
export const OPTIONS_END = '/* FLOODGATE_OPTIONS_END */';

/** Default target when the scenario has none (the embedded stack's gateway in the default stack). */
const DEFAULT_TARGET = 'http://127.0.0.1:8080/v1';

type Point = { t: number; r: number };
type Phase = 'warmup' | 'measure' | 'cooldown';
/** Which traffic a k6 scenario sends: weighted mix streams (or the run's target), one stream, or a trace's models. */
type Pick = { kind: 'run' } | { kind: 'stream'; index: number } | { kind: 'trace' };

interface K6Scenario {
  executor: 'ramping-arrival-rate' | 'constant-vus' | 'ramping-vus';
  exec: string;
  startTime: string;
  gracefulStop: string;
  tags: Record<string, string>;
  [k: string]: unknown;
}

const ms = (x: number): string => `${Math.max(0, Math.round(x))}ms`;

export function exportK6(scenario: Scenario, o: K6ExportOptions = {}): K6Export {
  const unsupported: string[] = [];
  const s = scenario;
  const load = s.load;
  const stages = load.stages;
  const starts = stageStartsMs(stages);
  const totalMs = stages.reduce((a, st) => a + st.durationMs, 0);
  const trace = s.workload.trace;
  const warmupEnd = load.warmupMs;
  const cooldownStart = load.cooldownMs > 0 ? totalMs - load.cooldownMs : totalMs;

  // ---- what cannot be expressed, or only approximately ----------------------------------------
  if (trace && trace.noTimestamps === 'all_at_once' && stages.every((st) => st.kind === 'open') && buildPlan(s).open.every((r) => r.intendedMs === 0)) {
    throw new UsageError(
      'FG_EXPORT_UNSUPPORTED',
      `scenario "${s.name}": a trace without times replayed all at once (no_timestamps: all_at_once) has no arrival process k6 can express; use no_timestamps: closed_loop with users stages`,
    );
  }
  const mix = s.mix;
  const weighted = mix?.filter((m) => m.weight !== undefined) ?? [];
  const ownStreams = mix?.filter((m) => m.stages !== undefined) ?? [];
  const runStagesSend = !mix || weighted.length > 0;
  const anyOpen = (runStagesSend && stages.some((st) => st.kind === 'open')) || ownStreams.length > 0;

  if (anyOpen && !trace && load.arrival !== 'constant') {
    unsupported.push(
      `load.arrival: ${load.arrival}${load.arrival === 'gamma' ? ` (burstiness ${load.burstiness})` : ''}: k6's arrival-rate executors start iterations evenly spaced at the planned rate, so arrivals are constant-rate, not ${load.arrival === 'poisson' ? 'Poisson' : 'gamma'}-distributed`,
    );
  }
  if (trace) {
    unsupported.push(
      `workload.trace (${trace.format}): replayed as its arrival-rate profile (requests per bucket of the replay's clock, evenly spaced within a bucket), not row by row; prompt and output lengths are drawn independently from the trace's length distributions (a row's pairing of input and output is lost)${trace.format === 'mooncake' ? '; the trace\'s hash_ids (shared prefix blocks) are not reproduced' : ''}${trace.models ? '; models are drawn in the trace\'s proportions' : ''}`,
    );
  }
  if (trace?.sessions === 'conversation') {
    unsupported.push('workload.trace.sessions: conversation: a session\'s rows are sent as independent single-turn requests, without the history of earlier turns and without waiting for the previous answer');
  }
  if (s.workload.dataset) {
    unsupported.push(
      `workload.dataset: the dataset's prompts are not sent (their text never goes into the script); prompts are synthetic words of the dataset's token-length distribution`,
    );
  }
  unsupported.push(
    'exact token counts: the script has no tokenizer; a prompt of N tokens is N words of a one-token-per-word list (exact on Llama-3 vocabularies; set FLOODGATE_PROMPT_OVERHEAD / FLOODGATE_TOKENS_PER_WORD for other tokenizers)',
  );
  if (s.workload.sharedPrefix) {
    unsupported.push('workload.shared_prefix: group prefixes are sent (same words per group), but their token counts are approximate like every prompt (no tokenizer, no server calibration)');
  }
  if (s.workload.conversation) {
    unsupported.push('workload.conversation: each k6 VU holds one conversation at a time; a conversation is cut when its VU moves to another k6 scenario (a stage or phase boundary)');
    if (anyOpen) {
      unsupported.push('workload.conversation with open-loop stages (rate): each k6 arrival sends one single-turn request; the harness starts a new conversation at each arrival and sends its later turns after the think time');
    }
  }
  if (load.maxInFlight !== undefined) {
    unsupported.push(
      `load.max_in_flight: ${load.maxInFlight} caps the VUs of each k6 scenario (maxVUs), not the requests in flight across the run${load.onMaxInFlight === 'wait' ? '; on_max_in_flight: wait cannot be expressed: k6 drops an arrival that finds no free VU (dropped_iterations), as on_max_in_flight: drop' : ''}`,
    );
  }
  if ((stages.some((st) => st.kind === 'closed') || ownStreams.some((m) => m.stages!.some((st) => st.kind === 'closed'))) && (load.warmupMs > 0 || load.cooldownMs > 0)) {
    unsupported.push('closed-loop stages across a warmup or cooldown boundary: the users of the next phase are new k6 VUs, so for a moment the old users\' last requests overlap with the new users\' first ones');
  }
  if (weighted.length > 0 && stages.some((st) => st.kind === 'closed')) {
    unsupported.push('closed-loop stages shared by weighted mix streams: each k6 iteration draws its stream in the weights\' proportion; a VU does not keep one stream for the run as a harness user does');
  }
  if (mix && mix.some((m) => m.priority !== undefined)) {
    // priority is sent as the body field, as the harness does: nothing to list.
  }
  if (s.target.ignoreEos === 'auto' || s.target.continuousUsageStats === 'auto') {
    unsupported.push(
      'target.ignore_eos / continuous_usage_stats: auto: the harness probes the server (vLLM-like when it serves /tokenize); the script cannot, so it sends ignore_eos/min_tokens and continuous_usage_stats only with FLOODGATE_VLLM=1',
    );
  }
  if (!s.target.url) {
    unsupported.push(
      `the embedded stack: k6 does not start one; the script sends to ${DEFAULT_TARGET} (the default stack's gateway) unless FLOODGATE_TARGET_URL is set, with the key of FLOODGATE_API_KEY (e.g. fg-dev-pro)`,
    );
  }
  unsupported.push(
    `target.timeouts: the connect timeout is k6's; the TTFT (${s.target.timeouts.ttftMs} ms) and total (${s.target.timeouts.totalMs} ms) timeouts are checked only when an event arrives, so a silent stream is cut only by the run's end (gracefulStop)`,
  );
  unsupported.push(
    'the harness\'s schedule lag, intended-time latencies (ttft_intended, e2e_intended) and saturation detection (client.saturation_lag_p99, exit 3): k6 reports dropped_iterations and its own VU figures instead',
  );
  unsupported.push('server sampling (observe: /metrics scrapes or Prometheus queries) and the server block of summary.json: scrape the target with Prometheus alongside k6');
  unsupported.push('reports (summary.json, requests.jsonl, report.html, summary.md, junit.xml) and baseline comparison: k6 prints its own end-of-test summary (use k6 outputs for more)');
  unsupported.push('server-side sampling of the harness\'s seeded plan: the same seed does not give the same requests in k6 (draws are seeded per VU)');
  if (s.client.threads !== 'auto') unsupported.push('client.threads: k6 schedules its own VUs');

  // ---- open-loop rate profiles -----------------------------------------------------------------
  const sources: Array<{ pick: Pick; points: Point[]; label: string | undefined }> = [];
  let traceModels: Array<{ model: string; weight: number }> = [];
  if (trace) {
    const plan = buildPlan(s);
    if (plan.open.length > 0) {
      const bucketMs = Math.max(1000, (o.traceBucketS ?? 0) * 1000, Math.ceil(totalMs / 600 / 1000) * 1000);
      const counts = new Map<number, number>();
      const models = new Map<string, number>();
      for (const r of plan.open) {
        const b = Math.floor(r.intendedMs / bucketMs);
        counts.set(b, (counts.get(b) ?? 0) + 1);
        models.set(r.model, (models.get(r.model) ?? 0) + 1);
      }
      traceModels = [...models].map(([model, weight]) => ({ model, weight }));
      const points: Point[] = [];
      const buckets = Math.ceil(totalMs / bucketMs);
      for (let b = 0; b < buckets; b++) {
        const t0 = b * bucketMs;
        const t1 = Math.min(totalMs, t0 + bucketMs);
        const r = ((counts.get(b) ?? 0) * 1000) / bucketMs;
        points.push({ t: t0, r }, { t: t1, r });
      }
      sources.push({ pick: { kind: 'trace' }, points, label: undefined });
    }
  } else if (runStagesSend) {
    if (stages.some((st) => st.kind === 'open')) sources.push({ pick: { kind: 'run' }, points: ratePoints(stages), label: undefined });
  }
  for (const m of ownStreams) {
    // A closed stage of the stream sends nothing here: its users are VU scenarios (below).
    const points = ratePoints(m.stages!);
    points.push({ t: m.stages!.reduce((a, st) => a + st.durationMs, 0), r: 0 });
    if (m.stages!.some((st) => st.kind === 'open')) sources.push({ pick: { kind: 'stream', index: m.index }, points, label: m.name });
  }

  // Windows: cut at stage boundaries and phase boundaries.
  const cuts = new Set<number>([0, totalMs]);
  starts.forEach((a) => cuts.add(a));
  if (warmupEnd > 0 && warmupEnd < totalMs) cuts.add(warmupEnd);
  if (cooldownStart > 0 && cooldownStart < totalMs) cuts.add(cooldownStart);
  const bounds = [...cuts].sort((x, y) => x - y);
  const windows: Array<{ a: number; b: number; stage: Stage; phase: Phase }> = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const a = bounds[i]!;
    const b = bounds[i + 1]!;
    if (b <= a) continue;
    let si = 0;
    while (si + 1 < stages.length && starts[si + 1]! <= a) si++;
    const phase: Phase = a < warmupEnd ? 'warmup' : a >= cooldownStart ? 'cooldown' : 'measure';
    windows.push({ a, b, stage: stages[si]!, phase });
  }

  const meanOut = meanLength(s.workload.outputTokens);
  const estMs = s.slo.e2eMs ?? (s.slo.ttftMs ?? 1000) + (s.slo.tpotMs ?? s.slo.itlMs ?? 50) * Math.max(0, meanOut - 1);
  const k6Scenarios: Record<string, K6Scenario> = {};
  const scenarioTable: Record<string, { closed: boolean; thinkMs: [number, number]; pick: Pick }> = {};
  const graceful = (b: number): string => ms(totalMs - b + load.drainMs);
  const nameOf = (w: { stage: Stage; phase: Phase }, label: string | undefined, n: number): string => {
    const base = `${w.phase === 'measure' ? '' : `${w.phase}_`}${w.stage.name}${label ? `_${label}` : ''}`.replace(/[^A-Za-z0-9_-]/g, '_');
    return n === 0 ? base : `${base}_${n + 1}`;
  };
  const addScenario = (base: string, sc: K6Scenario, entry: (typeof scenarioTable)[string]): void => {
    let name = base;
    for (let n = 2; Object.hasOwn(k6Scenarios, name); n++) name = `${base}_${n}`;
    k6Scenarios[name] = sc;
    scenarioTable[name] = entry;
  };

  for (const src of sources) {
    for (const w of windows) {
      const segs = segment(src.points, w.a, w.b);
      const peak = Math.max(...segs.map((x) => x.r));
      if (!(peak > 0)) continue;
      const unitS = timeUnitFor(segs.map((x) => x.r));
      const toRate = (r: number): number => Math.round(r * unitS);
      const k6Stages: Array<{ duration: string; target: number }> = [];
      for (let i = 1; i < segs.length; i++) k6Stages.push({ duration: ms(segs[i]!.t - segs[i - 1]!.t), target: toRate(segs[i]!.r) });
      let pre = Math.max(1, Math.ceil((peak * estMs * 1.5) / 1000));
      let max = Math.max(pre, Math.ceil((peak * estMs * 10) / 1000), 10);
      if (load.maxInFlight !== undefined) {
        max = load.maxInFlight;
        pre = Math.min(pre, max);
      }
      const tags: Record<string, string> = { stage: w.stage.name, stage_index: String(w.stage.index), phase: w.phase };
      if (src.label) tags.stream = src.label;
      addScenario(
        nameOf(w, src.label, 0),
        {
          executor: 'ramping-arrival-rate',
          exec: 'floodgate',
          startTime: ms(w.a),
          startRate: toRate(segs[0]!.r),
          timeUnit: `${unitS}s`,
          preAllocatedVUs: pre,
          maxVUs: max,
          stages: k6Stages,
          gracefulStop: graceful(w.b),
          tags,
        },
        { closed: false, thinkMs: [0, 0], pick: src.pick },
      );
    }
  }
  /**
   * The VUs of closed stage `st` (starting at `a` on the run's clock) over the window [w.a, w.b)
   * of run stage w.stage: constant-vus, or ramping-vus while its users ramp up.
   */
  const addClosed = (st: ClosedStage, a: number, w: { a: number; b: number; stage: Stage; phase: Phase }, label: string | undefined, pick: Pick): void => {
    const rampEnd = a + st.rampMs;
    const usersAt = (t: number): number => (st.rampMs > 0 && t < rampEnd ? Math.min(st.users, Math.ceil((st.users * (t - a)) / st.rampMs)) : st.users);
    const tags: Record<string, string> = { stage: w.stage.name, stage_index: String(w.stage.index), phase: w.phase };
    if (label) tags.stream = label;
    const base = { exec: 'floodgate', startTime: ms(w.a), gracefulStop: graceful(w.b), tags };
    let sc: K6Scenario;
    if (rampEnd <= w.a) sc = { executor: 'constant-vus', vus: st.users, duration: ms(w.b - w.a), ...base };
    else {
      const rampTo = Math.min(rampEnd, w.b);
      const k6Stages = [{ duration: ms(rampTo - w.a), target: usersAt(rampTo === rampEnd ? rampEnd : rampTo) }];
      if (w.b > rampTo) k6Stages.push({ duration: ms(w.b - rampTo), target: st.users });
      sc = { executor: 'ramping-vus', startVUs: usersAt(w.a), stages: k6Stages, gracefulRampDown: graceful(w.b), ...base };
    }
    addScenario(nameOf(w, label, 0), sc, { closed: true, thinkMs: [st.thinkTimeMs.min, st.thinkTimeMs.max], pick });
  };
  if (runStagesSend) {
    for (const w of windows) {
      const st = w.stage;
      if (st.kind !== 'closed' || st.users === 0) continue;
      addClosed(st, starts[st.index]!, w, undefined, trace ? { kind: 'trace' } : { kind: 'run' });
    }
  }
  // A mix stream's own closed stages: VU scenarios sending as the stream, cut at the run's windows.
  for (const m of ownStreams) {
    let a = 0;
    for (const st of m.stages!) {
      const end = a + st.durationMs;
      if (st.kind === 'closed' && st.users > 0) {
        for (const w of windows) {
          const lo = Math.max(w.a, a);
          const hi = Math.min(w.b, end);
          if (hi > lo) addClosed(st, a, { ...w, a: lo, b: hi }, m.name, { kind: 'stream', index: m.index });
        }
      }
      a = end;
    }
  }
  if (Object.keys(k6Scenarios).length === 0) {
    throw new UsageError('FG_EXPORT_UNSUPPORTED', `scenario "${s.name}" sends nothing (every stage has rate 0 or 0 users): there is no k6 load to export`);
  }

  // ---- thresholds ------------------------------------------------------------------------------
  const thresholds: Record<string, Array<string | { threshold: string; abortOnFail: boolean; delayAbortEval?: string }>> = {};
  const aborts = new Map((s.abortOnFail ?? []).map((a) => [a.expr, a]));
  const ratesExact = load.warmupMs === 0 && load.cooldownMs === 0;
  for (const expr of s.thresholds) {
    const p = parseThreshold(expr);
    if (!p.ok) {
      unsupported.push(`threshold "${expr}": does not parse (${p.code})`);
      continue;
    }
    const m = mapThreshold(p.threshold, s, ratesExact);
    if (typeof m === 'string') {
      unsupported.push(`threshold "${expr}": ${m}`);
      continue;
    }
    const ab = aborts.get(expr);
    const cond = `${m.agg}${p.threshold.op}${fmtNum(m.limit)}`;
    (thresholds[m.key] ??= []).push(ab ? { threshold: cond, abortOnFail: true, ...(ab.delayMs > 0 ? { delayAbortEval: ms(ab.delayMs) } : {}) } : cond);
  }

  const options = {
    scenarios: k6Scenarios,
    thresholds,
    summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max', 'count'],
    tags: { floodgate_scenario: s.name },
  };

  // ---- configuration the script reads --------------------------------------------------------
  const headers: Record<string, string> = {};
  const secretHeaders: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.target.headers)) {
    if (/auth|cookie|key|token|secret|passw|credential|session/i.test(k)) secretHeaders[k] = `FLOODGATE_HEADER_${envName(k)}`;
    else headers[k] = v;
  }
  if (Object.keys(secretHeaders).length > 0) {
    unsupported.push(
      `target.headers ${Object.keys(secretHeaders).join(', ')}: their values look secret and are not written into the script; set ${Object.values(secretHeaders).join(', ')} when running k6`,
    );
  }
  const streams = (mix ?? []).map((m) => ({
    name: m.name,
    tenant: m.tenant,
    model: m.model,
    keyEnv: `FLOODGATE_API_KEY_${envName(m.name)}`,
    priority: m.priority ?? null,
    weight: m.weight ?? 0,
  }));
  const config = {
    scenario: s.name,
    seed: s.seed,
    url: s.target.url ?? DEFAULT_TARGET,
    endpoint: s.target.endpoint,
    stream: s.target.stream,
    model: s.target.model,
    headers,
    secretHeaders,
    body: { ...s.target.body },
    ignoreEos: s.target.ignoreEos === 'auto' ? null : s.target.ignoreEos,
    continuousUsageStats: s.target.continuousUsageStats === 'auto' ? null : s.target.continuousUsageStats,
    timeouts: { ttftMs: s.target.timeouts.ttftMs, totalMs: s.target.timeouts.totalMs },
    promptTokens: distJson(s.workload.promptTokens),
    outputTokens: distJson(s.workload.outputTokens),
    sharedPrefix: s.workload.sharedPrefix ? { ...s.workload.sharedPrefix } : null,
    conversation: s.workload.conversation
      ? { turns: distJson(s.workload.conversation.turns), thinkMs: [s.workload.conversation.thinkTimeMs.min, s.workload.conversation.thinkTimeMs.max] }
      : null,
    slo: { ttftMs: s.slo.ttftMs ?? null, tpotMs: s.slo.tpotMs ?? null, itlMs: s.slo.itlMs ?? null, e2eMs: s.slo.e2eMs ?? null },
    streams,
    traceModels,
    scenarios: scenarioTable,
  };

  const script = renderScript(s, options, config, unsupported);
  return { script, unsupported };
}

// ---------------------------------------------------------------------------------------------

/** The profile on [a, b]: the right limit at a, the points strictly inside, the left limit at b. */
function segment(points: readonly Point[], a: number, b: number): Point[] {
  const out: Point[] = [{ t: a, r: valueAt(points, a, 'right') }];
  for (const p of points) if (p.t > a && p.t < b) out.push(p);
  out.push({ t: b, r: valueAt(points, b, 'left') });
  return out;
}

function valueAt(points: readonly Point[], t: number, side: 'left' | 'right'): number {
  const at = points.filter((p) => p.t === t);
  if (at.length > 0) return side === 'right' ? at[at.length - 1]!.r : at[0]!.r;
  let before: Point | undefined;
  let after: Point | undefined;
  for (const p of points) {
    if (p.t < t) before = p;
    else if (p.t > t && after === undefined) after = p;
  }
  if (!before || !after) return 0;
  return before.r + ((after.r - before.r) * (t - before.t)) / (after.t - before.t);
}

/** The smallest k6 timeUnit (1 s, 1 min, 1 h) in which every rate is a whole number (else 1 h, rounded). */
function timeUnitFor(rates: readonly number[]): number {
  for (const u of [1, 60, 3600]) if (rates.every((r) => Math.abs(r * u - Math.round(r * u)) < 1e-6)) return u;
  return 3600;
}

/** The open-loop rate over time of consecutive stages: ramps from the previous rate, 0 through closed stages. */
function ratePoints(stages: readonly Stage[]): Point[] {
  const points: Point[] = [];
  const starts = stageStartsMs(stages);
  let prev = 0;
  stages.forEach((st, i) => {
    const a = starts[i]!;
    if (st.kind === 'open') {
      points.push({ t: a, r: prev }, { t: a + st.rampMs, r: st.rateRps }, { t: a + st.durationMs, r: st.rateRps });
      prev = st.rateRps;
    } else {
      points.push({ t: a, r: 0 }, { t: a + st.durationMs, r: 0 });
      prev = 0;
    }
  });
  return points;
}

/** A length distribution as the script reads it (no Infinity: JSON has none; empirical values folded into value/weight pairs). */
function distJson(d: LengthDist): Record<string, unknown> {
  const max = Number.isFinite(d.max) ? d.max : null;
  switch (d.dist) {
    case 'fixed':
      return { dist: 'fixed', value: d.value, min: d.min, max };
    case 'uniform':
      return { dist: 'uniform', min: d.min, max };
    case 'normal':
      return { dist: 'normal', mean: d.mean, stddev: d.stddev, min: d.min, max };
    case 'lognormal':
      return { dist: 'lognormal', mu: d.mu, sigma: d.sigma, min: d.min, max };
    case 'empirical': {
      const byValue = new Map<number, number>();
      d.values.forEach((v, i) => byValue.set(v, (byValue.get(v) ?? 0) + (d.weights ? d.weights[i]! : 1)));
      let pairs = [...byValue].sort((x, y) => x[0] - y[0]);
      if (pairs.length > 4096) {
        // Keep the script small: 4096 quantiles of the distribution, equally weighted.
        const total = pairs.reduce((a, [, w]) => a + w, 0);
        const q: Array<[number, number]> = [];
        let acc = 0;
        let j = 0;
        for (let k = 0; k < 4096; k++) {
          const target = ((k + 0.5) / 4096) * total;
          while (j < pairs.length - 1 && acc + pairs[j]![1] < target) acc += pairs[j++]![1];
          q.push([pairs[j]![0], 1]);
        }
        pairs = q;
      }
      return { dist: 'empirical', values: pairs.map((p) => p[0]), weights: pairs.map((p) => p[1]), min: d.min, max };
    }
  }
}

function envName(s: string): string {
  return s.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

function fmtNum(n: number): string {
  return String(Number(n.toPrecision(12)));
}

const LATENCY_METRICS = new Set(['ttft', 'itl', 'tpot', 'e2e', 'inter_chunk', 'queue']);
const AGG: Record<string, string> = { mean: 'avg', p50: 'med', p90: 'p(90)', p95: 'p(95)', p99: 'p(99)', max: 'max', min: 'min' };

/** A Floodgate threshold as a k6 one: {key: metric{tags}, agg, limit}, or why it cannot be. */
function mapThreshold(t: Threshold, s: Scenario, ratesExact: boolean): { key: string; agg: string; limit: number } | string {
  const tags: string[] = ['phase:measure'];
  const tagSafe = (v: string): boolean => /^[^,:{}"'\s]+$/.test(v);
  if (t.scope.kind === 'stages') {
    const key = t.scope.key;
    const st = s.load.stages.find((x) => x.name === key) ?? (/^\d+$/.test(key) ? s.load.stages[Number(key)] : undefined);
    if (!st) return `no stage "${key}"`;
    if (!tagSafe(st.name)) return `the stage name "${st.name}" cannot stand in a k6 tag filter`;
    tags.push(`stage:${st.name}`);
  } else if (t.scope.kind === 'by_tenant' || t.scope.kind === 'by_model') {
    if (!tagSafe(t.scope.key)) return `"${t.scope.key}" cannot stand in a k6 tag filter`;
    tags.push(`${t.scope.kind === 'by_tenant' ? 'tenant' : 'model'}:${t.scope.key}`);
  }
  const p = t.path;
  const sel = (metric: string, extra: string[] = []): string => `${metric}{${[...tags, ...extra].join(',')}}`;
  if (p[0] === 'latency_ms' && p.length === 3) {
    const [, lat, stat] = p as [string, string, string];
    if (!LATENCY_METRICS.has(lat)) return `${lat} needs the harness's intended send times (its plan), which k6 does not have`;
    if (stat === 'count') return 'k6 thresholds on a Trend have no count';
    return { key: sel(lat), agg: AGG[stat]!, limit: t.limit };
  }
  const path = p.join('.');
  if (path === 'error_rate') return { key: sel('error_rate'), agg: 'rate', limit: t.limit };
  if (path === 'goodput.fraction') return { key: sel('goodput'), agg: 'rate', limit: t.limit };
  if (path === 'requests.failed') return { key: sel('requests_failed'), agg: 'count', limit: t.limit };
  if (path === 'requests.ok') return { key: sel('requests_ok'), agg: 'count', limit: t.limit };
  if (path === 'tokens.output') return { key: sel('output_tokens'), agg: 'count', limit: t.limit };
  if (path === 'tokens.prompt') return { key: sel('prompt_tokens'), agg: 'count', limit: t.limit };
  if (p[0] === 'errors' && p.length === 2) return { key: sel('requests_failed', [`error:${p[1]}`]), agg: 'count', limit: t.limit };
  if (p[0] === 'http_status' && p.length === 2) return { key: sel('responses', [`http_status:${p[1]}`]), agg: 'count', limit: t.limit };
  const perSecond: Record<string, string> = {
    'throughput.requests_per_s': 'requests_ok',
    'throughput.output_tokens_per_s': 'output_tokens',
    'throughput.total_tokens_per_s': 'total_tokens',
    'goodput.requests_per_s': 'good_requests',
    'goodput.output_tokens_per_s': 'good_output_tokens',
  };
  if (perSecond[path]) {
    if (t.scope.kind !== 'run' || !ratesExact) return `k6 divides a Counter's rate by the whole test's duration, not by the ${t.scope.kind === 'run' ? 'measured window (the scenario has a warmup or cooldown)' : 'block\'s window'}`;
    return { key: perSecond[path]!, agg: 'rate', limit: t.limit };
  }
  if (p[0] === 'server') return 'server metrics are sampled by the harness (observe), not by k6';
  if (p[0] === 'client') return 'the harness\'s own client figures (send lag, CPU, threads) have no k6 counterpart';
  return `${path} has no k6 counterpart in the exported script`;
}

// ---------------------------------------------------------------------------------------------
// The script

function renderScript(s: Scenario, options: unknown, config: unknown, unsupported: readonly string[]): string {
  const comment = (text: string): string => text.replace(/\*\//g, '*\\/');
  const list = unsupported.map((u) => ` *   - ${comment(u)}`).join('\n');
  const words = (ws: readonly string[]): string => {
    const lines: string[] = [];
    for (let i = 0; i < ws.length; i += 16) lines.push('  ' + ws.slice(i, i + 16).map((w) => JSON.stringify(w)).join(', ') + ',');
    return `[\n${lines.join('\n')}\n]`;
  };
  return `// @ts-check
/**
 * Generated by Floodgate (harness export k6) from scenario "${comment(s.name)}"${s.file !== '<inline>' ? ` (${comment(s.file)})` : ''}.
 * Do not edit by hand: change the scenario and export again.
 *
 * Needs k6 built with the xk6-sse extension (server-sent events), e.g.
 *   xk6 build --with github.com/phymbert/xk6-sse
 * Run:
 *   FLOODGATE_API_KEY=... ./k6 run script.js
 *   (or k6 run -e FLOODGATE_API_KEY=... -e FLOODGATE_TARGET_URL=http://host:8000/v1 script.js)
 * On Kubernetes, with the k6-operator: put this file in a ConfigMap and apply a TestRun whose
 * runner image is your xk6-sse build (docs/k6.md has a manifest).
 *
 * Environment: FLOODGATE_TARGET_URL (default ${comment(String((config as { url: string }).url))}), FLOODGATE_API_KEY
 * (sent as Authorization: Bearer; never written here), FLOODGATE_API_KEY_<STREAM> for mix streams,
 * FLOODGATE_HEADER_<NAME> for secret-looking headers, FLOODGATE_VLLM=1 (send ignore_eos/min_tokens and
 * continuous_usage_stats where the scenario says auto), FLOODGATE_PROMPT_OVERHEAD (template tokens,
 * default ${s.target.endpoint === 'chat' ? 10 : 1}), FLOODGATE_TOKENS_PER_WORD (default 1).
 *
 * Metrics (ms): ttft, itl, inter_chunk, tpot, e2e, queue (x-queue-ms); rates: error_rate, goodput
 * (requests meeting the scenario's SLO); counters: requests_ok, requests_failed{error},
 * responses{http_status}, output_tokens, prompt_tokens, total_tokens, good_requests, good_output_tokens.
 * Thresholds read {phase:measure} only: warmup and cooldown run as scenarios of their own.
 *
 * What this script cannot express (approximated or left out):
${list}
 */
import sse from 'k6/x/sse';
import http from 'k6/http';
import exec from 'k6/execution';
import { randomSeed, sleep } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';

/** @type {import('k6/options').Options} */
export const options = ${OPTIONS_BEGIN} ${JSON.stringify(options, null, 2)} ${OPTIONS_END};

/**
 * @typedef {{dist: 'fixed', value: number, min: number, max: number | null}
 *   | {dist: 'uniform', min: number, max: number | null}
 *   | {dist: 'normal', mean: number, stddev: number, min: number, max: number | null}
 *   | {dist: 'lognormal', mu: number, sigma: number, min: number, max: number | null}
 *   | {dist: 'empirical', values: number[], weights: number[], min: number, max: number | null}} Dist
 * @typedef {{kind: 'run'} | {kind: 'stream', index: number} | {kind: 'trace'}} Pick
 * @typedef {{name: string, tenant: string, model: string, keyEnv: string, priority: number | null, weight: number}} Stream
 * @typedef {{
 *   scenario: string, seed: number, url: string, endpoint: 'chat' | 'completions', stream: boolean, model: string,
 *   headers: Record<string, string>, secretHeaders: Record<string, string>, body: Record<string, unknown>,
 *   ignoreEos: boolean | null, continuousUsageStats: boolean | null, timeouts: {ttftMs: number, totalMs: number},
 *   promptTokens: Dist, outputTokens: Dist, sharedPrefix: {groups: number, tokens: number, share: number} | null,
 *   conversation: {turns: Dist, thinkMs: number[]} | null,
 *   slo: {ttftMs: number | null, tpotMs: number | null, itlMs: number | null, e2eMs: number | null},
 *   streams: Stream[], traceModels: {model: string, weight: number}[],
 *   scenarios: Record<string, {closed: boolean, thinkMs: number[], pick: Pick}>
 * }} Config
 */

/** @type {Config} */
const CONFIG = ${JSON.stringify(config, null, 2)};

/** One token each in Llama-3, also after another word (Floodgate's prompt words). */
const WORDS = ${words(PROMPT_WORDS)};
/** The words that stay one token without a space before them (a prompt's first word). */
const FIRST_WORDS = ${words(PROMPT_FIRST_WORDS)};

const ttft = new Trend('ttft', true);
const itl = new Trend('itl', true);
const interChunk = new Trend('inter_chunk', true);
const tpot = new Trend('tpot', true);
const e2e = new Trend('e2e', true);
const queue = new Trend('queue', true);
const errorRate = new Rate('error_rate');
const goodput = new Rate('goodput');
const requestsOk = new Counter('requests_ok');
const requestsFailed = new Counter('requests_failed');
const responses = new Counter('responses');
const outputTokens = new Counter('output_tokens');
const promptTokens = new Counter('prompt_tokens');
const totalTokens = new Counter('total_tokens');
const goodRequests = new Counter('good_requests');
const goodOutputTokens = new Counter('good_output_tokens');

const VLLM = __ENV.FLOODGATE_VLLM === '1';
const IGNORE_EOS = CONFIG.ignoreEos === null ? VLLM : CONFIG.ignoreEos;
const CONTINUOUS_USAGE = CONFIG.continuousUsageStats === null ? VLLM : CONFIG.continuousUsageStats;
const OVERHEAD = Number(__ENV.FLOODGATE_PROMPT_OVERHEAD || (CONFIG.endpoint === 'chat' ? 10 : 1));
const TOKENS_PER_WORD = Number(__ENV.FLOODGATE_TOKENS_PER_WORD || 1);
const TARGET_URL = (__ENV.FLOODGATE_TARGET_URL || CONFIG.url).replace(/\\/+$/, '') + (CONFIG.endpoint === 'chat' ? '/chat/completions' : '/completions');

randomSeed(CONFIG.seed * 100003 + (typeof __VU === 'number' ? __VU : 0));

/** A standard normal draw (Box-Muller). */
function gauss() {
  let u = 0;
  while (u === 0) u = Math.random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * Math.random());
}

/**
 * One integer length from a distribution: clamp(round(x), min, max), as the harness samples.
 * @param {Dist} d
 * @returns {number}
 */
function sample(d) {
  const hi = d.max === null ? Infinity : d.max;
  /** @type {number} */
  let x;
  switch (d.dist) {
    case 'fixed':
      x = d.value;
      break;
    case 'uniform':
      x = Math.ceil(d.min) + Math.floor(Math.random() * (Math.floor(hi) - Math.ceil(d.min) + 1));
      break;
    case 'normal':
      x = d.mean + d.stddev * gauss();
      break;
    case 'lognormal':
      x = Math.exp(d.mu + d.sigma * gauss());
      break;
    case 'empirical': {
      let total = 0;
      for (const w of d.weights) total += w;
      let u = Math.random() * total;
      let i = 0;
      while (i < d.values.length - 1 && u >= (d.weights[i] ?? 0)) u -= d.weights[i++] ?? 0;
      x = d.values[i] ?? d.min;
      break;
    }
  }
  const r = Math.round(x);
  return r < d.min ? d.min : r > hi ? hi : r;
}

/**
 * A small seeded generator (mulberry32), for texts that must be the same in every VU.
 * @param {number} seed
 * @returns {() => number}
 */
function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * @param {number} n words
 * @param {() => number} next
 * @param {boolean} first whether the first word starts the prompt
 * @returns {string[]}
 */
function words(n, next, first) {
  /** @type {string[]} */
  const out = [];
  for (let i = 0; i < n; i++) {
    const list = i === 0 && first ? FIRST_WORDS : WORDS;
    out.push(list[Math.floor(next() * list.length)] ?? 'the');
  }
  return out;
}

/** @type {Map<number, string[]>} */
const prefixes = new Map();

/**
 * A prompt of about \`tokens\` tokens (no tokenizer here: one token per word, less the template's overhead).
 * @param {number} tokens
 * @returns {string}
 */
function prompt(tokens) {
  const total = Math.max(1, Math.round((tokens - OVERHEAD) / TOKENS_PER_WORD));
  /** @type {string[]} */
  let head = [];
  const sp = CONFIG.sharedPrefix;
  if (sp && total > 1 && Math.random() < sp.share) {
    const g = Math.floor(Math.random() * sp.groups);
    let text = prefixes.get(g);
    if (!text) {
      text = words(Math.max(1, Math.round(sp.tokens / TOKENS_PER_WORD)), seeded(CONFIG.seed * 7919 + g + 1), true);
      prefixes.set(g, text);
    }
    head = text.slice(0, Math.min(text.length, total - 1));
  }
  return head.concat(words(total - head.length, Math.random, head.length === 0)).join(' ');
}

/**
 * The stream (model, tenant, key, priority) a request of this k6 scenario belongs to.
 * @param {Pick} pick
 * @returns {{model: string, tenant: string | undefined, keyEnv: string | undefined, priority: number | null}}
 */
function pickTraffic(pick) {
  if (pick.kind === 'stream') {
    const st = CONFIG.streams[pick.index];
    if (st) return { model: st.model, tenant: st.tenant, keyEnv: st.keyEnv, priority: st.priority };
  }
  if (pick.kind === 'trace' && CONFIG.traceModels.length > 1) {
    let total = 0;
    for (const m of CONFIG.traceModels) total += m.weight;
    let u = Math.random() * total;
    for (const m of CONFIG.traceModels) {
      if (u < m.weight) return { model: m.model, tenant: undefined, keyEnv: undefined, priority: null };
      u -= m.weight;
    }
  }
  const weighted = CONFIG.streams.filter((st) => st.weight > 0);
  if (pick.kind === 'run' && weighted.length > 0) {
    let total = 0;
    for (const st of weighted) total += st.weight;
    let u = Math.random() * total;
    for (const st of weighted) {
      if (u < st.weight || st === weighted[weighted.length - 1]) return { model: st.model, tenant: st.tenant, keyEnv: st.keyEnv, priority: st.priority };
      u -= st.weight;
    }
  }
  return { model: CONFIG.model, tenant: undefined, keyEnv: undefined, priority: null };
}

/**
 * Send one request and record its metrics. Returns whether it succeeded, and the answer's text
 * when \`keepText\` (conversations: kept in this VU's memory only).
 * @param {Pick} pick
 * @param {{role: string, content: string}[] | null} history
 * @param {string} userText
 * @param {boolean} keepText
 * @returns {{ok: boolean, text: string}}
 */
function send(pick, history, userText, keepText) {
  const traffic = pickTraffic(pick);
  const out = sample(CONFIG.outputTokens);
  /** @type {Record<string, unknown>} */
  const body = Object.assign({}, CONFIG.body, { model: traffic.model });
  if (traffic.priority !== null) body.priority = traffic.priority;
  if (CONFIG.endpoint === 'chat') body.messages = (history || []).concat([{ role: 'user', content: userText }]);
  else body.prompt = userText;
  body.max_tokens = out;
  if (IGNORE_EOS) {
    body.ignore_eos = true;
    body.min_tokens = out;
  }
  body.stream = CONFIG.stream;
  if (CONFIG.stream) body.stream_options = CONTINUOUS_USAGE ? { include_usage: true, continuous_usage_stats: true } : { include_usage: true };

  /** @type {Record<string, string>} */
  const headers = Object.assign({ 'content-type': 'application/json', accept: CONFIG.stream ? 'text/event-stream' : 'application/json' }, CONFIG.headers);
  for (const [name, env] of Object.entries(CONFIG.secretHeaders)) if (__ENV[env]) headers[name] = __ENV[env];
  const key = (traffic.keyEnv && __ENV[traffic.keyEnv]) || __ENV.FLOODGATE_API_KEY;
  if (key) headers.authorization = 'Bearer ' + key;

  /** @type {Record<string, string>} */
  const tags = { model: traffic.model };
  if (traffic.tenant !== undefined) tags.tenant = traffic.tenant;

  const sent = Date.now();
  let first = -1;
  let last = -1;
  let tokensSeen = 0;
  let usageOut = -1;
  let usagePrompt = -1;
  let done = false;
  /** @type {string | null} */
  let error = null;
  /** @type {number[]} */
  const itls = [];
  /** @type {number[]} */
  const gaps = [];
  let text = '';
  let status = 0;
  /** @type {Record<string, string> | undefined} */
  let resHeaders;

  if (CONFIG.stream) {
    const res = sse.open(TARGET_URL, { method: 'POST', body: JSON.stringify(body), headers, tags: Object.assign({ name: TARGET_URL }, tags) }, (client) => {
      client.on('event', (event) => {
        const now = Date.now();
        if (error !== null || done) return;
        if (event.data === '[DONE]') {
          done = true;
          client.close();
          return;
        }
        if (event.name === 'error') {
          error = 'mid_stream_error';
          client.close();
          return;
        }
        /** @type {any} */
        let msg;
        try {
          msg = JSON.parse(event.data);
        } catch (e) {
          error = 'invalid_response';
          client.close();
          return;
        }
        if (msg && msg.error) {
          error = 'mid_stream_error';
          client.close();
          return;
        }
        const usage = msg && msg.usage;
        const choice = msg && Array.isArray(msg.choices) ? msg.choices[0] : undefined;
        const delta = choice && (CONFIG.endpoint === 'chat' ? choice.delta : choice);
        const content = delta ? (CONFIG.endpoint === 'chat' ? delta.content || delta.reasoning_content || delta.reasoning : delta.text) : undefined;
        if (typeof content === 'string' && content.length > 0) {
          let k = 1;
          if (CONTINUOUS_USAGE && usage && typeof usage.completion_tokens === 'number') {
            k = Math.max(1, usage.completion_tokens - tokensSeen);
            tokensSeen = usage.completion_tokens;
          } else tokensSeen += 1;
          if (first < 0) {
            first = now;
            if (now - sent > CONFIG.timeouts.ttftMs) error = 'timeout_ttft';
          } else {
            const gap = now - last;
            gaps.push(gap);
            for (let i = 0; i < k; i++) itls.push(gap / k);
          }
          last = now;
          if (keepText) text += content;
        }
        if (usage && !(choice && typeof content === 'string' && content.length > 0)) {
          if (typeof usage.completion_tokens === 'number') usageOut = usage.completion_tokens;
          if (typeof usage.prompt_tokens === 'number') usagePrompt = usage.prompt_tokens;
        }
        if (error === null && now - sent > CONFIG.timeouts.totalMs) error = 'timeout_total';
        if (error !== null) client.close();
      });
      client.on('error', (e) => {
        if (error === null && !done) error = /refused/i.test(e.error()) ? 'connection_refused' : /reset|EOF/i.test(e.error()) ? 'connection_reset' : 'client_error';
      });
    });
    status = res.status;
    resHeaders = res.headers;
    if (status && (status < 200 || status > 299)) error = 'http_' + status;
    else if (error === null && !done) error = res.error ? (/refused/i.test(res.error) ? 'connection_refused' : 'client_error') : 'stream_truncated';
  } else {
    const res = http.post(TARGET_URL, JSON.stringify(body), { headers, tags, timeout: CONFIG.timeouts.totalMs + 'ms' });
    status = res.status;
    resHeaders = res.headers;
    if (status < 200 || status > 299) error = status ? 'http_' + status : 'client_error';
    else {
      try {
        /** @type {any} */
        const json = res.json();
        first = last = Date.now();
        const choice = json && Array.isArray(json.choices) ? json.choices[0] : undefined;
        if (keepText && choice) text = String((choice.message && choice.message.content) || choice.text || '');
        if (json && json.usage) {
          usageOut = Number(json.usage.completion_tokens);
          usagePrompt = Number(json.usage.prompt_tokens);
        }
      } catch (e) {
        error = 'invalid_response';
      }
    }
  }

  if (status) responses.add(1, Object.assign({ http_status: String(status) }, tags));
  const q = resHeaders ? Number(resHeaders['X-Queue-Ms'] || resHeaders['x-queue-ms']) : NaN;
  if (Number.isFinite(q)) queue.add(q, tags);
  errorRate.add(error !== null, tags);
  if (error !== null) {
    requestsFailed.add(1, Object.assign({ error }, tags));
    goodput.add(false, tags);
    return { ok: false, text: '' };
  }
  const end = last >= 0 ? last : Date.now();
  const t1 = first >= 0 ? first - sent : end - sent;
  const total = end - sent;
  const nOut = usageOut >= 0 ? usageOut : tokensSeen;
  requestsOk.add(1, tags);
  ttft.add(t1, tags);
  e2e.add(total, tags);
  for (const v of itls) itl.add(v, tags);
  for (const v of gaps) interChunk.add(v, tags);
  /** @type {number | null} */
  let perToken = null;
  if (nOut >= 2) {
    perToken = (total - t1) / (nOut - 1);
    tpot.add(perToken, tags);
  }
  outputTokens.add(nOut, tags);
  if (usagePrompt >= 0) promptTokens.add(usagePrompt, tags);
  totalTokens.add(nOut + Math.max(0, usagePrompt), tags);
  let meanItl = null;
  if (itls.length > 0) meanItl = itls.reduce((a, v) => a + v, 0) / itls.length;
  const slo = CONFIG.slo;
  const good =
    (slo.ttftMs === null || t1 <= slo.ttftMs) &&
    (slo.tpotMs === null || perToken === null || perToken <= slo.tpotMs) &&
    (slo.itlMs === null || meanItl === null || meanItl <= slo.itlMs) &&
    (slo.e2eMs === null || total <= slo.e2eMs);
  goodput.add(good, tags);
  if (good) {
    goodRequests.add(1, tags);
    goodOutputTokens.add(nOut, tags);
  }
  return { ok: true, text };
}

/**
 * @param {number[]} range [min, max] in ms
 */
function think(range) {
  const lo = range[0] ?? 0;
  const hi = range[1] ?? lo;
  const t = hi > lo ? lo + Math.random() * (hi - lo) : lo;
  if (t > 0) sleep(t / 1000);
}

/** @type {{scenario: string, left: number, history: {role: string, content: string}[]} | null} */
let conversation = null;

/** Every k6 scenario runs this: one request (open loop), or one request and the think time (closed loop). */
export function floodgate() {
  const name = exec.scenario.name;
  const sc = CONFIG.scenarios[name];
  if (!sc) throw new Error('floodgate: unknown k6 scenario ' + name);
  const conv = CONFIG.conversation;
  if (sc.closed && conv) {
    if (conversation === null || conversation.scenario !== name) {
      conversation = { scenario: name, left: Math.min(1000, sample(conv.turns)), history: [] };
    }
    const message = prompt(sample(CONFIG.promptTokens));
    const r = send(sc.pick, conversation.history, message, true);
    if (!r.ok) {
      conversation = null;
      think(sc.thinkMs);
      return;
    }
    conversation.history.push({ role: 'user', content: message }, { role: 'assistant', content: r.text });
    conversation.left -= 1;
    if (conversation.left > 0) think(conv.thinkMs);
    else {
      conversation = null;
      think(sc.thinkMs);
    }
    return;
  }
  send(sc.pick, null, prompt(sample(CONFIG.promptTokens)), false);
  if (sc.closed) think(sc.thinkMs);
}
`;
}
