/**
 * Quantization as the simulator sees it: how many bytes a weight and a KV-cache entry take, how
 * the KV cache is split over tensor-parallel ranks, which tensor-core peak (and which extra cost)
 * a weight format computes at on a given GPU, and whether vLLM runs the combination at all.
 *
 * Sources: vLLM's "Supported Hardware" quantization table (docs.vllm.ai, v0.9-v0.15: AWQ, GPTQ
 * and Marlin on Ampere/Ada/Hopper only, INT8 W8A8 on Turing-Hopper, FP8 W8A8 on Ada, Hopper and
 * AMD); vLLM's FP8 W8A8 page ("Turing/Ampere GPUs are supported for W8A16 (weight-only FP8)
 * utilizing Marlin kernels"); Blackwell is not in that table and is assumed to support what
 * Hopper does.
 */
import { parameterBreakdown } from './model-catalog.ts';
import type { GpuArch, GpuSpec, KvCacheDtype, ModelSpec, WeightQuant } from './sim-types.ts';

/** Every weight format the simulator knows. */
export const WEIGHT_QUANTS: readonly WeightQuant[] = ['bf16', 'fp16', 'fp8', 'int8', 'awq', 'gptq'];
/** Every KV-cache dtype the simulator knows. */
export const KV_CACHE_DTYPES: readonly KvCacheDtype[] = ['auto', 'fp8'];

/** 4-bit formats' quantization group: one scale and one zero point per 128 weights (AWQ and GPTQ default). */
export const INT4_GROUP_SIZE = 128;

/**
 * Bytes per quantized weight parameter:
 *   bf16, fp16  2
 *   fp8, int8   1 (per-channel or per-tensor scales: one fp32 per output row of >= 4096 weights,
 *               < 0.1%, ignored)
 *   awq, gptq   0.5 + (2 + 0.5) / 128 = 0.51953125: 4-bit weight plus, per group of 128, an fp16
 *               scale (2 bytes) and a packed 4-bit zero point (0.5 bytes). GPTQ's act-order g_idx
 *               (one int32 per input row) is < 0.1% and ignored.
 */
export function weightBytesPerParam(q: WeightQuant): number {
  switch (q) {
    case 'bf16':
    case 'fp16':
      return 2;
    case 'fp8':
    case 'int8':
      return 1;
    case 'awq':
    case 'gptq':
      return 0.5 + (2 + 0.5) / INT4_GROUP_SIZE;
  }
}

/** Bytes of an embedding or LM-head parameter: vLLM keeps both unquantized (bf16) in every format. */
export const EMBEDDING_BYTES_PER_PARAM = 2;

/**
 * Weight bytes of the whole model (all ranks together) in format `q`:
 *   body x weightBytesPerParam(q) + embeddingStored x 2
 * (vLLM quantizes linear layers only; VocabParallelEmbedding and the LM head stay bf16.)
 * Divide by tensor_parallel_size for one rank: every linear layer, the embedding and the LM head
 * are sharded (norms, replicated, are negligible).
 */
export function modelWeightBytes(model: ModelSpec, q: WeightQuant): number {
  const p = parameterBreakdown(model);
  return p.body * weightBytesPerParam(q) + p.embeddingStored * EMBEDDING_BYTES_PER_PARAM;
}

/** Bytes of one KV-cache element: 2 for auto (the model's bf16/fp16), 1 for fp8 (e4m3). */
export function kvBytesPerElement(d: KvCacheDtype): number {
  return d === 'fp8' ? 1 : 2;
}

/** KV-cache bytes per token, whole model: 2 (K and V) x layers x kvHeads x headDim x bytes per element. */
export function kvBytesPerToken(model: ModelSpec, d: KvCacheDtype): number {
  return 2 * model.layers * model.kvHeads * model.headDim * kvBytesPerElement(d);
}

