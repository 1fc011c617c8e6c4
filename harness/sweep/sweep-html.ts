/**
 * sweep.html: the report of a tuning sweep, written next to sweep.json and sweep.md. One
 * self-contained HTML document with no script at all: the charts are inline SVG drawn here (they
 * print, and read without JavaScript; each point's <title> is its hover text), and a
 * Content-Security-Policy forbids any fetch, as in report.html (whose escaping and stylesheet it
 * reuses). It can be rendered from a sweep.json of a sweep still running or interrupted.
 *
 * Sections: the header (files, measurement length and time scale, target, load axis, state),
 * the recommendation (result.best, its cost and margin; or the closest cell when none passed),
 * two Pareto charts (goodput req/s against p95 TTFT, output tok/s against p95 ITL: every
 * measurement a point, the non-dominated ones ringed and joined by a step line, the recommended
 * one marked), the saturation search of each cell (search sweeps), a table of every measurement
 * linking to its own report.html, and notes on units, goodput and cost.
 *
 * Numbers absent from sweep.json (null: a measurement with no successful request) are shown as a
 * dash and never plotted. Elements that tests and readers look up carry data-* attributes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { escapeHtml as h } from '../report/html/html-escape.ts';
import { REPORT_CSS } from '../report/html/report-style.ts';
import { msText } from '../report/html/report-sections.ts';
import { REPORT_FILE } from '../report/html/html-report.ts';
import { fmtNum, fmtPct } from '../report/console-summary.ts';
import { formatDuration } from '../util/duration.ts';
import { costPerMillion, pickBest, type SweepCellResult, type SweepMeasurement, type SweepResult } from './run-sweep.ts';
import { closestCell, describeBest } from './recommendation.ts';

export const SWEEP_HTML_FILE = 'sweep.html';

const DASH = '–';

// ---------------------------------------------------------------------------------------------
// Pareto front.

/**
 * Indices of the points no other point dominates, x minimised (a latency) and y maximised
 * (goodput or throughput), sorted by x ascending (ties by index). A point q dominates p when
 * q.x <= p.x and q.y >= p.y and q is strictly better in at least one of them.
 *
 * Ties: a point equal to another (same x and same y) is not dominated by it, so identical points
 * are all on the front (two cells that measure the same are both optimal: neither is better).
 * Two points with the same x and different y: the lower one is dominated; same y and different
 * x: the one further right is dominated. A point with a non-finite x or y (NaN, ±Infinity) is
 * never on the front and dominates nothing.
 */
export function paretoFront(points: ReadonlyArray<{ x: number; y: number }>): number[] {
  const order: number[] = [];
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    if (Number.isFinite(p.x) && Number.isFinite(p.y)) order.push(i);
  }
  order.sort((a, b) => points[a]!.x - points[b]!.x || points[b]!.y - points[a]!.y || a - b);
  const front: number[] = [];
  // The highest y among the points seen so far (all at x <= the current one), and the smallest x
  // that reached it: a point below it is dominated, one at it is dominated unless at the same x.
  let bestY = -Infinity;
  let bestX = NaN;
  for (const i of order) {
    const { x, y } = points[i]!;
    if (y > bestY) {
      front.push(i);
      bestY = y;
      bestX = x;
    } else if (y === bestY && x === bestX) front.push(i);
  }
  return front;
}

// ---------------------------------------------------------------------------------------------
// Formatting: a dash for anything that is not a finite number.

const fin = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

/** A number as the page writes it (en-US grouping, at most `digits` decimals); a dash for none. */
export function numText(v: number | null | undefined, digits = 1): string {
  return fin(v) ? fmtNum(v, digits) : DASH;
}

/** A latency in ms as the page writes it (`240 ms`, `12.3 s`); a dash for none. */
export function latencyText(v: number | null | undefined): string {
  return fin(v) ? msText(v) : DASH;
}

/** A fraction as a percentage; a dash for none. */
export function pctText(v: number | null | undefined): string {
  return fin(v) ? fmtPct(v) : DASH;
}

/** A cost per 1M output tokens; a dash for none. */
export function costText(v: number | null | undefined): string {
  if (!fin(v)) return DASH;
  return `$${v >= 100 ? fmtNum(v, 0) : v >= 1 ? v.toFixed(2) : v.toFixed(3)}`;
}

/** A request rate in req/s (two decimals at most). */
export function rateText(v: number | null | undefined): string {
  return fin(v) ? `${fmtNum(v, 2)} req/s` : DASH;
}

/** A matrix value as written in the sweep file. */
function valueText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v) ?? String(v);
}

