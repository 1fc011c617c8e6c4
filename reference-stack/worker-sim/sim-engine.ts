/**
 * SimEngine: a simulated vLLM engine on a simulated GPU. One engine step at a time, as vLLM's
 * V1 engine core does: the scheduler picks the step's work (continuous batching, chunked
 * prefill, paged KV cache with prefix caching and preemption), the performance model says how
 * long that work takes on the configured GPU, model and quantization, the step's tokens are
 * emitted when the step ends, and the next step starts.
 *
 * Time: steps are scheduled on absolute deadlines of the process's monotonic clock (a late
 * timer never stretches the simulated GPU's timeline). `timeScale` N makes the simulated GPU N
 * times faster: every step lasts 1/N of its modelled time; everything observable (client-side
 * latency, /metrics) is wall-clock. Several engines can live in one process.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Rng } from '../../harness/workload/rng.ts';
import { createLengthSampler } from '../../harness/workload/length-sampler.ts';
import { fitLognormal } from '../../harness/workload/lognormal-fit.ts';
import type { LengthDist } from '../../harness/scenario/scenario-types.ts';
import { getGpu } from './gpu-catalog.ts';
import { getModel } from './model-catalog.ts';
import { kvCapacity, vllmBatchDefaults, type KvCapacity } from './kv-capacity.ts';
import { defaultEfficiency, stepCost } from './perf-model.ts';
import { quantSupport } from './quantization.ts';
import { KvCacheManager } from './kv-cache-manager.ts';
import { Scheduler, type SimRequest, type StepPlan } from './scheduler.ts';
import { SimTokenizer } from './sim-tokenizer.ts';
import { TextGenerator } from './text-generator.ts';
import { WorkerMetrics } from './worker-metrics.ts';
import { FaultInjector, type FaultConfig } from './fault-injection.ts';
import type { Efficiency, GpuSpec, KvCacheDtype, ModelSpec, PerfConfig, StepCost, WeightQuant } from './sim-types.ts';
import type { EngineFailure, GenerateRequest, GenerationHandle, GenerationSink, WorkerEngine } from './engine-api.ts';

export interface SimEngineOptions {
  /** GPU id from the catalogue (h100-sxm, a100-80gb, ...) or a full spec. */
  gpu: string | GpuSpec;
  /** Model id or alias from the catalogue (llama-3.1-8b, ...) or a full spec. */
  model: string | ModelSpec;
  /** Model name served and accepted (vLLM's --served-model-name); default the model's HF name. */
  servedModelName?: string;
  /** More names accepted in `model` (vLLM's --served-model-name given several names); the stack sets them. */
  extraServedNames?: readonly string[];
  quantization?: WeightQuant;
  kvCacheDtype?: KvCacheDtype;
  tensorParallelSize?: number;
  maxNumSeqs?: number;
  maxNumBatchedTokens?: number;
  enableChunkedPrefill?: boolean;
  enablePrefixCaching?: boolean;
  gpuMemoryUtilization?: number;
  /** Context length; default the model's, capped to what the KV cache holds. */
  maxModelLen?: number;
  schedulingPolicy?: 'fcfs' | 'priority';
  blockSize?: number;
  /** Speed-up of the simulated GPU (default 1 = real time). */
  timeScale?: number;
  seed?: number;
  /** Natural output lengths (when ignore_eos is not set); default lognormal mean 256, p90 550. */
  outputLength?: LengthDist;
  efficiency?: Partial<Efficiency>;
  faults?: FaultConfig;
  hostname?: string;
}

/** The engine's configuration after defaults (what /metrics' cache_config_info and docs show). */
export interface SimEngineConfig {
  gpu: GpuSpec;
  model: ModelSpec;
  servedModelName: string;
  quantization: WeightQuant;
  kvCacheDtype: KvCacheDtype;
  tensorParallelSize: number;
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  enableChunkedPrefill: boolean;
  enablePrefixCaching: boolean;
  gpuMemoryUtilization: number;
  maxModelLen: number;
  schedulingPolicy: 'fcfs' | 'priority';
  blockSize: number;
  timeScale: number;
  seed: number;
  efficiency: Efficiency;
  kv: KvCapacity;
}

