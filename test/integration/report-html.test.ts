/**
 * report.html in a real browser: Debian's chromium (/usr/bin/chromium, never a downloaded one)
 * driven by playwright-core, offline, every non-file request aborted.
 *
 * - A real run: runScenario against a reference stack in this process (one simulated worker,
 *   a tenant with a low requests-per-minute limit so that part of the run fails with 429s,
 *   observe sampling on so that server.json exists). The report opens with no console error and
 *   no request, every chart is drawn (a canvas that is not one colour), and its numbers are
 *   summary.json's. A full-page screenshot is saved as test-artifacts/report-html.png.
 * - The same run without server samples and as a closed-loop run (no target), with null latency
 *   seconds (and no ITL at all, as when not streaming), and with an error message holding markup:
 *   still no error, every chart drawn, no overlay, target line or empty chart, and the markup shown
 *   as text.
 * - A synthetic 100,000-request run (bench/report-open/synthetic-run.ts): the report is under
 *   5 MB and opens with every chart drawn. How fast it opens is measured by
 *   bench/report-open/run.ts, not here (no timing in tests).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openOffline, reportReady, type OfflinePage } from '../fixtures/offline-browser.ts';
import { parseStack } from '../../reference-stack/stack/load-stack.ts';
import { startStack, type RunningStack } from '../../reference-stack/stack/start-stack.ts';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { runScenario } from '../../harness/run/run-scenario.ts';
import { loadRunData, type RunData } from '../../harness/report/run-data.ts';
import { noServerSummary } from '../../harness/observe/server-summary.ts';
import { fmtNum } from '../../harness/report/console-summary.ts';
import { renderHtmlReport, writeHtmlReport } from '../../harness/report/html/html-report.ts';
import { msText } from '../../harness/report/html/report-sections.ts';
import type { ChartData } from '../../harness/report/html/chart-data.ts';
import { writeSyntheticRun } from '../../bench/report-open/synthetic-run.ts';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const READY_WAIT_MS = 60_000;

// One worker, 10 times faster than a real H100; tenant `pro` (fg-dev-pro's hash) may send 40
// requests a minute, so a run of about 70 requests in 3 s gets about 30 HTTP 429s.
const STACK_YAML = `
name: report-html
models:
  - name: tiny
    workers: [w0]
    context_length: 4096
workers:
  - name: w0
    sim: {gpu: h100-sxm, model: llama-3.1-8b, served_model_name: tiny, quantization: fp8, max_model_len: 4096, time_scale: 10, seed: 0}
gateway:
  port: 0
tenants:
  - name: pro
    api_key_hashes: ['sha256:21d289177ddce5356b1ede09d33f323ba1e3ff0e652d4dd39e791da6f16f1225']
    limits: {rpm: 40}
`;

let stack: RunningStack | undefined;
let browser: Browser | undefined;
let tmp = '';
let runDir = '';

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-report-html-'));
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
  stack = await startStack(parseStack(STACK_YAML, 'report-html.yaml'), { port: 0, usageDbPath: ':memory:' });
  const scenario = parseScenario(
    `name: report-html
description: a short run for the report.html browser test <b>not bold</b>
target: {url: "${stack.url}", model: tiny, api_key: fg-dev-pro}
workload: {prompt_tokens: {dist: uniform, min: 100, max: 600}, output_tokens: 32}
load:
  arrival: poisson
  stages: [{name: steady, duration: 1s, rate: 10}, {name: burst, duration: 2s, rate: 30}]
slo: {ttft: 2s}
thresholds: ["error_rate < 1%", "ttft.p95 < 10s"]
observe: {interval: 250ms, timeout: 2s}
`,
    path.join(tmp, 'report-html.yaml'),
  );
  runDir = path.join(tmp, 'run');
  await runScenario(scenario, { threads: 1, allowSaturated: true, outDir: runDir });
});

after(async () => {
  await browser?.close();
  await stack?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

type Opened = OfflinePage;

/** Opens a report from disk, offline, and waits for its charts. */
async function open(file: string, viewport = { width: 1280, height: 800 }): Promise<Opened> {
  const o = await openOffline(browser!, file, viewport);
  await reportReady(o.page, READY_WAIT_MS);
  return o;
}

interface DrawnChart {
  id: string;
  kind: string;
  canvas: boolean;
  width: number;
  height: number;
  /** Distinct pixel values seen (up to 64). */
  colours: number;
  svgChildren: number;
}