function timeText(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

/** `path = value` pairs, each in <code>. */
function valuesHtml(values: Record<string, unknown>, attr = false): string {
  const entries = Object.entries(values);
  if (entries.length === 0) return '<span class="muted">the stack file as it is (no matrix)</span>';
  return entries.map(([k, v]) => `<code${attr ? ` data-rec-value="${h(k)}"` : ''}>${h(k)} = ${h(valueText(v))}</code>`).join(' ');
}

/** A short label of a cell: each axis (a path's last segment, or a zip group's name) = its value. */
function cellLabel(c: SweepCellResult): string {
  const entries = Object.entries(c.labels ?? c.values);
  if (entries.length === 0) return c.id;
  return entries.map(([k, v]) => `${k.split('.').pop()!.replace(/\[\d+\]$/, '')}=${valueText(v)}`).join(', ');
}

/** The scenario's SLO in words (`TTFT ≤ 2000 ms, ITL ≤ 50.0 ms`); null when sweep.json does not record it. */
function sloText(r: SweepResult): string | null {
  if (!r.slo) return null;
  const parts = Object.entries(r.slo).filter(([, v]) => fin(v)).map(([k, v]) => `${k.replace(/_ms$/, '').toUpperCase()} ≤ ${latencyText(v as number)}`);
  return parts.length ? parts.join(', ') : 'none set';
}

const rateKey = (r: number): string => r.toPrecision(10);
const sameRate = (a: number | null | undefined, b: number | null | undefined): boolean => fin(a) && fin(b) && rateKey(a) === rateKey(b);

/** The measurement a cell is ranked by (its best_rate), if measured. */
function rankedMeasurement(c: SweepCellResult): SweepMeasurement | undefined {
  return c.measurements.find((m) => sameRate(m.rate, c.best_rate));
}

const passes = (m: SweepMeasurement, target: number): boolean => fin(m.goodput_fraction) && m.goodput_fraction >= target;

// ---------------------------------------------------------------------------------------------
// Colours.

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#ea580c', '#475569'];

/** The colour of the i-th cell: a fixed palette, then hues spread by the golden angle. */
function cellColour(i: number): string {
  if (i < PALETTE.length) return PALETTE[i]!;
  const hue = Math.round((i * 137.508) % 360);
  return `hsl(${hue}, 62%, ${i % 2 === 0 ? 42 : 55}%)`;
}

// ---------------------------------------------------------------------------------------------
// Axes.

interface Axis {
  lo: number;
  hi: number;
  log: boolean;
  ticks: number[];
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * p;
}

/** A linear axis from 0 to a round number above `max` (5 or so ticks). */
function linearAxis(max: number): Axis {
  const top = max > 0 ? max * 1.04 : 1;
  const step = niceStep(top / 5);
  const n = Math.max(1, Math.ceil(top / step - 1e-9));
  const ticks = Array.from({ length: n + 1 }, (_, i) => Number((i * step).toPrecision(12)));
  return { lo: 0, hi: ticks[ticks.length - 1]!, log: false, ticks };
}

/** A log axis from the decade at or below `min` to the decade at or above `max`. */
function logAxis(min: number, max: number): Axis {
  const a = Math.floor(Math.log10(min));
  let b = Math.ceil(Math.log10(max));
  if (a === b) b += 1;
  const ticks: number[] = [];
  const mults = b - a <= 2 ? [1, 2, 5] : [1];
  for (let e = a; e <= b; e++) for (const m of mults) {
    const v = Number((m * 10 ** e).toPrecision(12));
    if (v <= 10 ** b * 1.000001) ticks.push(v);
  }
  return { lo: 10 ** a, hi: 10 ** b, log: true, ticks };
}

/** Latency axes: log when the values are all positive and span 20x or more, linear from 0 otherwise. */
function autoAxis(values: readonly number[]): Axis {
  if (values.length === 0) return linearAxis(1);
  const min = Math.min(...values);
  const max = Math.max(...values);
  if (min > 0 && max / min >= 20) return logAxis(min, max);
  return linearAxis(max);
}

/** Where `v` lies on the axis, 0..1. */
function frac(a: Axis, v: number): number {
  if (a.log) return (Math.log10(Math.max(v, a.lo)) - Math.log10(a.lo)) / (Math.log10(a.hi) - Math.log10(a.lo));
  return a.hi === a.lo ? 0 : (v - a.lo) / (a.hi - a.lo);
}

function tickText(v: number): string {
  if (v >= 1_000_000) return `${Number((v / 1_000_000).toPrecision(3))}M`;
  if (v >= 10_000) return `${Number((v / 1000).toPrecision(3))}k`;
  return fmtNum(Number(v.toPrecision(4)), 3);
}

const r1 = (v: number): string => (Math.round(v * 10) / 10).toString();

// ---------------------------------------------------------------------------------------------
// Pareto charts.

interface ChartDef {
  id: string;
  title: string;
  note: string;
  xLabel: string;
  yLabel: string;
  x: (m: SweepMeasurement) => number | null;
  y: (m: SweepMeasurement) => number | null;
}

const CHARTS: readonly ChartDef[] = [
  {
    id: 'goodput-ttft',
    title: 'Goodput vs p95 TTFT',
    note: 'Up and to the left is better: more requests per second meeting the SLO, at a lower p95 time to first token.',
    xLabel: 'p95 time to first token (ms)',
    yLabel: 'goodput (req/s meeting the SLO)',
    x: (m) => m.ttft_p95_ms,
    y: (m) => m.goodput_rps,
  },
  {
    id: 'tokens-itl',
    title: 'Output tokens/s vs p95 ITL',
    note: 'Up and to the left is better: more output tokens per second, at a lower p95 inter-token latency.',
    xLabel: 'p95 inter-token latency (ms)',
    yLabel: 'output throughput (tok/s)',
    x: (m) => m.itl_p95_ms,
    y: (m) => m.output_tokens_per_s,
  },
];

interface PlotPoint {
  cellIndex: number;
  cell: SweepCellResult;
  m: SweepMeasurement;
  x: number;
  y: number;
  pareto: boolean;
  best: boolean;
}

interface ChartPoints {
  def: ChartDef;
  points: PlotPoint[];
  /** Measurements with no value to plot (x or y missing). */
  missing: number;
  /** The Pareto-optimal points, by x ascending. */
  front: PlotPoint[];
}

function isBestMeasurement(r: SweepResult, c: SweepCellResult, m: SweepMeasurement): boolean {
  return r.best !== null && r.best.cell === c.id && sameRate(m.rate, r.best.rate);
}

function chartPoints(r: SweepResult, def: ChartDef): ChartPoints {
  const points: PlotPoint[] = [];
  let missing = 0;
  r.cells.forEach((cell, cellIndex) => {
    for (const m of cell.measurements) {
      const x = def.x(m);
      const y = def.y(m);
      if (!fin(x) || !fin(y)) {
        missing++;
        continue;
      }
      points.push({ cellIndex, cell, m, x, y, pareto: false, best: isBestMeasurement(r, cell, m) });
    }
  });
  const front = paretoFront(points).map((i) => points[i]!);
  for (const p of front) p.pareto = true;
  return { def, points, missing, front };
}

const W = 580;
const HT = 360;
const PAD = { l: 66, r: 20, t: 16, b: 50 };

function pointTitle(p: PlotPoint, def: ChartDef): string {
  const m = p.m;
  const lines = [
    `${cellLabel(p.cell)} (cell ${p.cell.id})`,
    `rate ${rateText(m.rate)}, goodput fraction ${pctText(m.goodput_fraction)}`,
    `goodput ${numText(m.goodput_rps, 2)} req/s, throughput ${numText(m.throughput_rps, 2)} req/s`,
    `output ${numText(m.output_tokens_per_s, 0)} tok/s`,
    `p95 TTFT ${latencyText(m.ttft_p95_ms)}, p95 ITL ${latencyText(m.itl_p95_ms)}`,
  ];
  if (m.saturated) lines.push('client saturated: the figures may understate the stack');
  if (p.pareto) lines.push(`Pareto-optimal (${def.title})`);
  if (p.best) lines.push('recommended configuration');
  return lines.join('\n');
}

function paretoSvg(cp: ChartPoints): string {
  const { def, points, front } = cp;
  const xa = autoAxis(points.map((p) => p.x));
  const ya = linearAxis(points.length ? Math.max(...points.map((p) => p.y)) : 1);
  const pw = W - PAD.l - PAD.r;
  const ph = HT - PAD.t - PAD.b;
  const X = (v: number): number => PAD.l + frac(xa, v) * pw;
  const Y = (v: number): number => PAD.t + (1 - frac(ya, v)) * ph;
  const out: string[] = [];
  out.push(`<svg class="plot" viewBox="0 0 ${W} ${HT}" role="img" aria-label="${h(`${def.title}: ${points.length} measurements, ${front.length} Pareto-optimal`)}" xmlns="http://www.w3.org/2000/svg">`);
  // Grid and ticks.
  out.push('<g class="grid">');
  for (const t of xa.ticks) out.push(`<line x1="${r1(X(t))}" x2="${r1(X(t))}" y1="${PAD.t}" y2="${PAD.t + ph}"/>`);
  for (const t of ya.ticks) out.push(`<line x1="${PAD.l}" x2="${PAD.l + pw}" y1="${r1(Y(t))}" y2="${r1(Y(t))}"/>`);
  out.push('</g><g class="tick-labels">');
  for (const t of xa.ticks) out.push(`<text x="${r1(X(t))}" y="${PAD.t + ph + 16}" text-anchor="middle">${h(tickText(t))}</text>`);
  for (const t of ya.ticks) out.push(`<text x="${PAD.l - 6}" y="${r1(Y(t) + 4)}" text-anchor="end">${h(tickText(t))}</text>`);
  out.push('</g>');
  out.push(`<rect class="frame" x="${PAD.l}" y="${PAD.t}" width="${pw}" height="${ph}"/>`);
  out.push(`<text class="axis-label" x="${PAD.l + pw / 2}" y="${HT - 8}" text-anchor="middle">${h(def.xLabel)}${xa.log ? ' (log scale)' : ''}</text>`);
  out.push(`<text class="axis-label" transform="translate(14 ${PAD.t + ph / 2}) rotate(-90)" text-anchor="middle">${h(def.yLabel)}</text>`);
  // The front: a step line (for a latency budget between two optimal points, the left one is the best reachable).
  if (front.length > 0) {
    let d = `M${r1(X(front[0]!.x))} ${r1(Y(front[0]!.y))}`;
    for (let i = 1; i < front.length; i++) d += `H${r1(X(front[i]!.x))}V${r1(Y(front[i]!.y))}`;
    out.push(`<path class="front" d="${d}"/>`);
  }
  // Points: dominated first, optimal on top.
  const ordered = [...points.filter((p) => !p.pareto), ...points.filter((p) => p.pareto)];
  for (const p of ordered) {
    const attrs = `class="pt${p.pareto ? ' pareto' : ''}" cx="${r1(X(p.x))}" cy="${r1(Y(p.y))}" r="${p.pareto ? 5.5 : 4}" fill="${cellColour(p.cellIndex)}" data-cell="${h(p.cell.id)}" data-rate="${p.m.rate}"${p.pareto ? ' data-pareto="1"' : ''}${p.best ? ' data-best="1"' : ''}`;
    out.push(`<circle ${attrs}><title>${h(pointTitle(p, def))}</title></circle>`);
  }
  const best = points.find((p) => p.best);
  if (best) {
    const bx = X(best.x);
    const by = Y(best.y);
    out.push(`<circle class="best-ring" cx="${r1(bx)}" cy="${r1(by)}" r="10"/>`);
    const left = bx > PAD.l + pw - 90;
    out.push(`<text class="best-label" x="${r1(left ? bx - 14 : bx + 14)}" y="${r1(Math.max(PAD.t + 10, by - 8))}" text-anchor="${left ? 'end' : 'start'}">recommended</text>`);
  }
  out.push('</svg>');
  return out.join('');
}

function legendHtml(r: SweepResult): string {
  const items = r.cells.map((c, i) => `<li data-legend-cell="${h(c.id)}" title="${h(c.id)}"><span class="sw" style="background:${cellColour(i)}"></span>${h(cellLabel(c))}</li>`);
  const key = `<li class="key"><svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true"><circle cx="7" cy="7" r="4" fill="#9ca3af"/></svg>a measurement</li>
<li class="key"><svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true"><circle cx="7" cy="7" r="5" fill="#9ca3af" stroke="#111827" stroke-width="1.6"/></svg>Pareto-optimal</li>
<li class="key"><svg width="22" height="14" viewBox="0 0 22 14" aria-hidden="true"><path d="M1 11H11V3H21" fill="none" stroke="#111827" stroke-width="1.5"/></svg>Pareto front</li>
<li class="key"><svg width="22" height="22" viewBox="0 0 22 22" aria-hidden="true"><circle cx="11" cy="11" r="9" fill="none" stroke="#111827" stroke-width="2" stroke-dasharray="3 2"/></svg>recommended</li>`;
  // A long legend (many cells) is folded away; the table names every cell too.
  return `<details class="legend-box"${r.cells.length <= 16 ? ' open' : ''}><summary>Cells (${r.cells.length}), by colour</summary><ul class="legend">${items.join('')}</ul></details><ul class="legend keys">${key}</ul>`;
}

function paretoSection(r: SweepResult, charts: readonly ChartPoints[]): string {
  const figs = charts.map((cp) => {
    const body = cp.points.length
      ? paretoSvg(cp)
      : '<p class="muted empty-chart">No measurement has both values to plot (none had a successful request).</p>';
    const missing = cp.missing ? `<div class="chart-note">${cp.missing} measurement${cp.missing === 1 ? '' : 's'} with no value to plot (no successful request) left out.</div>` : '';
    return `<figure class="chart" data-chart="${h(cp.def.id)}" data-points="${cp.points.length}" data-pareto-count="${cp.front.length}">
<div class="chart-title">${h(cp.def.title)} <small>${cp.front.length} Pareto-optimal of ${cp.points.length}</small></div>
<div class="chart-note">${h(cp.def.note)}</div>
${body}
${missing}
</figure>`;
  });
  return `<section id="pareto" class="section">
<h2>Pareto charts</h2>
${legendHtml(r)}
<div class="two-col">${figs.join('\n')}</div>
<p class="hint">Every measurement of every cell is a point, coloured by cell (hover for its values). A point is Pareto-optimal when no other measurement has both a lower or equal latency and a higher or equal figure, one of them strictly; the step line joins them: for a latency budget, the highest point of the line at or left of it is the best the sweep found. Measurements that failed the target goodput fraction are plotted too: their goodput counts only requests meeting the SLO.</p>
</section>`;
}

// ---------------------------------------------------------------------------------------------
// Header and recommendation.

function loadText(r: SweepResult): string {
  const l = r.load;
  if (l.kind === 'rates') return `fixed rates: ${l.rates.map((x) => fmtNum(x, 3)).join(', ')} req/s`;
  return `saturation search from ${rateText(l.start)} up to ${rateText(l.max)}, to a precision of ${fmtNum(l.precision * 100, 2)}% (hi / lo − 1), at most ${l.maxSteps} measurements per cell`;
}

function headerSection(r: SweepResult, measurements: number, done: number): string {
  const k = r.cell.time_scale;
  const deployment = r.mode === 'deployment';
  const slo = sloText(r);
  const meta: Array<[string, string]> = [
    ['scenario', `<code title="${h(r.scenario)}">${h(path.basename(r.scenario))}</code>`],
    ['stack', `<code title="${h(r.stack)}">${h(path.basename(r.stack))}</code>`],
    ['sweep file', `<code title="${h(r.file)}">${h(path.basename(r.file))}</code>`],
    ['measured on', deployment ? 'a real deployment (the sweep file\'s apply/ready commands)' : r.mode === 'virtual' ? 'the simulated engine\'s model on a virtual clock (--virtual: no gateway, client or timers)' : 'a fresh simulated stack per measurement'],
    ['per measurement', `<span data-metric="duration">${h(formatDuration(r.cell.duration_s * 1000))}</span>${deployment ? '' : ' of real-GPU time'}`],
    ['time scale', `<span data-metric="time_scale">${h(fmtNum(k, 3))}</span>${k !== 1 && !deployment ? ` (simulated GPUs ${h(fmtNum(k, 3))}× faster: ${h(formatDuration((r.cell.duration_s * 1000) / k))} of wall time each)` : ''}`],
    ['target goodput', `<span data-metric="target_goodput">${h(pctText(r.target_goodput))}</span> of requests meeting the SLO${slo ? ` (${h(slo)})` : ''}`],
    ['load', `<span data-metric="load">${h(loadText(r))}</span>`],
    ['cells', `${done} of ${r.cells.length} done, ${measurements} measurement${measurements === 1 ? '' : 's'}`],
    ['GPU price', r.gpu_hour !== null ? `${h(costText(r.gpu_hour))} per GPU-hour` : '<span class="muted">not set (no cost figures)</span>'],
    ['started', h(timeText(r.started_at))],
    ['updated', h(timeText(r.updated_at))],
  ];
  const state = r.complete
    ? `<div class="banner good" data-complete="true">Complete: every cell measured (${r.cells.length} cells, ${measurements} measurements).</div>`
    : `<div class="banner bad" data-complete="false"><strong>Incomplete sweep:</strong> ${done} of ${r.cells.length} cells done, ${measurements} measurements so far. This page was written while the sweep was running, or it was interrupted (continue it with <code>harness sweep FILE --resume DIR</code>); the recommendation is only made once every cell is done.</div>`;
  return `<header class="report-header">
<div class="eyebrow">Floodgate tuning sweep</div>
<h1 data-metric="name">${h(r.name)}</h1>
<dl class="kv">${meta.map(([a, b]) => `<dt>${h(a)}</dt><dd>${b}</dd>`).join('')}</dl>
</header>
<div class="banners">${state}</div>`;
}

function recFigure(label: string, value: string, key: string, sub = ''): string {
  return `<div class="card"><div class="card-title">${h(label)}</div><div class="card-main" data-rec="${h(key)}">${value}</div>${sub ? `<div class="card-sub">${sub}</div>` : ''}</div>`;
}

/** A ratio as a signed percentage difference (`+12.5%`). */
function ratioText(x: number | null | undefined): string {
  return fin(x) ? `${x >= 1 ? '+' : ''}${((x - 1) * 100).toFixed(1)}%` : DASH;
}

/** A relative link to a file of the sweep folder (given with the platform's separators). */
function relHref(rel: string): string {
  return rel.split(/[\\/]+/).filter((s) => s !== '').map((s) => (s === '..' || s === '.' ? s : encodeURIComponent(s))).join('/');
}

function recommendationSection(r: SweepResult): string {
  const search = r.load.kind === 'search';
  const target = pctText(r.target_goodput);
  const best = r.best;
  if (best) {
    const cell = r.cells.find((c) => c.id === best.cell);
    const m = cell ? rankedMeasurement(cell) : undefined;
    const gpus = cell?.gpus ?? 1;
    const raw = search ? best.rate : (m?.goodput_rps ?? null);
    const perGpu = best.score_per_gpu ?? (fin(raw) ? raw / Math.max(1, gpus) : null);
    const figures = [
      recFigure(search ? 'sustained rate' : 'best passing rate', h(rateText(best.rate)), 'rate', m ? `goodput ${h(numText(m.goodput_rps, 2))} req/s, ${h(pctText(m.goodput_fraction))} meeting the SLO` : ''),
      recFigure('per GPU', `${h(numText(perGpu, 2))} <small>req/s</small>`, 'per-gpu', `${search ? 'sustained rate' : 'goodput'} / ${gpus} GPU${gpus === 1 ? '' : 's'}: what cells are ranked by`),
      recFigure('output throughput', `${h(numText(best.goodput_tokens_per_s, 0))} <small>tok/s</small>`, 'tokens', m ? `p95 TTFT ${h(latencyText(m.ttft_p95_ms))}, p95 ITL ${h(latencyText(m.itl_p95_ms))}` : ''),
      recFigure(
        'cost per 1M output tokens',
        h(costText(best.cost_per_1m_output_tokens)),
        'cost',
        r.gpu_hour !== null ? `at ${h(costText(r.gpu_hour))}/GPU-hour × ${gpus} GPU${gpus === 1 ? '' : 's'}` : 'no price.gpu_hour in the sweep file',
      ),
    ];
    let margin: string;
    if (best.margin) {
      const mg = best.margin;
      const next = r.cells.find((c) => c.id === mg.next_cell);
      const primary = mg.score_ratio ?? (search ? mg.rate_ratio : mg.throughput_ratio);
      margin = `<span data-rec="margin">${h(ratioText(primary))}</span> goodput per GPU over the runner-up, <code data-rec="next-cell">${h(mg.next_cell)}</code>${next ? ` (${h(cellLabel(next))})` : ''}; ${h(ratioText(mg.rate_ratio))} in ${search ? 'sustained' : 'best passing'} rate, ${h(ratioText(mg.throughput_ratio))} in output tok/s.`;
    } else margin = '<span data-rec="margin">No other configuration met the target: no runner-up to compare with.</span>';
    const d = describeBest(r);
    const deploy: string[] = [];
    if (d?.stackFile) deploy.push(`<p class="rec-line">The cell's stack file: <a href="${h(relHref(d.stackFile))}"><code data-rec="stack-file">${h(d.stackFile)}</code></a>; for a GPU box: <code>harness stack render ${h(d.stackFile)} --format compose --out deploy</code>.</p>`);
    if (d && d.commands.length > 0) deploy.push(`<p class="rec-line">vLLM arguments of each worker:</p>${d.commands.map((c) => `<div class="cmd"><small>${h(c.worker)}</small><pre data-rec="vllm">${h(c.command)}</pre></div>`).join('')}`);
    return `<section id="recommendation" class="section first" data-best-cell="${h(best.cell)}">
<h2>Recommendation</h2>
<div class="rec good">
<div class="rec-head">Best configuration: ${valuesHtml(best.values, true)} <small>cell <code data-rec="cell">${h(best.cell)}</code></small></div>
<p class="rec-line">${search ? `Sustains ${h(rateText(best.rate))} with at least ${h(target)} of requests meeting the SLO` : `Most goodput of the rates at which at least ${h(target)} of requests met the SLO, at ${h(rateText(best.rate))}`}: ranked first of ${r.cells.length} cell${r.cells.length === 1 ? '' : 's'} by goodput per GPU.</p>
<div class="cards rec-cards">${figures.join('')}</div>
<p class="rec-margin">Margin: ${margin}</p>
${deploy.join('\n')}
</div>
</section>`;
  }
  // No best: either not finished, or nothing passed. Show the leader so far, or the closest cell.
  const closest = closestCell(r);
  const cm = closest ? closest.cell.measurements.find((m) => sameRate(m.rate, closest.rate)) : undefined;
  const closestHtml = closest
    ? `<p class="rec-line" data-closest-cell="${h(closest.cell.id)}">Closest: ${valuesHtml(closest.cell.values)} <small>cell <code>${h(closest.cell.id)}</code></small> reached a goodput fraction of <strong data-rec="closest-fraction">${h(pctText(closest.fraction))}</strong> (target ${h(target)}) at ${h(rateText(closest.rate))}${cm ? `: goodput ${h(numText(cm.goodput_rps, 2))} req/s, p95 TTFT ${h(latencyText(cm.ttft_p95_ms))}` : ''}.</p>`
    : '<p class="rec-line">No measurement has a goodput fraction (no request succeeded).</p>';
  if (!r.complete) {
    const lead = pickBest({ ...r, cells: r.cells.filter((c) => c.done) });
    const leader = lead ? r.cells.find((c) => c.id === lead.cell) : undefined;
    const leadHtml = leader
      ? `<p class="rec-line" data-leader-cell="${h(leader.id)}">Leading so far, of the ${r.cells.filter((c) => c.done).length} cells done: ${valuesHtml(leader.values)} <small>cell <code>${h(leader.id)}</code></small>, ${search ? 'sustaining' : 'passing at'} ${h(rateText(leader.best_rate))}, ${h(numText(leader.goodput_tokens_per_s, 0))} output tok/s.</p>`
      : closestHtml;
    return `<section id="recommendation" class="section first" data-best-cell="">
<h2>Recommendation</h2>
<div class="rec info"><div class="rec-head" data-rec="none">No recommendation yet: the sweep is not complete.</div>${leadHtml}</div>
</section>`;
  }
  return `<section id="recommendation" class="section first" data-best-cell="">
<h2>Recommendation</h2>
<div class="rec bad"><div class="rec-head" data-rec="none">No configuration met the target: none kept ${h(target)} of requests within the SLO at any rate measured.</div>${closestHtml}
<p class="hint">Try lower rates, more GPUs or other settings, or check that the SLO is reachable on this hardware.</p></div>
</section>`;
}

// ---------------------------------------------------------------------------------------------
// Saturation search.

const SW = 300;
const SH = 150;
const SP = { l: 34, r: 10, t: 10, b: 32 };

function searchSvg(c: SweepCellResult, target: number): string {
  const steps = c.measurements.filter((m) => fin(m.rate) && m.rate > 0);
  if (steps.length === 0) return '<p class="muted">Not measured yet.</p>';
  const rates = steps.map((m) => m.rate);
  const xa = logAxis(Math.min(...rates) / 1.15, Math.max(...rates) * 1.15);
  const pw = SW - SP.l - SP.r;
  const ph = SH - SP.t - SP.b;
  const X = (v: number): number => SP.l + frac(xa, v) * pw;
  const Y = (v: number): number => SP.t + (1 - Math.min(1, Math.max(0, v))) * ph;
  const out: string[] = [`<svg class="steps" viewBox="0 0 ${SW} ${SH}" role="img" aria-label="${h(`search steps of ${c.id}`)}" xmlns="http://www.w3.org/2000/svg">`];
  const sat = c.saturation;
  if (sat && fin(sat.lo) && fin(sat.hi)) out.push(`<rect class="bracket" x="${r1(X(sat.lo))}" y="${SP.t}" width="${r1(Math.max(1, X(sat.hi) - X(sat.lo)))}" height="${ph}"><title>${h(`bracket ${numText(sat.lo, 3)} – ${numText(sat.hi, 3)} req/s`)}</title></rect>`);
  out.push('<g class="grid">');
  for (const t of [0, 0.5, 1]) out.push(`<line x1="${SP.l}" x2="${SP.l + pw}" y1="${r1(Y(t))}" y2="${r1(Y(t))}"/>`);
  for (const t of xa.ticks) out.push(`<line x1="${r1(X(t))}" x2="${r1(X(t))}" y1="${SP.t}" y2="${SP.t + ph}"/>`);
  out.push('</g><g class="tick-labels">');
  for (const t of [0, 0.5, 1]) out.push(`<text x="${SP.l - 4}" y="${r1(Y(t) + 3)}" text-anchor="end">${t * 100}%</text>`);
  const every = Math.ceil(xa.ticks.length / 6);
  xa.ticks.forEach((t, i) => {
    if (i % every === 0) out.push(`<text x="${r1(X(t))}" y="${SP.t + ph + 12}" text-anchor="middle">${h(tickText(t))}</text>`);
  });
  out.push('</g>');
  out.push(`<rect class="frame" x="${SP.l}" y="${SP.t}" width="${pw}" height="${ph}"/>`);
  out.push(`<line class="target" x1="${SP.l}" x2="${SP.l + pw}" y1="${r1(Y(target))}" y2="${r1(Y(target))}"><title>target ${h(pctText(target))}</title></line>`);
  out.push(`<text class="axis-label" x="${SP.l + pw / 2}" y="${SH - 4}" text-anchor="middle">rate (req/s, log scale)</text>`);
  steps.forEach((m, i) => {
    const ok = passes(m, target);
    const x = X(m.rate);
    const y = Y(m.goodput_fraction ?? 0);
    const title = `<title>${h(`step ${i + 1}: ${rateText(m.rate)}, goodput fraction ${pctText(m.goodput_fraction)}: ${ok ? 'pass' : 'fail'}`)}</title>`;
    out.push(ok
      ? `<circle class="step pass" cx="${r1(x)}" cy="${r1(y)}" r="4" data-step="${i + 1}" data-pass="1">${title}</circle>`
      : `<path class="step fail" d="M${r1(x - 4)} ${r1(y - 4)}l8 8m0 -8l-8 8" data-step="${i + 1}" data-pass="0">${title}</path>`);
  });
  out.push('</svg>');
  return out.join('');
}

function searchSection(r: SweepResult): string {
  if (r.load.kind !== 'search') return '';
  const target = r.target_goodput;
  const cards = r.cells.map((c, i) => {
    const s = c.saturation;
    const bracket = s ? `${numText(s.lo, 3)} – ${numText(s.hi, 3)} req/s` : DASH;
    const state = !s ? (c.measurements.length ? 'searching' : 'not started') : s.converged ? 'converged' : 'not converged';
    const steps = c.measurements
      .map((m, k) => `<span class="${passes(m, target) ? 'pass-text' : 'bad-text'}">${k + 1}: ${h(numText(m.rate, 2))} → ${h(pctText(m.goodput_fraction))} ${passes(m, target) ? '✓' : '✗'}</span>`)
      .join(' · ');
    return `<div class="search-cell" data-saturation-cell="${h(c.id)}">
<div class="search-title"><span class="sw" style="background:${cellColour(i)}"></span>${h(cellLabel(c))} <small><code>${h(c.id)}</code></small></div>
${searchSvg(c, target)}
<div class="search-facts">sustainable <strong data-sustained>${h(s ? rateText(s.rate) : DASH)}</strong> · bracket <span data-bracket>${h(bracket)}</span> · <span data-converged="${s ? String(s.converged) : ''}" class="${s?.converged ? 'pass-text' : 'bad-text'}">${h(state)}</span> · ${c.measurements.length} step${c.measurements.length === 1 ? '' : 's'}</div>
<div class="search-steps">${steps || '<span class="muted">no step yet</span>'}</div>
</div>`;
  });
  return `<section id="search" class="section">
<h2>Saturation search</h2>
<p class="hint">Per cell, each measurement of the search in the order it was taken: the rate (log scale) against the share of requests meeting the SLO, the dashed line the target (${h(pctText(target))}), ● a rate that passed, ✗ one that failed. The shaded band is the final bracket: the highest passing rate (lo) to the lowest failing one (hi); converged means hi / lo − 1 is within the precision asked.</p>
<div class="search-grid">${cards.join('\n')}</div>
</section>`;
}

// ---------------------------------------------------------------------------------------------
// The measurements table.

function runLink(runDir: string): string {
  if (runDir === '') return '<span class="muted" title="measured on the engine\'s model: no run folder">–</span>';
  return `<a href="${h(relHref(`${runDir}/${REPORT_FILE}`))}">report</a>`;
}

function tableSection(r: SweepResult, charts: readonly ChartPoints[]): string {
  const paths: string[] = [];
  for (const c of r.cells) for (const k of Object.keys(c.values)) if (!paths.includes(k)) paths.push(k);
  const onFront = new Map<SweepMeasurement, string[]>();
  for (const cp of charts) for (const p of cp.front) onFront.set(p.m, [...(onFront.get(p.m) ?? []), cp.def.id]);
  const frontName: Record<string, string> = { 'goodput-ttft': 'TTFT', 'tokens-itl': 'ITL' };
  const head = ['cell', ...paths, 'GPUs', 'rate (req/s)', 'goodput fraction', 'goodput (req/s)', 'throughput (req/s)', 'output tok/s', 'TTFT p95', 'ITL p95', 'errors', 'KV cache max', '$/1M out tok', 'Pareto', 'best', 'run'];
  const rows: string[] = [];
  r.cells.forEach((c, i) => {
    // The cell's own columns, once per cell (spanning its rows).
    const span = Math.max(1, c.measurements.length);
    const rs = span > 1 ? ` rowspan="${span}"` : '';
    const cellTds =
      `<td class="cell-id"${rs}><span class="sw" style="background:${cellColour(i)}"></span><code>${h(c.id)}</code></td>` +
      paths.map((p) => `<td${rs}>${p in c.values ? h(valueText(c.values[p])) : DASH}</td>`).join('') +
      `<td${rs}>${c.gpus}</td>`;
    if (c.measurements.length === 0) {
      rows.push(`<tr data-cell="${h(c.id)}" class="pending group">${cellTds}<td colspan="${head.length - paths.length - 2}" class="muted">not measured yet</td></tr>`);
      return;
    }
    [...c.measurements].sort((a, b) => a.rate - b.rate).forEach((m, k) => {
      const fronts = onFront.get(m) ?? [];
      const best = isBestMeasurement(r, c, m);
      const cellBest = sameRate(m.rate, c.best_rate);
      const ok = passes(m, r.target_goodput);
      const cls = [k === 0 ? 'group' : '', best ? 'best-row' : '', ok ? '' : 'below'].filter(Boolean).join(' ');
      rows.push(
        `<tr data-cell="${h(c.id)}" data-rate="${m.rate}"${fronts.length ? ` data-pareto="${fronts.join(' ')}"` : ''}${best ? ' data-best="1"' : ''}${cls ? ` class="${cls}"` : ''}>` +
          (k === 0 ? cellTds : '') +
          `<td>${h(numText(m.rate, 2))}${m.saturated ? ' <span class="tag warn" title="client saturated: the client could not keep to the schedule, the figures may understate the stack">⚠ sat.</span>' : ''}</td>` +
          `<td class="${ok ? 'pass-text' : 'bad-text'}" title="${ok ? 'meets' : 'below'} the target ${h(pctText(r.target_goodput))}">${h(pctText(m.goodput_fraction))}</td>` +
          `<td>${h(numText(m.goodput_rps, 2))}</td>` +
          `<td>${h(numText(m.throughput_rps, 2))}</td>` +
          `<td>${h(numText(m.output_tokens_per_s, 0))}</td>` +
          `<td>${h(latencyText(m.ttft_p95_ms))}</td>` +
          `<td>${h(latencyText(m.itl_p95_ms))}</td>` +
          `<td>${h(pctText(m.error_rate))}</td>` +
          `<td title="${m.server ? h(`server: most requests running ${numText(m.server.running_max, 0)}, waiting ${numText(m.server.queue_depth_max, 0)}, preemptions/s ${numText(m.server.preemptions_per_s, 2)}`) : 'the server was not sampled'}">${h(pctText(m.server?.kv_cache_usage_max ?? null))}</td>` +
          `<td>${h(costText(costPerMillion(r.gpu_hour, c.gpus, fin(m.output_tokens_per_s) ? m.output_tokens_per_s : null)))}</td>` +
          `<td class="marks">${fronts.map((f) => `<span class="tag">◆ ${h(frontName[f] ?? f)}</span>`).join(' ')}</td>` +
          `<td>${best ? '<span class="badge pass">★ best</span>' : cellBest ? '<span class="muted" title="the rate this cell is ranked by">cell best</span>' : ''}</td>` +
          `<td>${runLink(m.run_dir)}</td>` +
          '</tr>',
      );
    });
  });
  // Matrix paths may break after each dot.
  const th = (x: string, k: number): string => (k >= 1 && k <= paths.length ? `<th class="path">${x.split('.').map(h).join('.<wbr>')}</th>` : `<th>${h(x)}</th>`);
  const tableHead = `<tr>${head.map(th).join('')}</tr>`;
  return `<section id="measurements" class="section">
<h2>All measurements</h2>
<div class="table-wrap"><table class="num sweep-table"><thead>${tableHead}</thead><tbody>${rows.join('\n')}</tbody></table></div>
<p class="hint">One row per measurement, by cell and rate; each links to that measurement's own run report. Goodput fractions below the target (${h(pctText(r.target_goodput))}) are in red. ◆ TTFT / ◆ ITL: on the Pareto front of the goodput–TTFT / tokens–ITL chart. “cell best”: the rate a cell is ranked by (its highest passing rate). ⚠ sat.: the client could not keep to the schedule (the figures may understate the stack).</p>
</section>`;
}

// ---------------------------------------------------------------------------------------------
// Notes and the page.

function notesSection(r: SweepResult): string {
  const k = r.cell.time_scale;
  const slo = sloText(r);
  const units = r.mode === 'deployment'
    ? 'Every figure is as measured against the deployment (real GPUs: no time scaling).'
    : r.mode === 'virtual'
    ? 'Every figure is the simulated engine\'s, on a virtual clock (virtualRun: its scheduler, KV cache and performance model), for the requests the scenario plans at each rate: no gateway, client, HTTP or timers, and no time scaling. A live sweep adds those; bench/sweeps compares the two.'
    : `Every figure is in real-GPU units. The simulated GPUs ran ${h(fmtNum(k, 3))} times faster than the real ones, so each measurement of rate r for ${h(formatDuration(r.cell.duration_s * 1000))} was sent at r × ${h(fmtNum(k, 3))} for ${h(formatDuration((r.cell.duration_s * 1000) / k))} with the SLO divided by ${h(fmtNum(k, 3))}; its rates and throughputs were then divided by ${h(fmtNum(k, 3))} and its latencies multiplied by ${h(fmtNum(k, 3))}. The client's own overhead is scaled up with them, so tight SLOs read a little pessimistic at a high time scale.`;
  return `<section id="notes" class="section">
<h2>Notes</h2>
<ul class="notes">
<li><strong>Units.</strong> ${units}</li>
<li><strong>Goodput.</strong> The requests meeting the scenario's SLO (${slo ? h(slo) : 'TTFT, ITL, TPOT, end-to-end: whichever it sets'}): the goodput fraction is their share of the requests sent, goodput req/s their rate. A rate passes when its goodput fraction is at least the target (${h(pctText(r.target_goodput))}); cells are ranked by ${r.load.kind === 'search' ? 'the highest rate their saturation search found passing' : 'their goodput at their best passing rate'} per GPU (ties: the higher output tok/s), so a cell with twice the GPUs must do twice the work to win. A measurement marked “client saturated” could not be sent on schedule: its figures may understate the stack.</li>
<li><strong>Cost.</strong> Cost per 1M output tokens = gpu_hour × GPUs / (output tok/s × 3600) × 10⁶, from the sweep file's <code>price.gpu_hour</code>${r.gpu_hour !== null ? ` (${h(costText(r.gpu_hour))})` : ' (not set here)'} and the GPUs of the cell's simulated workers (tensor_parallel_size each). It assumes the GPUs are busy all the time at the measured throughput. “$” stands for the currency of price.gpu_hour.</li>
<li><strong>Missing values.</strong> A dash is a figure the measurement does not have (no successful request); such a measurement is not plotted.</li>
</ul>
</section>`;
}

const SWEEP_CSS = `
main { max-width: 1440px; }
.rec { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.rec.good { background: var(--good-bg); border-color: #bbf7d0; }
.rec.bad { background: var(--bad-bg); border-color: #fecaca; }
.rec.info { background: var(--info-bg); border-color: #bfdbfe; }
.rec-head { font-size: 16px; font-weight: 600; margin-bottom: 6px; }
.rec-head code { font-size: 14px; background: rgba(255,255,255,.7); padding: 1px 5px; border-radius: 4px; margin-right: 4px; }
.rec-line, .rec-margin { margin: 6px 0; }
.rec-cards { grid-template-columns: repeat(4, minmax(0, 1fr)); margin: 10px 0; }
.cmd { margin: 4px 0; }
.cmd pre { background: #fff; }
.rec-cards .card { background: #fff; }
.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 14px; padding: 0; margin: 0 0 6px; font-size: 12.5px; }
.legend.keys { color: var(--muted); margin-bottom: 12px; }
.legend-box summary { cursor: pointer; color: var(--muted); font-size: 12.5px; margin-bottom: 4px; }
.legend li { display: inline-flex; align-items: center; gap: 5px; }
.sw { display: inline-block; width: 11px; height: 11px; border-radius: 50%; flex: none; vertical-align: -1px; margin-right: 4px; }
svg.plot, svg.steps { width: 100%; height: auto; display: block; font: 11px system-ui, sans-serif; }
svg .grid line { stroke: #eef0f3; stroke-width: 1; }
svg .frame { fill: none; stroke: #9ca3af; stroke-width: 1; }
svg .tick-labels text { fill: #6b7280; }
svg .axis-label { fill: #374151; font-size: 12px; }
svg .pt { stroke: #fff; stroke-width: 1; fill-opacity: .85; }
svg .pt.pareto { stroke: #111827; stroke-width: 1.6; fill-opacity: 1; }
svg .front { fill: none; stroke: #111827; stroke-width: 1.5; stroke-linejoin: round; }
svg .best-ring { fill: none; stroke: #111827; stroke-width: 2; stroke-dasharray: 3 2; }
svg .best-label { fill: #111827; font-weight: 700; }
svg .best-ring, svg .best-label, svg .front { pointer-events: none; }
svg .target { stroke: #b91c1c; stroke-width: 1.2; stroke-dasharray: 5 3; }
svg .bracket { fill: #dcfce7; }
svg .step.pass { fill: #15803d; }
svg .step.fail { stroke: #b91c1c; stroke-width: 2; fill: none; }
.search-grid { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 12px; }
.search-cell { border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px; min-width: 0; break-inside: avoid; page-break-inside: avoid; }
.search-title { font-weight: 600; font-size: 13px; margin-bottom: 4px; overflow-wrap: anywhere; }
.search-facts { font-size: 12.5px; margin-top: 4px; }
.search-steps { font-size: 11.5px; color: var(--muted); margin-top: 3px; }
.pass-text { color: var(--good); }
.tag.warn { background: #fef3c7; color: #92400e; }
.sweep-table { font-size: 12px; }
.sweep-table th, .sweep-table td { padding: 4px 5px; }
.sweep-table td.cell-id, .sweep-table th:first-child { text-align: left; }
.sweep-table td.cell-id { min-width: 140px; max-width: 210px; overflow-wrap: anywhere; }
.sweep-table td.cell-id code { font-size: 11px; }
.sweep-table th { white-space: normal; vertical-align: bottom; }
.sweep-table th.path { max-width: 140px; }
.sweep-table td { white-space: nowrap; }
.sweep-table td.cell-id { white-space: normal; }
.sweep-table tr.group td { border-top: 2px solid #d1d5db; }
.sweep-table td.marks { white-space: normal; min-width: 52px; }
.sweep-table td.marks .tag { margin: 1px 0; white-space: nowrap; }
figure.chart { margin: 0; }
.sweep-table tr.best-row td { background: #fefce8; font-weight: 600; }
.sweep-table tr.pending td { color: var(--muted); }
.notes li { margin-bottom: 6px; max-width: 100ch; }
@media (max-width: 900px) { .search-grid, .rec-cards { grid-template-columns: 1fr; } }
@media print { .search-grid { grid-template-columns: repeat(2, minmax(0, 1fr)); } .two-col { grid-template-columns: 1fr; } }
`;

/** The sweep report as one HTML document: a pure function of `result`. */
export function renderSweepHtml(result: SweepResult): string {
  const r = result;
  const charts = CHARTS.map((def) => chartPoints(r, def));
  const measurements = r.cells.reduce((n, c) => n + c.measurements.length, 0);
  const done = r.cells.filter((c) => c.done).length;
  const nav: Array<[string, string]> = [['recommendation', 'Recommendation'], ['pareto', 'Pareto charts']];
  if (r.load.kind === 'search') nav.push(['search', 'Saturation search']);
  nav.push(['measurements', 'All measurements'], ['notes', 'Notes']);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="floodgate sweep report">
<title>${h(`${r.name}: Floodgate sweep (${timeText(r.started_at)})${r.complete ? '' : ' [incomplete]'}`)}</title>
<link rel="icon" href="data:,">
<style>${REPORT_CSS}${SWEEP_CSS}</style>
</head>
<body>
<main>
${headerSection(r, measurements, done)}
<nav class="toc">${nav.map(([id, label]) => `<a href="#${id}">${label}</a>`).join('')}</nav>
${recommendationSection(r)}
${paretoSection(r, charts)}
${searchSection(r)}
${tableSection(r, charts)}
${notesSection(r)}
<footer>Written by floodgate from sweep.json (schema ${h(r.schema_version)}) at ${h(timeText(r.updated_at))}; sweep.md holds the same table as Markdown. Charts are inline SVG: no script, nothing fetched.</footer>
</main>
</body>
</html>
`;
}

/** Writes `<dir>/sweep.html` (through a temporary name: a reader never sees half a file) and returns its path. */
export function writeSweepHtml(dir: string, result: SweepResult): string {
  const file = path.join(dir, SWEEP_HTML_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, renderSweepHtml(result));
  fs.renameSync(tmp, file);
  return file;
}
