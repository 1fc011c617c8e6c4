/**
 * sweep.html in a real browser: Debian's chromium (/usr/bin/chromium, never a downloaded one)
 * driven by playwright-core, offline, every non-file request aborted, console errors collected.
 *
 * The sweeps are synthetic SweepResult objects built here from a capacity model per cell (cell ids
 * from the sweep file's own cellId/expandMatrix; search steps from the real searchSaturation):
 * a rates sweep of 4 cells x 3 rates, a search sweep, a sweep where no cell passes, and one with
 * null latencies and an unfinished cell. Each is written with writeSweepHtml to a temp folder and
 * opened: no error, both Pareto charts drawn and on screen with one point per plottable
 * measurement, as many points marked Pareto-optimal as paretoFront computes (the same ones), and
 * the recommendation is result.best's. A full-page screenshot of the rates sweep is saved as
 * test-artifacts/sweep-report.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openOffline, type OfflinePage } from '../fixtures/offline-browser.ts';
import { cellId, expandMatrix } from '../../harness/sweep/sweep-file.ts';
import { searchSaturation } from '../../harness/sweep/saturation.ts';
import { costPerMillion, pickBest, SWEEP_SCHEMA_VERSION, type SweepCellResult, type SweepMeasurement, type SweepResult } from '../../harness/sweep/run-sweep.ts';
import { numText, paretoFront, rateText, SWEEP_HTML_FILE, writeSweepHtml } from '../../harness/sweep/sweep-html.ts';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

// ------------------------------------------------------------------------------------------
// Synthetic sweeps.

interface Capacity {
  /** Rate (req/s) above which requests start missing the SLO. */
  cap: number;
  ttft: number;
  itl: number;
}

/** A measurement at `rate` of a cell with capacity `k`: fraction falls past cap, latencies grow. */
function measure(id: string, k: Capacity, rate: number): SweepMeasurement {
  const load = rate / k.cap;
  const fraction = load <= 1 ? 0.995 - 0.03 * load : Math.max(0.02, 0.97 / load ** 2);
  const throughput = Math.min(rate, k.cap * 1.05);
  return {
    rate,
    goodput_fraction: fraction,
    goodput_rps: rate * fraction,
    throughput_rps: throughput,
    output_tokens_per_s: throughput * 180,
    ttft_p95_ms: k.ttft * (1 + 3 * load ** 3),
    itl_p95_ms: k.itl * (1 + 0.5 * load),
    error_rate: load > 1.3 ? 0.012 : 0,
    requests: Math.round(rate * 20),
    stack_url: 'http://127.0.0.1:40000',
    run_dir: path.join('cells', id, `rate-${+rate.toFixed(4)}`),
    finished_at: '2025-03-01T10:05:00.000Z',
  };
}

const MATRIX = [
  { path: 'workers[0].sim.max_num_seqs', values: [16, 256] },
  { path: 'gateway.routing', values: ['round_robin', 'least_outstanding'] },
];
const CAPS: Capacity[] = [
  { cap: 3.1, ttft: 180, itl: 14 },
  { cap: 3.4, ttft: 150, itl: 15 },
  { cap: 7.2, ttft: 260, itl: 22 },
  { cap: 8.1, ttft: 240, itl: 24 },
];

function base(name: string, load: SweepResult['load'], target: number): SweepResult {
  return {
    schema_version: SWEEP_SCHEMA_VERSION,
    name,
    file: '/sweeps/batching.yaml',
    scenario: '/scenarios/chat.yaml',
    stack: '/reference-stack/stacks/default.yaml',
    mode: 'simulated',
    axes: MATRIX.map((a) => ({ name: a.path, kind: 'path' as const, paths: [a.path] })),
    slo: { ttft_ms: 2000, tpot_ms: null, itl_ms: 100, e2e_ms: null },
    load,
    cell: { duration_s: 20, time_scale: 10 },
    target_goodput: target,
    gpu_hour: 2.5,
    started_at: '2025-03-01T10:00:00.000Z',
    updated_at: '2025-03-01T10:30:00.000Z',
    complete: true,
    cells: [],
    best: null,
  };
}

