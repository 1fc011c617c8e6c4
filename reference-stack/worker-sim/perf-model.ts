/**
 * Performance model of the simulated GPU: how long one vLLM engine step takes, given what the
 * scheduler put in it (prefill chunks and decoding sequences), on a GPU x model x quantization x
 * tensor-parallel configuration. A per-step roofline:
 *
 *   step = max(compute, memory) + tensor-parallel all-reduce + CPU/launch overhead
 *
 * with compute and memory from the step's FLOPs and bytes on one GPU, divided by peaks scaled by
 * efficiency factors. The default factors (`defaultEfficiency`) start from the published roofline
 * MFU figures and are fitted to the measured vLLM points of CALIBRATION.md (P2); the fitting is
 * written beside DEFAULT_EFFICIENCY below and in docs/simulator.md ("Performance model").
 *
 * Units: FLOPs, bytes, ms; TFLOPS = 1e12 FLOP/s; GB/s = 1e9 bytes/s.
 */
import { parameterBreakdown } from './model-catalog.ts';
import { computeMode, kvBytesPerTokenPerGpu, kvReadEfficiency, weightBytesPerParam, EMBEDDING_BYTES_PER_PARAM } from './quantization.ts';
import type { Efficiency, GpuArch, GpuSpec, PerfConfig, StepCost, StepWork } from './sim-types.ts';

/** Fixed CPU/launch overhead per step, ms (fitted to P2's intercept; see DEFAULT_EFFICIENCY). */
export const STEP_OVERHEAD_MS = 1.374;
/** Overhead per scheduled sequence per step, ms (rough, from P5; see DEFAULT_EFFICIENCY). */
export const PER_SEQ_OVERHEAD_MS = 0.06;

/**
 * Default efficiency factors per GPU architecture, and how they were obtained.
 *
 * Hopper (fitted to P2: Llama-3.1-8B BF16, 1x H100 SXM, concurrency 1, vLLM 0.19.1):
 * - memory 0.895, from the ITL slope. Each extra context token adds its KV bytes
 *   (2 x 32 layers x 8 heads x 128 x 2 B = 131,072 B) to every decode step, so
 *   slope = 131,072 B / (3.35e12 B/s x memory) = 3.913e-5 ms / memory; measured 4.37e-5 ms per
 *   token -> memory = 0.895 (inside the published 0.75-0.9 HBM range). With FP8 KV the model
 *   gives 1.956e-5 / (0.895 x 0.92) = 2.375e-5 ms per token (measured 2.37e-5): see
 *   FP8_KV_READ_EFFICIENCY in quantization.ts.
 * - stepOverheadMs 1.374, from the ITL intercept. A batch-1 decode step reads the weights once:
 *   6.979e9 body parameters x 2 B + 0.525e9 LM-head parameters x 2 B = 15.01 GB (the input
 *   embedding table is not read in full), 15.01e9 / (3.35e12 x 0.895) = 5.006 ms; compute is
 *   ~0.05 ms, far below. 6.44 ms measured - 5.006 - perSeqOverheadMs 0.06 = 1.374 ms: kernel
 *   launch gaps inside the CUDA graph (~15 kernels x 32 layers), sampling, and scheduling.
 * - computePrefill 0.60, from the TTFT of a 32k-token prompt prefilled in 8192-token chunks
 *   (~1.3 s measured). Its FLOPs: linear 2 x 6.979e9 x 32,768 = 4.574e14; attention
 *   4 x 32 x 32 x 128 x 8192 x sum over the 4 chunks of (c + 4096.5) = 2.815e14; total 7.39e14.
 *   At MFU m the four steps take 7.39e14 / (989e12 x m) s (+ 4 x 1.43 ms overhead): m = 0.60
 *   gives 1.25 s (-4%); the same m gives 3.44 s at 65k (measured ~3.6, -4%) and 10.7 s at 131k
 *   (measured ~10.1, +6%). The published default (0.45) would give 1.66 s, 28% slow: FA3 and
 *   cuBLAS on H100 reach 60-75% of peak on 8192-token chunks.
 * - computeDecode 0.30: published default; P2's decode steps are memory-bound and cannot
 *   identify it.
 * - perSeqOverheadMs 0.06: not identifiable from P2 (one sequence). Rough, from the residuals of
 *   P5 (Qwen2.5-7B, ~10 sequences, ITL 7.02 ms: 0.066 ms per sequence beyond weights, KV and the
 *   fixed overhead); the calibration benchmark should refit it with the scheduler.
 *
 * Ampere: memory 0.85: A100 HBM2e; cross-check against microsoft/vidur's A100 profile
 * (CALIBRATION.md): a Llama-3-8B layer's weights (218.1e6 x 2 B) at 2.039e12 x 0.85 B/s take
 * 0.252 ms, plus this model's per-layer share of the fixed overhead (1.374 / 32 = 0.043 ms) gives
 * 0.295 ms per layer for one token, against 0.303 ms measured. computePrefill 0.51 = the
 * published 0.38 scaled by Hopper's fit (0.60 / 0.45 = 1.33); vidur's GEMM-only 0.61-0.68 at
 * 1,024-8,192 tokens bounds it from above (attention runs below GEMM efficiency).
 * computeDecode 0.18: published.
 *
 * Ada (L4, L40S; GDDR6): memory 0.80 (lower end of the published range: GDDR6 reaches less of
 * its peak than HBM; no measured point; the A10G, Ampere with GDDR6, takes it too:
 * EFFICIENCY_OVERRIDES); computePrefill 0.43 = published 0.32 x 1.33; computeDecode 0.08:
 * published.
 *
 * Blackwell: Hopper's factors (assumption, no measured point).
 * CDNA 3 (MI300X): memory 0.80, computePrefill 0.45, computeDecode 0.20 (assumption, no
 * measured point: MI300X's achieved bandwidth and GEMM throughput are reported well below its
 * peaks).
 * Unknown architecture (a custom GPU without `arch`): memory 0.80, computePrefill 0.45,
 * computeDecode 0.20.
 *
 * Overheads (stepOverheadMs, perSeqOverheadMs) are CPU-side and the same for every GPU.
 */
