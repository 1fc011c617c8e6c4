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
  assert.deepEqual(s.load, { kind: 'rates', rates: [1, 2, 4], targetGoodput: 0.9 });
  assert.equal(s.deploy, null);
  assert.deepEqual(parse(`load: {rates: [1], target_goodput: 0.99}\n`).load, { kind: 'rates', rates: [1], targetGoodput: 0.99 });
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

test('zip groups: the i-th values move together, crossed with the matrix', () => {
  const s = parse(`matrix:
  gateway.routing: [round_robin, least_outstanding]
zip:
  precision:
    workers[0].sim.quantization: [bf16, fp8, fp8]
    workers[0].sim.kv_cache_dtype: [auto, auto, fp8]
load: {rates: [1]}
`);
  assert.equal(s.cells.length, 6);
  assert.deepEqual(s.axes.map((a) => [a.name, a.kind, a.values.length]), [['gateway.routing', 'path', 2], ['precision', 'zip', 3]]);
  assert.deepEqual(s.cells[2]!.values, { 'gateway.routing': 'round_robin', 'workers[0].sim.quantization': 'fp8', 'workers[0].sim.kv_cache_dtype': 'fp8' });
  assert.deepEqual(s.cells[2]!.labels, { 'gateway.routing': 'round_robin', precision: 'fp8+fp8' });
  assert.match(s.cells[2]!.id, /^routing-round_robin_precision-fp8-fp8-[0-9a-f]{8}$/);
  const w = s.cells[5]!.stack.workers[0]!;
  assert.equal(w.kind === 'sim' ? w.sim.quantization : undefined, 'fp8');
  assert.equal(w.kind === 'sim' ? w.sim.kvCacheDtype : undefined, 'fp8');
  assert.equal(new Set(s.cells.map((c) => c.id)).size, 6);
});

test('zip groups can sweep the number of workers (the workers list and the model\'s list together)', () => {
  const s = parse(`zip:
  replicas:
    workers:
      - [{name: w0, sim: {gpu: h100-sxm, model: llama-3.1-8b}}]
      - [{name: w0, sim: {gpu: h100-sxm, model: llama-3.1-8b}}, {name: w1, sim: {gpu: h100-sxm, model: llama-3.1-8b}}]
    models[0].workers: [[w0], [w0, w1]]
load: {rates: [1]}
`);
  assert.deepEqual(s.cells.map((c) => [c.stack.workers.length, c.gpus, c.labels['replicas']]), [[1, 1, '1+1'], [2, 2, '2+2']]);
});

test('zip problems: unequal lengths, a path on two axes, located at their line', () => {
  let err: unknown;
  try {
    parse(`matrix:
  gateway.routing: [round_robin]
zip:
  p:
    workers[0].sim.quantization: [bf16, fp8]
    workers[0].sim.kv_cache_dtype: [auto]
  q:
    gateway.routing: [kv_aware]
load: {rates: [1]}
`);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError);
  assert.deepEqual(err.issues.map((i) => [i.code, i.path, i.line]).sort(), [['FG_SWEEP_ZIP', 'zip.p', 7], ['FG_SWEEP_ZIP', 'zip.q.gateway.routing', 11]].sort());
});

test('issues carry the line of the offending field', () => {
  let err: unknown;
  try {
    parse(`load:\n  rates: [1]\n  target_goodput: 1.5\ncell: {duration: 20}\n`);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError);
  const byPath = Object.fromEntries(err.issues.map((i) => [i.path, i.line]));
  // Lines count from the sweep() prefix's 3 lines.
  assert.equal(byPath['load.target_goodput'], 6);
  assert.equal(byPath['cell.duration'], 7);
});

test('deploy: commands, target with ${VAR}, defaults; time_scale refused with it', () => {
  process.env['FG_TEST_SWEEP_KEY'] = 'sk-test';
  const hadKey = process.env['FLOODGATE_API_KEY'];
  process.env['FLOODGATE_API_KEY'] = 'from-env';
  const s = parse(`deploy:
  apply: ./apply.sh
  ready: curl -fsS http://gpu:8000/health
  target: {url: http://gpu:8080/v1/, api_key: '\${FG_TEST_SWEEP_KEY}'}
  ready_timeout: 20m
load: {rates: [1]}
`);
  assert.deepEqual(s.deploy, {
    apply: './apply.sh', ready: 'curl -fsS http://gpu:8000/health', teardown: null, url: 'http://gpu:8080/v1', apiKey: 'sk-test',
    readyTimeoutMs: 20 * 60_000, readyIntervalMs: 5000, commandTimeoutMs: 30 * 60_000, per: 'cell', cwd: dir,
  });
  assert.equal(s.timeScale, 1);
  assert.deepEqual(codes(() => parse(`deploy: {apply: x, target: {url: http://h/v1, api_key: k}}\ncell: {time_scale: 10}\nload: {rates: [1]}\n`)), ['FG_SWEEP_BAD_VALUE']);
  assert.deepEqual(codes(() => parse(`deploy: {ready: x, target: {url: ftp://h}, per: always, bogus: 1}\nload: {rates: [1]}\n`)).sort(), ['FG_SWEEP_BAD_VALUE', 'FG_SWEEP_BAD_VALUE', 'FG_SWEEP_BAD_VALUE', 'FG_SWEEP_UNKNOWN_KEY']);
  delete process.env['FG_TEST_SWEEP_NOPE'];
  const e = codes(() => parse(`deploy: {apply: x, target: {url: http://h/v1, api_key: '\${FG_TEST_SWEEP_NOPE}'}}\nload: {rates: [1]}\n`));
  assert.deepEqual(e, ['FG_SWEEP_BAD_VALUE']);
  // No api_key: FLOODGATE_API_KEY.
  assert.equal(parse(`deploy: {apply: x, target: {url: http://h/v1}}\nload: {rates: [1]}\n`).deploy?.apiKey, 'from-env');
  if (hadKey === undefined) delete process.env['FLOODGATE_API_KEY'];
  else process.env['FLOODGATE_API_KEY'] = hadKey;
});