function emptyCell(values: Record<string, unknown>, gpus = 1): SweepCellResult {
  return { id: cellId(values), values, labels: values, gpus, measurements: [], saturation: null, best_rate: null, goodput_tokens_per_s: null, cost_per_1m_output_tokens: null, done: true };
}

/** best_rate (rates sweeps), tokens and cost of each cell as runSweep sets them, then best by run-sweep.ts's own pickBest. */
function rank(r: SweepResult): SweepResult {
  const search = r.load.kind === 'search';
  for (const c of r.cells) {
    if (!search) {
      const passing = c.measurements.filter((m) => (m.goodput_fraction ?? 0) >= r.target_goodput).sort((a, b) => (b.goodput_rps ?? 0) - (a.goodput_rps ?? 0));
      c.best_rate = passing[0]?.rate ?? null;
    }
    const at = c.measurements.find((m) => m.rate === c.best_rate);
    c.goodput_tokens_per_s = at?.output_tokens_per_s ?? null;
    c.cost_per_1m_output_tokens = costPerMillion(r.gpu_hour, c.gpus, at?.output_tokens_per_s ?? null);
  }
  r.best = pickBest(r);
  return r;
}

function ratesSweep(): SweepResult {
  const r = base('batching <b>rates</b>', { kind: 'rates', rates: [2, 4, 8], targetGoodput: 0.9 }, 0.9);
  r.cells = expandMatrix(MATRIX).map((values, i) => {
    const c = emptyCell(values, i >= 2 ? 2 : 1);
    c.measurements = [2, 4, 8].map((rate) => measure(c.id, CAPS[i]!, rate));
    return c;
  });
  r.cells[0]!.measurements[2]!.saturated = true;
  rank(r);
  if (r.best) {
    r.best.stack_file = path.join('cells', r.best.cell, 'stack.yaml');
    r.best.vllm_args = { w0: ['--model', 'meta-llama/Llama-3.1-8B-Instruct', '--max-num-seqs', '256'] };
  }
  return r;
}

async function searchSweep(): Promise<SweepResult> {
  const r = base('batching-search', { kind: 'search', start: 2, targetGoodput: 0.95, precision: 0.05, max: 64, maxSteps: 12 }, 0.95);
  r.cells = [];
  for (const [i, values] of expandMatrix(MATRIX).entries()) {
    const c = emptyCell(values);
    const s = await searchSaturation(
      async (rate) => {
        const m = measure(c.id, CAPS[i]!, rate);
        c.measurements.push(m);
        return { goodputFraction: m.goodput_fraction ?? 0 };
      },
      { start: 2, target: 0.95, precision: 0.05, max: 64, maxSteps: 12 },
    );
    c.saturation = { rate: s.rate, lo: s.lo, hi: s.hi, converged: s.converged };
    c.best_rate = s.rate;
    r.cells.push(c);
  }
  return rank(r);
}

function noPassSweep(): SweepResult {
  const r = base('too-tight', { kind: 'rates', rates: [4, 8], targetGoodput: 0.99 }, 0.99);
  r.cells = expandMatrix(MATRIX).map((values, i) => {
    const c = emptyCell(values);
    c.measurements = [4, 8].map((rate) => measure(c.id, { ...CAPS[i]!, cap: CAPS[i]!.cap / 3 }, rate));
    return c;
  });
  return rank(r);
}

/** Null latencies and throughput in some measurements, and the last cell not measured yet (incomplete). */
function nullSweep(): SweepResult {
  const r = ratesSweep();
  r.name = 'with-nulls';
  const [c0, c1, , c3] = r.cells;
  const blank = (m: SweepMeasurement): SweepMeasurement => ({ ...m, goodput_fraction: 0, goodput_rps: 0, throughput_rps: null, output_tokens_per_s: null, ttft_p95_ms: null, itl_p95_ms: null, error_rate: 1 });
  c0!.measurements[2] = blank(c0!.measurements[2]!);
  c1!.measurements[1] = { ...c1!.measurements[1]!, itl_p95_ms: null };
  c3!.measurements = [];
  c3!.done = false;
  rank(r);
  r.complete = false;
  r.best = null;
  return r;
}