/**
 * KV heads each tensor-parallel rank stores: kvHeads / tp when tp divides kvHeads; when
 * kvHeads < tp each rank keeps one head (replicated tp / kvHeads times), as vLLM's
 * QKVParallelLinear does. (vLLM requires one of the two to divide the other; ceil otherwise.)
 */
export function kvHeadsPerGpu(model: ModelSpec, tp: number): number {
  return model.kvHeads >= tp ? Math.ceil(model.kvHeads / tp) : 1;
}

/** KV-cache bytes per token on one GPU: 2 x layers x kvHeadsPerGpu x headDim x bytes per element. */
export function kvBytesPerTokenPerGpu(model: ModelSpec, d: KvCacheDtype, tp: number): number {
  return 2 * model.layers * kvHeadsPerGpu(model, tp) * model.headDim * kvBytesPerElement(d);
}

/**
 * Bandwidth an attention kernel reaches reading an FP8 KV cache, relative to a BF16 one. Fitted
 * to P2 (CALIBRATION.md): the measured ITL slope per context token is 4.37e-5 ms with BF16 KV and
 * 2.37e-5 ms with FP8 KV, a ratio of 0.542 where the byte ratio is 0.5; 0.5 / 0.542 = 0.92
 * (the FP8 -> BF16 dequantisation in the attention kernel).
 */
export const FP8_KV_READ_EFFICIENCY = 0.92;

/** Relative bandwidth efficiency of reading the KV cache in dtype `d` (1 for bf16; see FP8_KV_READ_EFFICIENCY). */
export function kvReadEfficiency(d: KvCacheDtype): number {
  return d === 'fp8' ? FP8_KV_READ_EFFICIENCY : 1;
}

/**
 * Extra compute time of weight-only kernels (Marlin), which dequantize weights in registers
 * before a bf16 MMA: effective peak = bf16 peak / factor. 4-bit (AWQ/GPTQ Marlin) 1.15 and FP8
 * W8A16 (FP8 Marlin) 1.10: estimates from the Marlin paper's observation that its speed-up
 * over fp16 fades to roughly parity, somewhat below, at large batch sizes (prefill), where the
 * step is compute-bound. Decode steps are memory-bound and do not see the factor.
 */
export const DEQUANT_FACTOR_W4A16 = 1.15;
export const DEQUANT_FACTOR_W8A16 = 1.1;

/** How a weight format runs on a GPU. */
export interface ComputeMode {
  /** Weight / activation precision of the linear layers' matmuls. */
  mode: 'W16A16' | 'W8A8-FP8' | 'W8A8-INT8' | 'W8A16' | 'W4A16';
  /** Tensor-core peak of the linear layers before the dequantisation factor, TFLOPS (or TOPS). */
  peakTflops: number;
  /** Divides peakTflops (>= 1): the weight-only kernels' dequantisation cost. */
  dequantFactor: number;
  /** Effective peak of the linear layers, TFLOPS = peakTflops / dequantFactor. */
  effectiveTflops: number;
  /** The kernel family vLLM uses (for docs and /metrics labels). */
  kernel: string;
}

/**
 * INT8 dense tensor peak relative to BF16: 2x on every GPU in the catalogue (A100 624 vs 312,
 * H100 1,979 vs 989, L40S 733 vs 362, ... per the vendors' datasheets).
 */
export const INT8_OVER_BF16 = 2;

/**
 * The tensor-core peak the linear layers of format `q` compute at on `gpu`:
 *   bf16, fp16  W16A16 at bf16Tflops
 *   fp8         W8A8 at fp8Tflops where the GPU has FP8 tensor cores (Ada, Hopper, Blackwell,
 *               CDNA 3), else weight-only W8A16 (FP8 Marlin) at bf16Tflops / 1.10
 *   int8        W8A8 at 2 x bf16Tflops (INT8 tensor cores)
 *   awq, gptq   W4A16 (Marlin) at bf16Tflops / 1.15
 * Attention and the LM head always compute at bf16Tflops (activations and KV are bf16).
 */
