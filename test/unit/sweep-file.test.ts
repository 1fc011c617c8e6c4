import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../harness/errors.ts';
import { applyStackValues, cellId, countGpus, expandMatrix, parseSweep, scenarioOverrides } from '../../harness/sweep/sweep-file.ts';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-sweep-file-'));
fs.writeFileSync(
  path.join(dir, 'scenario.yaml'),
  `name: sweep-traffic
target: {model: llama-3.1-8b, api_key: \${FLOODGATE_API_KEY}}
workload:
  prompt_tokens: {dist: uniform, min: 100, max: 300}
  output_tokens: {dist: uniform, min: 20, max: 60}
load:
  arrival: poisson
  warmup: 5s
  stages:
    - {name: a, duration: 30s, rate: 2}
slo: {ttft: 500ms, tpot: 50ms}
thresholds: ["stages.a.ttft.p95 < 800ms"]
`,
);
const STACK = `name: one
models:
  - {name: llama-3.1-8b, workers: [w0]}
workers:
  - name: w0
    sim: {gpu: h100-sxm, model: llama-3.1-8b, seed: 0, tensor_parallel_size: 2}
gateway: {routing: round_robin}
tenants:
  - name: pro
    api_key_hashes: ['sha256:21d289177ddce5356b1ede09d33f323ba1e3ff0e652d4dd39e791da6f16f1225']
    allowed_models: '*'
`;
fs.writeFileSync(path.join(dir, 'stack.yaml'), STACK);

const sweep = (body: string): string => `name: s1\nscenario: scenario.yaml\nstack: stack.yaml\n${body}`;
const parse = (body: string) => parseSweep(sweep(body), path.join(dir, 'sweep.yaml'));
function codes(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.issues.map((i) => i.code);
  }
  assert.fail('no error');
}

test('matrix expansion: cartesian product in file order, first path outermost', () => {
  const cells = expandMatrix([
    { path: 'a', values: [1, 2] },
    { path: 'b', values: ['x', 'y', 'z'] },
  ]);
  assert.equal(cells.length, 6);
  assert.deepEqual(cells[0], { a: 1, b: 'x' });
  assert.deepEqual(cells[1], { a: 1, b: 'y' });
  assert.deepEqual(cells[3], { a: 2, b: 'x' });
  assert.deepEqual(expandMatrix([]), [{}]);
});

test('cell ids are stable, distinct and readable', () => {
  const a = cellId({ 'workers[0].sim.max_num_seqs': 4, 'gateway.routing': 'round_robin' });
  assert.equal(a, cellId({ 'workers[0].sim.max_num_seqs': 4, 'gateway.routing': 'round_robin' }));
  assert.notEqual(a, cellId({ 'workers[0].sim.max_num_seqs': 64, 'gateway.routing': 'round_robin' }));
  assert.match(a, /^max_num_seqs-4_routing-round_robin-[0-9a-f]{8}$/);
});

test('a valid sweep: cells built with their stack values, defaults applied', () => {
  const s = parse(`matrix:\n  workers[0].sim.max_num_seqs: [4, 64]\n  gateway.routing: [round_robin, least_outstanding]\nload: {search: {start: 1}}\nprice: {gpu_hour: 2.5}\n`);
  assert.equal(s.cells.length, 4);
  assert.equal(s.cells[0]!.stack.workers[0]!.kind, 'sim');
  const w = s.cells[3]!.stack.workers[0]!;
  assert.equal(w.kind === 'sim' ? (w.sim as { maxNumSeqs?: number }).maxNumSeqs : undefined, 64);
  assert.equal(s.cells[3]!.stack.gateway.routing, 'least_outstanding');
  assert.equal(s.cells[0]!.gpus, 2);
  assert.equal(countGpus(s.cells[0]!.stack), 2);
  assert.deepEqual(s.load, { kind: 'search', start: 1, targetGoodput: 0.9, precision: 0.05, max: 1024, maxSteps: 12 });
  assert.equal(s.durationMs, 20_000);
  assert.equal(s.timeScale, 10);
  assert.equal(s.gpuHour, 2.5);
  assert.equal(s.scenario.slo.ttftMs, 500);
});