// ------------------------------------------------------------------------------------------
// The browser.

let browser: Browser | undefined;
let tmp = '';

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-sweep-html-'));
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const open = (file: string): Promise<OfflinePage> => openOffline(browser!, file);

function write(name: string, r: SweepResult): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  const file = writeSweepHtml(dir, r);
  assert.equal(file, path.join(dir, SWEEP_HTML_FILE));
  return file;
}

const CHART_AXES = {
  'goodput-ttft': (m: SweepMeasurement) => ({ x: m.ttft_p95_ms ?? NaN, y: m.goodput_rps ?? NaN }),
  'tokens-itl': (m: SweepMeasurement) => ({ x: m.itl_p95_ms ?? NaN, y: m.output_tokens_per_s ?? NaN }),
} as const;

/** What a chart must show, computed from the result: plottable points, and the Pareto ones as "cell@rate". */
function expected(r: SweepResult, chart: keyof typeof CHART_AXES): { plottable: number; front: string[] } {
  const all = r.cells.flatMap((c) => c.measurements.map((m) => ({ key: `${c.id}@${m.rate}`, ...CHART_AXES[chart](m) })));
  return { plottable: all.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).length, front: paretoFront(all).map((i) => all[i]!.key).sort() };
}

interface ChartSeen {
  visible: boolean;
  width: number;
  height: number;
  points: number;
  /** Points whose centre lies inside the plot's box. */
  inside: number;
  pareto: string[];
  /** Pareto points that are the topmost element at their own centre (drawn, not hidden). */
  onTop: number;
  frontPath: boolean;
}

async function chartSeen(page: Page, id: string): Promise<ChartSeen> {
  const fig = page.locator(`[data-chart="${id}"]`);
  await fig.scrollIntoViewIfNeeded();
  const visible = await fig.locator('svg.plot').isVisible();
  return {
    visible,
    ...(await fig.evaluate((el) => {
      const svg = el.querySelector('svg.plot')!;
      const box = svg.getBoundingClientRect();
      const pts = [...el.querySelectorAll<SVGCircleElement>('circle.pt')];
      let inside = 0;
      let onTop = 0;
      const pareto: string[] = [];
      for (const p of pts) {
        const b = p.getBoundingClientRect();
        const cx = b.left + b.width / 2;
        const cy = b.top + b.height / 2;
        if (b.width > 0 && cx >= box.left && cx <= box.right && cy >= box.top && cy <= box.bottom) inside++;
        if (p.dataset['pareto'] === '1') {
          pareto.push(`${p.dataset['cell']}@${p.dataset['rate']}`);
          const hit = document.elementFromPoint(cx, cy);
          if (hit instanceof SVGCircleElement && hit.classList.contains('pareto')) onTop++;
        }
      }
      return { width: box.width, height: box.height, points: pts.length, inside, pareto: pareto.sort(), onTop, frontPath: !!el.querySelector('path.front') };
    })),
  };
}

async function assertCharts(page: Page, r: SweepResult, label: string): Promise<void> {
  for (const id of ['goodput-ttft', 'tokens-itl'] as const) {
    const want = expected(r, id);
    const seen = await chartSeen(page, id);
    assert.ok(seen.visible && seen.width > 300 && seen.height > 150, `${label} ${id}: drawn and visible (${seen.width}x${seen.height})`);
    assert.equal(seen.points, want.plottable, `${label} ${id}: one point per plottable measurement`);
    assert.equal(seen.inside, seen.points, `${label} ${id}: every point inside the plot`);
    assert.equal(seen.pareto.length, want.front.length, `${label} ${id}: Pareto-optimal points`);
    assert.deepEqual(seen.pareto, want.front, `${label} ${id}: the same Pareto points as paretoFront`);
    assert.equal(seen.onTop, want.front.length, `${label} ${id}: every Pareto point is drawn on top`);
    assert.equal(seen.frontPath, want.front.length > 0, `${label} ${id}: the step line`);
  }
}

