/**
 * bench/gpu-profile/compare.ts: the simulator's step times next to the ones profile.py measured
 * on a real GPU.
 *
 *   node --import tsx bench/gpu-profile/compare.ts bench/gpu-profile/results-h200-2026-11-27.jsonl [--gpu h200]
 *
 * For each measured decode or prefill point it builds the StepWork the scheduler would hand the
 * performance model (scheduler.ts: a prefill entry { newTokens, contextBefore } per sequence, a
 * decode entry { context } per sequence) and prices it with stepCost() under the configuration
 * the simulated engine resolves (sim-engine.ts resolveConfig: model llama-3.1-8b, the GPU named
 * by the file's meta line or --gpu, quantization bf16 or fp8, KV cache 'auto', TP 1, default
 * efficiency factors). Printed per point: measured ms, the simulator's step time, its GPU part
 * max(compute, memory) (the step time less the CPU/launch overhead, which a GPU-only measurement
 * does not contain), the two ratios measured / simulated, the bound the model picks, and the
 * efficiency factor that would make the GPU part equal the measurement (memory for a
 * memory-bound point, MFU at the step's token count for a compute-bound one). Then the median
 * ratios for decode and prefill separately, over all formats and per format.
 */
import { readFileSync } from 'node:fs';
import { resolveConfig } from '../../reference-stack/worker-sim/sim-engine.ts';
import { mfuFor, stepCost, MFU_LARGE_TOKENS, MFU_SMALL_TOKENS } from '../../reference-stack/worker-sim/perf-model.ts';
import type { PerfConfig, StepWork, WeightQuant } from '../../reference-stack/worker-sim/sim-types.ts';

export interface Measured {
  kind: 'decode' | 'prefill';
  dtype: string;
  batch: number;
  context: number;
  new_tokens: number;
  tokens: number;
  ms: number;
}

export interface Compared {
  point: Measured;
  quantization: WeightQuant;
  simulatedMs: number;
  gpuPartMs: number;
  bound: 'memory' | 'compute';
  ratio: number;
  ratioGpu: number;
  /** Name and value of the efficiency factor that would make the GPU part match. */
  impliedFactor: { name: string; value: number };
}

/** Catalogue id of the GPU from the name torch reports ('NVIDIA H200', 'NVIDIA H100 80GB HBM3', ...). */
export function gpuIdFromName(name: string): string | undefined {
  const n = name.toLowerCase();
  if (n.includes('h200')) return 'h200';
  if (n.includes('h100')) return n.includes('pcie') ? 'h100-pcie' : 'h100-sxm';
  if (n.includes('a100')) return n.includes('40gb') ? 'a100-40gb' : 'a100-80gb';
  if (n.includes('b200')) return 'b200';
  if (n.includes('l40s')) return 'l40s';
  if (n.includes('l4')) return 'l4';
  if (n.includes('a10g')) return 'a10g';
  if (n.includes('mi300x')) return 'mi300x';
  return undefined;
}

/** The StepWork the scheduler builds for a measured point. */
export function stepWorkOf(p: Measured): StepWork {
  if (p.kind === 'decode') return { prefill: [], decode: Array.from({ length: p.batch }, () => ({ context: p.context })) };
  return { prefill: Array.from({ length: p.batch }, () => ({ newTokens: p.new_tokens, contextBefore: p.context })), decode: [] };
}

export function perfConfig(gpu: string, quantization: WeightQuant): PerfConfig {
  const c = resolveConfig({ gpu, model: 'llama-3.1-8b', quantization, kvCacheDtype: 'auto', tensorParallelSize: 1 });
  // exactly the object SimEngine and virtualRun hand to stepCost
  return { gpu: c.gpu, model: c.model, quantization: c.quantization, kvCacheDtype: c.kvCacheDtype, tensorParallelSize: c.tensorParallelSize, efficiency: c.efficiency };
}

