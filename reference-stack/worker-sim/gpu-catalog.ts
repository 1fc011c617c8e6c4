/**
 * GPU catalogue of the simulated worker: the GPUs a stack file can name (`gpu: h100-sxm`), each
 * with the figures the performance model and the simulated DCGM exporter need, and where every
 * figure comes from. Also the validation of a user-defined GPU (`customGpu`), which lists every
 * problem at once instead of throwing.
 *
 * Conventions (as in sim-types.ts): GB = 1e9 bytes, GiB = 2^30 bytes, TFLOPS are dense
 * tensor-core peaks (vendors' "with sparsity" figures halved), interconnect bandwidth is per
 * direction. Compute, memory and bandwidth figures are the CALIBRATION.md "GPUs" table; power
 * and interconnect figures are the vendors' datasheets; `usableMemoryGiB` is the device total
 * PyTorch reports (the figure vLLM multiplies by gpu_memory_utilization), read from public vLLM
 * logs and PyTorch out-of-memory messages; idle power is an estimate unless its source says
 * otherwise.
 */
import { nearest } from '../../harness/util/did-you-mean.ts';
import type { GpuArch, GpuSpec } from './sim-types.ts';
import { positiveNumber, show, stringField } from './spec-fields.ts';
import { deepFreeze } from '../../harness/util/deep-freeze.ts';

const CAL = 'CALIBRATION.md GPUs table';

