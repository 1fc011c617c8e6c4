/**
 * Sweeps against a "real deployment": the sweep's apply/ready/teardown commands start and stop a
 * reference stack as a separate process (`harness stack up` of the cell's stack file, on a known
 * port), the way a user's script restarts vLLM with new flags. Checked: apply runs once per cell
 * with the cell's stack file, values and vLLM arguments in its environment; ready is polled until
 * the deployment answers; the measurements go to the deployment's URL; teardown stops each cell;
 * a failing apply and a deployment that never becomes ready are coded errors naming the log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSweep } from '../../harness/sweep/sweep-file.ts';
import { runSweep } from '../../harness/sweep/run-sweep.ts';
import { RunError } from '../../harness/errors.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixtures = path.join(root, 'test/fixtures/sweep-deploy');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-sweep-deploy-'));

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

fs.writeFileSync(
  path.join(dir, 'scenario.yaml'),
  `name: deploy-traffic
target: {model: llama-3.1-8b}
seed: 5
workload:
  prompt_tokens: {dist: uniform, min: 50, max: 150}
  output_tokens: {dist: uniform, min: 10, max: 20}
load:
  arrival: constant
  stages:
    - {name: a, duration: 10s, rate: 1}
slo: {ttft: 2s}
`,
);
fs.writeFileSync(
  path.join(dir, 'stack.yaml'),
  `name: deployed
models:
  - {name: llama-3.1-8b, workers: [w0]}
workers:
  - name: w0
    sim: {gpu: h100-sxm, model: llama-3.1-8b, seed: 0, max_num_seqs: 16}
gateway: {routing: round_robin, health: {interval: 100ms}}
tenants:
  - name: pro
    api_key_hashes: ['sha256:21d289177ddce5356b1ede09d33f323ba1e3ff0e652d4dd39e791da6f16f1225']
    allowed_models: '*'
`,
);

function sweepYaml(o: { apply: string; ready: string; teardown?: string; port: number; readyTimeout?: string }): string {
  return `name: deployed-sweep
scenario: scenario.yaml
stack: stack.yaml
matrix:
  workers[0].sim.max_num_seqs: [4, 64]
load: {rates: [4]}
cell: {duration: 2s}
deploy:
  apply: ${JSON.stringify(o.apply)}
  ready: ${JSON.stringify(o.ready)}
${o.teardown ? `  teardown: ${JSON.stringify(o.teardown)}\n` : ''}  target: {url: 'http://127.0.0.1:${o.port}/v1', api_key: fg-dev-pro}
  ready_interval: 100ms
  ready_timeout: ${o.readyTimeout ?? '60s'}
  command_timeout: 60s
`;
}

test('a sweep over a deployment: apply per cell with the cell in its environment, ready polled, measured at the target, torn down', { timeout: 120_000 }, async () => {
  const port = await freePort();
  const state = fs.mkdtempSync(path.join(dir, 'state-'));
  Object.assign(process.env, { DEPLOY_STATE: state, DEPLOY_PORT: String(port), HARNESS_BIN: path.join(root, 'bin/harness.js') });
  const file = path.join(dir, 'sweep.yaml');
  fs.writeFileSync(file, sweepYaml({ apply: `node ${fixtures}/apply.mjs`, ready: `node ${fixtures}/ready.mjs`, teardown: `node ${fixtures}/teardown.mjs`, port }));
  const spec = parseSweep(fs.readFileSync(file, 'utf8'), file);
  assert.equal(spec.timeScale, 1);
  const progress: string[] = [];
  const out = path.join(dir, 'out');
  const { result } = await runSweep(spec, { outDir: out, onProgress: (l) => progress.push(l) });

  const applied = fs.readFileSync(path.join(state, 'applied.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; index: string; values: Record<string, unknown>; vllm: Record<string, string[]>; stack: string; stackExists: boolean; sweep: string });
  assert.deepEqual(applied.map((a) => a.id), spec.cells.map((c) => c.id));
  assert.deepEqual(applied.map((a) => a.values['workers[0].sim.max_num_seqs']), [4, 64]);
  for (const [i, a] of applied.entries()) {
    assert.equal(a.index, String(i));
    assert.equal(a.sweep, 'deployed-sweep');
    assert.ok(a.stackExists, a.stack);
    assert.equal(a.stack, path.join(out, 'cells', a.id, 'stack.yaml'));
    assert.match(fs.readFileSync(a.stack, 'utf8'), new RegExp(`max_num_seqs: ${[4, 64][i]}`));
    const args = a.vllm['w0']!;
    assert.equal(args[args.indexOf('--max-num-seqs') + 1], String([4, 64][i]));
  }
  assert.equal(result.mode, 'deployment');
  for (const c of result.cells) {
    assert.equal(c.measurements.length, 1);
    const m = c.measurements[0]!;
    assert.equal(m.stack_url, `http://127.0.0.1:${port}/v1`);
    assert.ok(m.requests > 0 && (m.goodput_fraction ?? 0) > 0, JSON.stringify(m));
  }
  // Both cells torn down, in order; nothing is left listening.
  assert.deepEqual(fs.readFileSync(path.join(state, 'torn-down.txt'), 'utf8').trim().split('\n').map((l) => l.split(' ')[0]), spec.cells.map((c) => c.id));
  assert.ok(progress.some((l) => l.startsWith('ready ')));
  const log = fs.readFileSync(path.join(out, 'cells', spec.cells[0]!.id, 'deploy.log'), 'utf8');
  assert.match(log, /\$ node .*apply\.mjs/);
  assert.match(log, /\$ node .*teardown\.mjs/);
  assert.ok(result.best !== null);
  assert.deepEqual(result.best.vllm_args?.['w0']?.includes('--max-num-seqs'), true);
});

test('a failing apply and a deployment that never gets ready are coded errors; sweep.json keeps nothing half-done', { timeout: 60_000 }, async () => {
  const port = await freePort();
  const file = path.join(dir, 'sweep-fail.yaml');
  fs.writeFileSync(file, sweepYaml({ apply: 'echo applying; exit 7', ready: 'true', port }));
  const out = path.join(dir, 'out-fail');
  await assert.rejects(runSweep(parseSweep(fs.readFileSync(file, 'utf8'), file), { outDir: out }), (e: unknown) => {
    assert.ok(e instanceof RunError);
    assert.equal(e.code, 'FG_SWEEP_APPLY_FAILED');
    assert.match(e.message, /exited with status 7/);
    assert.match(e.message, /deploy\.log/);
    return true;
  });
  const first = fs.readdirSync(path.join(out, 'cells'))[0]!;
  assert.match(fs.readFileSync(path.join(out, 'cells', first, 'deploy.log'), 'utf8'), /applying/);

  fs.writeFileSync(file, sweepYaml({ apply: 'true', ready: 'exit 1', port, readyTimeout: '500ms' }));
  await assert.rejects(runSweep(parseSweep(fs.readFileSync(file, 'utf8'), file), { outDir: path.join(dir, 'out-ready') }), (e: unknown) => {
    assert.ok(e instanceof RunError);
    assert.equal(e.code, 'FG_SWEEP_NOT_READY');
    assert.match(e.message, /did not succeed within 0\.5 s/);
    return true;
  });
  const saved = JSON.parse(fs.readFileSync(path.join(dir, 'out-ready', 'sweep.json'), 'utf8')) as { cells: Array<{ measurements: unknown[] }>; complete: boolean };
  assert.equal(saved.complete, false);
  assert.equal(saved.cells.flatMap((c) => c.measurements).length, 0);
});