export function compare(points: Measured[], gpu: string): Compared[] {
  const configs = new Map<WeightQuant, PerfConfig>();
  const out: Compared[] = [];
  for (const p of points) {
    const quantization: WeightQuant = p.dtype.startsWith('fp8') ? 'fp8' : 'bf16';
    let cfg = configs.get(quantization);
    if (!cfg) {
      cfg = perfConfig(gpu, quantization);
      configs.set(quantization, cfg);
    }
    const cost = stepCost(cfg, stepWorkOf(p));
    const gpuPartMs = Math.max(cost.computeMs, cost.memoryMs);
    const bound = cost.memoryMs >= cost.computeMs ? 'memory' : 'compute';
    const e = cfg.efficiency;
    let impliedFactor: Compared['impliedFactor'];
    if (bound === 'memory') impliedFactor = { name: 'memory', value: (e.memory * cost.memoryMs) / p.ms };
    else {
      const name = p.tokens >= MFU_LARGE_TOKENS ? 'computePrefill' : p.tokens <= MFU_SMALL_TOKENS ? 'computeDecode' : `MFU(${p.tokens})`;
      impliedFactor = { name, value: (mfuFor(p.tokens, e) * cost.computeMs) / p.ms };
    }
    out.push({ point: p, quantization, simulatedMs: cost.timeMs, gpuPartMs, bound, ratio: p.ms / cost.timeMs, ratioGpu: p.ms / gpuPartMs, impliedFactor });
  }
  return out;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function readMeasured(path: string): { meta: Record<string, unknown> | undefined; points: Measured[] } {
  let meta: Record<string, unknown> | undefined;
  const points: Measured[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as Record<string, unknown>;
    if (r.kind === 'meta') meta = r;
    else if ((r.kind === 'decode' || r.kind === 'prefill') && typeof r.ms === 'number') points.push(r as unknown as Measured);
  }
  return { meta, points };
}

function main(argv: string[]): void {
  const file = argv.find((a) => !a.startsWith('--'));
  const gi = argv.indexOf('--gpu');
  if (!file) {
    console.error('usage: node --import tsx bench/gpu-profile/compare.ts <gpu-profile.jsonl> [--gpu h100-sxm|h200|...]');
    process.exit(2);
  }
  const { meta, points } = readMeasured(file);
  const gpuName = typeof meta?.gpu === 'string' ? meta.gpu : '';
  const gpu = gi >= 0 ? argv[gi + 1] : gpuIdFromName(gpuName);
  if (!gpu) {
    console.error(`cannot tell the catalogue GPU from "${gpuName}": pass --gpu`);
    process.exit(2);
  }
  const rows = compare(points, gpu);
  const e = perfConfig(gpu, 'bf16').efficiency;
  console.log(`measured: ${file} (${gpuName || 'GPU not recorded'}, torch ${String(meta?.torch ?? '?')}); simulated: ${gpu}, llama-3.1-8b, KV auto, TP 1`);
  console.log(`efficiency: memory ${e.memory}, computePrefill ${e.computePrefill}, computeDecode ${e.computeDecode}, stepOverheadMs ${e.stepOverheadMs}, perSeqOverheadMs ${e.perSeqOverheadMs}`);
  console.log('ratio = measured / simulated step; ratio(gpu) = measured / max(compute, memory) (simulated step less its CPU overhead)\n');
  const head = ['kind', 'dtype', 'seqs', 'context', 'new', 'measured ms', 'sim ms', 'sim gpu ms', 'ratio', 'ratio(gpu)', 'bound', 'implied factor'];
  const table = rows.map((r) => [
    r.point.kind,
    r.point.dtype,
    String(r.point.batch),
    String(r.point.context),
    String(r.point.new_tokens),
    r.point.ms.toFixed(3),
    r.simulatedMs.toFixed(3),
    r.gpuPartMs.toFixed(3),
    r.ratio.toFixed(3),
    r.ratioGpu.toFixed(3),
    r.bound,
    `${r.impliedFactor.name} ${r.impliedFactor.value.toFixed(3)}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((t) => t[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i < 2 || i >= 10 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(fmt(head));
  for (const t of table) console.log(fmt(t));
  console.log('');
  for (const kind of ['decode', 'prefill'] as const) {
    const dtypes = ['all', ...new Set(rows.filter((r) => r.point.kind === kind).map((r) => r.point.dtype))];
    for (const d of dtypes) {
      const sel = rows.filter((r) => r.point.kind === kind && (d === 'all' || r.point.dtype === d));
      if (!sel.length) continue;
      const byFactor = new Map<string, number[]>();
      for (const r of sel) {
        const k = r.impliedFactor.name.startsWith('MFU(') ? 'MFU(32<T<2048)' : r.impliedFactor.name;
        byFactor.set(k, [...(byFactor.get(k) ?? []), r.impliedFactor.value]);
      }
      const implied = [...byFactor].map(([k, v]) => `${k} ${median(v).toFixed(3)} (n=${v.length})`).join(', ');
      console.log(
        `median ${kind.padEnd(7)} ${d.padEnd(10)} n=${String(sel.length).padStart(2)}  ratio ${median(sel.map((r) => r.ratio)).toFixed(3)}  ratio(gpu) ${median(sel.map((r) => r.ratioGpu)).toFixed(3)}  implied: ${implied}`,
      );
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main(process.argv.slice(2));
