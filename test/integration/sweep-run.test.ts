/**
 * A tiny sweep through the library: 2 cells (max_num_seqs 4 vs 64 on one simulated worker) x 2
 * fixed rates, time scale 10, 30 s (simulated) per measurement = 3 s of wall time each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseSweep } from '../../harness/sweep/sweep-file.ts';
import { ConfigError } from '../../harness/errors.ts';
import { runSweep, type SweepResult } from '../../harness/sweep/run-sweep.ts';
import { startStack, type RunningStack, type StartStackOptions } from '../../reference-stack/stack/start-stack.ts';
import type { StackConfig } from '../../reference-stack/stack/stack-types.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-sweep-run-'));
fs.writeFileSync(
  path.join(dir, 'scenario.yaml'),
  `name: sweep-traffic
target: {model: llama-3.1-8b}
seed: 3
workload:
  prompt_tokens: {dist: uniform, min: 100, max: 300}
  output_tokens: {dist: uniform, min: 30, max: 50}
load:
  arrival: constant
  stages:
    - {name: a, duration: 30s, rate: 2}
slo: {ttft: 2s}
`,
);
fs.writeFileSync(
  path.join(dir, 'stack.yaml'),
  `name: one
models:
  - {name: llama-3.1-8b, workers: [w0]}
workers:
  - name: w0
    sim: {gpu: h100-sxm, model: llama-3.1-8b, seed: 0, max_num_seqs: 16}
gateway: {routing: round_robin}
tenants:
  - name: pro
    api_key_hashes: ['sha256:21d289177ddce5356b1ede09d33f323ba1e3ff0e652d4dd39e791da6f16f1225']
    allowed_models: '*'
`,
);
const sweepFile = path.join(dir, 'sweep.yaml');
fs.writeFileSync(
  sweepFile,
  `name: tiny
scenario: scenario.yaml
stack: stack.yaml
matrix:
  workers[0].sim.max_num_seqs: [4, 64]
load: {rates: [1, 20]}
cell: {duration: 30s, time_scale: 10}
price: {gpu_hour: 2.5}
`,
);

/** startStack, counted: how many started, how many were up at once, the max_num_seqs of each. */
function countingStart() {
  const c = { starts: 0, live: 0, maxLive: 0, seqs: [] as Array<number | undefined> };
  const start = async (stack: StackConfig, o: StartStackOptions): Promise<RunningStack> => {
    const s = await startStack(stack, o);
    c.starts++;
    c.live++;
    c.maxLive = Math.max(c.maxLive, c.live);
    const w = stack.workers[0]!;
    c.seqs.push(w.kind === 'sim' ? (w.sim as { maxNumSeqs?: number }).maxNumSeqs : undefined);
    return { ...s, close: async () => (c.live--, s.close()) };
  };
  return { c, start };
}

test('a 2x2 sweep: fresh stack per measurement, sweep.json and sweep.md, resume redoes only what is missing', { timeout: 90_000 }, async () => {
  const spec = parseSweep(fs.readFileSync(sweepFile, 'utf8'), sweepFile);
  assert.equal(spec.cells.length, 2);
  const out = path.join(dir, 'out');
  const first = countingStart();
  const { result } = await runSweep(spec, { outDir: out, startStack: first.start });

  const saved = JSON.parse(fs.readFileSync(path.join(out, 'sweep.json'), 'utf8')) as SweepResult;
  assert.equal(saved.complete, true);
  assert.equal(saved.cells.length, 2);
  assert.equal(saved.cells.flatMap((c) => c.measurements).length, 4);
  // Isolation: one stack per measurement, stopped before the next one started, with the cell's values.
  assert.equal(first.c.starts, 4);
  assert.equal(first.c.maxLive, 1);
  assert.equal(first.c.live, 0);
  assert.deepEqual(first.c.seqs, [4, 4, 64, 64]);
  for (const c of saved.cells) {
    for (const m of c.measurements) {
      assert.ok(m.requests > 0);
      assert.ok(fs.existsSync(path.join(out, m.run_dir, 'summary.json')), m.run_dir);
      assert.ok(m.goodput_fraction !== null);
    }
  }
  // Physics: the larger batch does not have lower throughput at the higher rate.
  const at = (i: number, rate: number) => saved.cells[i]!.measurements.find((m) => m.rate === rate)!;
  const small = at(0, 20);
  const large = at(1, 20);
  assert.ok((large.output_tokens_per_s ?? 0) >= (small.output_tokens_per_s ?? 0) * 0.98, `seqs 64: ${large.output_tokens_per_s} tok/s < seqs 4: ${small.output_tokens_per_s}`);
  assert.ok((large.goodput_fraction ?? 0) >= (small.goodput_fraction ?? 0));
  // Isolation, seen in the figures: the measurement right after the overloaded one (seqs 4 at 20
  // req/s, most requests past the SLO) starts on an idle stack: every request meets the SLO.
  assert.ok((small.goodput_fraction ?? 1) < 0.5, `seqs 4 at 20 req/s: goodput ${small.goodput_fraction}`);
  const next = at(1, 1);
  assert.equal(next.goodput_fraction, 1);
  assert.ok((next.ttft_p95_ms ?? Infinity) < 2000, `ttft p95 ${next.ttft_p95_ms}`);
  assert.ok(saved.cells[1]!.cost_per_1m_output_tokens !== null && saved.cells[1]!.cost_per_1m_output_tokens > 0);
  assert.deepEqual(result.cells.map((c) => c.id), saved.cells.map((c) => c.id));
  const md = fs.readFileSync(path.join(out, 'sweep.md'), 'utf8');
  assert.match(md, /# Sweep tiny/);
  assert.match(md, /Best configuration|No configuration/);

  // Resume: drop one measurement; only it is measured again.
  const dropped = saved.cells[1]!.measurements.find((m) => m.rate === 1)!;
  saved.cells[1]!.measurements = saved.cells[1]!.measurements.filter((m) => m !== dropped);
  saved.complete = false;
  fs.writeFileSync(path.join(out, 'sweep.json'), JSON.stringify(saved));
  const keptMtimes = saved.cells.flatMap((c) => c.measurements).map((m) => fs.statSync(path.join(out, m.run_dir, 'summary.json')).mtimeMs);
  const again = countingStart();
  const measured: Array<{ cell: string; rate: number }> = [];
  const resumed = await runSweep(spec, { resumeDir: out, startStack: again.start, onMeasurement: (c, m) => measured.push({ cell: c.id, rate: m.rate }) });
  assert.deepEqual(measured, [{ cell: saved.cells[1]!.id, rate: 1 }]);
  assert.equal(again.c.starts, 1);
  assert.equal(resumed.result.cells.flatMap((c) => c.measurements).length, 4);
  assert.equal(resumed.result.complete, true);
  const after = saved.cells.flatMap((c) => c.measurements).map((m) => fs.statSync(path.join(out, m.run_dir, 'summary.json')).mtimeMs);
  assert.deepEqual(after, keptMtimes);
  // Not resuming: a folder that holds a sweep is never overwritten.
  await assert.rejects(runSweep(spec, { outDir: out }), (e: unknown) => e instanceof ConfigError && e.issues[0]!.code === 'FG_SWEEP_OUT_EXISTS');
});
