/**
 * virtualRun: the simulated engine driven on a virtual clock, as a discrete-event simulation:
 * the same scheduler, KV cache and performance model as the live worker (sim-engine.ts), with
 * no timers and no HTTP, so that minutes of GPU time simulate in a fraction of a second. Used by
 * the calibration benchmark (same arrival process and lengths as a published measurement) and,
 * later, by tuning sweeps.
 *
 * Events: requests arrive (open loop, at given times) or, in closed loop, `concurrency` users
 * each send their next request when their last one ends. A request that arrives during a step
 * is admitted when the step ends, as in vLLM's engine loop. Tokens are observed at the end of
 * the step that produced them.
 */
import { Rng } from '../../harness/workload/rng.ts';
import { KvCacheManager } from './kv-cache-manager.ts';
import { Scheduler, type SimRequest } from './scheduler.ts';
import { stepCost } from './perf-model.ts';
import { resolveConfig, type SimEngineConfig, type SimEngineOptions } from './sim-engine.ts';

export interface VirtualRequest {
  /** Open loop: arrival time, ms. Ignored in closed loop. */
  arrivalMs: number;
  promptTokens: number;
  outputTokens: number;
}

export interface VirtualRequestResult {
  arrivalMs: number;
  promptTokens: number;
  outputTokens: number;
  /** First token observed - arrival (ms). */
  ttftMs: number;
  /** Last token observed - arrival (ms). */
  e2eMs: number;
  /** Gaps between consecutive output tokens (ms). */
  itlMs: number[];
  /** First scheduled - arrival (ms). */
  queueMs: number;
  preemptions: number;
}

export interface VirtualRunResult {
  config: SimEngineConfig;
  requests: VirtualRequestResult[];
  /** From the first arrival to the last token (ms). */
  durationMs: number;
  steps: number;
  /** Share of the duration spent in steps. */
  busyFraction: number;
  preemptions: number;
  /** Highest number of running requests seen. */
  peakRunning: number;
  peakKvUsage: number;
}

export interface VirtualRunOptions {
  /** Closed loop: this many users; requests are taken in order as users free up. */
  concurrency?: number;
  /** Seed of the prompt token ids (distinct prompts: no accidental prefix sharing). */
  seed?: number;
}

export function virtualRun(engine: SimEngineOptions, requests: readonly VirtualRequest[], opts: VirtualRunOptions = {}): VirtualRunResult {
  const config = resolveConfig(engine);
  const perf = { gpu: config.gpu, model: config.model, quantization: config.quantization, kvCacheDtype: config.kvCacheDtype, tensorParallelSize: config.tensorParallelSize, efficiency: config.efficiency };
  const kv = new KvCacheManager({ numBlocks: config.kv.numBlocks, blockSize: config.blockSize, enablePrefixCaching: config.enablePrefixCaching });
  const scheduler = new Scheduler(
    { maxNumSeqs: config.maxNumSeqs, maxNumBatchedTokens: config.maxNumBatchedTokens, enableChunkedPrefill: config.enableChunkedPrefill, policy: config.schedulingPolicy },
    kv,
  );
  const rng = new Rng(opts.seed ?? 1).fork('virtual-prompts');
  const vocab = config.model.vocab;
  const closed = opts.concurrency !== undefined;
  const order = closed ? [...requests] : [...requests].sort((a, b) => a.arrivalMs - b.arrivalMs);
  const results: VirtualRequestResult[] = [];
  const state = new Map<string, { r: VirtualRequestResult; last: number | undefined; sim: SimRequest }>();
  let next = 0;
  let t = closed ? 0 : (order[0]?.arrivalMs ?? 0);
  const start = t;
  let steps = 0;
  let busy = 0;
  let peakRunning = 0;
  let peakKv = 0;

  const admit = (v: VirtualRequest, at: number) => {
    const ids = new Array<number>(v.promptTokens);
    for (let i = 0; i < ids.length; i++) ids[i] = 16 + Math.floor(rng.next() * (vocab - 16));
    const out = Math.min(v.outputTokens, config.maxModelLen - v.promptTokens);
    const sim: SimRequest = {
      id: `v${next}`,
      arrivalMs: at,
      priority: 0,
      promptTokenIds: ids,
      maxTokens: out,
      targetOutputTokens: out,
      maxModelLen: config.maxModelLen,
      status: 'waiting',
      numComputedTokens: 0,
      outputTokenIds: [],
      numPreemptions: 0,
    };
    const r: VirtualRequestResult = { arrivalMs: at, promptTokens: v.promptTokens, outputTokens: 0, ttftMs: NaN, e2eMs: NaN, itlMs: [], queueMs: NaN, preemptions: 0 };
    const added = scheduler.add(sim);
    next++;
    if (!added.ok) throw new Error(`virtualRun: request refused (${added.code}): ${added.message}`);
    state.set(sim.id, { r, last: undefined, sim });
  };

  if (closed) for (let u = 0; u < opts.concurrency! && next < order.length; u++) admit(order[next]!, 0);
  for (;;) {
    if (!closed) while (next < order.length && order[next]!.arrivalMs <= t) admit(order[next]!, order[next]!.arrivalMs);
    const plan = scheduler.schedule(t);
    if (plan.entries.length === 0) {
      scheduler.commit(plan, () => 0, t);
      if (!closed && next < order.length) {
        t = order[next]!.arrivalMs;
        continue;
      }
      break;
    }
    const cost = stepCost(perf, plan.work);
    const end = t + cost.timeMs;
    steps++;
    busy += cost.timeMs;
    const events = scheduler.commit(plan, () => 16 + Math.floor(rng.next() * (vocab - 16)), end);
    for (const tok of events.tokens) {
      const s = state.get(tok.req.id)!;
      if (s.last === undefined) {
        s.r.ttftMs = end - s.r.arrivalMs;
        s.r.queueMs = (tok.req.firstScheduledMs ?? s.r.arrivalMs) - s.r.arrivalMs;
      } else s.r.itlMs.push(end - s.last);
      s.last = end;
      s.r.outputTokens = tok.index + 1;
      if (tok.finishReason !== undefined) {
        s.r.e2eMs = end - s.r.arrivalMs;
        s.r.preemptions = tok.req.numPreemptions;
        results.push(s.r);
        state.delete(tok.req.id);
        if (closed && next < order.length) admit(order[next]!, end);
      }
    }
    const st = scheduler.stats();
    peakRunning = Math.max(peakRunning, st.numRunning);
    peakKv = Math.max(peakKv, st.kvUsage);
    t = end;
  }
  const stats = scheduler.stats();
  return {
    config,
    requests: results,
    durationMs: t - start,
    steps,
    busyFraction: t > start ? busy / (t - start) : 0,
    preemptions: stats.preemptionsTotal,
    peakRunning,
    peakKvUsage: peakKv,
  };
}