export function computeMode(gpu: GpuSpec, q: WeightQuant): ComputeMode {
  const make = (mode: ComputeMode['mode'], peakTflops: number, dequantFactor: number, kernel: string): ComputeMode => ({
    mode,
    peakTflops,
    dequantFactor,
    effectiveTflops: peakTflops / dequantFactor,
    kernel,
  });
  switch (q) {
    case 'bf16':
    case 'fp16':
      return make('W16A16', gpu.bf16Tflops, 1, 'cuBLAS/hipBLASLt GEMM');
    case 'fp8':
      return gpu.fp8Tflops !== null
        ? make('W8A8-FP8', gpu.fp8Tflops, 1, 'FP8 scaled_mm (CUTLASS / hipBLASLt)')
        : make('W8A16', gpu.bf16Tflops, DEQUANT_FACTOR_W8A16, 'FP8 Marlin (weight-only)');
    case 'int8':
      return make('W8A8-INT8', INT8_OVER_BF16 * gpu.bf16Tflops, 1, 'INT8 scaled_mm (CUTLASS)');
    case 'awq':
    case 'gptq':
      return make('W4A16', gpu.bf16Tflops, DEQUANT_FACTOR_W4A16, q === 'awq' ? 'AWQ Marlin' : 'GPTQ Marlin');
  }
}

/** The GPU's architecture: its `arch`, else a guess (FP8 tensor cores -> hopper, none -> ampere). */
export function gpuArch(gpu: GpuSpec): GpuArch {
  return gpu.arch ?? (gpu.fp8Tflops !== null ? 'hopper' : 'ampere');
}

/** Whether vLLM runs a weight format and KV-cache dtype on a GPU, and how. */
export interface QuantSupport {
  supported: boolean;
  mode: ComputeMode['mode'];
  /** Why not, or how (e.g. "FP8 weights run as W8A16 via FP8 Marlin on Ampere"). */
  notes: string[];
}

/**
 * vLLM support for weight format `q` with KV dtype `kv` on `gpu` (and `model`, for MoE limits):
 *   bf16/fp16   everywhere
 *   fp8         W8A8 on Ada, Hopper, Blackwell, CDNA 3; W8A16 via FP8 Marlin on Ampere, dense
 *               models only (FP8 MoE on Ampere is not supported: fused MoE has no FP8 Marlin path)
 *   int8        W8A8 on NVIDIA Ampere and later; not on AMD
 *   awq, gptq   Marlin on NVIDIA Ampere and later; not on AMD
 *   fp8 KV      every GPU (stored as fp8, dequantized by the attention kernel)
 */
export function quantSupport(gpu: GpuSpec, q: WeightQuant, kv: KvCacheDtype, model?: ModelSpec): QuantSupport {
  const arch = gpuArch(gpu);
  const mode = computeMode(gpu, q).mode;
  const notes: string[] = [];
  let supported = true;
  const amd = arch === 'cdna3';
  switch (q) {
    case 'bf16':
    case 'fp16':
      break;
    case 'fp8':
      if (gpu.fp8Tflops === null) {
        if (model?.experts) {
          supported = false;
          notes.push(`FP8 MoE weights need FP8 tensor cores (Ada or later); ${gpu.name} has none`);
        } else notes.push(`${gpu.name} has no FP8 tensor cores: FP8 weights run as W8A16 via FP8 Marlin`);
      }
      break;
    case 'int8':
      if (amd) {
        supported = false;
        notes.push(`INT8 W8A8 is not supported by vLLM on AMD GPUs (${gpu.name})`);
      }
      break;
    case 'awq':
    case 'gptq':
      if (amd) {
        supported = false;
        notes.push(`${q.toUpperCase()} (Marlin) is not supported by vLLM on AMD GPUs (${gpu.name})`);
      }
      break;
  }
  if (kv === 'fp8') notes.push('FP8 KV cache: stored as fp8 e4m3, dequantized in the attention kernel');
  return { supported, mode, notes };
}
