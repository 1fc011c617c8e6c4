/**
 * The simulated worker's /metrics: vLLM's own metric names, types, labels and buckets (V1
 * engine, `vllm/v1/metrics/loggers.py`: labels model_name and engine), so that dashboards and
 * queries written against the simulator work unchanged against vLLM; and NVIDIA DCGM exporter
 * names for the simulated GPU (labels gpu, UUID, modelName, Hostname as dcgm-exporter sets them).
 * One prom-client Registry per worker, passed in: no global state.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0];
const TPOT_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0];
const REQUEST_LATENCY_BUCKETS = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0];
const ITERATION_TOKEN_BUCKETS = [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384];

/** vLLM's build_1_2_5_buckets: 1, 2, 5, 10, 20, 50, ... up to `max`. */
export function buckets125(max: number): number[] {
  const out: number[] = [];
  for (let exp = 1; ; exp *= 10) {
    for (const m of [1, 2, 5]) {
      const v = m * exp;
      if (v > max) return out;
      out.push(v);
    }
  }
}

export interface WorkerMetricsOptions {
  modelName: string;
  maxModelLen: number;
  /** DCGM labels of the simulated GPU(s): one per tensor-parallel rank. */
  gpus: ReadonlyArray<{ index: number; uuid: string; modelName: string }>;
  hostname: string;
  cacheConfig: Record<string, string>;
}

export class WorkerMetrics {
  readonly registry = new Registry();
  readonly running: Gauge;
  readonly waiting: Gauge;
  readonly kvUsage: Gauge;
  readonly prefixQueries: Counter;
  readonly prefixHits: Counter;
  readonly preemptions: Counter;
  readonly promptTokens: Counter;
  readonly generationTokens: Counter;
  readonly requestSuccess: Counter;
  readonly ttft: Histogram;
  readonly itl: Histogram;
  readonly tpot: Histogram;
  readonly e2e: Histogram;
  readonly queueTime: Histogram;
  readonly inferenceTime: Histogram;
  readonly prefillTime: Histogram;
  readonly decodeTime: Histogram;
  readonly requestPromptTokens: Histogram;
  readonly requestGenerationTokens: Histogram;
  readonly requestMaxTokens: Histogram;
  readonly iterationTokens: Histogram;
  readonly gpuUtil: Gauge;
  readonly fbUsed: Gauge;
  readonly fbFree: Gauge;
  readonly power: Gauge;
  readonly tensorActive: Gauge;
  readonly dramActive: Gauge;
  private readonly labels: { model_name: string; engine: string };

