/**
 * runScenario: the programmatic API behind `harness run`. Scenario in, results out:
 * probe the target, calibrate prompt lengths, build the plan, run the engine, write the run
 * folder (summary.json, requests.jsonl, ..., then summary.md and junit.xml), evaluate thresholds
 * (abort_on_fail ones also during the run, stopping it when one fails), and decide the exit code.
 * Prints nothing; progress, records and warnings go to the callbacks.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Agent } from 'undici';
import { buildPlan } from '../workload/plan.ts';
import { calibratePrompts } from '../workload/prompt-calibration.ts';
import { probeTarget, authHeaders } from '../client/target-probe.ts';
import { runEngine, autoThreads, type ProgressSnapshot } from '../engine/engine.ts';
import { endpointUrl, type RequestTemplate } from '../engine/request-template.ts';
import { requestTraceConfig } from '../client/request-trace.ts';
import { buildSummary, liveSummary, SATURATED_ELU, type Summary } from '../metrics/summary.ts';
import { evaluateThresholds, parseThreshold, type Threshold, type ThresholdResult } from '../gate/threshold.ts';
import { RunFolder, defaultRunDir } from '../report/run-folder.ts';
import { writeRunReports } from '../report/write-reports.ts';
import { ExitCode, RunError, UsageError } from '../errors.ts';
import type { RequestRecord } from '../metrics/request-record.ts';
import type { Aggregator } from '../metrics/aggregator.ts';
import type { Scenario, TargetConfig } from '../scenario/scenario-types.ts';
import { startEmbeddedStack } from './embedded-stack.ts';
import { RunObserver } from '../observe/run-observer.ts';
import type { ListenAddress } from '../observe/listen-address.ts';
import { checkShard, planFingerprint, shardPlan, startLateToleranceMs, type ShardSpec } from '../shard/shard-plan.ts';
import type { ShardRunInfo } from '../shard/shard-types.ts';
import type { EncodedBlock } from '../metrics/stats-block.ts';

export interface RunOptions {
  /** Run folder; default reports/<name>-<UTC time>/ under `reportsDir`. */
  outDir?: string;
  reportsDir?: string;
  /** Client threads, overriding the scenario's client.threads; 0 = on this thread. */
  threads?: number;
  /** Stop sending (Ctrl-C); in-flight requests get load.drain, then the run ends incomplete. */
  signal?: AbortSignal;
  /** Abort in-flight requests now (a second Ctrl-C). */
  hardSignal?: AbortSignal;
  /** Exit 0 rather than 3 when the client was saturated (the summary still says so). */
  allowSaturated?: boolean;
  onProgress?: (p: ProgressSnapshot) => void;
  onRecord?: (r: RequestRecord) => void;
  onWarning?: (message: string) => void;
  /**
   * Called when an abort_on_fail threshold failed during the run, just before sending stops
   * (the run then drains and ends like Ctrl-C, marked aborted by that threshold).
   */
  onThresholdAbort?: (info: { threshold: ThresholdResult; atS: number; drainS: number }) => void;
  /** Called when the embedded stack is up (no target.url): what runs, and where. */
  onEmbedded?: (description: string, url: string) => void;
  /** Called once the run folder exists, before any load is sent. */
  onStart?: (info: { runDir: string; threads: number; plannedRequests: number }) => void;
  /**
   * Where the harness serves its own /metrics during the run (floodgate_harness_*), overriding
   * the scenario's observe.metrics_listen; false: not served. Default: the scenario's, else not
   * served (`harness run` defaults to 127.0.0.1:9464).
   */
  metricsListen?: ListenAddress | false;
  /** Called with the harness's /metrics URL once it is served, before any load is sent. */
  onMetricsListen?: (url: string) => void;
  /**
   * Ask an external target (target.url) for its /metrics (and /sd/prometheus) when the scenario
   * lists no observe.endpoints. Default: yes for the embedded stack and for scenarios with an
   * `observe:` block; `harness run` always does.
   */
  discoverMetrics?: boolean;
  /**
   * `--shard I/N` (docs/distributed.md): send shard I's share of the plan; summary.json gets a
   * `shard` block; thresholds are reported but do not fail the run (`harness merge` enforces them).
   */
  shard?: ShardSpec;
  /**
   * `--start-at`: wall-clock time (Unix ms) of t = 0 of the run clock, the common start of every
   * shard. The run waits for it; one more than the warmup (at least 1 s) in the past is refused
   * (FG_SHARD_START_PAST). Default: start at once.
   */
  startAtMs?: number;
  /** Called before the run waits for startAtMs (how long, from now). */
  onWaitStart?: (info: { startAt: Date; waitMs: number }) => void;
}