/** Every chart container of the page, with what was drawn in it. */
async function drawnCharts(page: Page): Promise<DrawnChart[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('[data-chart]')].map((fig) => {
      const canvas = fig.querySelector('canvas');
      const svg = fig.querySelector('svg');
      const out = { id: fig.dataset.chart ?? '', kind: fig.dataset.kind ?? '', canvas: !!canvas, width: 0, height: 0, colours: 0, svgChildren: svg ? svg.childElementCount : 0 };
      if (!canvas) return out;
      out.width = canvas.width;
      out.height = canvas.height;
      const ctx = canvas.getContext('2d');
      if (!ctx || canvas.width === 0 || canvas.height === 0) return out;
      const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      const seen = new Set<number>();
      for (let i = 0; i < px.length && seen.size < 64; i += 4 * 3) seen.add(((px[i]! << 24) | (px[i + 1]! << 16) | (px[i + 2]! << 8) | px[i + 3]!) >>> 0);
      out.colours = seen.size;
      return out;
    }),
  );
}

function assertAllDrawn(charts: DrawnChart[], label: string): void {
  assert.ok(charts.length > 0, `${label}: no chart`);
  for (const c of charts) {
    assert.ok((c.canvas && c.width > 0 && c.height > 0) || c.svgChildren > 0, `${label}: chart ${c.id} has no canvas or svg`);
    // Background, grid and axes, and at least one series: more than a couple of pixel values.
    if (c.canvas) assert.ok(c.colours >= 3, `${label}: chart ${c.id} looks blank (${c.colours} distinct pixel values)`);
  }
}

function chartData(html: string): ChartData {
  const m = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(m, 'the JSON blob is in the page');
  return JSON.parse(m[1]!) as ChartData;
}

async function text(page: Page, selector: string): Promise<string> {
  return ((await page.locator(selector).first().textContent()) ?? '').trim();
}