/** A configuration the simulated vLLM would refuse to start with (like vLLM's own errors). */
export class SimConfigError extends Error {
  readonly code = 'FG_SIM_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'SimConfigError';
  }
}

interface Live {
  req: SimRequest;
  sink: GenerationSink;
  text: { next(): { id: number; text: string } };
  pending: { id: number; text: string } | undefined;
  arrivalMs: number;
  firstTokenMs: number | undefined;
  lastTokenMs: number | undefined;
  maxTokens: number;
}

/** Busy intervals of the last few seconds, for DCGM's utilisation and activity gauges. */
interface BusySpan {
  start: number;
  end: number;
  tensor: number;
  dram: number;
}

const DEFAULT_OUTPUT: { mean: number; p90: number } = { mean: 256, p90: 550 };
const WINDOW_MS = 1000;
const MIB = 1024 * 1024;

export function resolveConfig(o: SimEngineOptions): SimEngineConfig {
  const gpu = typeof o.gpu === 'string' ? getGpu(o.gpu) : o.gpu;
  const model = typeof o.model === 'string' ? getModel(o.model) : o.model;
  if (!gpu) throw new SimConfigError(`unknown GPU "${String(o.gpu)}"`);
  if (!model) throw new SimConfigError(`unknown model "${String(o.model)}"`);
  const tensorParallelSize = o.tensorParallelSize ?? 1;
  // vLLM's own defaults for its OpenAI server depend on the GPU (kv-capacity.ts).
  const batchDefaults = vllmBatchDefaults(gpu);
  const maxNumSeqs = o.maxNumSeqs ?? batchDefaults.maxNumSeqs;
  const maxNumBatchedTokens = o.maxNumBatchedTokens ?? batchDefaults.maxNumBatchedTokens;
  const blockSize = o.blockSize ?? 16;
  const quantization = o.quantization ?? 'bf16';
  const kvCacheDtype = o.kvCacheDtype ?? 'auto';
  const gpuMemoryUtilization = o.gpuMemoryUtilization ?? 0.9;
  const support = quantSupport(gpu, quantization, kvCacheDtype, model);
  if (!support.supported) throw new SimConfigError(support.notes.join('; '));
  const kv = kvCapacity({
    gpu,
    model,
    quantization,
    kvCacheDtype,
    tensorParallelSize,
    gpuMemoryUtilization,
    maxNumBatchedTokens,
    maxNumSeqs,
    blockSize,
    maxModelLen: o.maxModelLen ?? model.maxContext,
  });
  if (!kv.fits && (o.maxModelLen !== undefined || kv.numBlocks <= 0)) throw new SimConfigError(kv.reason ?? 'the model does not fit on this GPU');
  // vLLM refuses a max_model_len the KV cache cannot hold; by default we take what fits.
  const maxModelLen = o.maxModelLen ?? Math.min(model.maxContext, kv.maxTokens);
  if (maxModelLen > kv.maxTokens) {
    throw new SimConfigError(
      `The model's max seq len (${maxModelLen}) is larger than the maximum number of tokens that can be stored in KV cache (${kv.maxTokens}). Try increasing gpu_memory_utilization or decreasing max_model_len when initializing the engine.`,
    );
  }
  // Without chunked prefill a prompt is prefilled in one step, so one step's token budget must
  // hold the longest sequence: vLLM raises its default budget to max_model_len and refuses at
  // start-up an explicit one below it.
  const enableChunkedPrefill = o.enableChunkedPrefill ?? true;
  let stepTokens = maxNumBatchedTokens;
  if (!enableChunkedPrefill) {
    if (o.maxNumBatchedTokens === undefined) stepTokens = Math.max(maxNumBatchedTokens, maxModelLen);
    else if (o.maxNumBatchedTokens < maxModelLen) {
      throw new SimConfigError(
        `max_num_batched_tokens (${o.maxNumBatchedTokens}) is below max_model_len (${maxModelLen}) with chunked prefill disabled: a prompt is prefilled in one step, so longer sequences could never be scheduled. Raise max_num_batched_tokens to at least ${maxModelLen}, lower max_model_len, or enable chunked prefill.`,
      );
    }
  }
  return {
    gpu,
    model,
    servedModelName: o.servedModelName ?? model.hfName,
    quantization,
    kvCacheDtype,
    tensorParallelSize,
    maxNumSeqs,
    maxNumBatchedTokens: stepTokens,
    enableChunkedPrefill,
    enablePrefixCaching: o.enablePrefixCaching ?? true,
    gpuMemoryUtilization,
    maxModelLen,
    schedulingPolicy: o.schedulingPolicy ?? 'fcfs',
    blockSize,
    timeScale: o.timeScale ?? 1,
    seed: o.seed ?? 0,
    efficiency: { ...defaultEfficiency(gpu), ...o.efficiency },
    kv,
  };
}

