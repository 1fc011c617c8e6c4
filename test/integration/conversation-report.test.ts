/**
 * Conversations in the gate and in report.html, end to end: `harness run` against an in-process
 * simulated vLLM worker (sped up), two closed-loop users holding 3-turn conversations.
 *
 * - Thresholds on `conversations.*` (docs/scenarios.md, "thresholds"): a run whose conversations
 *   thresholds all pass exits 0; one where `conversations.turns.max < 3` fails (every completed
 *   conversation has 3 turns) exits 1, with the observed value summary.json's.
 * - report.html of the passing run, in Debian's chromium (playwright-core, offline): the
 *   Conversations section is there, with no console error, and every figure of summary.json's
 *   `conversations` block is shown, formatted as the report formats it (a dash for null).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { launchChromium, openOffline, reportReady } from '../fixtures/offline-browser.ts';
import { startSimWorker, type SimWorker } from '../../reference-stack/worker-sim/start-worker.ts';
import type { Summary } from '../../harness/metrics/summary.ts';
import { fmtNum, fmtPct } from '../../harness/report/console-summary.ts';
import { msText } from '../../harness/report/html/report-sections.ts';

const READY_WAIT_MS = 60_000;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-conv-report-'));
let w: SimWorker | undefined;
let browser: Browser | undefined;

before(async () => {
  w = await startSimWorker({ gpu: 'h100-sxm', model: 'llama-3.1-8b', timeScale: 20, enablePrefixCaching: true });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await w?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** `harness run` on a conversation scenario with these thresholds; its exit code and summary.json. */
async function run(name: string, thresholds: readonly string[]): Promise<{ code: number; stderr: string; dir: string; summary: Summary }> {
  const file = path.join(tmp, `${name}.yaml`);
  fs.writeFileSync(
    file,
    `name: ${name}\nseed: 5\ntarget: {url: "${w!.url}", model: ${w!.engine.modelName}}\n` +
      'workload: {prompt_tokens: 40, output_tokens: 12, conversation: {turns: 3, think_time: 20ms}}\n' +
      'load: {drain: 20s, stages: [{name: chat, duration: 2s, users: 2}]}\n' +
      `thresholds:\n${thresholds.map((t) => `  - "${t}"\n`).join('')}`,
  );
  const dir = path.join(tmp, name);
  const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(process.execPath, [path.join(root, 'bin/harness.js'), 'run', file, '--out', dir, '-q', '--allow-saturated', '--metrics-listen', 'off'], { cwd: tmp }, (err, _stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr });
    });
  });
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as Summary;
  return { ...r, dir, summary };
}

let passing: Awaited<ReturnType<typeof run>> | undefined;

test('conversations thresholds that pass: exit 0, values from the conversations block', async () => {
  passing = await run('conv-pass', ['conversations.completed_fraction > 0.8', 'conversations.failed == 0', 'conversations.ttft_ms_by_turn.2.count >= 1', 'conversations.turns.max <= 3']);
  const { code, stderr, summary: s } = passing;
  assert.equal(code, 0, stderr);
  const c = s.conversations!;
  assert.ok(c.completed >= 2, `${c.completed} completed conversations`);
  assert.deepEqual(s.thresholds.map((t) => [t.expr, t.pass, t.value]), [
    ['conversations.completed_fraction > 0.8', true, c.completed_fraction],
    ['conversations.failed == 0', true, 0],
    ['conversations.ttft_ms_by_turn.2.count >= 1', true, c.ttft_ms_by_turn['2']!.count],
    ['conversations.turns.max <= 3', true, 3],
  ]);
  assert.equal(s.thresholds[0]!.unit, 'ratio');
});

test('a conversations threshold that fails: exit 1, the others still pass', async () => {
  const { code, stderr, dir, summary: s } = await run('conv-fail', ['conversations.completed_fraction > 0.8', 'conversations.turns.max < 3']);
  assert.equal(code, 1, stderr);
  const [a, b] = s.thresholds;
  assert.equal(a!.pass, true);
  assert.deepEqual([b!.pass, b!.value, b!.limit, b!.unit], [false, 3, 3, 'count']);
  assert.equal(b!.value, s.conversations!.turns.max);
  assert.match(fs.readFileSync(path.join(dir, 'summary.md'), 'utf8'), /❌ \| `conversations\.turns\.max < 3`/);
});

test('report.html shows the conversations block, with summary.json\'s figures and no console error', async () => {
  assert.ok(passing, 'the passing run completed');
  const s = passing.summary;
  const c = s.conversations!;
  const { context, page, errors, external } = await openOffline(browser!, path.join(passing.dir, 'report.html'));
  try {
    await reportReady(page, READY_WAIT_MS);
    assert.equal(await page.locator('section#conversations h2').textContent(), 'Conversations');
    assert.equal(await page.locator('nav.toc a[href="#conversations"]').count(), 1);
    const shown = await page.evaluate(() =>
      Object.fromEntries([...document.querySelectorAll<HTMLElement>('#conversations [data-metric]')].map((e) => [e.dataset.metric!, (e.textContent ?? '').trim()])));

    // Every number of the block, formatted as the report formats it.
    const dash = (f: string) => (f === '-' ? '–' : f);
    const expected: Record<string, string> = {
      'conversations.started': fmtNum(c.started, 0),
      'conversations.completed': fmtNum(c.completed, 0),
      'conversations.failed': fmtNum(c.failed, 0),
      'conversations.cut': fmtNum(c.cut, 0),
      'conversations.completed_fraction': dash(fmtPct(c.completed_fraction)),
      'conversations.turns.mean': dash(fmtNum(c.turns.mean, 1)),
      'conversations.turns.max': dash(fmtNum(c.turns.max, 0)),
      'conversations.duration_s.mean': c.duration_s.mean === null ? '–' : `${fmtNum(c.duration_s.mean, 1)} s`,
      'conversations.duration_s.p95': c.duration_s.p95 === null ? '–' : `${fmtNum(c.duration_s.p95, 1)} s`,
      'conversations.last_prompt_tokens.mean': dash(fmtNum(c.last_prompt_tokens.mean, 0)),
      'conversations.last_prompt_tokens.max': dash(fmtNum(c.last_prompt_tokens.max, 0)),
    };
    for (const [turn, v] of Object.entries(c.ttft_ms_by_turn)) {
      expected[`conversations.ttft_ms_by_turn.${turn}.count`] = fmtNum(v.count, 0);
      expected[`conversations.ttft_ms_by_turn.${turn}.p50`] = msText(v.p50);
      expected[`conversations.ttft_ms_by_turn.${turn}.p95`] = msText(v.p95);
    }
    assert.deepEqual(Object.keys(c.ttft_ms_by_turn), ['1', '2', '3']);
    assert.deepEqual(shown, expected);
    assert.equal(await page.locator('#conversations tr[data-turn]').count(), 3);
    // The block is not repeated as raw JSON under "Also recorded".
    assert.doesNotMatch((await page.locator('#scenario').textContent()) ?? '', /"ttft_ms_by_turn"/);
    assert.deepEqual(errors, []);
    assert.deepEqual(external, []);
  } finally {
    await context.close();
  }
});
