/**
 * abort_on_fail end to end: a real run against the scripted server on loopback. A threshold
 * that must fail early (error_rate < 1% against a target answering HTTP 500) stops the run the
 * way Ctrl-C does: sending stops well before the planned end (planned vs sent request counts,
 * never wall-clock times), summary.json says aborted by that threshold, the reports are written,
 * and the exit code is 1. Also through the `harness` command.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { runScenario } from '../../harness/run/run-scenario.ts';
import { startScriptedServer, type ScriptedServer } from '../fixtures/servers/scripted-sse-server.ts';
import { parseXml, findAll } from '../fixtures/xml-check.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-abort-'));
const servers: ScriptedServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

const ERROR_500 = { kind: 'status', status: 500, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: { message: 'boom', type: 'server_error', param: null, code: null } }) } as const;

async function server(failing: boolean): Promise<ScriptedServer> {
  const s = await startScriptedServer({ models: ['m'], tokenizeOverhead: 0, defaultScript: failing ? ERROR_500 : { kind: 'stream', ttftMs: 2, gapMs: 1, chunks: 4 } });
  servers.push(s);
  return s;
}

/** 20 req/s for 30 s: 600 planned requests. */
const PLANNED = 600;
function scenarioText(url: string, name: string, thresholds: string): string {
  return `name: ${name}
target: {url: "${url}", model: m}
workload: {prompt_tokens: 10, output_tokens: 4}
load: {arrival: constant, drain: 2s, stages: [{name: only, duration: 30s, rate: 20}]}
thresholds:
${thresholds}
`;
}

test('a threshold that fails during the run stops it early, marked aborted by that threshold; exit 1', async () => {
  const s = await server(true);
  const sc = parseScenario(
    scenarioText(s.url, 'abort', `  - "ttft.p95 < 10s"\n  - {threshold: "error_rate < 1%", abort_on_fail: true}`),
    path.join(tmp, 'abort.yaml'),
  );
  assert.deepEqual(sc.abortOnFail, [{ index: 1, expr: 'error_rate < 1%', delayMs: 0 }]);
  const dir = path.join(tmp, 'abort');
  let planned = 0;
  let aborts = 0;
  const out = await runScenario(sc, {
    threads: 0,
    allowSaturated: true,
    outDir: dir,
    onStart: (i) => (planned = i.plannedRequests),
    onThresholdAbort: (i) => {
      aborts++;
      assert.equal(i.threshold.expr, 'error_rate < 1%');
      assert.equal(i.threshold.value, 1);
    },
  });
  assert.equal(planned, PLANNED);
  assert.equal(aborts, 1);
  const sum = out.summary;
  // Stopped well before the planned end: a fraction of the planned requests were sent.
  assert.ok(s.requestCount() < PLANNED / 3, `sent ${s.requestCount()} of ${PLANNED}`);
  assert.ok(sum.requests.total > 0);
  assert.ok(sum.requests.total < PLANNED / 3, `${sum.requests.total} of ${PLANNED}`);
  assert.equal(sum.requests.failed, sum.requests.total);
  assert.equal(sum.interrupted, true);
  assert.equal(sum.complete, false);
  assert.equal(sum.aborted?.by, 'threshold');
  assert.ok(sum.aborted?.by === 'threshold' && sum.aborted.threshold === 'error_rate < 1%');
  assert.ok(sum.aborted!.at_s > 0 && sum.aborted!.at_s < 30);
  assert.equal(out.exitCode, 1, out.reasons.join('; '));
  assert.ok(out.reasons.some((r) => /run aborted at .*threshold "error_rate < 1%" failed/.test(r)), out.reasons.join('; '));

  const [ttft, err] = sum.thresholds;
  assert.equal(ttft!.pass, false, 'no successful request: TTFT has no value');
  assert.equal(ttft!.value, null);
  assert.equal(err!.pass, false);
  assert.equal(err!.value, 1);
  assert.equal(err!.abort_on_fail, true);
  assert.equal(err!.aborted_run, true);
  assert.equal(ttft!.abort_on_fail, undefined);

  // The run folder: summary.json says so, and the reports were written.
  const saved = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
  assert.deepEqual(saved.aborted, sum.aborted);
  const md = fs.readFileSync(path.join(dir, 'summary.md'), 'utf8');
  assert.match(md, /Aborted at .* by the abort_on_fail threshold `error_rate < 1%`/);
  const xml = parseXml(fs.readFileSync(path.join(dir, 'junit.xml'), 'utf8'));
  const cases = findAll(xml, 'testcase');
  assert.deepEqual(cases.map((c) => c.attrs.name), ['ttft.p95 < 10s', 'error_rate < 1%', 'run completed']);
  assert.equal(findAll(cases[2]!, 'failure')[0]!.attrs.type, 'aborted');
});

