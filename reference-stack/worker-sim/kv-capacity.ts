/**
 * KV-cache capacity of a simulated vLLM worker, derived the way vLLM's GPU worker sizes it at
 * start-up (vllm/v1/worker/gpu_worker.py determine_available_memory): per GPU,
 *
 *   requested = gpu_memory_utilization x total device memory
 *   kv bytes  = requested - weights (one tensor-parallel rank) - peak activation memory of a
 *               profiling forward pass - non-torch memory - CUDA graph memory
 *   blocks    = floor(kv bytes / (block_size x KV bytes per token per GPU))
 *
 * Every term is returned, so that /metrics (DCGM frame-buffer gauges, cache_config_info) and the
 * docs can show them. Constants are stated where they are defined, with the vLLM log lines they
 * come from; docs/simulator.md ("KV-cache capacity") repeats the derivation.
 */
import { usableMemoryBytes } from './gpu-catalog.ts';
import { kvBytesPerTokenPerGpu, modelWeightBytes } from './quantization.ts';
import type { GpuSpec, KvCacheDtype, ModelSpec, WeightQuant } from './sim-types.ts';

const GIB = 2 ** 30;

/**
 * Memory allocated outside PyTorch during start-up (cuBLAS workspaces, NCCL and custom
 * all-reduce buffers), bytes per GPU: 0.2 GiB. vLLM >= 0.7 logs "non_torch_memory takes
 * 0.16 GiB" (H100, TP1, vllm-project/vllm#12126) and 0.20 GiB (four 24 GB GPUs with TP,
 * vllm-project/vllm#14447). (vLLM 0.6.5 reported 1.79 GiB on H100, #10511; later versions
 * measure it against a baseline taken after the CUDA context exists, so the context is not in it.)
 */
export const NON_TORCH_BYTES = 0.2 * GIB;

/**
 * Memory the CUDA graphs captured after profiling take, bytes per GPU: 0.5 GiB, typical of
 * vLLM's "Graph capturing finished ... took 0.3-1 GiB" for 7-70B models with the default capture
 * sizes (up to 512). vLLM >= 0.19 estimates it during profiling and subtracts it from the KV
 * cache (VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS).
 */
export const CUDA_GRAPH_BYTES = 0.5 * GIB;

/**
 * Bytes of the sampler's working set per (sequence, vocabulary entry) in the profiling run:
 * fp32 logits + fp32 probabilities + fp32 sorted values for top-p/top-k = 12.
 */
export const SAMPLER_BYTES_PER_LOGIT = 12;

/** Options of `kvCapacity` (vLLM's flag names in camelCase). */
export interface KvCapacityOptions {
  gpu: GpuSpec;
  model: ModelSpec;
  quantization: WeightQuant;
  kvCacheDtype: KvCacheDtype;
  tensorParallelSize: number;
  /** Default 0.9 (vLLM's default). */
  gpuMemoryUtilization?: number;
  /** Default: vLLM's for the OpenAI server on this GPU (`vllmBatchDefaults`). */
  maxNumBatchedTokens?: number;
  /** Default: vLLM's for the OpenAI server on this GPU (`vllmBatchDefaults`). */
  maxNumSeqs?: number;
  /** Tokens per KV block; default 16. */
  blockSize?: number;
  /** Longest sequence the cache must hold; default the model's maxContext. */
  maxModelLen?: number;
}

/** Every term of the derivation (bytes per GPU unless said otherwise), and the verdict. */
export interface KvCapacity {
  /** False when vLLM would refuse to start; `reason` then says why, in vLLM's words. */
  fits: boolean;
  reason?: string;
  /** Device total vLLM sees (usableMemoryGiB x 2^30, else memoryGB x 1e9). */
  totalMemoryBytes: number;
  /** gpuMemoryUtilization x totalMemoryBytes: what this vLLM instance may use. */
  requestedMemoryBytes: number;
  weightsBytesPerGpu: number;
  /** Peak activation memory of the profiling forward pass and sampler run. */
  activationBytes: number;
  nonTorchBytes: number;
  cudaGraphBytes: number;
  /** Memory left for the KV cache (0 when nothing is left). */
  kvBytesPerGpu: number;
  kvBytesPerTokenPerGpu: number;
  /** blockSize x kvBytesPerTokenPerGpu. */
  blockBytes: number;
  numBlocks: number;
  /** numBlocks x blockSize: tokens the cache holds (vLLM's "GPU KV cache size: N tokens"). */
  maxTokens: number;
  /** The options after defaults. */
  gpuMemoryUtilization: number;
  maxNumBatchedTokens: number;
  maxNumSeqs: number;
  blockSize: number;
  maxModelLen: number;
  tensorParallelSize: number;
}

/**
 * vLLM's defaults for the OpenAI server (vllm/engine/arg_utils.py get_batch_defaults): on a GPU
 * with >= 70 GiB that is not an A100 (H100, H200, B200, MI300X), max_num_batched_tokens 8192 and
 * max_num_seqs 1024; elsewhere 2048 and 256.
 */
export function vllmBatchDefaults(gpu: GpuSpec): { maxNumBatchedTokens: number; maxNumSeqs: number } {
  const big = usableMemoryBytes(gpu) >= 70 * GIB && !/a100/i.test(`${gpu.id} ${gpu.name}`);
  return big ? { maxNumBatchedTokens: 8192, maxNumSeqs: 1024 } : { maxNumBatchedTokens: 2048, maxNumSeqs: 256 };
}

