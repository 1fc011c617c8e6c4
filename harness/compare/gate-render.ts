/**
 * `harness gate` output, pure functions of a GateResult: the explanation table for the terminal
 * and the same as Markdown (for $GITHUB_STEP_SUMMARY or a PR comment).
 */
import type { GateResult, GateRow } from './gate.ts';
import { columns, fmtDelta, fmtInterval, fmtRel, fmtValue, markdownTable } from './format.ts';

export interface GateContext {
  run: string;
  baseline: string;
  confidence: number;
  notes: readonly string[];
}

function change(r: GateRow): string {
  if (r.delta === null) return '-';
  return r.rel !== null ? `${fmtDelta(r.delta, r.unit)} (${fmtRel(r.rel)})` : fmtDelta(r.delta, r.unit);
}

function cells(r: GateRow): string[] {
  return [r.metric, fmtValue(r.baseline, r.unit), fmtValue(r.run, r.unit), change(r), r.allowed, fmtInterval(r.interval, r.unit), `${r.status.toUpperCase()}  ${r.reason}`];
}

/** One line: the verdict and, on failure, each failing metric with its change and limit. */
export function gateHeadline(g: GateResult): string {
  if (g.pass) return `gate: PASS: no metric regressed beyond its limit and beyond noise (${g.rows.length} checked)`;
  const what = g.rows.filter((r) => r.status === 'fail').map((r) => `${r.metric} ${r.run === null ? 'has no value' : `${r.allowed.endsWith('%') && r.rel !== null ? fmtRel(r.rel) : fmtDelta(r.delta, r.unit)} (allowed ${r.allowed})`}`);
  return `gate: FAIL: ${g.failed.length} of ${g.rows.length} metrics regressed: ${what.join(', ')}`;
}

export function renderGateTable(g: GateResult, ctx: GateContext): string {
  const pct = Math.round(ctx.confidence * 100);
  const head = ['metric', 'baseline', 'run', 'change', 'allowed', `${pct}% interval`, 'verdict'];
  const lines = [
    `  gate  ${ctx.run}  against baseline  ${ctx.baseline}`,
    '  a metric fails when its change is worse than allowed AND its interval lies wholly on the bad side of 0',
    '',
    ...columns([head, ...g.rows.map(cells)]).map((l) => `  ${l}`),
  ];
  if (ctx.notes.length) lines.push('', ...ctx.notes.map((n) => `  note: ${n}`));
  lines.push('', `  ${gateHeadline(g)}`);
  return lines.join('\n') + '\n';
}

export function renderGateMarkdown(g: GateResult, ctx: GateContext): string {
  const pct = Math.round(ctx.confidence * 100);
  const rows = g.rows.map((r) => {
    const c = cells(r);
    c[6] = r.status === 'fail' ? `**FAIL** ${r.reason}` : `pass: ${r.reason}`;
    return c;
  });
  const out = [
    `### Floodgate gate: ${g.pass ? 'PASS' : 'FAIL'}`,
    '',
    `Run \`${ctx.run}\` against baseline \`${ctx.baseline}\`. A metric fails when its change is worse than allowed **and** its ${pct}% bootstrap interval lies wholly on the bad side of 0.`,
    '',
    markdownTable(['metric', 'baseline', 'run', 'change', 'allowed', `${pct}% interval`, 'verdict'], rows, ['l', 'r', 'r', 'r', 'r', 'r', 'l']),
    '',
    gateHeadline(g),
  ];
  if (ctx.notes.length) out.push('', ...ctx.notes.map((n) => `- ${n}`));
  return out.join('\n') + '\n';
}