export class SimEngine implements WorkerEngine {
  readonly config: SimEngineConfig;
  readonly modelName: string;
  readonly modelAliases: readonly string[];
  readonly maxModelLen: number;
  readonly schedulingPolicy: 'fcfs' | 'priority';
  readonly metrics: WorkerMetrics;
  private readonly perf: PerfConfig;
  private readonly tokenizer: SimTokenizer;
  private readonly textGen: TextGenerator;
  private readonly outputLen: () => number;
  private readonly faults: FaultInjector;
  private kvm!: KvCacheManager;
  private scheduler!: Scheduler;
  private readonly live = new Map<string, Live>();
  private timer: NodeJS.Timeout | undefined;
  /** End of the step in progress (or of the last one), ms on the performance clock. */
  private stepEndMs = 0;
  private stepping = false;
  private dead = false;
  private startedMs = performance.now();
  private readonly busy: BusySpan[] = [];
  private lastPreemptions = 0;
  private lastQueries = 0;
  private lastHits = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private deathTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Step-start lateness (ms) of recent steps: how well this process keeps the simulated GPU's time. */
  readonly jitterMs: number[] = [];
  stepsTotal = 0;

  constructor(options: SimEngineOptions) {
    this.config = resolveConfig(options);
    const c = this.config;
    this.modelName = c.servedModelName;
    this.modelAliases = [...new Set([c.model.id, c.model.hfName, ...(options.extraServedNames ?? [])].filter((n) => n !== c.servedModelName))];
    this.maxModelLen = c.maxModelLen;
    this.schedulingPolicy = c.schedulingPolicy;
    this.perf = { gpu: c.gpu, model: c.model, quantization: c.quantization, kvCacheDtype: c.kvCacheDtype, tensorParallelSize: c.tensorParallelSize, efficiency: c.efficiency };
    this.tokenizer = new SimTokenizer(c.model.vocab);
    this.textGen = new TextGenerator(this.tokenizer);
    const rng = new Rng(c.seed);
    const dist: LengthDist = options.outputLength ?? lognormal(DEFAULT_OUTPUT.mean, DEFAULT_OUTPUT.p90);
    this.outputLen = createLengthSampler(dist, rng.fork('output-length'));
    this.faults = new FaultInjector(options.faults ?? {}, c.seed);
    this.metrics = new WorkerMetrics({
      modelName: c.servedModelName,
      maxModelLen: c.maxModelLen,
      gpus: Array.from({ length: c.tensorParallelSize }, (_, i) => ({ index: i, uuid: gpuUuid(c.seed, i), modelName: c.gpu.name })),
      hostname: options.hostname ?? os.hostname(),
      cacheConfig: {
        block_size: String(c.blockSize),
        cache_dtype: c.kvCacheDtype,
        enable_prefix_caching: String(c.enablePrefixCaching),
        gpu_memory_utilization: String(c.gpuMemoryUtilization),
        num_gpu_blocks: String(c.kv.numBlocks),
      },
    });
    this.reset();
    this.armDeathTimer();
  }

  private reset(): void {
    const c = this.config;
    this.kvm = new KvCacheManager({ numBlocks: c.kv.numBlocks, blockSize: c.blockSize, enablePrefixCaching: c.enablePrefixCaching });
    this.scheduler = new Scheduler(
      { maxNumSeqs: c.maxNumSeqs, maxNumBatchedTokens: c.maxNumBatchedTokens, enableChunkedPrefill: c.enableChunkedPrefill, policy: c.schedulingPolicy },
      this.kvm,
    );
    this.lastPreemptions = 0;
    this.lastQueries = 0;
    this.lastHits = 0;
    this.startedMs = performance.now();
  }

  // ---- WorkerEngine ---------------------------------------------------------------------

