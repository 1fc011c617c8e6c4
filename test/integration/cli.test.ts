/**
 * The `harness` command as a user runs it (a child process): exit codes of DESIGN.md, the
 * run folder, validation output, and the saturation verdict.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startScriptedServer, refusedUrl, type ScriptedServer } from '../fixtures/servers/scripted-sse-server.ts';
import { runHarness, type CliResult } from '../fixtures/harness-cli.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-cli-'));
let srv: ScriptedServer;

before(async () => {
  srv = await startScriptedServer({ models: ['m'], tokenizeOverhead: 0, defaultScript: { kind: 'stream', ttftMs: 3, gapMs: 1, chunks: 4 } });
});
after(async () => {
  await srv.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const harness = (args: string[], env: Record<string, string> = {}): Promise<CliResult> => runHarness(args, { cwd: tmp, env });

function writeScenario(name: string, extra = ''): string {
  const f = path.join(tmp, `${name}.yaml`);
  fs.writeFileSync(f, `name: ${name}
target: {model: m}
workload: {prompt_tokens: 20, output_tokens: 4}
load: {arrival: constant, stages: [{duration: 500ms, rate: 10}]}
${extra}`);
  return f;
}

test('run: exit 0, a run folder with summary.json and requests.jsonl, the table on stdout', async () => {
  const f = writeScenario('ok', 'thresholds: ["error_rate < 1%"]');
  const out = path.join(tmp, 'out-ok');
  const r = await harness(['run', f, '--target', srv.url, '--out', out, '-q', '--allow-saturated']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /PASS\s+error_rate < 1%/);
  const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
  assert.equal(summary.requests.ok, 5);
  assert.equal(fs.readFileSync(path.join(out, 'requests.jsonl'), 'utf8').trim().split('\n').length, 5);
});

test('run: default folder is reports/<name>-<UTC time>/ under the working directory', async () => {
  const f = writeScenario('folder');
  const r = await harness(['run', f, '--target', srv.url, '-q', '--allow-saturated']);
  assert.equal(r.code, 0, r.stderr);
  const dirs = fs.readdirSync(path.join(tmp, 'reports'));
  assert.equal(dirs.length, 1);
  assert.match(dirs[0]!, /^folder-\d{8}T\d{6}Z$/);
});

test('run: a failed threshold exits 1 and says which', async () => {
  const f = writeScenario('threshold', 'thresholds: ["ttft.p95 < 1us", "error_rate < 1%"]');
  const r = await harness(['run', f, '--target', srv.url, '--out', path.join(tmp, 'out-th'), '-q', '--allow-saturated']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /FAIL\s+ttft\.p95 < 1us/);
  assert.match(r.stderr, /threshold failed: ttft\.p95 < 1us/);
});

test('run: an unreachable target exits 3 before anything is sent', async () => {
  const f = writeScenario('refused');
  const out = path.join(tmp, 'out-refused');
  const r = await harness(['run', f, '--target', await refusedUrl(), '--out', out]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /FG_TARGET_UNREACHABLE/);
  assert.equal(fs.existsSync(out), false);
});

test('run: a saturated client is reported loudly and exits 3, unless --allow-saturated', async () => {
  const f = writeScenario('saturated', 'client: {saturation_lag_p99: 1us}');
  const r = await harness(['run', f, '--target', srv.url, '--out', path.join(tmp, 'out-sat'), '-q']);
  assert.equal(r.code, 3);
  assert.match(r.stdout, /CLIENT SATURATED/);
  const summary = JSON.parse(fs.readFileSync(path.join(tmp, 'out-sat', 'summary.json'), 'utf8'));
  assert.equal(summary.client.saturated, true);
  const allowed = await harness(['run', f, '--target', srv.url, '--out', path.join(tmp, 'out-sat2'), '-q', '--allow-saturated']);
  assert.equal(allowed.code, 0);
});

test('run: an invalid scenario exits 2 with file:line:col and nothing is sent', async () => {
  const f = path.join(tmp, 'bad.yaml');
  fs.writeFileSync(f, `name: bad
target: {model: m, url: "${srv.url}"}
workload: {prompt_tokens: 20, output_tokens: 4}
load:
  stages:
    - {duraton: 1s, rate: 5}
`);
  const before = srv.requestCount();
  const r = await harness(['run', f]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bad\.yaml:6:8 {2}FG_SCENARIO_UNKNOWN_KEY {2}load\.stages\[0\]\.duraton: .*did you mean "duration"/);
  assert.equal(srv.requestCount(), before);
});

test('run: with no target url, the embedded stack (gateway + simulated vLLM workers) is started, used and stopped', async () => {
  const bad = await harness(['run', writeScenario('embedded-unknown-model'), '--out', path.join(tmp, 'out-embedded-bad')]);
  assert.equal(bad.code, 3);
  assert.match(bad.stderr, /FG_EMBEDDED_MODEL_UNKNOWN.*llama-3\.1-8b/);
  const f = writeScenario('embedded');
  const r = await harness(['run', f, '--model', 'llama-3.1-8b', '--out', path.join(tmp, 'out-embedded'), '--allow-saturated']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /embedded stack: reference stack "default": gateway \+ 3 simulated vLLM workers/);
  const s = JSON.parse(fs.readFileSync(path.join(tmp, 'out-embedded', 'summary.json'), 'utf8'));
  assert.equal(s.target.embedded, true);
  assert.equal(s.requests.ok, 5);
  assert.equal(s.prompts.exact, true);
});

test('run --json prints summary.json; --set overrides a field', async () => {
  const f = writeScenario('json');
  const r = await harness(['run', f, '--target', srv.url, '--out', path.join(tmp, 'out-json'), '--json', '--allow-saturated', '--set', 'load.stages[0].rate=20']);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(s.schema_version, 1);
  assert.equal(s.requests.total, 10);
});

test('validate: ok files exit 0, broken ones exit 2 with every problem', async () => {
  const good = writeScenario('valid');
  assert.equal((await harness(['validate', good])).code, 0);
  const bad = path.join(tmp, 'bad2.yaml');
  fs.writeFileSync(bad, 'name: x\ntarget: {model: m}\nworkload: {prompt_tokens: 0, output_tokens: 4}\nload: {arrival: sometimes, stages: []}\n');
  const r = await harness(['validate', bad]);
  assert.equal(r.code, 2);
  const lines = r.stderr.trim().split('\n');
  assert.ok(lines.length >= 3, r.stderr);
  for (const l of lines) assert.match(l, /^.*bad2\.yaml:\d+:\d+ {2}FG_SCENARIO_[A-Z_]+ {2}/);
});