export interface RunOutcome {
  summary: Summary;
  runDir: string;
  exitCode: number;
  /** Why the exit code is not 0, one line each. */
  reasons: string[];
}

let cachedVersion: string | undefined;
export function harnessVersion(): string {
  if (cachedVersion === undefined) {
    const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    cachedVersion = pkg.version;
  }
  return cachedVersion;
}

/** What summary.json's `target.stack` says about an embedded stack (absent when target.url was given). */
export interface EmbeddedStackSummary {
  /** The stack's name and the stack file it was started from (the scenario's `stack:`, else the default). */
  name: string;
  file: string;
  /** The tenant whose development key was sent; null when the scenario's target.api_key was. */
  tenant: string | null;
}

export async function runScenario(scenario: Scenario, opts: RunOptions = {}): Promise<RunOutcome> {
  const url = scenario.target.url;
  if (opts.shard) checkShard(opts.shard);
  if (opts.startAtMs !== undefined) checkStartAt(opts.startAtMs, scenario.load.warmupMs);
  if (url === undefined && opts.shard && opts.shard.count > 1) {
    opts.onWarning?.(
      `shard ${opts.shard.index}/${opts.shard.count} runs against an embedded stack of its own: each shard loads its own simulated stack with 1/${opts.shard.count} of the traffic, not one shared target (fine for trying sharding on one machine; for distributed load give every shard the same --target)`,
    );
  }
  if (url !== undefined) return runAgainst(scenario, { ...scenario.target, url }, undefined, opts);
  // No target: start the embedded stack (the scenario's `stack:` file, else the default stack:
  // gateway + simulated vLLM workers in a child process), run, stop it.
  const ownKey = scenario.target.apiKey !== undefined;
  const stack = await startEmbeddedStack({
    ...(scenario.stack ? { stackFile: scenario.stack.file } : {}),
    ...(scenario.stack?.tenant !== undefined && !ownKey ? { tenant: scenario.stack.tenant } : {}),
    ownKey,
  });
  opts.onEmbedded?.(stack.description, stack.url);
  try {
    const info: EmbeddedStackSummary = { name: stack.stackName, file: stack.stackFile, tenant: ownKey ? null : stack.tenant ?? null };
    return await runAgainst(scenario, { ...scenario.target, url: stack.url, apiKey: scenario.target.apiKey ?? stack.apiKey }, info, opts, stack.devKeys);
  } finally {
    await stack.stop();
  }
}

