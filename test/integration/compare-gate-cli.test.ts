/**
 * `harness compare` and `harness gate` as a CI job runs them (child processes), on generated
 * fixture runs: noise passes (exit 0), a 25% latency regression fails (exit 1) naming the
 * metric, bad input exits 2 with its code; and the committed baseline gates against itself.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFixtureRuns } from '../fixtures/compare-runs.ts';
import { runHarness, type CliResult } from '../fixtures/harness-cli.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-compare-'));
let runs: ReturnType<typeof writeFixtureRuns>;

before(() => {
  runs = writeFixtureRuns(tmp);
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const harness = (args: string[]): Promise<CliResult> => runHarness(args, { cwd: tmp });

const SPEC = 'ttft.p95=10%,ttft.p50=10%,itl.p95=10%,tpot.p95=10%,e2e.p95=10%,e2e.mean=10%,error_rate=+1pp,throughput=-5%,goodput.fraction=-5pp';

test('gate: run-to-run noise passes (exit 0)', async () => {
  const r = await harness(['gate', runs.noise, '--baseline', runs.baseline, '--max-regression', SPEC]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /gate: PASS/);
  const d = await harness(['gate', runs.noise, '--baseline', runs.baseline]);
  assert.equal(d.code, 0, d.stdout + d.stderr);
});

test('gate: a 25% latency regression fails (exit 1) and the explanation names the metric', async () => {
  const md = path.join(tmp, 'out/gate.md');
  const r = await harness(['gate', runs.regression, '--baseline', runs.baseline, '--max-regression', SPEC, '--md', md]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /gate: FAIL: .*ttft\.p95 \+2\d\.\d% \(allowed \+10%\)/);
  assert.match(r.stdout, /ttft\.p95 .*FAIL {2}regression: over the limit and beyond noise/);
  assert.match(fs.readFileSync(md, 'utf8'), /### Floodgate gate: FAIL[\s\S]*\| ttft\.p95 \|/);
  // Within a generous limit the same change passes.
  const wide = await harness(['gate', runs.regression, '--baseline', runs.baseline, '--max-regression', 'ttft.p95=40%']);
  assert.equal(wide.code, 0, wide.stdout);
});

test('gate --json: the result on stdout; an improvement passes', async () => {
  const r = await harness(['gate', runs.better, '--baseline', runs.baseline, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { pass: boolean; rows: { metric: string; reason: string }[] };
  assert.equal(j.pass, true);
  assert.equal(j.rows.find((x) => x.metric === 'ttft.p95')!.reason, 'better');
});

test('compare: side by side with verdicts, Markdown and JSON files', async () => {
  const md = path.join(tmp, 'cmp.md');
  const js = path.join(tmp, 'cmp.json');
  const r = await harness(['compare', runs.baseline, runs.noise, runs.regression, runs.better, '--md', md, '--json', js]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /ttft\.p95 .* worse .* better/);
  assert.match(r.stdout, /e2e\.p95 \(ms\)\n {4}A {2}█+/);
  const j = JSON.parse(fs.readFileSync(js, 'utf8')) as { runs: { label: string }[]; against: { label: string; metrics: { metric: string; verdict: string }[] }[] };
  assert.deepEqual(j.runs.map((x) => x.label), ['A', 'B', 'C', 'D']);
  const v = (label: string, metric: string) => j.against.find((a) => a.label === label)!.metrics.find((m) => m.metric === metric)!.verdict;
  assert.equal(v('B', 'ttft.p95'), 'within noise');
  assert.equal(v('C', 'ttft.p95'), 'worse');
  assert.equal(v('C', 'e2e.p50'), 'worse');
  assert.equal(v('D', 'ttft.p95'), 'better');
  assert.equal(v('C', 'throughput.requests_per_s'), 'within noise');
  assert.match(fs.readFileSync(md, 'utf8'), /^### Floodgate comparison[\s\S]*\| ttft\.p95 \|.*\*\*worse\*\*/m);
  // Same seed, same intervals.
  const again = await harness(['compare', runs.baseline, runs.noise, runs.regression, runs.better, '--json']);
  const j2 = JSON.parse(again.stdout) as typeof j;
  assert.deepEqual(j2.against, j.against);
});

test('bad input exits 2 with its code', async () => {
  const spec = await harness(['gate', runs.noise, '--baseline', runs.baseline, '--max-regression', 'ttft.p59=10%']);
  assert.equal(spec.code, 2);
  assert.match(spec.stderr, /FG_GATE_UNKNOWN_METRIC.*did you mean/);
  const unit = await harness(['gate', runs.noise, '--baseline', runs.baseline, '--max-regression', 'ttft.p95=10']);
  assert.equal(unit.code, 2);
  assert.match(unit.stderr, /FG_GATE_BAD_SPEC/);
  const base = await harness(['gate', runs.noise, '--baseline', path.join(tmp, 'nope')]);
  assert.equal(base.code, 2);
  assert.match(base.stderr, /FG_REPORT_NOT_A_RUN/);
  const one = await harness(['compare', runs.baseline]);
  assert.equal(one.code, 2);
  assert.match(one.stderr, /FG_COMPARE_RUNS/);
  const bad = path.join(tmp, 'bad');
  fs.mkdirSync(bad, { recursive: true });
  fs.writeFileSync(path.join(bad, 'summary.json'), '{"schema_version": 1}');
  fs.writeFileSync(path.join(bad, 'requests.jsonl'), '{"id": 1, "ok": true}\nnot json\n');
  const broken = await harness(['compare', runs.baseline, bad]);
  assert.equal(broken.code, 2);
  assert.match(broken.stderr, /FG_REPORT_BAD_FILE.*requests\.jsonl:2/);
  const num = await harness(['compare', runs.baseline, runs.noise, '--resamples', 'x']);
  assert.equal(num.code, 2);
  assert.match(num.stderr, /FG_USAGE_BAD_NUMBER/);
  const missing = await harness(['gate', runs.noise]);
  assert.equal(missing.code, 2);
});

test('the committed spike baseline passes against itself', async () => {
  const base = path.join(root, 'baselines/spike');
  const r = await harness(['gate', base, '--baseline', base]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
});