  tokenize(text: string): number[] {
    return this.tokenizer.encodePrompt(text);
  }

  applyChatTemplate(messages: ReadonlyArray<{ role: string; content: string }>, addGenerationPrompt: boolean): number[] {
    return this.tokenizer.encodeChat(messages, addGenerationPrompt);
  }

  detokenize(ids: readonly number[]): string {
    return this.tokenizer.decode(ids);
  }

  healthy(): boolean {
    return !this.dead;
  }

  submit(r: GenerateRequest, sink: GenerationSink): GenerationHandle {
    const now = performance.now();
    const fail = (f: EngineFailure): GenerationHandle => {
      queueMicrotask(() => sink.onError(f));
      return { abort() {} };
    };
    if (this.dead) return fail({ status: 503, type: 'ServiceUnavailableError', message: 'The engine is dead (simulated engine failure); waiting for a restart' });
    const injected = this.faults.atAdmission(r.promptTokenIds.length);
    if (injected) return fail(injected);
    if (this.faults.shouldDie(this.uptimeS(now))) {
      this.die();
      return fail({ status: 503, type: 'ServiceUnavailableError', message: 'The engine died (simulated engine failure)' });
    }
    const maxTokens = Math.min(r.maxTokens, this.maxModelLen - r.promptTokenIds.length);
    const natural = r.ignoreEos ? maxTokens : Math.min(maxTokens, Math.max(r.minTokens, this.outputLen()));
    const req: SimRequest = {
      id: r.requestId,
      arrivalMs: now,
      priority: r.priority,
      promptTokenIds: r.promptTokenIds,
      maxTokens,
      targetOutputTokens: Math.max(1, natural),
      maxModelLen: this.maxModelLen,
      status: 'waiting',
      numComputedTokens: 0,
      outputTokenIds: [],
      numPreemptions: 0,
    };
    const live: Live = { req, sink, text: this.textGen.stream(r.seed), pending: undefined, arrivalMs: now, firstTokenMs: undefined, lastTokenMs: undefined, maxTokens: r.maxTokens };
    const added = this.scheduler.add(req);
    if (!added.ok) return fail({ status: 400, type: 'BadRequestError', message: added.message });
    this.live.set(req.id, live);
    this.metrics.requestMaxTokens.observe(this.metrics.l, r.maxTokens);
    this.kick();
    return {
      abort: () => {
        if (!this.live.has(req.id)) return;
        this.live.delete(req.id);
        this.scheduler.abort(req.id);
        this.metrics.requestSuccess.inc({ ...this.metrics.l, finished_reason: 'abort' });
      },
    };
  }

  async metricsText(): Promise<string> {
    this.updateGauges(performance.now());
    return this.metrics.registry.metrics();
  }

  /** Stop the engine: no more steps; in-flight requests are dropped. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.deathTimer) clearTimeout(this.deathTimer);
    this.timer = undefined;
  }

  /** Requests the engine holds (waiting or running). */
  get inFlight(): number {
    return this.live.size;
  }

  // ---- the step loop --------------------------------------------------------------------

  private kick(): void {
    if (this.stepping || this.closed || this.dead) return;
    this.stepping = true;
    // An idle GPU starts the next step now; a busy one when its current step ends.
    this.stepEndMs = Math.max(this.stepEndMs, performance.now());
    this.startStep();
  }

  private startStep(): void {
    const start = this.stepEndMs;
    const plan = this.scheduler.schedule(start);
    if (plan.entries.length === 0) {
      this.scheduler.commit(plan, () => 0, start);
      this.stepping = false;
      this.publishSchedulerGauges();
      return;
    }
    const cost = stepCost(this.perf, plan.work);
    const slow = this.faults.slowdownAt(this.uptimeS(start));
    const durMs = (cost.timeMs * slow) / this.config.timeScale;
    const end = start + durMs;
    this.stepEndMs = end;
    this.recordBusy(start, end, cost);
    const wait = end - performance.now();
    this.timer = setTimeout(() => this.finishStep(plan, cost, end), Math.max(0, wait));
  }

