/**
 * report.html: one self-contained HTML document for a run folder, readable offline and printable.
 * Static sections (header, summary cards, thresholds, tables by stage/tenant/model, conversations,
 * errors with examples, server, scenario and environment) are HTML written here; the charts (time series and
 * CDFs) are drawn in the page by an inline script with uPlot, inlined too, from one JSON blob
 * (chart-data.ts). Nothing is fetched at view time: a Content-Security-Policy forbids it.
 * Large runs stay small: series are downsampled (downsample.ts), per-request data is summarised
 * (cdf.ts, error-breakdown.ts). docs/reports.md describes the report.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { RunData } from '../run-data.ts';
import { loadRunData } from '../run-data.ts';
import { buildChartData, type ChartSpec } from './chart-data.ts';
import { chartLibrary } from './chart-library.ts';
import { errorBreakdown } from './error-breakdown.ts';
import { escapeHtml as h, jsonForScript, scriptForInline } from './html-escape.ts';
import { REPORT_CSS } from './report-style.ts';
import {
  bannersSection, breakdownSection, cardsSection, conversationsSection, errorsSection, headerSection, scenarioSection, serverSection, thresholdsSection,
} from './report-sections.ts';

export const REPORT_FILE = 'report.html';

let clientScript: string | undefined;
function reportClient(): string {
  clientScript ??= fs.readFileSync(new URL('./report-client.js', import.meta.url), 'utf8');
  return clientScript;
}

function chartFigure(c: ChartSpec): string {
  return `<figure class="chart" data-chart="${h(c.id)}" data-kind="${h(c.kind)}">
<div class="chart-title">${h(c.title)}</div>
<div class="chart-note">${h(c.note)}</div>
<div class="chart-body" id="chart-${h(c.id)}"><noscript><p class="muted">Charts need JavaScript.</p></noscript></div>
</figure>`;
}

function chartsSections(charts: readonly ChartSpec[], requestsRead: boolean, hasSeries: boolean): string {
  const time = charts.filter((c) => c.kind === 'time');
  const cdf = charts.filter((c) => c.kind === 'cdf');
  return `<section id="timeseries" class="section">
<h2>Over time</h2>
${time.length ? `<div class="charts">${time.map(chartFigure).join('\n')}</div>` : `<p class="muted">${hasSeries ? 'No time series to draw.' : 'No timeseries.json in the run folder.'}</p>`}
<p class="hint">Client figures are per second of the run clock (a request counts in the second it was sent, or ended, as the chart says); “server:” series are the target's own metrics, sampled on the same clock. Drag across a chart to zoom, double-click to reset.</p>
</section>
<section id="distributions" class="section">
<h2>Latency distributions</h2>
${cdf.length ? `<div class="charts cdfs">${cdf.map(chartFigure).join('\n')}</div>
<p class="hint">Cumulative share of the measured successful requests at or below each latency, from requests.jsonl (at most 500 points per curve, the tail kept). ITL is each request's mean inter-token latency, the figure requests.jsonl keeps: its distribution is narrower than the per-token ITL of the summary.</p>` : `<p class="muted">${requestsRead ? 'No successful measured request to draw.' : 'requests.jsonl was not read.'}</p>`}
</section>`;
}

/**
 * The report of a run as one HTML document (a pure function of `data`, apart from reading the
 * chart library and the page script from disk once).
 */
export function renderHtmlReport(data: RunData): string {
  const s = data.summary;
  const lib = chartLibrary();
  const requestsRead = data.requests.length > 0;
  const charts = buildChartData(data);
  const errors = errorBreakdown(s.errors ?? {}, data.requests);
  const title = `${s.scenario.name}: Floodgate report (${s.started_at})`;
  const nav = [
    ['summary', 'Summary'], ['thresholds', 'Thresholds'], ['timeseries', 'Over time'], ['distributions', 'Distributions'],
    ['breakdown', 'Stages, tenants, models'], ...(s.conversations ? [['conversations', 'Conversations']] : []), ['errors', 'Errors'], ['server', 'Server'], ['scenario', 'Scenario and environment'],
  ].map(([id, label]) => `<a href="#${id}">${label}</a>`).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="floodgate ${h(s.tool?.version ?? '')}, uPlot ${h(lib.version)}">
<title>${h(title)}</title>
<link rel="icon" href="data:,">
<style>${lib.css}</style>
<style>${REPORT_CSS}</style>
</head>
<body>
<main>
${headerSection(s)}
<nav class="toc">${nav}</nav>
${bannersSection(s, { requestsRead })}
${cardsSection(s)}
${thresholdsSection(s)}
${chartsSections(charts.charts, requestsRead, data.timeseries.length > 0)}
${breakdownSection(s)}
${conversationsSection(s)}
${errorsSection(s, errors, requestsRead)}
${serverSection(s)}
${scenarioSection(s)}
<footer>Written by ${h(s.tool?.name ?? 'floodgate')} ${h(s.tool?.version ?? '')} from the run folder's summary.json, timeseries.json, server.json and requests.jsonl (field meanings: reports/README.md). Charts: uPlot ${h(lib.version)} (MIT), inlined.</footer>
</main>
<script type="application/json" id="report-data">${jsonForScript(charts)}</script>
<script>${scriptForInline(lib.script)}</script>
<script>${scriptForInline(reportClient())}</script>
</body>
</html>
`;
}

/** Reads the run folder `dir`, writes `dir/report.html`, and returns its path. */
export function writeHtmlReport(dir: string): string {
  const data = loadRunData(dir);
  const file = path.join(dir, REPORT_FILE);
  fs.writeFileSync(file, renderHtmlReport(data));
  return file;
}
