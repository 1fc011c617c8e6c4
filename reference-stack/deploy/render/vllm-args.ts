/**
 * The `vllm serve` command line equivalent to a simulated worker of the stack file, its inverse
 * (`parseVllmArgs`, used by tests to read rendered deployment files back), and the simulated-only
 * settings that no vLLM flag carries (written as comments next to the rendered command).
 *
 * Which flags are written (docs/gpu-box.md, "The vLLM command line"):
 *   - always: the model (positional, the catalogue's Hugging Face name), `--served-model-name`
 *     (every name the gateway may send: the worker's own served name, then its models'),
 *     `--tensor-parallel-size` (it must match the GPUs reserved for the container),
 *     `--port`, and the weights' format (`--quantization`, or `--dtype` for bf16/fp16): vLLM's
 *     default `--dtype auto` follows the checkpoint's torch_dtype, which is not always the bf16
 *     the simulator assumes (Llama-2-7b-hf is float16);
 *   - `--max-model-len` when the stack sets it, or when the simulator's default (the model's
 *     context capped to what the KV cache holds) is below the model's context: vLLM's default is
 *     the model's full context, and vLLM refuses to start when the KV cache cannot hold it;
 *   - every other flag only when the stack sets its key: the simulator's defaults are vLLM's own
 *     (max_num_seqs / max_num_batched_tokens by GPU class, chunked prefill and prefix caching on,
 *     gpu_memory_utilization 0.9, kv_cache_dtype auto, block_size 16, scheduling fcfs), so an
 *     unset key needs no flag.
 */
import type { ModelConfig, SimWorkerConfig } from '../../stack/stack-types.ts';
import { resolveConfig } from '../../worker-sim/sim-engine.ts';
import { vllmBatchDefaults } from '../../worker-sim/kv-capacity.ts';
import type { GpuSpec, KvCacheDtype, WeightQuant } from '../../worker-sim/sim-types.ts';
import { FloodgateError } from '../../../harness/errors.ts';

/** The port every rendered vLLM server listens on inside its container or pod. */
export const VLLM_PORT = 8000;

/** Weight formats with a `--dtype` (unquantized) and those with a `--quantization` method. */
const DTYPE_OF: Partial<Record<WeightQuant, string>> = { bf16: 'bfloat16', fp16: 'float16' };
/**
 * vLLM's `--quantization` method for each quantized weight format. int8 (W8A8) checkpoints are
 * served through vLLM's compressed-tensors method (there is no method named int8).
 */
const QUANT_METHOD_OF: Partial<Record<WeightQuant, string>> = { fp8: 'fp8', int8: 'compressed-tensors', awq: 'awq', gptq: 'gptq' };

/** vLLM's own defaults for the flags this module writes only when set (vLLM >= 0.10, OpenAI server). */
export const VLLM_DEFAULTS = {
  kvCacheDtype: 'auto' as KvCacheDtype,
  enableChunkedPrefill: true,
  enablePrefixCaching: true,
  gpuMemoryUtilization: 0.9,
  blockSize: 16,
  schedulingPolicy: 'fcfs' as 'fcfs' | 'priority',
} as const;

/** `vllm serve` arguments read back: what a rendered command line sets (absent = vLLM's default). */
export interface VllmServeArgs {
  model: string;
  servedModelNames: string[];
  tensorParallelSize?: number;
  /** The weight format the flags describe (from --quantization or --dtype). */
  quantization?: WeightQuant;
  kvCacheDtype?: KvCacheDtype;
  maxNumSeqs?: number;
  maxNumBatchedTokens?: number;
  enableChunkedPrefill?: boolean;
  enablePrefixCaching?: boolean;
  gpuMemoryUtilization?: number;
  maxModelLen?: number;
  schedulingPolicy?: 'fcfs' | 'priority';
  blockSize?: number;
  port?: number;
}

/** A command line `parseVllmArgs` cannot read (a flag it does not know, a value missing or malformed). */
export class VllmArgsError extends FloodgateError {
  constructor(message: string) {
    super('FG_RENDER_VLLM_ARGS', message);
    this.name = 'VllmArgsError';
  }
}

/** Every name the worker answers to, first the one vLLM reports (its metrics' model_name). */
export function servedModelNames(worker: SimWorkerConfig, model: ModelConfig): string[] {
  const resolved = resolveConfig(worker.sim);
  return [...new Set([resolved.servedModelName, model.servedModelName, ...(worker.sim.extraServedNames ?? [])])];
}

/**
 * The `vllm serve` arguments (model first, then flags) of a vLLM server equivalent to the
 * simulated worker `worker` serving `model` of the stack.
 * @throws SimConfigError when the worker's options are invalid (a loaded stack's never are).
 */
