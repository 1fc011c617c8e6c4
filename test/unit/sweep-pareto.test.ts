/**
 * sweep.html's pure parts: paretoFront (hand-made sets with known fronts, ties, one point, none,
 * non-finite values, and a brute-force check of the definition) and renderSweepHtml on synthetic
 * SweepResult objects (the recommendation, every cell id, escaping, no passing cell, a search
 * sweep's bracket, null figures, an incomplete sweep, the size of a 100-cell sweep).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { costPerMillion, type SweepCellResult, type SweepMeasurement, type SweepResult } from '../../harness/sweep/run-sweep.ts';
import { costText, numText, paretoFront, rateText, renderSweepHtml, SWEEP_HTML_FILE, writeSweepHtml } from '../../harness/sweep/sweep-html.ts';

const pts = (...xy: Array<[number, number]>): Array<{ x: number; y: number }> => xy.map(([x, y]) => ({ x, y }));

/** The definition, O(n²): finite, and no finite point at least as good in both and better in one. */
function bruteFront(p: ReadonlyArray<{ x: number; y: number }>): number[] {
  const ok = (q: { x: number; y: number }): boolean => Number.isFinite(q.x) && Number.isFinite(q.y);
  return p
    .map((a, i) => ({ a, i }))
    .filter(({ a }) => ok(a) && !p.some((b) => ok(b) && b.x <= a.x && b.y >= a.y && (b.x < a.x || b.y > a.y)))
    .sort((u, v) => u.a.x - v.a.x || u.i - v.i)
    .map(({ i }) => i);
}

describe('paretoFront', () => {
  it('is empty for no points, and the point itself for one', () => {
    assert.deepEqual(paretoFront([]), []);
    assert.deepEqual(paretoFront(pts([120, 3])), [0]);
  });

  it('finds a known front, sorted by x ascending', () => {
    // (300, 2.5) is beaten by (200, 3); (400, 3) has the same y as (200, 3) at a higher latency.
    const p = pts([100, 1], [200, 3], [150, 2], [300, 2.5], [50, 0.5], [400, 3], [250, 1]);
    assert.deepEqual(paretoFront(p), [4, 0, 2, 1]);
  });

  it('keeps a point that is lower but faster, and drops one that is both slower and lower', () => {
    assert.deepEqual(paretoFront(pts([10, 1], [20, 2])), [0, 1]);
    assert.deepEqual(paretoFront(pts([20, 1], [10, 2])), [1]);
  });

  it('ties: equal points are all optimal; same x keeps the higher, same y keeps the faster', () => {
    assert.deepEqual(paretoFront(pts([5, 5], [5, 5])), [0, 1]);
    assert.deepEqual(paretoFront(pts([5, 5], [1, 1], [5, 5])), [1, 0, 2]);
    assert.deepEqual(paretoFront(pts([1, 1], [1, 2])), [1]);
    assert.deepEqual(paretoFront(pts([2, 5], [1, 5])), [1]);
    // A duplicate of a dominated point stays dominated.
    assert.deepEqual(paretoFront(pts([1, 9], [3, 4], [3, 4])), [0]);
  });

  it('never puts a non-finite point on the front, nor lets one dominate', () => {
    const p = pts([NaN, 100], [1, Infinity], [-Infinity, 5], [2, 2], [3, 1], [0.5, NaN], [4, 3]);
    assert.deepEqual(paretoFront(p), [3, 6]);
    assert.deepEqual(paretoFront(pts([NaN, NaN], [Infinity, 1])), []);
  });

  it('agrees with the definition on many generated sets (with ties)', () => {
    let seed = 12345;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let t = 0; t < 200; t++) {
      const n = rnd(25);
      const p = Array.from({ length: n }, () => ({ x: rnd(12), y: rnd(12) }));
      if (n > 3) p[rnd(n)] = { x: NaN, y: 3 };
      assert.deepEqual(paretoFront(p), bruteFront(p), JSON.stringify(p));
    }
  });
});

// ------------------------------------------------------------------------------------------
// Synthetic sweeps.

function m(rate: number, o: Partial<SweepMeasurement> = {}): SweepMeasurement {
  return {
    rate,
    goodput_fraction: 0.97,
    goodput_rps: rate * 0.97,
    throughput_rps: rate,
    output_tokens_per_s: rate * 150,
    ttft_p95_ms: 100 * rate,
    itl_p95_ms: 10 + rate,
    error_rate: 0,
    requests: 100,
    stack_url: 'http://127.0.0.1:1',
    run_dir: `cells/c/rate-${rate}`,
    finished_at: '2025-01-01T00:00:00.000Z',
    ...o,
  };
}

