/**
 * report.html's own stylesheet (uPlot's is inlined beside it): light, system fonts, readable at
 * 1280x800; a print stylesheet puts each section on a new page, keeps tables and charts whole,
 * and fits charts to the page width.
 */
export const REPORT_CSS = `
:root { --fg: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg: #ffffff; --panel: #f9fafb; --accent: #2563eb;
  --good: #15803d; --good-bg: #f0fdf4; --bad: #b91c1c; --bad-bg: #fef2f2; --info-bg: #eff6ff; }
* { box-sizing: border-box; }
html { background: var(--bg); color: var(--fg); }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 20px 24px 48px; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 12.5px; }
pre { white-space: pre-wrap; word-break: break-word; margin: 0; background: var(--panel); padding: 6px 8px; border-radius: 4px; }
a { color: var(--accent); }
h1 { font-size: 26px; margin: 2px 0 6px; }
h2 { font-size: 19px; margin: 0 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 20px 0 8px; }
h4 { font-size: 13.5px; margin: 16px 0 6px; }
small { color: var(--muted); font-size: 12px; }
.eyebrow { color: var(--muted); text-transform: uppercase; letter-spacing: .06em; font-size: 11.5px; }
.description { margin: 0 0 10px; color: #374151; max-width: 80ch; }
.muted, .hint { color: var(--muted); }
.hint { font-size: 12.5px; margin: 8px 0 0; }
.report-header { padding-bottom: 12px; }
.kv { display: grid; grid-template-columns: max-content 1fr; gap: 3px 14px; margin: 6px 0; }
.kv dt { color: var(--muted); }
.kv dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
.report-header .kv { grid-template-columns: repeat(3, max-content 1fr); }
.tag { display: inline-block; font-size: 11px; padding: 0 6px; border-radius: 9px; background: var(--info-bg); color: var(--accent); }
nav.toc { position: sticky; top: 0; z-index: 5; background: rgba(255,255,255,.96); border-bottom: 1px solid var(--line); margin: 0 -24px 16px; padding: 6px 24px; font-size: 13px; }
nav.toc a { margin-right: 14px; text-decoration: none; }
.banners { display: grid; gap: 6px; margin: 8px 0 16px; }
.banner { padding: 8px 12px; border-radius: 6px; border: 1px solid var(--line); }
.banner.bad { background: var(--bad-bg); border-color: #fecaca; color: #7f1d1d; }
.banner.good { background: var(--good-bg); border-color: #bbf7d0; color: #14532d; }
.banner.info { background: var(--info-bg); border-color: #bfdbfe; color: #1e3a8a; }
.section { margin: 0 0 34px; }
.cards { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 10px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; background: var(--panel); min-width: 0; }
.card.bad { background: var(--bad-bg); border-color: #fecaca; }
.card-title { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .05em; }
.card-main { font-size: 24px; font-weight: 600; margin: 2px 0; font-variant-numeric: tabular-nums; }
.card-main small { font-weight: 400; }
.card-sub { color: var(--muted); font-size: 12.5px; }
.quantiles { display: flex; gap: 12px; font-size: 16px; flex-wrap: wrap; }
.q-value, .nowrap { white-space: nowrap; }
.q { display: flex; flex-direction: column; }
.q-label { font-size: 11px; color: var(--muted); font-weight: 400; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 7px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--panel); font-weight: 600; font-size: 12px; color: #374151; white-space: nowrap; }
table.num td, table.num th { text-align: right; }
table.num.first-text td:first-child, table.num.first-text th:first-child { text-align: left; }
table.narrow { width: auto; min-width: 240px; }
table.examples td .msg { overflow-wrap: anywhere; }
tr.fail td { background: var(--bad-bg); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 9px; font-size: 11.5px; font-weight: 700; letter-spacing: .03em; }
.badge.pass { background: #dcfce7; color: var(--good); }
.badge.fail { background: #fee2e2; color: var(--bad); }
.bad-text { color: var(--bad); }
.charts { display: grid; grid-template-columns: 1fr; gap: 14px; }
.charts.cdfs { grid-template-columns: repeat(3, minmax(0, 1fr)); }
.chart { border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px 4px; min-width: 0; break-inside: avoid; page-break-inside: avoid; }
.chart-title { font-weight: 600; font-size: 13.5px; }
.chart-note { color: var(--muted); font-size: 12px; margin-bottom: 4px; }
.chart-body { min-height: 40px; }
.chart-body .uplot { width: 100%; }
.chart-body .u-legend { font-size: 12px; }
.chart-body .u-legend .u-marker { width: 14px; height: 3px; }
.chart-error { color: var(--bad); font-size: 12.5px; }
.two-col { display: grid; grid-template-columns: 1fr 1fr; gap: 24px; }
footer { color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); padding-top: 10px; }
@media (max-width: 900px) {
  .cards { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .charts.cdfs, .two-col { grid-template-columns: 1fr; }
  .report-header .kv { grid-template-columns: max-content 1fr; }
}
@page { size: A4; margin: 12mm; }
@media print {
  body { font-size: 11px; }
  main { max-width: none; padding: 0; }
  nav.toc { display: none; }
  .section { break-before: page; page-break-before: always; margin: 0; }
  .section.first { break-before: auto; page-break-before: auto; }
  h2, h3, h4 { break-after: avoid; page-break-after: avoid; }
  tr, .card, .chart, .banner { break-inside: avoid; page-break-inside: avoid; }
  .cards { grid-template-columns: repeat(4, minmax(0, 1fr)); }
  .charts.cdfs { grid-template-columns: 1fr; }
  .table-wrap { overflow: visible; }
  table { font-size: 10px; }
  .chart-body .uplot, .chart-body canvas { max-width: 100% !important; height: auto !important; }
  .u-over, .u-cursor-x, .u-cursor-y, .u-cursor-pt, .u-select { display: none !important; }
  a { color: inherit; text-decoration: none; }
}
`;