export function vllmArgs(worker: SimWorkerConfig, model: ModelConfig): string[] {
  const o = worker.sim;
  const r = resolveConfig(o);
  const args: string[] = [r.model.hfName, '--served-model-name', ...servedModelNames(worker, model)];
  args.push('--tensor-parallel-size', String(r.tensorParallelSize));
  const dtype = DTYPE_OF[r.quantization];
  if (dtype !== undefined) args.push('--dtype', dtype);
  else args.push('--quantization', QUANT_METHOD_OF[r.quantization]!);
  if (o.kvCacheDtype !== undefined) args.push('--kv-cache-dtype', o.kvCacheDtype);
  if (o.maxNumSeqs !== undefined) args.push('--max-num-seqs', String(o.maxNumSeqs));
  if (o.maxNumBatchedTokens !== undefined) args.push('--max-num-batched-tokens', String(o.maxNumBatchedTokens));
  if (o.enableChunkedPrefill !== undefined) args.push(o.enableChunkedPrefill ? '--enable-chunked-prefill' : '--no-enable-chunked-prefill');
  if (o.enablePrefixCaching !== undefined) args.push(o.enablePrefixCaching ? '--enable-prefix-caching' : '--no-enable-prefix-caching');
  if (o.gpuMemoryUtilization !== undefined) args.push('--gpu-memory-utilization', String(o.gpuMemoryUtilization));
  if (o.maxModelLen !== undefined || r.maxModelLen < r.model.maxContext) args.push('--max-model-len', String(r.maxModelLen));
  if (o.blockSize !== undefined) args.push('--block-size', String(o.blockSize));
  if (o.schedulingPolicy !== undefined) args.push('--scheduling-policy', o.schedulingPolicy);
  args.push('--port', String(VLLM_PORT));
  return args;
}

/** The flags `parseVllmArgs` reads, with how many values each takes. */
const VALUE_FLAGS = new Set([
  '--served-model-name', '--tensor-parallel-size', '--dtype', '--quantization', '--kv-cache-dtype', '--max-num-seqs',
  '--max-num-batched-tokens', '--gpu-memory-utilization', '--max-model-len', '--block-size', '--scheduling-policy', '--port',
]);
const SWITCHES = new Set(['--enable-chunked-prefill', '--no-enable-chunked-prefill', '--enable-prefix-caching', '--no-enable-prefix-caching']);

/**
 * Read a `vllm serve` argument list (as `vllmArgs` writes it) back into settings.
 * @throws VllmArgsError (FG_RENDER_VLLM_ARGS) on a flag it does not know or a malformed value.
 */
export function parseVllmArgs(args: readonly string[]): VllmServeArgs {
  const model = args[0];
  if (model === undefined || model.startsWith('--')) throw new VllmArgsError(`the first argument must be the model, got ${JSON.stringify(model ?? '')}`);
  const out: VllmServeArgs = { model, servedModelNames: [] };
  const int = (flag: string, v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new VllmArgsError(`${flag} takes a whole number, got ${JSON.stringify(v)}`);
    return n;
  };
  let i = 1;
  while (i < args.length) {
    const flag = args[i]!;
    i++;
    if (SWITCHES.has(flag)) {
      const on = !flag.startsWith('--no-');
      if (flag.endsWith('chunked-prefill')) out.enableChunkedPrefill = on;
      else out.enablePrefixCaching = on;
      continue;
    }
    if (!VALUE_FLAGS.has(flag)) throw new VllmArgsError(`unknown flag ${JSON.stringify(flag)}; known: ${[...VALUE_FLAGS, ...SWITCHES].join(', ')}`);
    const values: string[] = [];
    while (i < args.length && !args[i]!.startsWith('--')) values.push(args[i++]!);
    if (values.length === 0) throw new VllmArgsError(`${flag} needs a value`);
    if (flag !== '--served-model-name' && values.length > 1) throw new VllmArgsError(`${flag} takes one value, got ${values.join(' ')}`);
    const v = values[0]!;
    switch (flag) {
      case '--served-model-name': out.servedModelNames.push(...values); break;
      case '--tensor-parallel-size': out.tensorParallelSize = int(flag, v); break;
      case '--dtype': {
        const q = (Object.keys(DTYPE_OF) as WeightQuant[]).find((k) => DTYPE_OF[k] === v);
        if (q === undefined) throw new VllmArgsError(`--dtype ${JSON.stringify(v)} is not one of ${Object.values(DTYPE_OF).join(', ')}`);
        out.quantization = q;
        break;
      }
      case '--quantization': {
        const q = (Object.keys(QUANT_METHOD_OF) as WeightQuant[]).find((k) => QUANT_METHOD_OF[k] === v);
        if (q === undefined) throw new VllmArgsError(`--quantization ${JSON.stringify(v)} is not one of ${Object.values(QUANT_METHOD_OF).join(', ')}`);
        out.quantization = q;
        break;
      }
      case '--kv-cache-dtype':
        if (v !== 'auto' && v !== 'fp8') throw new VllmArgsError(`--kv-cache-dtype ${JSON.stringify(v)} is not auto or fp8`);
        out.kvCacheDtype = v;
        break;
      case '--max-num-seqs': out.maxNumSeqs = int(flag, v); break;
      case '--max-num-batched-tokens': out.maxNumBatchedTokens = int(flag, v); break;
      case '--gpu-memory-utilization': {
        const f = Number(v);
        if (!(f > 0 && f <= 1)) throw new VllmArgsError(`--gpu-memory-utilization takes a number in (0, 1], got ${JSON.stringify(v)}`);
        out.gpuMemoryUtilization = f;
        break;
      }
      case '--max-model-len': out.maxModelLen = int(flag, v); break;
      case '--block-size': out.blockSize = int(flag, v); break;
      case '--scheduling-policy':
        if (v !== 'fcfs' && v !== 'priority') throw new VllmArgsError(`--scheduling-policy ${JSON.stringify(v)} is not fcfs or priority`);
        out.schedulingPolicy = v;
        break;
      case '--port': out.port = int(flag, v); break;
    }
  }
  return out;
}

