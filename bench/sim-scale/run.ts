/**
 * bench/sim-scale: how many simulated workers, each with 256 running sequences, one core keeps
 * in real time. Every worker (a SimEngine on a simulated H100 with Llama-3.1-8B) is held at its
 * number of running sequences by a closed loop of requests with long outputs; tokens go to
 * in-process sinks (the HTTP layer is measured by the harness benchmarks). The figure of merit
 * is step-start jitter: how late each engine step ends compared with its deadline on the
 * simulated GPU's timeline (p50, p99, max), with the process's CPU use.
 *
 *   npm run bench -- sim-scale [--workers 1,2,4,8,12] [--seqs 256] [--seconds 15]
 */
import os from 'node:os';
import { createSimEngine, type SimEngine } from '../../reference-stack/worker-sim/sim-engine.ts';
import type { GenerateRequest } from '../../reference-stack/worker-sim/engine-api.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

export interface ScaleResult {
  workers: number;
  seqs: number;
  steps: number;
  stepsPerS: number;
  tokensPerS: number;
  jitterP50: number;
  jitterP99: number;
  jitterMax: number;
  cpuPct: number;
  meanRunning: number;
}

export async function runScale(workers: number, seqs: number, seconds: number): Promise<ScaleResult> {
  const engines: SimEngine[] = [];
  let tokens = 0;
  let running = 0;
  let seq = 0;
  const keepBusy = (e: SimEngine, prompt: number[]) => {
    const req: GenerateRequest = { requestId: `r${seq++}`, promptTokenIds: prompt, maxTokens: 4000, minTokens: 0, ignoreEos: true, priority: 0, seed: seq };
    e.submit(req, {
      onToken: (ev) => {
        tokens++;
        if (ev.finishReason !== undefined && running > 0) keepBusy(e, prompt);
      },
      onError: () => {},
    });
  };
  for (let w = 0; w < workers; w++) {
    const e = createSimEngine({ gpu: 'h100-sxm', model: 'llama-3.1-8b', maxNumSeqs: seqs, seed: w });
    engines.push(e);
  }
  running = 1;
  // Distinct 512-token prompts per sequence (no prefix sharing), ~1 k context while decoding.
  for (const [w, e] of engines.entries()) {
    for (let s = 0; s < seqs; s++) keepBusy(e, Array.from({ length: 512 }, (_, i) => 16 + ((w * 7919 + s * 104729 + i * 31) % 120000)));
  }
  // Warm up 2 s, then measure.
  await new Promise((r) => setTimeout(r, 2000));
  for (const e of engines) e.jitterMs.length = 0;
  const steps0 = engines.reduce((a, e) => a + e.stepsTotal, 0);
  const tokens0 = tokens;
  let runSamples = 0;
  let runSum = 0;
  const sampler = setInterval(() => {
    for (const e of engines) {
      runSum += e.inFlight;
      runSamples++;
    }
  }, 250);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  running = 0;
  const jitter = engines.flatMap((e) => e.jitterMs);
  const steps = engines.reduce((a, e) => a + e.stepsTotal, 0) - steps0;
  for (const e of engines) e.close();
  return {
    workers,
    seqs,
    steps,
    stepsPerS: (steps / wall) * 1000,
    tokensPerS: ((tokens - tokens0) / wall) * 1000,
    jitterP50: pct(jitter, 50),
    jitterP99: pct(jitter, 99),
    jitterMax: Math.max(...jitter),
    cpuPct: ((cpu.user + cpu.system) / 1000 / wall) * 100,
    meanRunning: runSamples ? runSum / runSamples : 0,
  };
}

export async function main(): Promise<void> {
  const levels = (arg('workers') ?? '1,2,4,8,12').split(',').map(Number);
  const seqs = Number(arg('seqs') ?? 256);
  const seconds = Number(arg('seconds') ?? 15);
  console.log(`sim-scale: H100 SXM x Llama-3.1-8B workers, ${seqs} running sequences each, ${seconds}s measured after 2s, one Node.js thread`);
  console.log(`machine: ${os.cpus()[0]?.model ?? 'unknown'} x ${os.availableParallelism()} cores, Node ${process.version}`);
  console.log('| workers | running seqs / worker | steps/s | tokens/s | step jitter p50 (ms) | p99 (ms) | max (ms) | CPU (% of one core) |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const w of levels) {
    const r = await runScale(w, seqs, seconds);
    console.log(`| ${r.workers} | ${r.meanRunning.toFixed(0)} | ${r.stepsPerS.toFixed(0)} | ${r.tokensPerS.toFixed(0)} | ${r.jitterP50.toFixed(2)} | ${r.jitterP99.toFixed(2)} | ${r.jitterMax.toFixed(2)} | ${r.cpuPct.toFixed(0)}% |`);
  }
}