export const DEFAULT_EFFICIENCY: Readonly<Record<GpuArch | 'unknown', Readonly<Efficiency>>> = Object.freeze({
  hopper: eff(0.895, 0.6, 0.3),
  blackwell: eff(0.895, 0.6, 0.3),
  ampere: eff(0.85, 0.51, 0.18),
  ada: eff(0.8, 0.43, 0.08),
  cdna3: eff(0.8, 0.45, 0.2),
  unknown: eff(0.8, 0.45, 0.2),
});

function eff(memory: number, computePrefill: number, computeDecode: number): Efficiency {
  return Object.freeze({ memory, computePrefill, computeDecode, stepOverheadMs: STEP_OVERHEAD_MS, perSeqOverheadMs: PER_SEQ_OVERHEAD_MS });
}

/**
 * Catalogue GPUs whose memory differs from their architecture's usual: the A10G is an Ampere part
 * with GDDR6, so it takes the GDDR6 memory efficiency of the Ada parts (0.80) rather than the
 * A100's HBM2e figure.
 */
export const EFFICIENCY_OVERRIDES: Readonly<Record<string, Readonly<Partial<Efficiency>>>> = Object.freeze({
  a10g: Object.freeze({ memory: 0.8 }),
});

/**
 * The default efficiency factors for `gpu`: its architecture's (DEFAULT_EFFICIENCY; 'unknown'
 * when a custom GPU gives no `arch`), with the catalogue's per-GPU overrides. A fresh object.
 */
export function defaultEfficiency(gpu: GpuSpec): Efficiency {
  return { ...DEFAULT_EFFICIENCY[gpu.arch ?? 'unknown'], ...EFFICIENCY_OVERRIDES[gpu.id] };
}

/** Tokens per step at or below which the matmuls run at computeDecode. */
export const MFU_SMALL_TOKENS = 32;
/** Tokens per step at or above which the matmuls run at computePrefill. */
export const MFU_LARGE_TOKENS = 2048;

/**
 * Fraction of peak the step's matmuls reach, by T = tokens processed in the step (decode
 * sequences + prefill tokens): log-linear between the two regimes,
 *   MFU(T) = decode + (prefill - decode) x clamp(log2(T / 32) / log2(2048 / 32), 0, 1)
 * GEMM efficiency grows with the M dimension and saturates near 1-2k rows (vidur's A100 profile:
 * 61% of peak at 1,024 tokens, 68% at 8,192).
 */