/**
 * The settings a vLLM server started with `args` on `gpu` runs with: the flags, and vLLM's
 * defaults where a flag is absent (the model's full context for max_model_len).
 */
export function effectiveVllmSettings(args: VllmServeArgs, gpu: GpuSpec, modelMaxContext: number): Required<Omit<VllmServeArgs, 'port' | 'quantization'>> & { port: number | undefined; quantization: WeightQuant | undefined } {
  const batch = vllmBatchDefaults(gpu);
  return {
    model: args.model,
    servedModelNames: args.servedModelNames.length > 0 ? args.servedModelNames : [args.model],
    tensorParallelSize: args.tensorParallelSize ?? 1,
    quantization: args.quantization,
    kvCacheDtype: args.kvCacheDtype ?? VLLM_DEFAULTS.kvCacheDtype,
    maxNumSeqs: args.maxNumSeqs ?? batch.maxNumSeqs,
    maxNumBatchedTokens: args.maxNumBatchedTokens ?? batch.maxNumBatchedTokens,
    enableChunkedPrefill: args.enableChunkedPrefill ?? VLLM_DEFAULTS.enableChunkedPrefill,
    enablePrefixCaching: args.enablePrefixCaching ?? VLLM_DEFAULTS.enablePrefixCaching,
    gpuMemoryUtilization: args.gpuMemoryUtilization ?? VLLM_DEFAULTS.gpuMemoryUtilization,
    maxModelLen: args.maxModelLen ?? modelMaxContext,
    schedulingPolicy: args.schedulingPolicy ?? VLLM_DEFAULTS.schedulingPolicy,
    blockSize: args.blockSize ?? VLLM_DEFAULTS.blockSize,
    port: args.port,
  };
}

/** A simulated worker's setting that no vLLM flag carries, and what it means for a real server. */
export interface SimOnlySetting {
  /** The stack file's key under `sim`. */
  key: string;
  /** The value as written (JSON). */
  value: string;
  why: string;
}

/**
 * The worker's settings that have no vLLM equivalent (time_scale, seed, faults, a custom GPU or
 * model spec), plus what a real deployment needs that the simulator does not (a quantized
 * checkpoint for awq / gptq / int8). The renderers write them as comments.
 */
export function simOnlySettings(worker: SimWorkerConfig): SimOnlySetting[] {
  const o = worker.sim;
  const out: SimOnlySetting[] = [];
  if (typeof o.gpu !== 'string') {
    out.push({ key: 'gpu', value: JSON.stringify(o.gpu.id), why: 'a custom GPU spec: the real server runs on whatever GPUs the container is given' });
  }
  if (typeof o.model !== 'string') {
    out.push({ key: 'model', value: JSON.stringify(o.model.id), why: `a custom model spec: serve its checkpoint (${o.model.hfName})` });
  }
  if (o.timeScale !== undefined && o.timeScale !== 1) {
    out.push({ key: 'time_scale', value: String(o.timeScale), why: 'the simulated GPU runs faster or slower than real time; a real GPU runs at its own speed' });
  }
  if (o.seed !== undefined) out.push({ key: 'seed', value: String(o.seed), why: 'seeds the simulated text and faults; no vLLM equivalent needed' });
  if (o.faults !== undefined && Object.keys(o.faults).length > 0) {
    out.push({ key: 'faults', value: JSON.stringify(o.faults), why: 'injected faults exist only in the simulator' });
  }
  if (o.outputLength !== undefined) out.push({ key: 'outputLength', value: JSON.stringify(o.outputLength), why: 'the simulated output-length distribution; a real model decides its own' });
  if (o.efficiency !== undefined) out.push({ key: 'efficiency', value: JSON.stringify(o.efficiency), why: 'performance-model tuning of the simulator' });
  const q = o.quantization;
  if (q === 'awq' || q === 'gptq' || q === 'int8') {
    out.push({
      key: 'quantization',
      value: q,
      why: `vLLM needs a ${q === 'int8' ? 'W8A8 (compressed-tensors)' : q.toUpperCase()} checkpoint of the model: replace the model argument with such a repository`,
    });
  }
  return out;
}