async function runAgainst(
  original: Scenario,
  target: TargetConfig & { url: string },
  embedded: EmbeddedStackSummary | undefined,
  opts: RunOptions,
  devKeys?: ReadonlyArray<{ tenant: string; key: string }>,
): Promise<RunOutcome> {
  // The scenario as run: its target now has a URL (the embedded stack's, when it had none).
  const scenario: Scenario = { ...original, target };
  const thresholds: Threshold[] = scenario.thresholds.map((expr) => {
    const p = parseThreshold(expr);
    if (!p.ok) throw new UsageError('FG_THRESHOLD_INVALID', p.message);
    return p.threshold;
  });
  const warn = (m: string) => opts.onWarning?.(m);

  const probeAgent = new Agent({ connect: { timeout: target.timeouts.connectMs } });
  let calibration;
  try {
    // A mix without a run key probes (and calibrates) with its first stream's key.
    const mixKey = target.apiKey === undefined ? scenario.mix?.find((m) => m.apiKey !== undefined)?.apiKey : undefined;
    const probeAs = mixKey === undefined ? target : { ...target, apiKey: mixKey };
    const probe = await probeTarget(probeAs, probeAgent);
    if (embedded && probe.modelListed === false) {
      const served = probe.models!.length ? probe.models!.join(', ') : 'no model';
      const to = embedded.tenant === null ? '' : ` to tenant ${embedded.tenant}`;
      throw new RunError(
        'FG_EMBEDDED_MODEL_UNKNOWN',
        `the embedded stack "${embedded.name}" (${embedded.file}) serves ${served}${to}; the scenario asks for "${target.model}" (set target.model, or --model); nothing was sent`,
      );
    }
    probe.warnings.forEach(warn);
    calibration = await calibratePrompts(probeAs, probeAgent, scenario.seed);
  } finally {
    await probeAgent.close();
  }
  if (calibration.source === 'builtin') warn(`the target has no /tokenize: prompt lengths are counted with the ${calibration.tokenizer}`);
  const vllmLike = calibration.source === 'server';

  const fullPlan = buildPlan(scenario);
  // A shard sends its share of the plan (harness/shard/shard-plan.ts); the union of the shares is the plan.
  const plan = opts.shard ? shardPlan(fullPlan, opts.shard) : fullPlan;
  const shardBase: ShardBase | undefined = opts.shard && {
    index: opts.shard.index,
    count: opts.shard.count,
    start_at: opts.startAtMs === undefined ? null : new Date(opts.startAtMs).toISOString(),
    plan_hash: planFingerprint(fullPlan),
    planned_requests: { plan: fullPlan.open.length, shard: plan.open.length },
    closed_users: Object.fromEntries(plan.closed.map((c) => [c.label ?? String(c.stage), (c.users ?? c.userStartsMs).length])),
    thresholds_enforced: false,
  };
  if (calibration.maxModelLen !== undefined) {
    const over = plan.open.filter((p) => p.promptTokens + p.outputTokens > calibration.maxModelLen!).length;
    if (over > 0) warn(`${over} planned requests ask for more than the target's context length (${calibration.maxModelLen} tokens, prompt + output); expect HTTP 400 for them`);
  }

  const template: RequestTemplate = {
    url: endpointUrl(target.url, target.endpoint),
    headers: { 'content-type': 'application/json', accept: target.stream ? 'text/event-stream' : 'application/json', ...authHeaders(target) },
    endpoint: target.endpoint,
    stream: target.stream,
    extraBody: { ...target.body },
    ignoreEos: target.ignoreEos === 'auto' ? vllmLike : target.ignoreEos,
    continuousUsageStats: target.continuousUsageStats === 'auto' ? vllmLike : target.continuousUsageStats,
    timeouts: { ...target.timeouts },
    promptShape: { overheadTokens: calibration.overheadTokens, tokensPerWord: calibration.tokensPerWord },
    seed: scenario.seed,
    // OpenTelemetry client spans (when OTEL_* configures an exporter) carry the scenario and stage names.
    trace: requestTraceConfig(scenario),
  };
  if (scenario.mix) template.mix = mixTemplate(scenario, target, template.headers, devKeys);

  const threads = opts.threads ?? (scenario.client.threads === 'auto' ? autoThreads(scenario) : scenario.client.threads);
  const startGuess = new Date();
  const runDir = opts.outDir ?? defaultRunDir(opts.reportsDir ?? 'reports', scenario.name, startGuess);
  const folder = RunFolder.create(runDir);
  // Observability: the target's metrics (sampled, or from Prometheus after the run) and the
  // harness's own /metrics. Never fails the run.
  const observer = await RunObserver.start({
    scenario,
    targetUrl: target.url,
    discover: opts.discoverMetrics ?? (embedded !== undefined || original.observe !== undefined),
    metricsListen: opts.metricsListen ?? scenario.observe?.metricsListen ?? false,
    runId: path.basename(runDir),
    warn,
    ...(opts.onMetricsListen ? { onMetricsUrl: opts.onMetricsListen } : {}),
  });
  try {
    opts.onStart?.({ runDir, threads, plannedRequests: plan.open.length });
    return await runObserved(scenario, plan, template, threads, folder, runDir, observer, target, embedded, calibration, thresholds, opts, shardBase);
  } finally {
    await observer.close();
  }
}