function cell(id: string, values: Record<string, unknown>, measurements: SweepMeasurement[], o: Partial<SweepCellResult> = {}): SweepCellResult {
  const best = measurements.filter((x) => (x.goodput_fraction ?? 0) >= 0.9).sort((a, b) => (b.goodput_rps ?? 0) - (a.goodput_rps ?? 0))[0];
  return {
    id,
    values,
    gpus: 1,
    measurements: measurements.map((x) => ({ ...x, run_dir: `cells/${id}/rate-${x.rate}` })),
    saturation: null,
    best_rate: best?.rate ?? null,
    goodput_tokens_per_s: best?.output_tokens_per_s ?? null,
    cost_per_1m_output_tokens: costPerMillion(2, 1, best?.output_tokens_per_s ?? null),
    done: true,
    ...o,
  };
}

function sweep(cells: SweepCellResult[], o: Partial<SweepResult> = {}): SweepResult {
  return {
    schema_version: 1,
    name: 'unit-sweep',
    file: '/x/sweep.yaml',
    scenario: '/x/scenario.yaml',
    stack: '/x/stack.yaml',
    load: { kind: 'rates', rates: [1, 2, 4], targetGoodput: 0.9 },
    cell: { duration_s: 20, time_scale: 10 },
    target_goodput: 0.9,
    gpu_hour: 2,
    started_at: '2025-01-01T00:00:00.000Z',
    updated_at: '2025-01-01T00:10:00.000Z',
    complete: true,
    cells,
    best: null,
    ...o,
  };
}

function twoCells(): SweepResult {
  const a = cell('seqs-16-aaaa', { 'workers[0].sim.max_num_seqs': 16 }, [m(1), m(2), m(4, { goodput_fraction: 0.5, goodput_rps: 2 })]);
  const b = cell('seqs-64-bbbb', { 'workers[0].sim.max_num_seqs': 64 }, [m(1), m(2), m(4, { goodput_fraction: 0.95, goodput_rps: 3.8, ttft_p95_ms: 350 })]);
  return sweep([a, b], {
    best: {
      cell: b.id,
      values: b.values,
      rate: 4,
      score_per_gpu: 3.8,
      goodput_tokens_per_s: 600,
      cost_per_1m_output_tokens: costPerMillion(2, 1, 600),
      margin: { next_cell: a.id, score_ratio: 3.8 / 1.94, rate_ratio: 2, throughput_ratio: 2 },
    },
  });
}