/** The catalogue, by id. Frozen: a worker that wants other figures builds a spec with `customGpu`. */
export const GPUS: Readonly<Record<string, Readonly<GpuSpec>>> = deepFreeze({
  l4: {
    id: 'l4',
    name: 'NVIDIA L4',
    memoryGB: 24,
    usableMemoryGiB: 22.03,
    bandwidthGBs: 300,
    bf16Tflops: 121,
    fp8Tflops: 242,
    tdpW: 72,
    idleW: 16,
    interconnectGBs: 32,
    arch: 'ada',
    source:
      `${CAL} (24 GB GDDR6, 300 GB/s, BF16 121 / FP8 242 TFLOPS dense); NVIDIA L4 datasheet (72 W, PCIe Gen4 x16 = 32 GB/s per direction); ` +
      'usable 22.03 GiB: PyTorch OOM message on an L4 (ArcInstitute/evo2#190); idle 16 W: estimate',
  },
  a10g: {
    id: 'a10g',
    name: 'NVIDIA A10G',
    memoryGB: 24,
    usableMemoryGiB: 21.99,
    bandwidthGBs: 600,
    bf16Tflops: 70,
    fp8Tflops: null,
    tdpW: 300,
    idleW: 25,
    interconnectGBs: 32,
    arch: 'ampere',
    source:
      `${CAL} (24 GB GDDR6, 600 GB/s, ~70 TFLOPS BF16, no FP8); NVIDIA A10 datasheet for the interface (A10G is AWS's A10 variant: PCIe Gen4 x16 = 32 GB/s per direction); ` +
      '300 W board limit as nvidia-smi reports it on AWS g5; ' +
      'usable 21.99 GiB: PyTorch OOM messages on AWS g5 hosts; idle 25 W: estimate',
  },
  l40s: {
    id: 'l40s',
    name: 'NVIDIA L40S',
    memoryGB: 48,
    usableMemoryGiB: 44.42,
    bandwidthGBs: 864,
    bf16Tflops: 362,
    fp8Tflops: 733,
    tdpW: 350,
    idleW: 35,
    interconnectGBs: 32,
    arch: 'ada',
    source:
      `${CAL} (48 GB GDDR6, 864 GB/s, BF16 362 / FP8 733 TFLOPS dense); NVIDIA L40S datasheet (350 W, PCIe Gen4 x16 = 32 GB/s per direction, no NVLink); ` +
      'usable 44.42 GiB (ECC on): PyTorch OOM message on 8x L40S (stepfun-ai/Step-Video-T2V#8); idle 35 W: estimate',
  },
  'a100-40gb': {
    id: 'a100-40gb',
    name: 'NVIDIA A100-SXM4-40GB',
    memoryGB: 40,
    usableMemoryGiB: 39.39,
    bandwidthGBs: 1555,
    bf16Tflops: 312,
    fp8Tflops: null,
    tdpW: 400,
    idleW: 50,
    interconnectGBs: 300,
    arch: 'ampere',
    source:
      `${CAL} (40 GB HBM2, 1,555 GB/s, BF16 312 TFLOPS, no FP8); NVIDIA A100 datasheet (SXM 400 W, NVLink 3 600 GB/s = 300 per direction); ` +
      'usable 39.39 GiB: PyTorch OOM messages on A100 40GB; idle 50 W: estimate',
  },
  'a100-80gb': {
    id: 'a100-80gb',
    name: 'NVIDIA A100-SXM4-80GB',
    memoryGB: 80,
    usableMemoryGiB: 79.15,
    bandwidthGBs: 2039,
    bf16Tflops: 312,
    fp8Tflops: null,
    tdpW: 400,
    idleW: 60,
    interconnectGBs: 300,
    arch: 'ampere',
    source:
      `${CAL} (80 GB HBM2e, 2,039 GB/s, BF16 312 TFLOPS, no FP8); NVIDIA A100 datasheet (SXM 400 W, NVLink 3 600 GB/s = 300 per direction); ` +
      'usable 79.15 GiB: PyTorch OOM messages on A100 80GB; idle 60 W: estimate',
  },
  'h100-sxm': {
    id: 'h100-sxm',
    name: 'NVIDIA H100 80GB HBM3',
    memoryGB: 80,
    usableMemoryGiB: 79.22,
    bandwidthGBs: 3350,
    bf16Tflops: 989,
    fp8Tflops: 1979,
    tdpW: 700,
    idleW: 70,
    interconnectGBs: 450,
    arch: 'hopper',
    source:
      `${CAL} (80 GB HBM3, 3.35 TB/s, BF16 989 / FP8 1,979 TFLOPS dense); NVIDIA H100 datasheet (SXM up to 700 W, NVLink 4 900 GB/s = 450 per direction); ` +
      'usable 79.22 GiB: vLLM memory-profiling log (vllm-project/vllm#10511); idle 70 W: nvidia-smi idle readings of 67-72 W',
  },
  'h100-pcie': {
    id: 'h100-pcie',
    name: 'NVIDIA H100 PCIe',
    memoryGB: 80,
    usableMemoryGiB: 79.22,
    bandwidthGBs: 2000,
    bf16Tflops: 756,
    fp8Tflops: 1513,
    tdpW: 350,
    idleW: 50,
    interconnectGBs: 64,
    arch: 'hopper',
    source:
      `${CAL} (80 GB HBM2e, 2.0 TB/s, BF16 756 / FP8 1,513 TFLOPS dense); NVIDIA H100 datasheet (PCIe 300-350 W, PCIe Gen5 x16 = 64 GB/s per direction without the NVLink bridge); ` +
      'usable 79.22 GiB: assumed equal to the SXM part (same 81,559 MiB frame buffer); idle 50 W: estimate',
  },
  h200: {
    id: 'h200',
    name: 'NVIDIA H200',
    memoryGB: 141,
    usableMemoryGiB: 139.8,
    bandwidthGBs: 4800,
    bf16Tflops: 989,
    fp8Tflops: 1979,
    tdpW: 700,
    idleW: 75,
    interconnectGBs: 450,
    arch: 'hopper',
    source:
      `${CAL} (141 GB HBM3e, 4.8 TB/s, BF16 989 / FP8 1,979 TFLOPS dense); NVIDIA H200 datasheet (SXM up to 700 W, NVLink 4 900 GB/s = 450 per direction); ` +
      'usable 139.80 GiB: PyTorch OOM messages on H200; idle 75 W: estimate',
  },
  b200: {
    id: 'b200',
    name: 'NVIDIA B200',
    memoryGB: 180,
    usableMemoryGiB: 178.35,
    bandwidthGBs: 8000,
    bf16Tflops: 2250,
    fp8Tflops: 4500,
    tdpW: 1000,
    idleW: 140,
    interconnectGBs: 900,
    arch: 'blackwell',
    source:
      `${CAL} (180 GB HBM3e, ~8 TB/s, BF16 2,250 / FP8 4,500 TFLOPS dense); NVIDIA HGX B200 datasheet (1,000 W per GPU, NVLink 5 1.8 TB/s = 900 per direction); ` +
      'usable 178.35 GiB: PyTorch OOM messages on B200; idle 140 W: estimate',
  },
  mi300x: {
    id: 'mi300x',
    name: 'AMD Instinct MI300X',
    memoryGB: 192,
    usableMemoryGiB: 191.98,
    bandwidthGBs: 5300,
    bf16Tflops: 1307,
    fp8Tflops: 2615,
    tdpW: 750,
    idleW: 140,
    interconnectGBs: 448,
    arch: 'cdna3',
    source:
      `${CAL} (192 GB HBM3, 5.3 TB/s, BF16 ~1,307 / FP8 ~2,615 TFLOPS dense); AMD Instinct MI300X datasheet (750 W, 7 Infinity Fabric links x 64 GB/s = 448 GB/s per direction); ` +
      'usable 191.98 GiB: PyTorch (HIP) OOM messages on MI300X; idle 140 W: estimate',
  },
});

/** The catalogue entry for `id` (case-insensitive), or undefined. */
export function getGpu(id: string): GpuSpec | undefined {
  return GPUS[id.toLowerCase()];
}

/** Outcome of `customGpu`: a complete spec, or every problem found. */
export type CustomGpuResult = { ok: true; gpu: GpuSpec } | { ok: false; problems: string[] };