  private finishStep(plan: StepPlan, cost: StepCost, deadline: number): void {
    this.timer = undefined;
    if (this.closed || this.dead) return;
    const now = performance.now();
    const late = now - deadline;
    if (this.jitterMs.length >= 100_000) this.jitterMs.length = 0;
    this.jitterMs.push(late);
    this.stepsTotal++;
    const m = this.metrics;
    const events = this.scheduler.commit(plan, (req) => this.nextTokenId(req), deadline);
    // Count tokens as vLLM's iteration stats do: prompt tokens prefilled, tokens generated.
    let prefillTokens = 0;
    for (const e of plan.entries) if (e.isPrefill) prefillTokens += e.numNewTokens;
    m.promptTokens.inc(m.l, prefillTokens);
    m.iterationTokens.observe(m.l, prefillTokens + events.tokens.length);
    m.generationTokens.inc(m.l, events.tokens.length);
    for (const t of events.tokens) this.emitToken(t.req, t.index, t.finishReason, deadline);
    void cost;
    this.publishSchedulerGauges();
    if (this.faults.shouldDie(this.uptimeS(now))) {
      this.die();
      return;
    }
    this.startStep();
  }

  private nextTokenId(req: SimRequest): number {
    const l = this.live.get(req.id);
    const tok = l ? l.text.next() : { id: 0, text: '' };
    if (l) l.pending = tok;
    return tok.id;
  }

  private emitToken(req: SimRequest, index: number, finishReason: 'stop' | 'length' | 'abort' | undefined, atMs: number): void {
    const l = this.live.get(req.id);
    if (!l) return;
    const m = this.metrics;
    const tok = l.pending ?? { id: 0, text: '' };
    l.pending = undefined;
    if (l.firstTokenMs === undefined) {
      l.firstTokenMs = atMs;
      m.ttft.observe(m.l, (atMs - l.arrivalMs) / 1000);
    } else if (l.lastTokenMs !== undefined) {
      m.itl.observe(m.l, (atMs - l.lastTokenMs) / 1000);
    }
    l.lastTokenMs = atMs;
    if (finishReason !== undefined) {
      this.live.delete(req.id);
      this.observeFinished(l, index + 1, finishReason, atMs);
    }
    l.sink.onToken({
      tokenId: tok.id,
      text: tok.text,
      index,
      finishReason,
      promptTokens: req.promptTokenIds.length,
      completionTokens: index + 1,
    });
  }

  private observeFinished(l: Live, outputTokens: number, reason: 'stop' | 'length' | 'abort', atMs: number): void {
    const m = this.metrics;
    const sec = (ms: number) => ms / 1000;
    const scheduled = l.req.firstScheduledMs ?? l.arrivalMs;
    const first = l.firstTokenMs ?? atMs;
    m.requestSuccess.inc({ ...m.l, finished_reason: reason });
    m.e2e.observe(m.l, sec(atMs - l.arrivalMs));
    m.queueTime.observe(m.l, sec(scheduled - l.arrivalMs));
    m.inferenceTime.observe(m.l, sec(atMs - scheduled));
    m.prefillTime.observe(m.l, sec(first - scheduled));
    m.decodeTime.observe(m.l, sec(atMs - first));
    if (outputTokens > 1) m.tpot.observe(m.l, sec((atMs - first) / (outputTokens - 1)));
    m.requestPromptTokens.observe(m.l, l.req.promptTokenIds.length);
    m.requestGenerationTokens.observe(m.l, outputTokens);
  }

  private publishSchedulerGauges(): void {
    const m = this.metrics;
    const s = this.scheduler.stats();
    m.running.set(m.l, s.numRunning);
    m.waiting.set(m.l, s.numWaiting);
    m.kvUsage.set(m.l, s.kvUsage);
    if (s.preemptionsTotal > this.lastPreemptions) m.preemptions.inc(m.l, s.preemptionsTotal - this.lastPreemptions);
    this.lastPreemptions = s.preemptionsTotal;
    if (s.prefixQueriesTokens > this.lastQueries) m.prefixQueries.inc(m.l, s.prefixQueriesTokens - this.lastQueries);
    this.lastQueries = s.prefixQueriesTokens;
    if (s.prefixHitsTokens > this.lastHits) m.prefixHits.inc(m.l, s.prefixHitsTokens - this.lastHits);
    this.lastHits = s.prefixHitsTokens;
  }

  // ---- DCGM -----------------------------------------------------------------------------