/**
 * Peak activation memory of vLLM's profiling run, bytes per GPU: a forward pass over
 * T = max_num_batched_tokens dummy tokens, then the sampler over S = min(max_num_seqs, T)
 * sequences' logits:
 *
 *   activation = T x (4 x hidden + 3 x ffnActive / tp) x 2 bytes + S x vocab x 12 bytes
 *
 * 4 x hidden: residual, normed input, attention output and QKV (~hidden wide) live at once;
 * 3 x ffnActive / tp: the MLP's gate_up output (2 x ffn) and activation output (ffn), sharded over
 * TP (ffnActive = ffn x topK for MoE); 12 bytes: SAMPLER_BYTES_PER_LOGIT (logits are gathered
 * to full vocabulary on every rank). Check: Llama-3-8B, T = 8192, S = 256 gives
 * 0.973 + 0.394 = 1.367 GB = 1.27 GiB; vLLM logged "PyTorch activation peak memory 1.26GiB"
 * (vllm-project/vllm#10511).
 */
export function activationPeakBytes(model: ModelSpec, maxNumBatchedTokens: number, maxNumSeqs: number, tp: number): number {
  const ffnActive = model.ffn * (model.experts?.topK ?? 1);
  const forward = maxNumBatchedTokens * (4 * model.hidden + (3 * ffnActive) / tp) * 2;
  const sampler = Math.min(maxNumSeqs, maxNumBatchedTokens) * model.vocab * SAMPLER_BYTES_PER_LOGIT;
  return forward + sampler;
}

/** The KV cache vLLM would allocate for this configuration; see the module header. */
export function kvCapacity(opts: KvCapacityOptions): KvCapacity {
  const { gpu, model, quantization, kvCacheDtype } = opts;
  const tp = opts.tensorParallelSize;
  const defaults = vllmBatchDefaults(gpu);
  const gpuMemoryUtilization = opts.gpuMemoryUtilization ?? 0.9;
  const maxNumBatchedTokens = opts.maxNumBatchedTokens ?? defaults.maxNumBatchedTokens;
  const maxNumSeqs = opts.maxNumSeqs ?? defaults.maxNumSeqs;
  const blockSize = opts.blockSize ?? 16;
  const maxModelLen = opts.maxModelLen ?? model.maxContext;

  const totalMemoryBytes = usableMemoryBytes(gpu);
  // requested, bytes = gpu_memory_utilization x device total
  const requestedMemoryBytes = gpuMemoryUtilization * totalMemoryBytes;
  // weights, bytes per GPU = whole-model weight bytes / tp (every linear layer and the vocab are sharded)
  const weightsBytesPerGpu = modelWeightBytes(model, quantization) / tp;
  const activationBytes = activationPeakBytes(model, maxNumBatchedTokens, maxNumSeqs, tp);
  const nonTorchBytes = NON_TORCH_BYTES;
  const cudaGraphBytes = CUDA_GRAPH_BYTES;
  // kv, bytes per GPU = requested - weights - activation - non-torch - CUDA graphs
  const kvBytesPerGpu = Math.max(0, requestedMemoryBytes - weightsBytesPerGpu - activationBytes - nonTorchBytes - cudaGraphBytes);
  const perToken = kvBytesPerTokenPerGpu(model, kvCacheDtype, tp);
  const blockBytes = blockSize * perToken;
  let numBlocks = Math.floor(kvBytesPerGpu / blockBytes);

  let reason: string | undefined;
  const tpProblem = tensorParallelProblem(model, tp);
  if (tpProblem) reason = tpProblem;
  else if (weightsBytesPerGpu >= requestedMemoryBytes) {
    reason =
      `model weights take ${gib(weightsBytesPerGpu)} GiB per GPU, more than gpu_memory_utilization (${gpuMemoryUtilization}) x ` +
      `${gib(totalMemoryBytes)} GiB = ${gib(requestedMemoryBytes)} GiB on ${gpu.name} with tensor_parallel_size ${tp}`;
  } else if (numBlocks <= 0) {
    reason = 'No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine.';
  }
  // a configuration vLLM cannot start at all has no cache: callers test numBlocks as well as fits
  if (reason) numBlocks = 0;
  const maxTokens = numBlocks * blockSize;
  if (!reason && maxTokens < maxModelLen) {
    reason =
      `The model's max seq len (${maxModelLen}) is larger than the maximum number of tokens that can be stored in KV cache (${maxTokens}). ` +
      'Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.';
  }
  const result: KvCapacity = {
    fits: reason === undefined,
    totalMemoryBytes,
    requestedMemoryBytes,
    weightsBytesPerGpu,
    activationBytes,
    nonTorchBytes,
    cudaGraphBytes,
    kvBytesPerGpu,
    kvBytesPerTokenPerGpu: perToken,
    blockBytes,
    numBlocks,
    maxTokens,
    gpuMemoryUtilization,
    maxNumBatchedTokens,
    maxNumSeqs,
    blockSize,
    maxModelLen,
    tensorParallelSize: tp,
  };
  if (reason !== undefined) result.reason = reason;
  return result;
}

/**
 * vLLM's tensor-parallel constraints: tp divides the attention heads, and the KV heads divide tp
 * or tp divides them (QKVParallelLinear).
 */
function tensorParallelProblem(model: ModelSpec, tp: number): string | undefined {
  if (!Number.isInteger(tp) || tp < 1) return `tensor_parallel_size must be a positive integer, got ${tp}`;
  if (model.qHeads % tp !== 0) {
    return `Total number of attention heads (${model.qHeads}) must be divisible by tensor parallel size (${tp}).`;
  }
  if (model.kvHeads % tp !== 0 && tp % model.kvHeads !== 0) {
    return `Number of KV heads (${model.kvHeads}) and tensor parallel size (${tp}) must divide one another.`;
  }
  return undefined;
}

function gib(bytes: number): string {
  return (bytes / GIB).toFixed(2);
}
