/**
 * `harness compare` output, pure functions of a Comparison: the side-by-side terminal table,
 * a terminal bar chart of the key percentiles, and the Markdown table (for PR comments).
 */
import { CHART_METRICS, COMPARE_METRICS } from './compare-metrics.ts';
import type { Comparison } from './comparison.ts';
import type { MetricComparison } from './compare-runs.ts';
import { columns, fmtDelta, fmtInterval, fmtRel, fmtValue, markdownTable } from './format.ts';

function header(c: Comparison): string[] {
  const pct = Math.round(c.confidence * 100);
  return [
    `  compare  ${c.runs.map((r, i) => `${r.label} = ${r.dir}${i === 0 ? ' (reference)' : ''}`).join('   ')}`,
    `  intervals: ${pct}% bootstrap of each change (${c.resamples} resamples, seed ${c.seed}); "within noise": the interval contains 0`,
  ];
}

function row(c: Comparison, def: (typeof COMPARE_METRICS)[number]): string[] {
  const first = c.against[0]?.metrics.find((m) => m.metric === def.name);
  const cells = [def.name, fmtValue(first?.a ?? null, def.unit)];
  for (const o of c.against) {
    const m = o.metrics.find((x) => x.metric === def.name)!;
    cells.push(fmtValue(m.b, m.unit), fmtDelta(m.delta, m.unit), fmtRel(m.rel), fmtInterval(m.interval, m.unit), m.verdict);
  }
  return cells;
}

/** The side-by-side table: the reference's value, then per run: value, change, %, interval, verdict. */
export function renderCompareTable(c: Comparison): string {
  const head = ['metric', c.runs[0]!.label];
  for (const o of c.against) head.push(o.label, `Δ ${o.label}`, `Δ% ${o.label}`, `${Math.round(c.confidence * 100)}% interval`, 'verdict');
  const rows = [head, ...COMPARE_METRICS.map((d) => row(c, d))];
  const lines = [...header(c), '', ...columns(rows).map((l) => `  ${l}`)];
  if (c.notes.length) lines.push('', ...c.notes.map((n) => `  note: ${n}`));
  return lines.join('\n') + '\n';
}

const BAR_WIDTH = 40;

/** Horizontal bars of the key percentiles, one per run, scaled per metric to the largest. */
export function renderCompareChart(c: Comparison): string {
  const lines: string[] = [];
  for (const name of CHART_METRICS) {
    const ms: (MetricComparison | undefined)[] = c.against.map((o) => o.metrics.find((m) => m.metric === name));
    const values = [ms[0]?.a ?? null, ...ms.map((m) => m?.b ?? null)];
    const max = Math.max(0, ...values.filter((v): v is number => v !== null));
    lines.push(`  ${name} (ms)`);
    values.forEach((v, i) => {
      const n = v === null || max <= 0 ? 0 : Math.max(v > 0 ? 1 : 0, Math.round((v / max) * BAR_WIDTH));
      const m = i === 0 ? undefined : ms[i - 1];
      const tail = m ? `  ${fmtRel(m.rel).padStart(7)}  ${m.verdict}` : '';
      lines.push(`    ${c.runs[i]!.label}  ${'█'.repeat(n).padEnd(BAR_WIDTH)}  ${fmtValue(v, 'ms').padStart(7)}${tail}`);
    });
  }
  return lines.join('\n') + '\n';
}

/** The comparison as a Markdown table (GitHub-flavoured), with the runs named above it. */
export function renderCompareMarkdown(c: Comparison): string {
  const pct = Math.round(c.confidence * 100);
  const runs = c.runs.map((r, i) => `**${r.label}** \`${r.name}\`${i === 0 ? ' (reference)' : ''}`).join(', ');
  const head = ['metric', c.runs[0]!.label];
  const align: ('l' | 'r')[] = ['l', 'r'];
  for (const o of c.against) {
    head.push(o.label, `Δ ${o.label}`, `Δ% ${o.label}`, `${pct}% interval`, 'verdict');
    align.push('r', 'r', 'r', 'r', 'l');
  }
  const rows = COMPARE_METRICS.map((d) => {
    const r = row(c, d);
    return r.map((cell, i) => (i >= 2 && (i - 2) % 5 === 4 && (cell === 'worse' || cell === 'better') ? `**${cell}**` : cell));
  });
  const out = [
    `### Floodgate comparison`,
    '',
    `Runs: ${runs}. Intervals: ${pct}% bootstrap of each change (${c.resamples} resamples, seed ${c.seed}); *within noise* means the interval contains 0.`,
    '',
    markdownTable(head, rows, align),
  ];
  if (c.notes.length) out.push('', ...c.notes.map((n) => `- ${n}`));
  return out.join('\n') + '\n';
}
