/**
 * Shared types of the simulated vLLM worker: hardware and model descriptions, the worker's
 * configuration, and the contract between the scheduler (which decides what one engine step
 * does) and the performance model (which says how long that step takes on the simulated GPU).
 * Units are in the names: GB = 1e9 bytes, GiB = 2^30 bytes, Ms = milliseconds.
 */

/** A GPU as the performance model sees it. Every figure carries its source. */
export interface GpuSpec {
  id: string;
  name: string;
  /** Device memory, GB (1e9 bytes), as vendors quote it. */
  memoryGB: number;
  /**
   * Memory CUDA/ROCm reports as the device total (torch.cuda.mem_get_info()[1]), GiB: what vLLM's
   * gpu_memory_utilization is a fraction of. Differs from memoryGB (an "80 GB" H100 reports
   * 79.22 GiB = 85.06e9 bytes). Absent: memoryGB x 1e9 bytes.
   */
  usableMemoryGiB?: number;
  /** Architecture, for kernel support and default efficiencies; absent: guessed from fp8Tflops. */
  arch?: GpuArch;
  /** Peak HBM/GDDR bandwidth, GB/s. */
  bandwidthGBs: number;
  /** Dense tensor-core peak, TFLOPS. */
  bf16Tflops: number;
  /** Dense FP8 peak, TFLOPS; null when the GPU has no FP8 tensor cores (FP8 weights then run as W8A16). */
  fp8Tflops: number | null;
  /** Board power limit and idle draw, W (for the simulated DCGM power gauge). */
  tdpW: number;
  idleW: number;
  /** GPU-to-GPU bandwidth per direction for tensor parallelism (NVLink/xGMI/PCIe), GB/s. */
  interconnectGBs: number;
  source: string;
}

/** GPU architectures the simulator knows (NVIDIA Ampere / Ada / Hopper / Blackwell, AMD CDNA 3). */
export type GpuArch = 'ampere' | 'ada' | 'hopper' | 'blackwell' | 'cdna3';

/** A transformer model's shape (from its config.json). */
export interface ModelSpec {
  id: string;
  /** Hugging Face repository name, served as the model id by default. */
  hfName: string;
  layers: number;
  hidden: number;
  qHeads: number;
  kvHeads: number;
  headDim: number;
  /** FFN intermediate size (per expert for MoE models). */
  ffn: number;
  vocab: number;
  /** Total parameters, billions. */
  paramsB: number;
  /** Parameters touched per token, billions (MoE: shared + top-k experts; dense: = paramsB). */
  activeParamsB: number;
  /** Mixture of experts: number of experts and experts per token. */
  experts?: { count: number; topK: number };
  /** config.json tie_word_embeddings: the LM head shares the input embedding matrix (absent: false). */
  tiedEmbeddings?: boolean;
  /** Context length the model supports (max_position_embeddings). */
  maxContext: number;
  source: string;
}

/** Weight precision: bf16/fp16, fp8 (W8A8 where the GPU has FP8, else W8A16), int8, awq/gptq (int4). */
export type WeightQuant = 'bf16' | 'fp16' | 'fp8' | 'int8' | 'awq' | 'gptq';
/** KV-cache precision: 'auto' = the model's dtype (bf16), or fp8. */
export type KvCacheDtype = 'auto' | 'fp8';

/** Efficiency factors of the roofline (fractions of peak), overridable per worker. */
export interface Efficiency {
  /** Achievable fraction of peak memory bandwidth. */
  memory: number;
  /** Achievable fraction of peak tensor FLOPS for large (prefill) matmuls. */
  computePrefill: number;
  /** ... for small (decode) batches. */
  computeDecode: number;
  /** Fixed CPU/launch overhead per engine step, ms. */
  stepOverheadMs: number;
  /** Extra per-step overhead per scheduled sequence, ms (Python-side bookkeeping). */
  perSeqOverheadMs: number;
}

export interface PerfConfig {
  gpu: GpuSpec;
  model: ModelSpec;
  quantization: WeightQuant;
  kvCacheDtype: KvCacheDtype;
  tensorParallelSize: number;
  efficiency: Efficiency;
}

/** What one engine step computes: the scheduler's output, as the performance model needs it. */
export interface StepWork {
  /** Prompt chunks prefilled this step: `newTokens` tokens after `contextBefore` already in KV. */
  prefill: ReadonlyArray<{ newTokens: number; contextBefore: number }>;
  /** Sequences decoding one token this step, each with `context` tokens already in KV. */
  decode: ReadonlyArray<{ context: number }>;
}

/** The performance model's answer for one step. */
export interface StepCost {
  /** Wall time of the step on the simulated GPU (before time_scale), ms. */
  timeMs: number;
  /** Time the step would take if bound by compute alone / by memory alone, ms. */
  computeMs: number;
  memoryMs: number;
  /** Tensor-parallel all-reduce time and fixed overhead included in timeMs, ms. */
  commMs: number;
  overheadMs: number;
  flops: number;
  bytes: number;
  /** DCGM-style activities over the step: share of time tensor cores / DRAM were busy (0..1). */
  tensorActive: number;
  dramActive: number;
}
