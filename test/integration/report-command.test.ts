/**
 * `harness report DIR [DIR...]` as a user runs it (a child process): a real run's summary.md and
 * junit.xml are rendered again from its saved data, byte for byte what the run wrote; `--print`
 * writes summary.md to stdout; a folder that is not a readable run exits 2 with its FG_REPORT_
 * code, after the good folders were rendered.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startScriptedServer, type ScriptedServer } from '../fixtures/servers/scripted-sse-server.ts';
import { parseXml, findAll } from '../fixtures/xml-check.ts';
import { fixtureRunData, writeRunFolder } from '../fixtures/run-data.ts';
import { runHarness, type CliResult } from '../fixtures/harness-cli.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-report-'));
let srv: ScriptedServer;
const runDir = path.join(tmp, 'run');

const harness = (args: string[]): Promise<CliResult> => runHarness(args, { cwd: tmp });

before(async () => {
  srv = await startScriptedServer({ models: ['m'], tokenizeOverhead: 0, defaultScript: { kind: 'stream', ttftMs: 3, gapMs: 1, chunks: 4 } });
  const f = path.join(tmp, 'report-run.yaml');
  fs.writeFileSync(f, `name: report-run
target: {model: m}
workload: {prompt_tokens: 20, output_tokens: 4}
load: {arrival: constant, stages: [{name: one, duration: 500ms, rate: 10}, {name: two, duration: 500ms, rate: 10}]}
thresholds: ["error_rate < 1%", "ttft.p95 < 1us", {threshold: "errors.http_500 == 0", abort_on_fail: true}]
`);
  const r = await harness(['run', f, '--target', srv.url, '--out', runDir, '-q', '--allow-saturated', '--metrics-listen', 'off']);
  assert.equal(r.code, 1, r.stderr);
});
after(async () => {
  await srv.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('a run writes summary.md and junit.xml into its folder', () => {
  const files = fs.readdirSync(runDir).sort();
  for (const f of ['junit.xml', 'requests.jsonl', 'summary.json', 'summary.md', 'timeseries.json']) assert.ok(files.includes(f), f);
  const md = fs.readFileSync(path.join(runDir, 'summary.md'), 'utf8');
  assert.match(md, /^## Floodgate: report-run ❌ failed/);
  assert.match(md, /\| ❌ \| `ttft\.p95 < 1us` \|/);
  const xml = parseXml(fs.readFileSync(path.join(runDir, 'junit.xml'), 'utf8'));
  assert.deepEqual(findAll(xml, 'testcase').map((c) => c.attrs.name), ['error_rate < 1%', 'ttft.p95 < 1us', 'errors.http_500 == 0', 'run completed']);
  // ttft.p95 < 1us fails; `run completed` too when this loaded machine saturated the client.
  const saturated = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8')).client.saturated as boolean;
  assert.equal(findAll(xml, 'testsuite')[0]!.attrs.failures, saturated ? '2' : '1');
});

test('harness report re-renders them from the saved data, identical to what the run wrote', async () => {
  const md = fs.readFileSync(path.join(runDir, 'summary.md'), 'utf8');
  const xml = fs.readFileSync(path.join(runDir, 'junit.xml'), 'utf8');
  const html = fs.readFileSync(path.join(runDir, 'report.html'), 'utf8');
  fs.rmSync(path.join(runDir, 'summary.md'));
  fs.rmSync(path.join(runDir, 'report.html'));
  fs.writeFileSync(path.join(runDir, 'junit.xml'), 'stale');
  const r = await harness(['report', runDir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /wrote report\.html, summary\.md, junit\.xml/);
  assert.equal(fs.readFileSync(path.join(runDir, 'summary.md'), 'utf8'), md);
  assert.equal(fs.readFileSync(path.join(runDir, 'junit.xml'), 'utf8'), xml);
  assert.equal(fs.readFileSync(path.join(runDir, 'report.html'), 'utf8'), html);
  assert.ok(!fs.readdirSync(runDir).some((f) => f.endsWith('.tmp')));
});

test('several folders; --print writes summary.md to stdout', async () => {
  const other = path.join(tmp, 'fixture');
  writeRunFolder(other, fixtureRunData({ thresholds: ['error_rate < 1%'], dir: other }));
  const r = await harness(['report', runDir, other, '--print']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /## Floodgate: report-run ❌ failed[\s\S]*## Floodgate: fixture-run ❌ failed/);
  assert.ok(fs.existsSync(path.join(other, 'junit.xml')));
});

test('a folder that is not a run exits 2 with its code; the others are still rendered', async () => {
  const empty = path.join(tmp, 'empty');
  fs.mkdirSync(empty);
  const other = path.join(tmp, 'fixture2');
  writeRunFolder(other, fixtureRunData({ dir: other }));
  const r = await harness(['report', empty, other]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /error FG_REPORT_NOT_A_RUN: .*empty: no summary\.json/);
  assert.ok(fs.existsSync(path.join(other, 'summary.md')));

  const broken = path.join(tmp, 'broken');
  writeRunFolder(broken, fixtureRunData({ dir: broken }));
  fs.writeFileSync(path.join(broken, 'summary.json'), '{');
  const b = await harness(['report', broken]);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /error FG_REPORT_BAD_FILE: .*summary\.json: not valid JSON/);

  const missing = await harness(['report', path.join(tmp, 'no-such-run')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /FG_REPORT_NOT_A_RUN/);

  const none = await harness(['report']);
  assert.equal(none.code, 2);
});
