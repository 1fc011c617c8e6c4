/**
 * `harness sweep` from the command line, as a user runs it: a one-cell, one-rate sweep on the
 * simulated stack prints the recommendation and writes sweep.html, sweep.md and sweep.json; a
 * sweep file given to `harness run` is refused with a pointer to `harness sweep`; `harness
 * validate` checks the shipped sweeps; a bad sweep file exits 2 with its coded issue and line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runHarness, type CliResult } from '../fixtures/harness-cli.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-sweep-cli-'));

const harness = (args: string[]): Promise<CliResult> => runHarness(args, { cwd: root });

test('harness sweep: one command, a recommendation with its evidence', { timeout: 90_000 }, async () => {
  fs.writeFileSync(path.join(dir, 'scenario.yaml'), `name: cli-traffic
target: {model: llama-3.1-8b}
workload: {prompt_tokens: 100, output_tokens: 20}
load: {arrival: constant, stages: [{duration: 10s, rate: 1}]}
slo: {ttft: 1s}
`);
  const file = path.join(dir, 'sweep.yaml');
  fs.writeFileSync(file, `name: cli-sweep
scenario: scenario.yaml
matrix:
  workers[0].sim.max_num_seqs: [32]
load: {rates: [2]}
cell: {duration: 10s, time_scale: 10}
price: {gpu_hour: 2}
`);
  const out = path.join(dir, 'out');
  const r = await harness(['sweep', file, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^best: max_num_seqs-32-[0-9a-f]{8}$/m);
  assert.match(r.stdout, /workers\[0\]\.sim\.max_num_seqs = 32/);
  assert.match(r.stdout, /w8b-0: vllm serve meta-llama\/Llama-3\.1-8B-Instruct .*--max-num-seqs 32/);
  for (const f of ['sweep.html', 'sweep.md', 'sweep.json']) assert.ok(fs.existsSync(path.join(out, f)), f);
  assert.match(fs.readFileSync(path.join(out, 'sweep.md'), 'utf8'), /vllm serve/);
});

test('harness sweep --virtual: the shipped tune-quantization on the engine\'s model, in seconds', async () => {
  const out = path.join(dir, 'virtual');
  const r = await harness(['sweep', 'scenarios/tune-quantization.yaml', '--virtual', '--out', out, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /virtual clock/);
  assert.match(r.stdout, /^best: precision-h100-sxm-fp8/m);
  const saved = JSON.parse(fs.readFileSync(path.join(out, 'sweep.json'), 'utf8')) as { mode: string; complete: boolean; cells: unknown[] };
  assert.equal(saved.mode, 'virtual');
  assert.equal(saved.complete, true);
  assert.equal(saved.cells.length, 5);
});

test('a sweep file given to harness run points to harness sweep; validate checks the shipped sweeps', async () => {
  const run = await harness(['run', 'scenarios/tune-batching.yaml']);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /FG_SCENARIO_IS_SWEEP/);
  assert.match(run.stderr, /harness sweep/);
  const v = await harness(['validate', 'scenarios/tune-batching.yaml', 'scenarios/tune-quantization.yaml', 'scenarios/rag-70b.yaml']);
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /tune-batching\.yaml: ok \(sweep "tune-batching", 12 cells x a saturation search, scenario rag-70b\)/);
  const bad = path.join(dir, 'bad.yaml');
  fs.writeFileSync(bad, 'name: bad\nscenario: scenario.yaml\nload:\n  rates: [1]\n  target_goodput: 2\n');
  const b = await harness(['sweep', bad]);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /bad\.yaml:5:3 +FG_SWEEP_BAD_VALUE/);
});