/** The visible text of the page, roughly: tags dropped, entities decoded. */
function textOf(html: string): string {
  return html
    .replace(/<style>[\s\S]*?<\/style>/g, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

/** data-pareto="1" points inside one chart's figure. */
function paretoMarks(html: string, chart: string): number {
  const fig = new RegExp(`<figure class="chart" data-chart="${chart}"[\\s\\S]*?</figure>`).exec(html);
  assert.ok(fig, `chart ${chart} present`);
  return (fig[0].match(/<circle class="pt pareto"[^>]*data-pareto="1"/g) ?? []).length;
}

describe('renderSweepHtml', () => {
  it('shows the best configuration with its values, rate, throughput, cost and margin', () => {
    const r = twoCells();
    const html = renderSweepHtml(r);
    assert.match(html, /data-best-cell="seqs-64-bbbb"/);
    assert.match(html, /<code data-rec="cell">seqs-64-bbbb<\/code>/);
    assert.match(html, /<code data-rec-value="workers\[0\]\.sim\.max_num_seqs">workers\[0\]\.sim\.max_num_seqs = 64<\/code>/);
    assert.ok(html.includes(`data-rec="rate">${rateText(4)}<`), 'the best rate');
    assert.equal(rateText(4), '4 req/s');
    assert.ok(html.includes(`data-rec="tokens">${numText(600, 0)} <small>tok/s`), 'output tok/s');
    assert.ok(html.includes(`data-rec="cost">${costText(costPerMillion(2, 1, 600))}<`), 'cost');
    assert.equal(costText(costPerMillion(2, 1, 600)), '$0.926');
    assert.match(html, /<span data-rec="margin">\+95\.9%<\/span> goodput per GPU over the runner-up, <code data-rec="next-cell">seqs-16-aaaa<\/code>/);
    assert.match(html, /class="banner good" data-complete="true"/);
    // The page fetches nothing and runs nothing.
    assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none';/);
    assert.doesNotMatch(html, /<script/i);
  });

  it('names every cell, links every measurement to its report, and marks as many Pareto points as paretoFront finds', () => {
    const r = twoCells();
    const html = renderSweepHtml(r);
    for (const c of r.cells) {
      assert.ok(html.includes(c.id), `cell ${c.id} on the page`);
      for (const x of c.measurements) assert.ok(html.includes(`href="cells/${c.id}/rate-${x.rate}/report.html"`), `link for ${c.id} @ ${x.rate}`);
    }
    const all = r.cells.flatMap((c) => c.measurements);
    assert.equal(paretoMarks(html, 'goodput-ttft'), paretoFront(all.map((x) => ({ x: x.ttft_p95_ms!, y: x.goodput_rps! }))).length);
    assert.equal(paretoMarks(html, 'tokens-itl'), paretoFront(all.map((x) => ({ x: x.itl_p95_ms!, y: x.output_tokens_per_s! }))).length);
    // The best measurement is emphasised in each chart and in the table.
    assert.equal((html.match(/<circle class="best-ring"/g) ?? []).length, 2);
    assert.equal((html.match(/<tr [^>]*data-best="1"/g) ?? []).length, 1);
  });

  it('escapes HTML in cell values, ids and the sweep name', () => {
    const a = cell('evil-cccc', { 'gateway.routing': '<b>bold</b> & "q"' }, [m(1), m(2)]);
    const r = sweep([a], { name: 'x<script>alert(1)</script>' });
    r.best = { cell: a.id, values: a.values, rate: 2, goodput_tokens_per_s: 300, cost_per_1m_output_tokens: null, margin: null };
    const html = renderSweepHtml(r);
    assert.doesNotMatch(html, /<b>bold<\/b>/);
    assert.doesNotMatch(html, /<script>alert/);
    assert.ok(html.includes('&lt;b&gt;bold&lt;/b&gt; &amp; &quot;q&quot;'));
    assert.ok(textOf(html).includes('gateway.routing = <b>bold</b> & "q"'), 'shown as text in the recommendation');
    assert.match(html, /No other configuration met the target/);
  });

  it('says when no configuration met the target, and names the closest cell', () => {
    const a = cell('a-1111', { k: 1 }, [m(1, { goodput_fraction: 0.6 }), m(2, { goodput_fraction: 0.4 })]);
    const b = cell('b-2222', { k: 2 }, [m(1, { goodput_fraction: 0.8 }), m(2, { goodput_fraction: 0.7 })]);
    const html = renderSweepHtml(sweep([a, b]));
    assert.match(html, /data-best-cell=""/);
    assert.match(textOf(html), /No configuration met the target: none kept 90\.0% of requests within the SLO/);
    assert.match(html, /data-closest-cell="b-2222"/);
    assert.match(html, /data-rec="closest-fraction">80\.0%</);
    assert.equal((html.match(/<circle class="best-ring"/g) ?? []).length, 0, 'no point marked recommended');
  });

  it('shows a search sweep\'s steps, saturation bracket and convergence', () => {
    const steps = [m(2), m(4), m(8, { goodput_fraction: 0.5 }), m(5.656854, { goodput_fraction: 0.7 }), m(4.756828)];
    const a = cell('s-3333', { k: 1 }, steps, { saturation: { rate: 4.756828, lo: 4.756828, hi: 5.656854, converged: false }, best_rate: 4.756828 });
    const b = cell('s-4444', { k: 2 }, [m(2), m(4, { goodput_fraction: 0.2 }), m(2.828427)], { saturation: { rate: 2.828427, lo: 2.828427, hi: 2.9, converged: true }, best_rate: 2.828427 });
    const r = sweep([a, b], { load: { kind: 'search', start: 2, targetGoodput: 0.9, precision: 0.05, max: 64, maxSteps: 5 } });
    const html = renderSweepHtml(r);
    assert.match(html, /<section id="search"/);
    assert.match(html, /data-saturation-cell="s-3333"[\s\S]*?<span data-bracket>4\.757 – 5.657 req\/s<\/span>[\s\S]*?data-converged="false"/);
    assert.match(html, /data-saturation-cell="s-4444"[\s\S]*?<span data-bracket>2\.828 – 2\.9 req\/s<\/span>[\s\S]*?data-converged="true"/);
    // One mark per step, failures as crosses; the target line drawn.
    const card = /data-saturation-cell="s-3333"[\s\S]*?<\/svg>/.exec(html)![0];
    assert.equal((card.match(/data-step="/g) ?? []).length, 5);
    assert.equal((card.match(/data-pass="0"/g) ?? []).length, 2);
    assert.match(card, /<line class="target"/);
    assert.match(textOf(html), /saturation search from 2 req\/s up to 64 req\/s, to a precision of 5%/);
    // A rates sweep has no search section.
    assert.doesNotMatch(renderSweepHtml(twoCells()), /<section id="search"/);
  });

  it('shows a dash for null figures, never NaN or null, and leaves unplottable points out', () => {
    const blank = m(8, { goodput_fraction: null, goodput_rps: null, throughput_rps: null, output_tokens_per_s: null, ttft_p95_ms: null, itl_p95_ms: null, error_rate: null });
    const a = cell('n-5555', { k: 1 }, [m(1), blank, m(2, { itl_p95_ms: null })]);
    const html = renderSweepHtml(sweep([a], { gpu_hour: null }));
    const text = textOf(html);
    assert.doesNotMatch(text, /\bNaN\b|\bnull\b|\bundefined\b|Infinity/);
    const row = /<tr data-cell="n-5555" data-rate="8"[\s\S]*?<\/tr>/.exec(html)![0];
    assert.equal((textOf(row).match(/–/g) ?? []).length, 9, 'fraction, goodput, throughput, tok/s, TTFT, ITL, errors, KV cache (not sampled) and cost are dashes');
    assert.match(html, /data-chart="goodput-ttft" data-points="2"/);
    assert.match(html, /data-chart="tokens-itl" data-points="1"/);
    assert.match(text, /2 measurements with no value to plot/);
    assert.match(text, /not set \(no cost figures\)/);
  });

  it('says clearly when the sweep is incomplete, and lists cells not measured yet', () => {
    const a = cell('done-6666', { k: 1 }, [m(1), m(2)]);
    const b = cell('todo-7777', { k: 2 }, [], { done: false, best_rate: null });
    const html = renderSweepHtml(sweep([a, b], { complete: false }));
    assert.match(html, /class="banner bad" data-complete="false"><strong>Incomplete sweep:<\/strong> 1 of 2 cells done/);
    assert.match(html, /No recommendation yet: the sweep is not complete/);
    assert.match(html, /data-leader-cell="done-6666"/);
    assert.match(html, /<tr data-cell="todo-7777" class="pending group">[\s\S]*?not measured yet/);
    assert.match(html, /<title>[^<]*\[incomplete\]<\/title>/);
  });

  it('keeps a 100-cell sweep well under 1 MB', () => {
    const cells = Array.from({ length: 100 }, (_, i) =>
      cell(`workers-${i}-routing-least_outstanding-${String(i).padStart(8, '0')}`, { 'workers[0].sim.max_num_seqs': 8 * (i + 1), 'gateway.routing': 'least_outstanding' }, [1, 2, 4, 8].map((rate) => m(rate, { ttft_p95_ms: 50 + ((i * 37 + rate * 11) % 400), goodput_rps: rate * (0.5 + ((i * 13) % 50) / 100) }))),
    );
    const html = renderSweepHtml(sweep(cells));
    assert.ok(Buffer.byteLength(html) < 700_000, `${Buffer.byteLength(html)} bytes`);
    for (const c of cells) assert.ok(html.includes(`data-legend-cell="${c.id}"`));
  });

  it('writeSweepHtml writes sweep.html in the folder and returns its path', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-sweep-html-unit-'));
    try {
      const r = twoCells();
      const file = writeSweepHtml(dir, r);
      assert.equal(file, path.join(dir, SWEEP_HTML_FILE));
      assert.equal(SWEEP_HTML_FILE, 'sweep.html');
      assert.equal(fs.readFileSync(file, 'utf8'), renderSweepHtml(r));
      assert.deepEqual(fs.readdirSync(dir), ['sweep.html'], 'no temporary file left');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