async function text(page: Page, selector: string): Promise<string> {
  return ((await page.locator(selector).first().textContent()) ?? '').trim();
}

async function assertNoBadText(page: Page, label: string): Promise<void> {
  const body = (await page.locator('body').innerText()) ?? '';
  assert.doesNotMatch(body, /\bNaN\b|\bnull\b|\bundefined\b|Infinity/, `${label}: no NaN, null or undefined shown`);
}

describe('sweep.html', () => {
  it('a rates sweep (4 cells x 3 rates): charts, Pareto points and the recommendation', async () => {
    const r = ratesSweep();
    assert.ok(r.best, 'the synthetic sweep has a best cell');
    const file = write('rates', r);
    const html = fs.readFileSync(file, 'utf8');
    assert.doesNotMatch(html, /\s(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i, 'nothing loaded from elsewhere');
    assert.doesNotMatch(html, /<script/i, 'no script');
    const { context, page, errors, external } = await open(file);
    try {
      await assertCharts(page, r, 'rates');
      // The recommendation is result.best.
      assert.equal(await page.locator('#recommendation').getAttribute('data-best-cell'), r.best.cell);
      assert.equal(await text(page, '[data-rec="cell"]'), r.best.cell);
      assert.equal(await text(page, '[data-rec="rate"]'), rateText(r.best.rate));
      for (const [k, v] of Object.entries(r.best.values)) assert.equal(await text(page, `[data-rec-value="${k}"]`), `${k} = ${String(v)}`);
      assert.equal(await text(page, '[data-rec="next-cell"]'), r.best.margin!.next_cell);
      const pct = ((r.best.margin!.score_ratio! - 1) * 100).toFixed(1);
      assert.equal(await text(page, '[data-rec="margin"]'), `+${pct}%`);
      assert.match(await text(page, '[data-rec="cost"]'), /^\$\d/);
      assert.equal(await text(page, '[data-rec="stack-file"]'), r.best.stack_file);
      assert.match(await text(page, '[data-rec="vllm"]'), /^vllm serve .*--max-num-seqs 256$/);
      assert.equal(await page.locator('#measurements .tag.warn').count(), 1, 'the saturated measurement is marked');
      // The best cell's point is emphasised in both charts, and its table row marked.
      for (const id of ['goodput-ttft', 'tokens-itl']) assert.equal(await page.locator(`[data-chart="${id}"] circle.pt[data-best="1"]`).getAttribute('data-cell'), r.best.cell);
      assert.equal(await page.locator('#measurements tr[data-best="1"]').count(), 1);
      // One row per measurement, each linking to its run report (relative, and it resolves under the sweep folder).
      assert.equal(await page.locator('#measurements tbody tr').count(), 12);
      const href = await page.locator(`#measurements tr[data-cell="${r.cells[0]!.id}"][data-rate="2"] a`).getAttribute('href');
      assert.equal(href, `cells/${r.cells[0]!.id}/rate-2/report.html`);
      // The legend names each cell; the name's markup is text.
      assert.equal(await page.locator('[data-legend-cell]').count(), 4);
      assert.equal(await text(page, 'h1'), 'batching <b>rates</b>');
      assert.equal(await page.locator('h1 b').count(), 0);
      assert.equal(await page.locator('[data-complete="true"]').count(), 1);
      await assertNoBadText(page, 'rates');
      await page.screenshot({ path: path.join(ARTIFACTS, 'sweep-report.png'), fullPage: true });
      assert.deepEqual(errors, []);
      assert.deepEqual(external, []);
    } finally {
      await context.close();
    }
  });

  it('a search sweep: the saturation steps and bracket of every cell', async () => {
    const r = await searchSweep();
    assert.ok(r.best);
    const file = write('search', r);
    const { context, page, errors, external } = await open(file);
    try {
      await assertCharts(page, r, 'search');
      assert.equal(await text(page, '[data-rec="cell"]'), r.best.cell);
      assert.equal(await text(page, '[data-rec="rate"]'), rateText(r.best.rate));
      for (const c of r.cells) {
        const card = page.locator(`[data-saturation-cell="${c.id}"]`);
        assert.ok(await card.locator('svg.steps').isVisible(), `${c.id}: steps chart visible`);
        assert.equal(await card.locator('[data-step]').count(), c.measurements.length, `${c.id}: one mark per step`);
        const passed = c.measurements.filter((m) => (m.goodput_fraction ?? 0) >= r.target_goodput).length;
        assert.equal(await card.locator('[data-pass="1"]').count(), passed, `${c.id}: pass marks`);
        assert.equal(await card.locator('line.target').count(), 1);
        const bracket = (await card.locator('[data-bracket]').textContent()) ?? '';
        assert.equal(bracket, `${numText(c.saturation!.lo, 3)} – ${numText(c.saturation!.hi, 3)} req/s`);
        assert.ok(c.saturation!.lo! < c.saturation!.hi!, 'a real bracket');
        assert.equal(await card.locator('[data-converged]').getAttribute('data-converged'), String(c.saturation!.converged));
      }
      await assertNoBadText(page, 'search');
      await page.screenshot({ path: path.join(ARTIFACTS, 'sweep-report-search.png'), fullPage: true });
      assert.deepEqual(errors, []);
      assert.deepEqual(external, []);
    } finally {
      await context.close();
    }
  });

  it('a sweep where no cell passes says so and names the closest cell', async () => {
    const r = noPassSweep();
    assert.equal(r.best, null);
    const all = r.cells.flatMap((c) => c.measurements.map((m) => ({ c, m })));
    const closest = all.sort((a, b) => b.m.goodput_fraction! - a.m.goodput_fraction!)[0]!;
    const { context, page, errors, external } = await open(write('no-pass', r));
    try {
      await assertCharts(page, r, 'no pass');
      assert.equal(await page.locator('#recommendation').getAttribute('data-best-cell'), '');
      assert.match(await text(page, '[data-rec="none"]'), /^No configuration met the target/);
      assert.equal(await page.locator('[data-closest-cell]').getAttribute('data-closest-cell'), closest.c.id);
      assert.equal(await page.locator('circle.pt[data-best]').count(), 0, 'no point marked recommended');
      await assertNoBadText(page, 'no pass');
      assert.deepEqual(errors, []);
      assert.deepEqual(external, []);
    } finally {
      await context.close();
    }
  });

  it('null latencies and an unfinished sweep: dashes, fewer points, and an incomplete banner', async () => {
    const r = nullSweep();
    const { context, page, errors, external } = await open(write('nulls', r));
    try {
      await assertCharts(page, r, 'nulls');
      assert.equal(await page.locator('[data-chart="goodput-ttft"] circle.pt').count(), 8, '9 measurements, one without TTFT');
      assert.equal(await page.locator('[data-chart="tokens-itl"] circle.pt').count(), 7, 'one without ITL, one without either');
      assert.equal(await page.locator('[data-complete="false"]').count(), 1);
      assert.match(await text(page, '[data-complete="false"]'), /Incomplete sweep/);
      assert.match(await text(page, '[data-rec="none"]'), /not complete/);
      // The blank measurement's row shows dashes; the unmeasured cell still has its row.
      const blank = page.locator(`#measurements tr[data-cell="${r.cells[0]!.id}"][data-rate="8"]`);
      assert.ok(((await blank.textContent()) ?? '').includes('–'));
      assert.match(await text(page, `#measurements tr[data-cell="${r.cells[3]!.id}"]`), /not measured yet/);
      await assertNoBadText(page, 'nulls');
      assert.deepEqual(errors, []);
      assert.deepEqual(external, []);
    } finally {
      await context.close();
    }
  });
});