test('delay_abort_eval: nothing is evaluated before it', async () => {
  const s = await server(true);
  const sc = parseScenario(scenarioText(s.url, 'delayed', `  - {threshold: "errors.http_500 < 1", abort_on_fail: true, delay_abort_eval: 2s}`), path.join(tmp, 'delayed.yaml'));
  const out = await runScenario(sc, { threads: 0, allowSaturated: true, outDir: path.join(tmp, 'delayed') });
  assert.equal(out.summary.aborted?.by, 'threshold');
  assert.ok(out.summary.aborted!.at_s >= 2, `evaluated at ${out.summary.aborted!.at_s}s, before delay_abort_eval`);
  assert.ok(out.summary.requests.total < PLANNED / 2);
  assert.equal(out.exitCode, 1);
});

test('an abort_on_fail threshold that holds lets the run finish', async () => {
  const s = await server(false);
  const sc = parseScenario(
    `name: holds
target: {url: "${s.url}", model: m}
workload: {prompt_tokens: 10, output_tokens: 4}
load: {arrival: constant, stages: [{duration: 1500ms, rate: 20}]}
thresholds: [{threshold: "error_rate < 1%", abort_on_fail: true}, {threshold: "ttft.p95 < 10s", abort_on_fail: true}]
`,
    path.join(tmp, 'holds.yaml'),
  );
  const out = await runScenario(sc, { threads: 0, allowSaturated: true, outDir: path.join(tmp, 'holds') });
  assert.equal(out.exitCode, 0, out.reasons.join('; '));
  assert.equal(out.summary.aborted, null);
  assert.equal(out.summary.complete, true);
  assert.equal(out.summary.requests.total, 30);
  assert.deepEqual(out.summary.thresholds.map((t) => [t.pass, t.abort_on_fail]), [[true, true], [true, true]]);
  assert.deepEqual(fs.readdirSync(path.join(tmp, 'holds')).sort(), ['junit.xml', 'report.html', 'requests.jsonl', 'summary.json', 'summary.md', 'timeseries.json']);
});

test('harness run: says why it stopped, exits 1', async () => {
  const s = await server(true);
  const f = path.join(tmp, 'cli-abort.yaml');
  fs.writeFileSync(f, scenarioText(s.url, 'cli-abort', `  - {threshold: "error_rate < 1%", abort_on_fail: true}`));
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [path.join(root, 'bin/harness.js'), 'run', f, '--out', path.join(tmp, 'cli-abort'), '-q', '--allow-saturated', '--metrics-listen', 'off'], { cwd: tmp }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /stopping at [\d.]+s: abort_on_fail threshold "error_rate < 1%" failed \(observed 100%, limit 1%, off by 99%/);
  assert.match(r.stdout, /ABORTED at [\d.]+s: the abort_on_fail threshold "error_rate < 1%" failed/);
  assert.match(r.stdout, /FAIL\s+error_rate < 1%\s+100%\s+< 1%\s+99% \(\+9900%\); stopped the run/);
  const saved = JSON.parse(fs.readFileSync(path.join(tmp, 'cli-abort', 'summary.json'), 'utf8'));
  assert.equal(saved.aborted.by, 'threshold');
  assert.ok(saved.requests.total < PLANNED / 3);
});