describe('report.html', () => {
  it('opens offline from a real run folder with every chart drawn and the summary\'s numbers', async () => {
    const file = writeHtmlReport(runDir);
    assert.equal(file, path.join(runDir, 'report.html'));
    const data = loadRunData(runDir);
    const s = data.summary;
    // The run is what this test needs: failures (the rpm limit), server samples, two stages.
    assert.ok(s.requests.failed > 0 && s.requests.ok > 0, `failures and successes: ${JSON.stringify(s.requests)}`);
    assert.ok(data.server && data.server.length > 0, 'server.json was written');
    const html = fs.readFileSync(file, 'utf8');
    assert.doesNotMatch(html, /\s(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i, 'nothing loaded from elsewhere');
    assert.match(html, /Permission is hereby granted/, 'uPlot\'s licence is kept');
    const blob = chartData(html);
    const ids = blob.charts.map((c) => c.id);
    for (const id of ['rate', 'in-flight', 'ttft', 'itl', 'tokens', 'outcomes', 'server', 'cdf-ttft', 'cdf-itl', 'cdf-e2e']) assert.ok(ids.includes(id), `chart ${id} in ${ids.join(', ')}`);
    const rate = blob.charts.find((c) => c.id === 'rate')!;
    assert.ok(rate.series.some((x) => x.key === 'target'), 'open loop: a target line');
    assert.ok(rate.series.some((x) => x.src === 'server' && x.key === 'queue_depth'), 'server queue depth overlaid');

    const { context, page, errors, external } = await open(file);
    try {
      const charts = await drawnCharts(page);
      assert.deepEqual(charts.map((c) => c.id), ids, 'one container per chart described');
      assertAllDrawn(charts, 'real run');
      assert.equal(await page.evaluate(() => (window as unknown as { floodgateReport: { drawn: number } }).floodgateReport.drawn), ids.length);

      // The numbers shown are summary.json's, formatted as the report formats them.
      assert.equal(await text(page, '[data-metric="requests.total"]'), fmtNum(s.requests.total, 0));
      assert.equal(await text(page, '[data-metric="requests.failed"]'), fmtNum(s.requests.failed, 0));
      assert.equal(await text(page, '[data-metric="ttft.p95"]'), msText(s.latency_ms.ttft.p95));
      assert.equal(await text(page, '[data-metric="e2e.p99"]'), msText(s.latency_ms.e2e.p99));
      assert.equal(await text(page, '[data-metric="scenario.name"]'), 'report-html');
      // Thresholds: one row each, error_rate < 1% failed.
      assert.equal(await page.locator('[data-threshold]').count(), s.thresholds.length);
      assert.match(await text(page, '[data-threshold="0"]'), /FAIL/);
      assert.match(await text(page, '[data-threshold="1"]'), /PASS/);
      // Errors: a row per code of summary.errors, with examples (status, message, request id).
      for (const code of Object.keys(s.errors)) {
        const row = await text(page, `[data-error-code="${code}"]`);
        assert.ok(row.startsWith(code), row);
      }
      assert.ok((await page.locator('table.examples tbody tr').count()) >= 1, 'error examples');
      assert.match(await text(page, 'table.examples tbody tr'), /429/);
      // Server section from summary.server; stages table.
      assert.match(await text(page, '#server'), /KV-cache usage/);
      assert.match(await text(page, '#breakdown'), /burst/);
      // No workload.conversation: no conversations section (conversation-report.test.ts has one).
      assert.equal(s.conversations, undefined);
      assert.equal(await page.locator('#conversations').count(), 0);

      await page.screenshot({ path: path.join(ARTIFACTS, 'report-html.png'), fullPage: true });
      assert.deepEqual(errors, []);
      assert.deepEqual(external, []);
    } finally {
      await context.close();
    }
  });

  it('copes with no server samples, a closed-loop run, null seconds and markup in error messages', async () => {
    const data = loadRunData(runDir);
    const nasty = '</script><script>alert(1)</script><img src=x onerror=alert(2)> & \u2028';
    const failed = data.requests.find((r) => !r.ok)!;
    const variant: RunData = {
      ...data,
      summary: { ...data.summary, server: noServerSummary('not sampled in this variant'), scenario: { ...data.summary.scenario, name: 'variant</title><b>' } },
      server: null,
      timeseries: data.timeseries.map((p, i) => ({ ...p, target: null, ttft_p50: null, ttft_p95: i % 2 ? null : p.ttft_p95, itl_p50: null, itl_p95: null })),
      requests: data.requests.map((r) => (r === failed ? { ...r, error_message: nasty } : r)),
    };
    const html = renderHtmlReport(variant);
    const blob = chartData(html);
    assert.ok(!blob.charts.some((c) => c.series.some((x) => x.src === 'server')), 'no server overlay');
    assert.ok(!blob.charts.some((c) => c.id === 'server'), 'no server chart');
    assert.ok(!blob.charts.find((c) => c.id === 'rate')!.series.some((x) => x.key === 'target'), 'closed loop: no target line');
    assert.ok(!blob.charts.find((c) => c.id === 'ttft')!.series.some((x) => x.key === 'ttft_p50'), 'a series with no value is left out');
    assert.ok(!blob.charts.some((c) => c.id === 'itl'), 'a chart with no value of its own is not made');
    const file = path.join(tmp, 'variant.html');
    fs.writeFileSync(file, html);
    const { context, page, errors, external } = await open(file);
    try {
      assertAllDrawn(await drawnCharts(page), 'variant');
      assert.match(await text(page, '#server'), /not sampled in this variant/);
      assert.equal(await text(page, '[data-metric="scenario.name"]'), 'variant</title><b>');
      assert.ok(((await page.locator('#errors').textContent()) ?? '').includes('</script><script>alert(1)</script>'), 'markup in a message is shown as text');
      assert.deepEqual(errors, []);
      assert.deepEqual(external, []);
    } finally {
      await context.close();
    }
  });

  it('keeps a 100,000-request run under 5 MB, and opens it with every chart drawn', async () => {
    const dir = path.join(tmp, 'synthetic-100k');
    const summary = writeSyntheticRun(dir, { requests: 100_000 });
    assert.equal(summary.requests.total, 100_000);
    const file = writeHtmlReport(dir);
    const size = fs.statSync(file).size;
    assert.ok(size < 5 * 1024 * 1024, `report.html is ${size} bytes`);
    const blob = chartData(fs.readFileSync(file, 'utf8'));
    for (const c of Object.values(blob.cdf)) assert.ok(c.x.length <= 500, `a CDF of ${c.x.length} points`);
    assert.ok(blob.client.x.length <= 2000 && blob.client.bucket_s > 1, `time series downsampled: ${blob.client.x.length} points of ${blob.client.bucket_s} s`);
    assert.ok(blob.server && blob.server.x.length <= 2000, 'server samples downsampled');
    const { context, page, errors, external } = await open(file);
    try {
      const charts = await drawnCharts(page);
      assert.equal(charts.length, blob.charts.length);
      assertAllDrawn(charts, '100k run');
      assert.equal(await text(page, '[data-metric="requests.total"]'), '100,000');
      await page.screenshot({ path: path.join(ARTIFACTS, 'report-html-100k.png') });
      assert.deepEqual(errors, []);
      assert.deepEqual(external, []);
    } finally {
      await context.close();
    }
  });
});
