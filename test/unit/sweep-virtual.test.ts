/**
 * `harness sweep --virtual`: the same sweeps on the simulated engine's own model (virtualRun, a
 * virtual clock: no gateway, client or timers). The physics sweeps of sweep-physics.test.ts give
 * the same answers here in seconds; cells it cannot model (several workers, a deployment) are
 * refused before anything runs; a virtual sweep never resumes a live one; its pages have no run
 * folders to link.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../harness/errors.ts';
import { loadSweep, parseSweep } from '../../harness/sweep/sweep-file.ts';
import { runSweep, type SweepResult } from '../../harness/sweep/run-sweep.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/sweeps/', import.meta.url));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-sweep-virtual-'));

async function virtual(name: string, out = name): Promise<{ dir: string; result: SweepResult }> {
  return runSweep(loadSweep(path.join(FIXTURES, `${name}.yaml`)), { engine: 'virtual', outDir: path.join(dir, out) });
}

const byValue = (r: SweepResult, v: unknown) => r.cells.find((c) => Object.values(c.values)[0] === v)!;

test('virtual: capacity grows with max_num_seqs until the KV cache binds, then stops; the engine says why', async () => {
  const { dir: out, result: r } = await virtual('kv-bound');
  assert.equal(r.mode, 'virtual');
  assert.equal(r.cell.time_scale, 1);
  assert.deepEqual([2, 8, 64, 256].map((s) => byValue(r, s).best_rate), [0.7, 2.2, 4, 4]);
  const at4 = (s: number) => byValue(r, s).measurements.find((m) => m.rate === 4)!;
  assert.equal(at4(8).server?.running_max, 8);
  assert.ok((at4(8).server?.kv_cache_usage_max ?? 1) < 0.6);
  for (const s of [64, 256]) {
    assert.ok((at4(s).server?.kv_cache_usage_max ?? 0) > 0.7, `${s}: ${JSON.stringify(at4(s).server)}`);
    assert.ok((at4(s).server?.running_max ?? Infinity) <= 32, `${s}: ${JSON.stringify(at4(s).server)}`);
  }
  assert.ok(at4(256).output_tokens_per_s! <= at4(64).output_tokens_per_s! * 1.1);
  // No run folders: the page says so rather than linking nothing.
  for (const m of r.cells.flatMap((c) => c.measurements)) assert.equal(m.run_dir, '');
  const html = fs.readFileSync(path.join(out, 'sweep.html'), 'utf8');
  assert.match(html, /virtual clock/);
  assert.doesNotMatch(html, /href="\/?report\.html"/);
  assert.match(fs.readFileSync(path.join(out, 'sweep.md'), 'utf8'), /virtual clock/);
});

test('virtual: FP8 weights beat BF16 on an H100', async () => {
  const { result: r } = await virtual('precision');
  assert.equal(byValue(r, 'bf16').best_rate, 1.3);
  assert.equal(byValue(r, 'fp8').best_rate, 2.1);
  const tput = (q: string) => byValue(r, q).measurements.find((m) => m.rate === 2.1)!.output_tokens_per_s!;
  assert.ok(tput('fp8') > tput('bf16'));
  assert.equal(r.best?.values['workers[0].sim.quantization'], 'fp8');
});

test('virtual: cells of several workers and deployments are refused before anything runs; modes never mix on resume', async () => {
  const twoWorkers = path.join(dir, 'two.yaml');
  fs.writeFileSync(twoWorkers, `name: two
scenario: ${path.join(FIXTURES, 'decode-scenario.yaml')}
stack: ${path.join(FIXTURES, 'decode-stack.yaml')}
zip:
  replicas:
    workers:
      - [{name: w0, sim: {gpu: h100-sxm, model: llama-3.1-8b}}]
      - [{name: w0, sim: {gpu: h100-sxm, model: llama-3.1-8b}}, {name: w1, sim: {gpu: h100-sxm, model: llama-3.1-8b}}]
    models[0].workers: [[w0], [w0, w1]]
load: {rates: [1]}
`);
  const out = path.join(dir, 'two-out');
  await assert.rejects(runSweep(parseSweep(fs.readFileSync(twoWorkers, 'utf8'), twoWorkers), { engine: 'virtual', outDir: out }), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.deepEqual(e.issues.map((i) => i.code), ['FG_SWEEP_VIRTUAL']);
    assert.match(e.issues[0]!.message, /has 2 worker\(s\)/);
    return true;
  });
  assert.equal(fs.existsSync(out), false, 'nothing written');

  // A virtual sweep folder is not resumed live, nor the other way round.
  const { dir: vdir } = await virtual('precision', 'precision-again');
  await assert.rejects(runSweep(loadSweep(path.join(FIXTURES, 'precision.yaml')), { resumeDir: vdir }), (e: unknown) => e instanceof ConfigError && e.issues[0]!.code === 'FG_SWEEP_RESUME' && /measured virtual/.test(e.issues[0]!.message));
});