test('fixed rates and cell settings', () => {
  const s = parse(`load: {rates: [1, 2, 2, 4]}\ncell: {duration: 3s, time_scale: 50}\n`);
  assert.equal(s.cells.length, 1);
  assert.equal(s.cells[0]!.id, 'base');
  assert.deepEqual(s.load, { kind: 'rates', rates: [1, 2, 4] });
  assert.equal(s.durationMs, 3000);
  assert.equal(s.timeScale, 50);
});

test('validation errors are coded, every one at once', () => {
  assert.deepEqual(codes(() => parse(`load: {rates: []}\nbogus: 1\n`)).sort(), ['FG_SWEEP_BAD_VALUE', 'FG_SWEEP_UNKNOWN_KEY']);
  assert.deepEqual(codes(() => parse(`load: {rates: [1], search: {start: 1}}\n`)), ['FG_SWEEP_BAD_VALUE']);
  assert.deepEqual(codes(() => parse(`load: {search: {start: 0, target_goodput: 2, precision: 0}}\n`)), ['FG_SWEEP_BAD_VALUE', 'FG_SWEEP_BAD_VALUE', 'FG_SWEEP_BAD_VALUE']);
  assert.deepEqual(codes(() => parse(`load: {rates: [1]}\ncell: {duration: 20}\n`)), ['FG_SWEEP_BAD_VALUE']);
  assert.deepEqual(codes(() => parseSweep(`name: s\nscenario: nope.yaml\nload: {rates: [1]}\n`, path.join(dir, 'x.yaml'))), ['FG_SWEEP_NOT_FOUND']);
  assert.deepEqual(codes(() => parseSweep(`: : :\n  - [`, path.join(dir, 'x.yaml'))), ['FG_SWEEP_YAML_SYNTAX']);
});

test('a matrix path that does not exist in the stack file is refused', () => {
  assert.deepEqual(codes(() => parse(`matrix:\n  workers[3].sim.max_num_seqs: [4]\nload: {rates: [1]}\n`)), ['FG_SWEEP_MATRIX_PATH']);
  assert.deepEqual(codes(() => parse(`matrix:\n  nothing.here: [4]\nload: {rates: [1]}\n`)), ['FG_SWEEP_MATRIX_PATH']);
  assert.deepEqual(codes(() => parse(`matrix:\n  "workers[0]..sim": [4]\nload: {rates: [1]}\n`)), ['FG_SWEEP_MATRIX_PATH']);
});

test('an invalid combination is refused before anything runs, naming the cell', () => {
  let err: unknown;
  try {
    parse(`matrix:\n  workers[0].sim.max_num_seqs: [4, -1]\n  gateway.routing: [round_robin, fastest]\nload: {rates: [1]}\n`);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError);
  assert.ok(err.issues.every((i) => i.code === 'FG_SWEEP_INVALID_CELL'));
  // 3 of the 4 cells are invalid (one has two problems).
  assert.ok(err.issues.length >= 3);
  assert.ok(err.issues.some((i) => i.message.includes('"fastest"')));
  assert.ok(err.issues.some((i) => i.message.includes('max_num_seqs') && i.message.includes('-1')));
});

test('applyStackValues keeps the rest of the file', () => {
  const { text, issues } = applyStackValues(STACK, { 'gateway.routing': 'kv_aware' }, 'x');
  assert.deepEqual(issues, []);
  assert.match(text, /routing: kv_aware/);
  assert.match(text, /tensor_parallel_size: 2/);
});

test('scenario overrides: one constant stage scaled by the time scale, SLO scaled, target set', () => {
  const text = fs.readFileSync(path.join(dir, 'scenario.yaml'), 'utf8');
  const sc = parseScenario(text, path.join(dir, 'scenario.yaml'), {
    overrides: scenarioOverrides({ url: 'http://127.0.0.1:1/v1', apiKey: 'k', rate: 3, durationMs: 20_000, timeScale: 10, slo: { ttftMs: 500, tpotMs: 50 } }),
    env: { FLOODGATE_API_KEY: 'k' },
  });
  assert.equal(sc.target.url, 'http://127.0.0.1:1/v1');
  assert.equal(sc.stack, undefined);
  assert.equal(sc.load.stages.length, 1);
  assert.equal(sc.slo.ttftMs, 50);
  assert.equal(sc.slo.tpotMs, 5);
  assert.deepEqual(sc.thresholds, []);
  assert.equal(sc.load.warmupMs, 0);
});