  private recordBusy(start: number, end: number, cost: StepCost): void {
    this.busy.push({ start, end, tensor: cost.tensorActive, dram: cost.dramActive });
    const horizon = performance.now() - 2 * WINDOW_MS;
    let drop = 0;
    while (drop < this.busy.length && this.busy[drop]!.end < horizon) drop++;
    if (drop > 0) this.busy.splice(0, drop);
  }

  /**
   * DCGM gauges over the last second: GPU_UTIL = share of the second spent in steps; tensor and
   * DRAM activity = the steps' roofline split weighted by their share of the second; power =
   * idle + (TDP - idle) x utilisation x (0.6 + 0.4 x max(tensor, DRAM activity)); framebuffer
   * used = weights + KV blocks in use + activation and non-torch reserves (per GPU, MiB).
   */
  private updateGauges(now: number): void {
    const from = now - WINDOW_MS;
    let busyMs = 0;
    let tensor = 0;
    let dram = 0;
    for (const b of this.busy) {
      const overlap = Math.min(b.end, now) - Math.max(b.start, from);
      if (overlap <= 0) continue;
      busyMs += overlap;
      tensor += overlap * b.tensor;
      dram += overlap * b.dram;
    }
    const util = Math.min(1, busyMs / WINDOW_MS);
    const tensorAct = Math.min(1, tensor / WINDOW_MS);
    const dramAct = Math.min(1, dram / WINDOW_MS);
    const c = this.config;
    const kv = c.kv;
    const usedBytes = kv.weightsBytesPerGpu + kv.activationBytes + kv.nonTorchBytes + this.scheduler.stats().kvUsage * kv.kvBytesPerGpu;
    const totalMiB = kv.totalMemoryBytes / MIB;
    const usedMiB = Math.min(totalMiB, usedBytes / MIB);
    const power = c.gpu.idleW + (c.gpu.tdpW - c.gpu.idleW) * util * (0.6 + 0.4 * Math.max(tensorAct, dramAct));
    const m = this.metrics;
    for (const labels of m.gpuLabels) {
      m.gpuUtil.set(labels, Math.round(util * 100));
      m.fbUsed.set(labels, Math.round(usedMiB));
      m.fbFree.set(labels, Math.round(totalMiB - usedMiB));
      m.power.set(labels, Math.round(power * 1000) / 1000);
      m.tensorActive.set(labels, Math.round(tensorAct * 1e6) / 1e6);
      m.dramActive.set(labels, Math.round(dramAct * 1e6) / 1e6);
    }
    this.publishSchedulerGauges();
  }

  // ---- faults ---------------------------------------------------------------------------

  private uptimeS(nowMs: number): number {
    return (nowMs - this.startedMs) / 1000;
  }

  private armDeathTimer(): void {
    const after = this.faults.deathAfterS;
    if (after === undefined) return;
    this.deathTimer = setTimeout(() => this.die(), Math.max(0, after * 1000 - (performance.now() - this.startedMs)));
    this.deathTimer.unref();
  }

  /** The engine dies: in-flight requests fail, /health goes 503, maybe a restart later. */
  private die(): void {
    if (this.dead) return;
    this.dead = true;
    this.stepping = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const failing = [...this.live.values()];
    this.live.clear();
    for (const l of failing) l.sink.onError({ status: 500, type: 'EngineDeadError', message: 'EngineCore encountered an issue (simulated engine death)' });
    const after = this.faults.restartAfterS;
    if (after !== undefined && !this.closed) {
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        this.reset();
        this.faults.resetAfterRestart();
        this.dead = false;
        this.stepEndMs = performance.now();
        this.armDeathTimer();
      }, after * 1000);
    }
  }
}

function lognormal(mean: number, p90: number): LengthDist {
  const fit = fitLognormal(mean, p90, 1, 32768);
  if (!fit.ok) throw new Error(fit.reason);
  return { dist: 'lognormal', mu: fit.mu, sigma: fit.sigma, min: 1, max: 32768 };
}

function gpuUuid(seed: number, index: number): string {
  const r = new Rng(seed).fork(`gpu-${index}`);
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(r.next() * 16).toString(16)).join('');
  return `GPU-${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`;
}

export function createSimEngine(options: SimEngineOptions): SimEngine {
  return new SimEngine(options);
}