export function mfuFor(tokens: number, e: Efficiency): number {
  const x = Math.log2(Math.max(tokens, 1) / MFU_SMALL_TOKENS) / Math.log2(MFU_LARGE_TOKENS / MFU_SMALL_TOKENS);
  const t = Math.min(1, Math.max(0, x));
  return e.computeDecode + (e.computePrefill - e.computeDecode) * t;
}

/**
 * Expected number of distinct experts a step's tokens route to, per layer: each of T tokens
 * picks k of E experts, so an expert is untouched with probability (1 - k/E)^T, and
 *   distinct = E x (1 - (1 - k/E)^T)
 * (uniform routing; T = 1 gives k, large T gives E).
 */
export function distinctExperts(count: number, topK: number, tokens: number): number {
  return count * (1 - Math.pow(1 - topK / count, tokens));
}

/** Latency of one all-reduce over NVLink/xGMI (interconnect >= 100 GB/s per direction), ms: vLLM's custom all-reduce on small messages. */
export const ALL_REDUCE_LATENCY_NVLINK_MS = 0.008;
/** ... over PCIe, ms (NCCL through host bridges). */
export const ALL_REDUCE_LATENCY_PCIE_MS = 0.025;

/**
 * Time of one ring all-reduce of `bytes` over `tp` GPUs, ms:
 *   latency + 2 (tp - 1) / tp x bytes / (interconnect GB/s x 1e9) x 1e3
 */
export function allReduceMs(bytes: number, tp: number, gpu: GpuSpec): number {
  if (tp <= 1) return 0;
  const latency = gpu.interconnectGBs >= 100 ? ALL_REDUCE_LATENCY_NVLINK_MS : ALL_REDUCE_LATENCY_PCIE_MS;
  return latency + ((2 * (tp - 1)) / tp) * (bytes / (gpu.interconnectGBs * 1e9)) * 1e3;
}

const IDLE: StepCost = Object.freeze({
  timeMs: 0,
  computeMs: 0,
  memoryMs: 0,
  commMs: 0,
  overheadMs: 0,
  flops: 0,
  bytes: 0,
  tensorActive: 0,
  dramActive: 0,
});

/**
 * Cost of one engine step (see the module header). FLOPs and bytes are those of one GPU (one
 * tensor-parallel rank). An empty step (nothing scheduled) costs nothing.
 *
 * FLOPs (whole model; / tp per GPU):
 *   linear    2 x activeBody x T                (T = decode sequences + prefill tokens; MoE:
 *                                                shared + top-k experts' parameters)
 *   LM head   2 x hidden x vocab x L            (L = decode sequences + prefill entries: one
 *                                                logits row each, as the last token of a chunk
 *                                                that completes a prompt samples; chunks that
 *                                                do not complete one are counted too)
 *   attention 4 x layers x qHeads x headDim x n x (c + (n + 1) / 2) per prefill chunk of n new
 *             tokens after c cached (QK^T and AV, causal); 4 x layers x qHeads x headDim x
 *             context per decode sequence
 * Bytes (per GPU):
 *   weights   (shared + distinct experts x perExpert) x bytes per parameter / tp
 *             + lmHead x 2 / tp                 (read once per step; dense: body x bytes / tp)
 *   KV        context x KV bytes per token per GPU per decode sequence; (c + n) x KV bytes per
 *             token per GPU per prefill chunk (reads its c cached tokens, writes its n new ones)
 *   activations: left out. A decode batch's activations (e.g. 256 x 14,336 x 2 B = 7 MB for
 *             Llama-3.1-8B's MLP) stay in L2 between kernels; a prefill chunk's go to HBM but
 *             the step is compute-bound (thousands of FLOPs per activation byte).
 * Time:
 *   compute   = [linear / effective linear peak + (LM head + attention) / bf16 peak] / tp
 *               / (1e12 x MFU(T)) x 1e3           (effective peak: quantization.ts computeMode)
 *   memory    = [weights + KV / kvReadEfficiency] / (bandwidth x 1e9 x memory) x 1e3
 *   comm      = 2 x layers x allReduceMs(T x hidden x 2 bytes)   (tp > 1: after attention and MLP)
 *   overhead  = stepOverheadMs + perSeqOverheadMs x sequences
 *   timeMs    = max(compute, memory) + comm + overhead
 * Activities (DCGM semantics: share of the step the unit would be busy at its peak rate):
 *   tensorActive = FLOPs per GPU at the tensor peak (no MFU) / timeMs
 *   dramActive   = bytes per GPU at peak bandwidth / timeMs
 * (DCGM: PIPE_TENSOR_ACTIVE = 1 means a tensor instruction every other cycle; DRAM_ACTIVE
 * "in practice a peak of ~0.8 is the maximum achievable".)
 */