  constructor(o: WorkerMetricsOptions) {
    const r = this.registry;
    this.labels = { model_name: o.modelName, engine: '0' };
    const labelNames = ['model_name', 'engine'];
    const gauge = (name: string, help: string) => new Gauge({ name, help, labelNames, registers: [r] });
    const counter = (name: string, help: string, extra: string[] = []) => new Counter({ name, help, labelNames: [...labelNames, ...extra], registers: [r] });
    const hist = (name: string, help: string, buckets: number[]) => new Histogram({ name, help, labelNames, buckets, registers: [r] });

    this.running = gauge('vllm:num_requests_running', 'Number of requests in model execution batches.');
    this.waiting = gauge('vllm:num_requests_waiting', 'Number of requests waiting to be processed.');
    this.kvUsage = gauge('vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.');
    this.prefixQueries = counter('vllm:prefix_cache_queries_total', 'Prefix cache queries, in terms of number of queried tokens.');
    this.prefixHits = counter('vllm:prefix_cache_hits_total', 'Prefix cache hits, in terms of number of cached tokens.');
    this.preemptions = counter('vllm:num_preemptions_total', 'Cumulative number of preemption from the engine.');
    this.promptTokens = counter('vllm:prompt_tokens_total', 'Number of prefill tokens processed.');
    this.generationTokens = counter('vllm:generation_tokens_total', 'Number of generation tokens processed.');
    this.requestSuccess = counter('vllm:request_success_total', 'Count of successfully processed requests.', ['finished_reason']);
    this.ttft = hist('vllm:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', TTFT_BUCKETS);
    this.itl = hist('vllm:inter_token_latency_seconds', 'Histogram of inter-token latency in seconds.', TPOT_BUCKETS);
    this.tpot = hist('vllm:time_per_output_token_seconds', 'Histogram of time per output token in seconds.', TPOT_BUCKETS);
    this.e2e = hist('vllm:e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds.', REQUEST_LATENCY_BUCKETS);
    this.queueTime = hist('vllm:request_queue_time_seconds', 'Histogram of time spent in WAITING phase for request.', REQUEST_LATENCY_BUCKETS);
    this.inferenceTime = hist('vllm:request_inference_time_seconds', 'Histogram of time spent in RUNNING phase for request.', REQUEST_LATENCY_BUCKETS);
    this.prefillTime = hist('vllm:request_prefill_time_seconds', 'Histogram of time spent in PREFILL phase for request.', REQUEST_LATENCY_BUCKETS);
    this.decodeTime = hist('vllm:request_decode_time_seconds', 'Histogram of time spent in DECODE phase for request.', REQUEST_LATENCY_BUCKETS);
    this.requestPromptTokens = hist('vllm:request_prompt_tokens', 'Number of prefill tokens processed.', buckets125(o.maxModelLen));
    this.requestGenerationTokens = hist('vllm:request_generation_tokens', 'Number of generation tokens processed.', buckets125(o.maxModelLen));
    this.requestMaxTokens = hist('vllm:request_params_max_tokens', 'Histogram of the max_tokens request parameter.', buckets125(o.maxModelLen));
    this.iterationTokens = hist('vllm:iteration_tokens_total', 'Histogram of number of tokens per engine_step.', ITERATION_TOKEN_BUCKETS);
    const info = new Gauge({ name: 'vllm:cache_config_info', help: 'Information of the LLMEngine CacheConfig', labelNames: [...Object.keys(o.cacheConfig), 'engine'], registers: [r] });
    info.set({ ...o.cacheConfig, engine: '0' }, 1);
    // Zero-valued series exist from the start, as vLLM's do.
    for (const g of [this.running, this.waiting, this.kvUsage]) g.set(this.labels, 0);
    for (const c of [this.prefixQueries, this.prefixHits, this.preemptions, this.promptTokens, this.generationTokens]) c.inc(this.labels, 0);
    for (const reason of ['stop', 'length', 'abort']) this.requestSuccess.inc({ ...this.labels, finished_reason: reason }, 0);

    const dcgmLabels = ['gpu', 'UUID', 'device', 'modelName', 'Hostname'];
    const dcgm = (name: string, help: string) => new Gauge({ name, help, labelNames: dcgmLabels, registers: [r] });
    this.gpuUtil = dcgm('DCGM_FI_DEV_GPU_UTIL', 'GPU utilization (in %).');
    this.fbUsed = dcgm('DCGM_FI_DEV_FB_USED', 'Framebuffer memory used (in MiB).');
    this.fbFree = dcgm('DCGM_FI_DEV_FB_FREE', 'Framebuffer memory free (in MiB).');
    this.power = dcgm('DCGM_FI_DEV_POWER_USAGE', 'Power draw (in W).');
    this.tensorActive = dcgm('DCGM_FI_PROF_PIPE_TENSOR_ACTIVE', 'Ratio of cycles the tensor (HMMA) pipe is active.');
    this.dramActive = dcgm('DCGM_FI_PROF_DRAM_ACTIVE', 'Ratio of cycles the device memory interface is active sending or receiving data.');
    this.gpuLabels = o.gpus.map((g) => ({ gpu: String(g.index), UUID: g.uuid, device: `nvidia${g.index}`, modelName: g.modelName, Hostname: o.hostname }));
  }

  readonly gpuLabels: Array<Record<string, string>>;

  get l(): { model_name: string; engine: string } {
    return this.labels;
  }
}
