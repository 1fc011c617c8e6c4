/**
 * The sweep's recommendation in words, shared by the terminal, sweep.md and sweep.html: the
 * best cell's values, what it sustains, its margin over the runner-up, its cost, and how to
 * deploy it (the cell's stack file, and the `vllm serve` arguments of each of its workers).
 */
import path from 'node:path';
import type { SweepCellResult, SweepResult } from './run-sweep.ts';
import type { SweepSpec } from './sweep-file.ts';
import { shellQuote } from './deploy-commands.ts';

const f = (v: number | null | undefined, d = 2): string => (v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(d));

export interface BestDescription {
  /** `path = value` for each swept path of the best cell (empty: the stack as it is). */
  settings: string[];
  /** One sentence: what it sustains, throughput, cost. */
  headline: string;
  /** One sentence on the runner-up, or null for a one-cell sweep. */
  margin: string | null;
  /** `vllm serve ...` per simulated worker of the best cell. */
  commands: Array<{ worker: string; command: string }>;
  /** The best cell's stack file, relative to the sweep folder. */
  stackFile: string | null;
}

export function describeBest(r: SweepResult): BestDescription | null {
  const b = r.best;
  if (!b) return null;
  const search = r.load.kind === 'search';
  const cell = r.cells.find((c) => c.id === b.cell);
  const gpus = cell?.gpus ?? 1;
  const headline =
    `${search ? 'sustains' : 'best passing rate'} ${f(b.rate)} req/s with goodput >= ${r.target_goodput} under the SLO` +
    ` (${f(b.score_per_gpu ?? (b.rate ?? 0) / Math.max(1, gpus))} req/s per GPU, ${gpus} GPU${gpus === 1 ? '' : 's'}), ${f(b.goodput_tokens_per_s, 0)} output tok/s` +
    (b.cost_per_1m_output_tokens !== null ? `, ${f(b.cost_per_1m_output_tokens, 3)} per 1M output tokens at ${r.gpu_hour} per GPU-hour` : '');
  let margin: string | null = null;
  if (b.margin) {
    const ratio = b.margin.score_ratio ?? (search ? b.margin.rate_ratio : b.margin.throughput_ratio);
    // Below the search's precision (or 2% between fixed rates) the two cannot be told apart.
    const resolution = r.load.kind === 'search' ? r.load.precision : 0.02;
    if (ratio === null || ratio === undefined) margin = `no measured margin over the runner-up, ${b.margin.next_cell}`;
    else if (ratio - 1 <= resolution) margin = `a tie with the runner-up, ${b.margin.next_cell} (${((ratio - 1) * 100).toFixed(1)}% more goodput per GPU, within the ${(resolution * 100).toFixed(0)}% the sweep can resolve): choose between them on cost or other grounds, or sweep them again with a finer precision`;
    else margin = `${((ratio - 1) * 100).toFixed(1)}% more goodput per GPU than the runner-up, ${b.margin.next_cell}`;
  }
  const commands = Object.entries(b.vllm_args ?? {}).map(([worker, args]) => ({ worker, command: `vllm serve ${args.map(shellQuote).join(' ')}` }));
  return { settings: Object.entries(b.values).map(([k, v]) => `${k} = ${JSON.stringify(v)}`), headline, margin, commands, stackFile: b.stack_file ?? null };
}

/** The cell that came closest when none met the target: the highest goodput fraction measured. */
export function closestCell(r: SweepResult): { cell: SweepCellResult; rate: number; fraction: number } | null {
  let best: { cell: SweepCellResult; rate: number; fraction: number } | null = null;
  for (const c of r.cells) for (const m of c.measurements) if (m.goodput_fraction !== null && (best === null || m.goodput_fraction > best.fraction)) best = { cell: c, rate: m.rate, fraction: m.goodput_fraction };
  return best;
}

/** The terminal's closing lines: the recommendation and one row per cell. */
export function recommendationLines(spec: SweepSpec, r: SweepResult, dir: string): string[] {
  const out: string[] = [];
  const d = describeBest(r);
  if (d) {
    out.push(`best: ${r.best!.cell}`);
    for (const s of d.settings) out.push(`  ${s}`);
    out.push(`  ${d.headline}`);
    if (d.margin) out.push(`  ${d.margin}`);
    if (d.stackFile) out.push(`  stack file: ${path.join(dir, d.stackFile)} (harness stack render it for a GPU box)`);
    for (const c of d.commands) out.push(`  ${c.worker}: ${c.command}`);
  } else {
    const c = closestCell(r);
    out.push(`no configuration met goodput >= ${r.target_goodput} under the SLO` + (c ? `; closest: ${c.cell.id} at ${f(c.rate)} req/s (goodput ${f(c.fraction, 3)})` : ''));
  }
  out.push('');
  const labelKeys = spec.axes.map((a) => a.name);
  const header = [...labelKeys.map((k) => k.split('.').pop()!), 'GPUs', r.load.kind === 'search' ? 'sustained req/s' : 'best req/s', 'output tok/s', 'TTFT p95 ms', 'ITL p95 ms', ...(r.gpu_hour !== null ? ['$/1M out'] : [])];
  const rows = r.cells.map((c) => {
    const m = c.measurements.find((x) => c.best_rate !== null && Math.abs(x.rate - c.best_rate) < 1e-9);
    return [
      ...labelKeys.map((k) => String((c.labels ?? c.values)[k] ?? '')),
      String(c.gpus),
      f(c.best_rate),
      f(c.goodput_tokens_per_s, 0),
      f(m?.ttft_p95_ms ?? null, 0),
      f(m?.itl_p95_ms ?? null, 1),
      ...(r.gpu_hour !== null ? [f(c.cost_per_1m_output_tokens, 3)] : []),
    ].concat(r.best?.cell === c.id ? ['<- best'] : []);
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const fmt = (row: string[]): string => row.map((v, i) => (i < widths.length ? v.padStart(widths[i]!) : v)).join('  ');
  out.push(fmt(header), ...rows.map(fmt));
  return out;
}