const GPU_FIELDS: readonly (keyof GpuSpec)[] = [
  'id',
  'name',
  'memoryGB',
  'usableMemoryGiB',
  'bandwidthGBs',
  'bf16Tflops',
  'fp8Tflops',
  'tdpW',
  'idleW',
  'interconnectGBs',
  'arch',
  'source',
];
const ARCHES: readonly GpuArch[] = ['ampere', 'ada', 'hopper', 'blackwell', 'cdna3'];

/** Share of TDP a datacenter GPU draws idle when `idleW` is not given (H100 SXM: ~70 of 700 W). */
const DEFAULT_IDLE_SHARE = 0.1;

/**
 * Validates a user-defined GPU and fills the defaults. Required: id, memoryGB, bandwidthGBs,
 * bf16Tflops, tdpW, interconnectGBs. Defaults: name = id, fp8Tflops = null (no FP8 tensor cores),
 * idleW = 10% of tdpW, usableMemoryGiB absent (memoryGB x 1e9 bytes is used), arch absent,
 * source = 'user-defined'. Never throws: returns every problem found (unknown keys with the
 * nearest valid one, missing fields, non-positive or non-numeric figures).
 */
export function customGpu(partial: Record<string, unknown>): CustomGpuResult {
  const problems: string[] = [];
  if (partial === null || typeof partial !== 'object' || Array.isArray(partial)) {
    return { ok: false, problems: ['a GPU must be an object'] };
  }
  for (const key of Object.keys(partial)) {
    if (!(GPU_FIELDS as readonly string[]).includes(key)) {
      const hint = nearest(key, GPU_FIELDS);
      problems.push(`unknown field "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}; allowed: ${GPU_FIELDS.join(', ')}`);
    }
  }
  const id = stringField(partial, 'id', true, problems);
  const positive = (k: keyof GpuSpec, required: boolean): number | undefined => positiveNumber(partial, k, required, problems);
  const memoryGB = positive('memoryGB', true);
  const usableMemoryGiB = positive('usableMemoryGiB', false);
  const bandwidthGBs = positive('bandwidthGBs', true);
  const bf16Tflops = positive('bf16Tflops', true);
  const tdpW = positive('tdpW', true);
  const interconnectGBs = positive('interconnectGBs', true);
  let fp8Tflops: number | null = null;
  if (partial.fp8Tflops !== undefined && partial.fp8Tflops !== null) fp8Tflops = positive('fp8Tflops', false) ?? null;
  let idleW: number | undefined;
  if (partial.idleW !== undefined) {
    const v = partial.idleW;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) problems.push(`idleW: must be a number >= 0, got ${show(v)}`);
    else if (tdpW !== undefined && v >= tdpW) problems.push(`idleW: must be below tdpW (${tdpW} W), got ${v}`);
    else idleW = v;
  }
  if (usableMemoryGiB !== undefined && memoryGB !== undefined && usableMemoryGiB * 2 ** 30 > memoryGB * 1e9 * 1.1) {
    problems.push(`usableMemoryGiB: ${usableMemoryGiB} GiB is more than memoryGB (${memoryGB} GB) allows`);
  }
  let arch: GpuArch | undefined;
  if (partial.arch !== undefined) {
    if (typeof partial.arch === 'string' && (ARCHES as readonly string[]).includes(partial.arch)) arch = partial.arch as GpuArch;
    else problems.push(`arch: must be one of ${ARCHES.join(', ')}, got ${show(partial.arch)}`);
  }
  const name = stringField(partial, 'name', false, problems);
  const source = stringField(partial, 'source', false, problems);
  if (problems.length > 0 || id === undefined || memoryGB === undefined || bandwidthGBs === undefined || bf16Tflops === undefined || tdpW === undefined || interconnectGBs === undefined) {
    return { ok: false, problems };
  }
  const gpu: GpuSpec = {
    id,
    name: name ?? id,
    memoryGB,
    bandwidthGBs,
    bf16Tflops,
    fp8Tflops,
    tdpW,
    // idle draw, W = 10% of the board limit when not given
    idleW: idleW ?? Math.round(DEFAULT_IDLE_SHARE * tdpW),
    interconnectGBs,
    source: source ?? 'user-defined',
  };
  if (usableMemoryGiB !== undefined) gpu.usableMemoryGiB = usableMemoryGiB;
  if (arch !== undefined) gpu.arch = arch;
  return { ok: true, gpu };
}

/** Device memory vLLM sizes against, bytes: usableMemoryGiB x 2^30, else memoryGB x 1e9. */
export function usableMemoryBytes(gpu: GpuSpec): number {
  return gpu.usableMemoryGiB !== undefined ? gpu.usableMemoryGiB * 2 ** 30 : gpu.memoryGB * 1e9;
}