async function runObserved(
  scenario: Scenario,
  plan: ReturnType<typeof buildPlan>,
  template: RequestTemplate,
  threads: number,
  folder: RunFolder,
  runDir: string,
  observer: RunObserver,
  target: TargetConfig & { url: string },
  embedded: EmbeddedStackSummary | undefined,
  calibration: Awaited<ReturnType<typeof calibratePrompts>>,
  thresholds: Threshold[],
  opts: RunOptions,
  shardBase: ShardBase | undefined,
): Promise<RunOutcome> {
  // abort_on_fail: the run stops (as on Ctrl-C) when one of these fails during it. `stop` is the
  // engine's signal: the caller's (Ctrl-C) or a failed threshold aborts it.
  const stop = new AbortController();
  const onCallerStop = () => stop.abort();
  if (opts.signal?.aborted) stop.abort();
  opts.signal?.addEventListener('abort', onCallerStop, { once: true });
  const warn = (m: string) => opts.onWarning?.(m);
  const watched = (scenario.abortOnFail ?? []).map((a) => ({ ...a, threshold: thresholds[a.index]! })).filter((w) => w.threshold !== undefined);
  let abortedBy: { result: ThresholdResult; atMs: number } | undefined;
  let watching = true;
  const watch = (agg: Aggregator, nowMs: number) => {
    if (!watching || abortedBy || stop.signal.aborted) return;
    const due = watched.filter((w) => nowMs >= w.delayMs);
    if (due.length === 0) return;
    // The same blocks buildSummary makes, as if sending stopped now. No value yet (no request
    // measured) is not a failure here: only a value that breaks the limit stops the run.
    let failed: ThresholdResult | undefined;
    try {
      const live = liveSummary(scenario, plan, agg, nowMs);
      failed = evaluateThresholds(due.map((w) => w.threshold), live).find((r) => !r.pass && r.value !== null);
    } catch (e) {
      // Never let the watcher take the run down (it runs in the engine's timer): say so, stop watching.
      watching = false;
      warn(`abort_on_fail thresholds are no longer watched: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    if (!failed) return;
    abortedBy = { result: failed, atMs: nowMs };
    opts.onThresholdAbort?.({ threshold: failed, atS: nowMs / 1000, drainS: scenario.load.drainMs / 1000 });
    stop.abort();
  };
  let result;
  try {
    if (opts.startAtMs !== undefined) await waitForStart(opts.startAtMs, stop.signal, opts.onWaitStart);
    result = await runEngine({
      scenario,
      plan,
      ...(opts.startAtMs !== undefined ? { startAtMs: opts.startAtMs } : {}),
      template,
      threads,
      signal: stop.signal,
      ...(opts.hardSignal ? { hardSignal: opts.hardSignal } : {}),
      onRecord: (r) => {
        folder.writeRecord(r);
        observer.onRecord(r);
        opts.onRecord?.(r);
      },
      onProgress: (p) => {
        observer.onProgress(p);
        opts.onProgress?.(p);
      },
      ...(watched.length ? { onTick: watch } : {}),
      onEpoch: (epochNs) => observer.onEpoch(epochNs),
    });
  } finally {
    opts.signal?.removeEventListener('abort', onCallerStop);
  }
  // A threshold that failed in the very tick the stages ended stopped nothing: the run is complete.
  if (abortedBy && !result.interrupted) abortedBy = undefined;
  const server = await observer.finish({ startedAt: result.startedAt, wallMs: result.wallMs });

  const summary = buildSummary({
    scenario,
    plan,
    engine: result,
    targetUrl: target.url,
    embedded: embedded !== undefined,
    calibration,
    version: harnessVersion(),
  });
  // Which stack ran, for an embedded run: summary.json's target.stack.
  if (embedded) summary.target.stack = embedded;
  if (shardBase) summary.shard = shardInfo(shardBase, result.aggregator);
  summary.server = server.summary;
  summary.thresholds = evaluateThresholds(thresholds, summary);
  for (const w of watched) {
    const t = summary.thresholds[w.index];
    if (t) t.abort_on_fail = true;
  }
  if (abortedBy) {
    const ab = abortedBy;
    summary.aborted = { by: 'threshold', threshold: ab.result.expr, at_s: ab.atMs / 1000 };
    const t = summary.thresholds.find((x, i) => x.expr === ab.result.expr && watched.some((w) => w.index === i));
    if (t) {
      t.aborted_run = true;
      // The figures after the drain may pass where the live ones failed; the verdict that
      // stopped the run stands.
      if (t.pass) {
        t.pass = false;
        t.reason = `failed during the run at ${fmtS(ab.atMs)} (${ab.result.reason}), which stopped it; the final figures pass`;
      }
    }
  }
  await folder.finish(summary, result.aggregator.series.toArray(), server.points);
  writeRunReports(runDir);

  const reasons: string[] = [];
  let exitCode: number = ExitCode.OK;
  const failed = summary.thresholds.filter((t) => !t.pass);
  if (abortedBy) {
    reasons.push(`run aborted at ${fmtS(abortedBy.atMs)}: threshold "${abortedBy.result.expr}" failed (${abortedBy.result.reason}); the report covers what ran before the stop`);
  }
  if (failed.length && shardBase && !abortedBy) {
    // A shard sees 1/N of the load: its thresholds are reported, `harness merge` enforces them.
    for (const t of failed) reasons.push(`threshold failed on this shard (not enforced on a shard; harness merge evaluates it on the merged run): ${t.expr}: ${t.reason ?? 'failed'}`);
  } else if (failed.length) {
    exitCode = ExitCode.THRESHOLD_FAILED;
    for (const t of failed) reasons.push(`threshold failed: ${t.expr}: ${t.reason ?? 'failed'}`);
  }
  if (summary.client.saturated && !opts.allowSaturated) {
    exitCode = ExitCode.RUN_FAILED;
    reasons.push(
      `client saturated: send lag p99 ${summary.client.send_lag_ms.p99?.toFixed(2)} ms (bound ${summary.client.saturation_lag_p99_ms} ms), ` +
        `busiest client thread ${(summary.client.event_loop_utilization * 100).toFixed(0)}% busy (bound ${SATURATED_ELU * 100}%)`,
    );
  }
  // Stopped by a threshold: exit 1 (a threshold failed), not 3; by a signal: 3.
  if (summary.interrupted && !abortedBy) {
    exitCode = ExitCode.RUN_FAILED;
    reasons.push('run interrupted: the report covers what ran before the stop');
  }
  return { summary, runDir, exitCode, reasons };
}

type ShardBase = Omit<ShardRunInfo, 'histograms'>;

/** summary.json's `shard` block of a shard's run: what merge needs to merge the breakdowns exactly. */
function shardInfo(base: ShardBase, agg: Aggregator): ShardRunInfo {
  const enc = (m: Map<string, { encode(): EncodedBlock }>) => Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)).map(([k, b]) => [k, b.encode()]));
  return { ...base, histograms: { stages: agg.stages.map((b) => b.encode()), by_tenant: enc(agg.byTenant), by_model: enc(agg.byModel) } };
}

/** `--start-at` more than the tolerance in the past: refused before anything is started. */
function checkStartAt(startAtMs: number, warmupMs: number): void {
  if (!Number.isFinite(startAtMs)) throw new UsageError('FG_SHARD_BAD_START_AT', `start time ${startAtMs} is not a time`);
  const late = Date.now() - startAtMs;
  const tolerance = startLateToleranceMs(warmupMs);
  if (late > tolerance) {
    throw new UsageError(
      'FG_SHARD_START_PAST',
      `--start-at ${new Date(startAtMs).toISOString()} was ${fmtS(late)} ago; a shard may start at most ${fmtS(tolerance)} late (the warmup, at least 1s); give a later time (e.g. now+30s); nothing was sent`,
    );
  }
}

/** How long before t = 0 the engine is started (its client threads up, connections warm). */
const START_LEAD_MS = 2000;

/** Wait until START_LEAD_MS before `startAtMs` (or until `signal`); the engine sets t = 0 exactly. */
async function waitForStart(startAtMs: number, signal: AbortSignal, onWait: RunOptions['onWaitStart']): Promise<void> {
  onWait?.({ startAt: new Date(startAtMs), waitMs: Math.max(0, startAtMs - Date.now()) });
  const waitMs = startAtMs - START_LEAD_MS - Date.now();
  if (waitMs <= 0 || signal.aborted) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, waitMs);
    signal.addEventListener('abort', done, { once: true });
  });
}

function fmtS(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/**
 * The headers and body fields of each `mix:` stream (docs/scenarios.md, "Mixes"): its api_key,
 * else (on the embedded stack) the development key of its tenant, else the run's key; and its
 * priority. Computed once, looked up per request by stream index.
 */
function mixTemplate(
  scenario: Scenario,
  target: TargetConfig,
  runHeaders: Record<string, string>,
  devKeys: ReadonlyArray<{ tenant: string; key: string }> | undefined,
): NonNullable<RequestTemplate['mix']> {
  return scenario.mix!.map((s) => {
    let key = s.apiKey;
    if (key === undefined && devKeys !== undefined && s.stackTenant !== undefined) {
      key = devKeys.find((k) => k.tenant === s.stackTenant)?.key;
      if (key === undefined) {
        const have = devKeys.length ? devKeys.map((k) => k.tenant).join(', ') : 'none';
        throw new RunError('FG_EMBEDDED_STACK_FAILED', `mix stream "${s.name}": the embedded stack has no development key for tenant "${s.stackTenant}" (tenants with one: ${have}); set the stream's api_key; nothing was sent`);
      }
    }
    const headers = key === undefined ? runHeaders : { ...runHeaders, ...authHeaders({ ...target, headers: {}, apiKey: key }) };
    return s.priority === undefined ? { headers } : { headers, body: { priority: s.priority } };
  });
}
