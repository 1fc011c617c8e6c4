/** Number formatting shared by the compare and gate tables (terminal and Markdown). */
import type { MetricDef } from './compare-metrics.ts';

/** A value in its unit: ms with 3 significant figures, fractions in %, rates to 2 decimals. */
export function fmtValue(v: number | null, unit: MetricDef['unit']): string {
  if (v === null) return '-';
  switch (unit) {
    case 'ms':
      return `${fmtMs(v)}`;
    case 'fraction':
      return `${(v * 100).toFixed(2)}%`;
    case 'tok/s':
      return Math.round(v).toLocaleString('en-US');
    default:
      return v.toFixed(2);
  }
}

function fmtMs(v: number): string {
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function signed(s: string, v: number): string {
  return v > 0 ? `+${s}` : v === 0 ? `±${s}` : s;
}

/** A change in the metric's unit: ms, pp for fractions. */
export function fmtDelta(v: number | null, unit: MetricDef['unit']): string {
  if (v === null) return '-';
  if (unit === 'fraction') return signed(`${(v * 100).toFixed(2)}pp`, v);
  if (unit === 'ms') return signed(fmtMs(v), v);
  if (unit === 'tok/s') return signed(Math.round(v).toLocaleString('en-US'), v);
  return signed(v.toFixed(2), v);
}

/** A relative change in %. */
export function fmtRel(v: number | null): string {
  if (v === null) return '-';
  return signed(`${(v * 100).toFixed(1)}%`, v);
}

/** An interval: relative when there is one, else in the metric's unit. */
export function fmtInterval(i: { abs: [number, number]; rel: [number, number] | null } | null, unit: MetricDef['unit']): string {
  if (!i) return '-';
  if (i.rel) return `[${fmtRel(i.rel[0])}, ${fmtRel(i.rel[1])}]`;
  return `[${fmtDelta(i.abs[0], unit)}, ${fmtDelta(i.abs[1], unit)}]`;
}

/** Text padded to a width (left or right aligned). */
export function pad(s: string, w: number, right = false): string {
  return right ? s.padStart(w) : s.padEnd(w);
}

/** Rows of cells as aligned columns (first column left, the rest right), two spaces apart. */
export function columns(rows: readonly string[][], leftCols = 1): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => pad(c, widths[i]!, i >= leftCols)).join('  ').trimEnd());
}

/** A Markdown table. */
export function markdownTable(header: readonly string[], rows: readonly string[][], align: readonly ('l' | 'r')[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [`| ${header.map(esc).join(' | ')} |`, `|${align.map((a) => (a === 'r' ? '---:' : '---')).join('|')}|`];
  for (const r of rows) lines.push(`| ${r.map(esc).join(' | ')} |`);
  return lines.join('\n');
}