export function stepCost(cfg: PerfConfig, work: StepWork): StepCost {
  const { gpu, model, quantization, kvCacheDtype, efficiency: e } = cfg;
  const tp = cfg.tensorParallelSize;
  const sequences = work.prefill.length + work.decode.length;
  let tokens = work.decode.length;
  for (const p of work.prefill) tokens += p.newTokens;
  if (sequences === 0 || tokens <= 0) return { ...IDLE };

  const params = parameterBreakdown(model);
  const attnPerToken = 4 * model.layers * model.qHeads * model.headDim; // FLOPs per (query, key) pair, all layers
  let attentionFlops = 0;
  let kvTokens = 0; // tokens whose KV entries the step reads or writes
  for (const p of work.prefill) {
    const n = p.newTokens;
    const c = p.contextBefore;
    // causal: query i (1..n) of the chunk attends to c + i keys; the sum is n x (c + (n + 1) / 2)
    attentionFlops += attnPerToken * n * (c + (n + 1) / 2);
    kvTokens += c + n;
  }
  for (const d of work.decode) {
    attentionFlops += attnPerToken * d.context;
    kvTokens += d.context;
  }
  // linear layers: 2 FLOPs per multiply-add, per active parameter, per token
  const linearFlops = 2 * params.activeBody * tokens;
  // LM head: one logits row per sequence
  const lmHeadFlops = 2 * model.hidden * model.vocab * sequences;
  const flopsPerGpu = (linearFlops + lmHeadFlops + attentionFlops) / tp;

  const mode = computeMode(gpu, quantization);
  const mfu = mfuFor(tokens, e);
  // seconds at the peaks (no MFU): linear at the format's effective peak, the rest at bf16
  const linearSecAtPeak = linearFlops / tp / (mode.effectiveTflops * 1e12);
  const bf16SecAtPeak = (lmHeadFlops + attentionFlops) / tp / (gpu.bf16Tflops * 1e12);
  const computeMs = ((linearSecAtPeak + bf16SecAtPeak) / mfu) * 1e3;
  // tensor pipes busy at full rate: linear layers at the undequantized peak (dequantisation is not tensor work)
  const tensorBusyMs = (linearFlops / tp / (mode.peakTflops * 1e12) + bf16SecAtPeak) * 1e3;

  // weights read once per step; MoE: only the experts the step's tokens route to
  const expertsRead = model.experts ? distinctExperts(model.experts.count, model.experts.topK, tokens) : 0;
  const bodyBytes = (params.shared + expertsRead * params.perExpert) * weightBytesPerParam(quantization);
  const lmHeadBytes = params.lmHead * EMBEDDING_BYTES_PER_PARAM;
  const weightBytesPerGpu = (bodyBytes + lmHeadBytes) / tp;
  const kvBytesPerGpu = kvTokens * kvBytesPerTokenPerGpu(model, kvCacheDtype, tp);
  const bytesPerGpu = weightBytesPerGpu + kvBytesPerGpu;
  const bandwidth = gpu.bandwidthGBs * 1e9; // bytes/s
  const memoryMs = ((weightBytesPerGpu + kvBytesPerGpu / kvReadEfficiency(kvCacheDtype)) / (bandwidth * e.memory)) * 1e3;
  const dramBusyMs = (bytesPerGpu / bandwidth) * 1e3;

  // tensor parallelism: two all-reduces per layer (after attention, after the MLP) of T x hidden bf16 activations
  const commMs = tp > 1 ? 2 * model.layers * allReduceMs(tokens * model.hidden * 2, tp, gpu) : 0;
  const overheadMs = e.stepOverheadMs + e.perSeqOverheadMs * sequences;
  const timeMs = Math.max(computeMs, memoryMs) + commMs + overheadMs;

  return {
    timeMs,
    computeMs,
    memoryMs,
    commMs,
    overheadMs,
    flops: flopsPerGpu,
    bytes: bytesPerGpu,
    tensorActive: Math.min(1, tensorBusyMs / timeMs),
    dramActive: Math.min(1, dramBusyMs / timeMs),
  };
}
