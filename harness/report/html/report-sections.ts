/**
 * The static sections of report.html, as HTML strings: pure functions of summary.json (and of
 * the error breakdown). Numbers are written with the terminal summary's formatters, so the
 * report and the terminal agree. Every value from the run is escaped. Elements that tests and
 * readers look up carry `data-metric` (a summary.json path, e.g. `requests.total`, `ttft.p95`).
 */
import type { Summary, StageSummary } from '../../metrics/summary.ts';
import type { BlockSummary } from '../../metrics/stats-block.ts';
import type { LatencyStats } from '../../metrics/latency-histogram.ts';
import type { ServerSummary } from '../../observe/server-summary.ts';
import type { Stats } from '../../observe/derive.ts';
import type { ThresholdResult } from '../../gate/threshold.ts';
import { parseThreshold } from '../../gate/threshold.ts';
import { fmtMs, fmtNum, fmtPct } from '../console-summary.ts';
import { formatDuration } from '../../util/duration.ts';
import { escapeHtml as h } from './html-escape.ts';
import type { ErrorGroup } from './error-breakdown.ts';

const DASH = '–';

/** A latency in ms for reading: `21.8 ms`, `2.90 ms`, `12.3 s`; a dash when there is none. */
export function msText(v: number | null | undefined): string {
  const f = fmtMs(v);
  if (f === '-') return DASH;
  return f.endsWith('s') ? `${f.slice(0, -1)} s` : `${f} ms`;
}

function num(v: number | null | undefined, digits = 1): string {
  const f = fmtNum(v, digits);
  return f === '-' ? DASH : f;
}

function pct(v: number | null | undefined): string {
  const f = fmtPct(v);
  return f === '-' ? DASH : f;
}

function row(cells: string[], tag = 'td'): string {
  return `<tr>${cells.map((c) => `<${tag}>${c}</${tag}>`).join('')}</tr>`;
}

function table(head: string[], rows: string[], cls = ''): string {
  return `<div class="table-wrap"><table${cls ? ` class="${cls}"` : ''}><thead>${row(head.map(h), 'th')}</thead><tbody>${rows.join('')}</tbody></table></div>`;
}

function dl(items: Array<[string, string]>): string {
  return `<dl class="kv">${items.map(([k, v]) => `<dt>${h(k)}</dt><dd>${v}</dd>`).join('')}</dl>`;
}

function isServerSummary(s: Summary['server']): s is ServerSummary {
  return s !== null && typeof s === 'object' && 'source' in s;
}

/** The scenario's description, when the summary records one. */
function description(s: Summary): string | null {
  const d = (s.scenario as { description?: unknown }).description ?? (s as { description?: unknown }).description;
  return typeof d === 'string' && d.trim() !== '' ? d : null;
}

export function headerSection(s: Summary): string {
  const t = s.target;
  const desc = description(s);
  const started = new Date(s.started_at);
  const startedText = Number.isNaN(started.getTime()) ? s.started_at : started.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const meta: Array<[string, string]> = [
    ['target', `<code>${h(t.url)}</code>${t.embedded ? ' <span class="tag">embedded stack</span>' : ''}`],
    ['model', h(t.model)],
    ['endpoint', `${h(t.endpoint)}${t.stream ? ', streaming' : ', not streaming'}`],
    ['started', `<span data-metric="started_at">${h(startedText)}</span>`],
    ['duration', `<span data-metric="duration_s">${h(formatDuration(s.duration_s * 1000))}</span>`],
    ['harness', `${h(s.tool?.name ?? 'floodgate')} ${h(s.tool?.version ?? '')}`],
  ];
  if (t.stack) meta.splice(1, 0, ['stack', `${h(t.stack.name)}${t.stack.tenant ? `, tenant ${h(t.stack.tenant)}` : ''}`]);
  return `<header class="report-header">
<div class="eyebrow">Floodgate load-test report</div>
<h1 data-metric="scenario.name">${h(s.scenario.name)}</h1>
${desc ? `<p class="description">${h(desc)}</p>` : ''}
${dl(meta)}
</header>`;
}

export function bannersSection(s: Summary, opts: { requestsRead: boolean }): string {
  const out: string[] = [];
  if (!s.complete || s.interrupted) {
    out.push(`<div class="banner bad" data-banner="incomplete"><strong>Incomplete run.</strong> The run was stopped early (interrupted); every figure covers only what ran.</div>`);
  }
  if (s.client?.saturated) {
    out.push(`<div class="banner bad" data-banner="saturated"><strong>Client saturated.</strong> Send lag p99 ${h(msText(s.client.send_lag_ms.p99))} (bound ${h(msText(s.client.saturation_lag_p99_ms))}), busiest client thread ${h(pct(s.client.event_loop_utilization))} busy. The harness could not keep to its schedule, so these figures describe the client as much as the target.</div>`);
  }
  const failed = s.thresholds.filter((t) => !t.pass).length;
  if (s.thresholds.length) {
    out.push(failed
      ? `<div class="banner bad" data-banner="thresholds"><strong>${failed} of ${s.thresholds.length} thresholds failed.</strong> See <a href="#thresholds">Thresholds</a>.</div>`
      : `<div class="banner good" data-banner="thresholds"><strong>All ${s.thresholds.length} thresholds passed.</strong></div>`);
  }
  const excluded = s.measurement.excluded.warmup + s.measurement.excluded.cooldown;
  if (excluded > 0) {
    out.push(`<div class="banner info">${num(s.measurement.excluded.warmup, 0)} warmup and ${num(s.measurement.excluded.cooldown, 0)} cooldown requests are not counted in the figures (the time series show them).</div>`);
  }
  if (!opts.requestsRead && s.requests.total > 0) {
    out.push(`<div class="banner info">requests.jsonl was not read: no latency distributions or error examples.</div>`);
  }
  return out.length ? `<div class="banners">${out.join('\n')}</div>` : '';
}

function card(title: string, main: string, sub: string, cls = ''): string {
  return `<div class="card${cls ? ` ${cls}` : ''}"><div class="card-title">${h(title)}</div><div class="card-main">${main}</div><div class="card-sub">${sub}</div></div>`;
}

function latencyCard(title: string, key: string, st: LatencyStats | undefined): string {
  const v = (stat: 'p50' | 'p95' | 'p99') => `<span class="q"><span class="q-label">${stat}</span><span class="q-value" data-metric="${key}.${stat}">${h(msText(st?.[stat]))}</span></span>`;
  return card(title, `<div class="quantiles">${v('p50')}${v('p95')}${v('p99')}</div>`, `mean ${h(msText(st?.mean))} · max ${h(msText(st?.max))} · ${h(num(st?.count ?? 0, 0))} samples`, 'latency');
}

export function cardsSection(s: Summary): string {
  const r = s.requests;
  const sloParts = [
    s.slo.ttft_ms !== null ? `TTFT ≤ ${formatDuration(s.slo.ttft_ms)}` : '',
    s.slo.tpot_ms !== null ? `TPOT ≤ ${formatDuration(s.slo.tpot_ms)}` : '',
    s.slo.itl_ms !== null ? `ITL ≤ ${formatDuration(s.slo.itl_ms)}` : '',
    s.slo.e2e_ms !== null ? `E2E ≤ ${formatDuration(s.slo.e2e_ms)}` : '',
  ].filter(Boolean);
  const topError = Object.entries(s.errors).sort((a, b) => b[1] - a[1])[0];
  const cards = [
    card('Requests', `<span data-metric="requests.total">${h(num(r.total, 0))}</span>`,
      `<span data-metric="requests.ok">${h(num(r.ok, 0))}</span> ok · <span data-metric="requests.failed">${h(num(r.failed, 0))}</span> failed · <span data-metric="requests.dropped">${h(num(r.dropped, 0))}</span> dropped`),
    card('Errors', `<span data-metric="error_rate">${h(pct(s.error_rate))}</span>`,
      r.failed > 0 && topError ? `${h(num(r.failed, 0))} failed; most: ${h(topError[0])} (${h(num(topError[1], 0))})` : 'no failed request',
      r.failed > 0 ? 'bad' : ''),
    card('Throughput', `<span data-metric="throughput.requests_per_s">${h(num(s.throughput.requests_per_s, 2))}</span> <small>req/s</small>`,
      `over ${h(num(s.window_s, 1))} s`),
    card('Tokens/s', `<span data-metric="throughput.output_tokens_per_s">${h(num(s.throughput.output_tokens_per_s, 0))}</span> <small>output tok/s</small>`,
      `<span data-metric="throughput.total_tokens_per_s">${h(num(s.throughput.total_tokens_per_s, 0))}</span> total tok/s (prompt + output)`),
    card('Goodput', `<span data-metric="goodput.requests_per_s">${h(num(s.goodput.requests_per_s, 2))}</span> <small>req/s</small>`,
      `<span data-metric="goodput.fraction">${h(pct(s.goodput.fraction))}</span> of requests met ${sloParts.length ? h(sloParts.join(', ')) : 'no SLO set (every successful request counts)'}`),
    latencyCard('TTFT', 'ttft', s.latency_ms.ttft),
    latencyCard('ITL', 'itl', s.latency_ms.itl),
    latencyCard('E2E', 'e2e', s.latency_ms.e2e),
  ];
  const lat = (label: string, st: LatencyStats | undefined) =>
    row([h(label), ...[st?.mean, st?.p50, st?.p90, st?.p95, st?.p99, st?.max].map((v) => h(msText(v))), h(num(st?.count ?? 0, 0))]);
  const L = s.latency_ms;
  const latRows = [
    lat('TTFT', L.ttft), lat('ITL', L.itl), lat('TPOT', L.tpot), lat('E2E', L.e2e),
    ...(L.inter_chunk?.count ? [lat('inter-chunk', L.inter_chunk)] : []),
    ...(L.queue?.count ? [lat('queue (x-queue-ms)', L.queue)] : []),
    lat('TTFT from intended send', L.ttft_intended), lat('E2E from intended send', L.e2e_intended),
    lat('client send lag', s.client?.send_lag_ms),
  ];
  return `<section id="summary" class="section first">
<h2>Summary</h2>
<div class="cards">${cards.join('\n')}</div>
<h3>Latency</h3>
${table(['latency', 'mean', 'p50', 'p90', 'p95', 'p99', 'max', 'samples'], latRows, 'num first-text')}
<p class="hint">Over the measured requests (warmup and cooldown excluded); formulas in docs/metrics.md. “From intended send” adds the client's lateness to each request (coordinated omission corrected).</p>
</section>`;
}

/** Threshold values in their own units: ms for latencies (TTFT by turn too), % for fractions (error rate, goodput, ...). */
function thresholdUnit(expr: string): 'ms' | 'pct' | 'num' {
  const p = parseThreshold(expr);
  if (!p.ok) return 'num';
  return p.threshold.unit === 'ms' ? 'ms' : p.threshold.unit === 'ratio' ? 'pct' : 'num';
}

function thresholdValue(unit: 'ms' | 'pct' | 'num', v: number | null): string {
  if (v === null) return 'no value';
  if (unit === 'ms') return msText(v);
  if (unit === 'pct') return pct(v);
  return num(v, 3);
}

function thresholdMargin(t: ThresholdResult, unit: 'ms' | 'pct' | 'num'): string {
  const margin = (t as { margin?: unknown }).margin;
  if (typeof margin === 'string') return h(margin);
  if (t.value === null || !Number.isFinite(t.limit)) return DASH;
  const d = t.value - t.limit;
  const sign = d > 0 ? '+' : d < 0 ? '−' : '±';
  const abs = Math.abs(d);
  const absText = unit === 'ms' ? msText(abs) : unit === 'pct' ? `${(abs * 100).toFixed(abs < 0.001 ? 3 : 2)} pp` : num(abs, 3);
  const rel = t.limit !== 0 ? ` (${sign}${Math.abs((d / t.limit) * 100).toFixed(1)}%)` : '';
  return h(`${sign}${absText}${rel}`);
}

export function thresholdsSection(s: Summary): string {
  if (!s.thresholds.length) {
    return `<section id="thresholds" class="section"><h2>Thresholds</h2><p class="muted">The scenario sets no thresholds.</p></section>`;
  }
  const rows = s.thresholds.map((t, i) => {
    const unit = thresholdUnit(t.expr);
    const status = t.pass ? '<span class="badge pass">PASS</span>' : '<span class="badge fail">FAIL</span>';
    return `<tr data-threshold="${i}" class="${t.pass ? 'pass' : 'fail'}"><td>${status}</td><td><code>${h(t.expr)}</code></td><td>${h(thresholdValue(unit, t.value))}</td><td>${h(thresholdValue(unit, t.limit))}</td><td>${thresholdMargin(t, unit)}</td></tr>`;
  });
  return `<section id="thresholds" class="section">
<h2>Thresholds</h2>
${table(['result', 'threshold', 'observed', 'limit', 'observed − limit'], rows)}
<p class="hint">Evaluated against summary.json after the run; a threshold with no observed value fails.</p>
</section>`;
}

/** p50 / p95 / p99 in ms (the column says so), or in s with an `s` from 10 s up. */
function q3(st: LatencyStats | undefined): string {
  const f = (v: number | null | undefined) => (fmtMs(v) === '-' ? DASH : fmtMs(v));
  return `<span class="nowrap">${h(f(st?.p50))} / ${h(f(st?.p95))} / ${h(f(st?.p99))}</span>`;
}

function blockCells(b: BlockSummary): string[] {
  return [
    h(num(b.requests.total, 0)),
    h(num(b.requests.failed, 0)) + (b.requests.dropped ? ` <small>(+${h(num(b.requests.dropped, 0))} dropped)</small>` : ''),
    h(pct(b.error_rate)),
    h(num(b.throughput.requests_per_s, 2)),
    h(num(b.throughput.output_tokens_per_s, 0)),
    `${h(num(b.goodput.requests_per_s, 2))} <small>(${h(pct(b.goodput.fraction))})</small>`,
    q3(b.latency_ms.ttft),
    q3(b.latency_ms.itl),
    q3(b.latency_ms.e2e),
  ];
}

const BLOCK_HEAD = ['requests', 'failed', 'errors', 'req/s', 'out tok/s', 'goodput req/s', 'TTFT p50/95/99', 'ITL p50/95/99', 'E2E p50/95/99'];

function stageLoad(st: StageSummary): string {
  return st.kind === 'open' ? `${num(st.target_rate_rps, 2)} req/s` : `${num(st.users, 0)} users`;
}

export function breakdownSection(s: Summary): string {
  const stageRows = s.stages.map((st) =>
    row([`<strong>${h(st.name)}</strong>`, `<span class="nowrap">${h(stageLoad(st))}</span>`, `<span class="nowrap">${h(`${num(st.start_s, 1)}–${num(st.start_s + st.duration_s, 1)} s`)}</span>`, ...blockCells(st)]));
  const groupTable = (title: string, what: string, m: Record<string, BlockSummary> | undefined, empty: string) => {
    const entries = Object.entries(m ?? {});
    return `<h3>By ${what}</h3>${entries.length ? table([title, ...BLOCK_HEAD], entries.map(([k, b]) => row([`<strong>${h(k)}</strong>`, ...blockCells(b)])), 'num first-text') : `<p class="muted">${h(empty)}</p>`}`;
  };
  return `<section id="breakdown" class="section">
<h2>By stage, tenant and model</h2>
<h3>By stage</h3>
${table(['stage', 'load', 'window', ...BLOCK_HEAD], stageRows, 'num first-text')}
${groupTable('tenant', 'tenant', s.by_tenant, 'No request carried a tenant.')}
${groupTable('model', 'model', s.by_model, 'No model recorded.')}
<p class="hint">Latencies in ms (in s where marked). Rates are divided by each block's window (its measured time, a backlog that drains after it included). Goodput: requests meeting every SLO per second, and their share of all requests.</p>
</section>`;
}

export function errorsSection(s: Summary, groups: readonly ErrorGroup[], requestsRead: boolean): string {
  const statusRows = Object.entries(s.http_status ?? {}).map(([st, n]) => row([h(st), h(num(n, 0))]));
  const statusTable = statusRows.length ? `<h3>Responses by HTTP status</h3>${table(['status', 'responses'], statusRows, 'num first-text narrow')}` : '';
  if (!groups.length) {
    return `<section id="errors" class="section"><h2>Errors</h2><p class="muted" data-metric="errors.none">No request failed${s.requests.dropped ? `; ${h(num(s.requests.dropped, 0))} arrivals were dropped at the in-flight cap (never sent, not errors)` : ''}.</p>${statusTable}</section>`;
  }
  const summaryRows = groups.map((g) =>
    `<tr data-error-code="${h(g.code)}"><td><code>${h(g.code)}</code></td><td>${h(num(g.measured, 0))}</td><td>${h(num(g.logged, 0))}</td><td>${h(Object.entries(g.statuses).map(([k, v]) => `${k}: ${num(v, 0)}`).join(', ') || DASH)}</td></tr>`);
  const examples = groups.filter((g) => g.examples.length).map((g) => {
    const rows = g.examples.map((e) => row([
      h(String(e.id)), h(e.end_s === null ? DASH : num(e.end_s, 2)), h(String(e.stage)) + (e.phase !== 'measure' ? ` <small>${h(e.phase)}</small>` : ''),
      h(e.status === null ? 'none' : String(e.status)), `<span class="msg">${h(e.message ?? DASH)}</span>`, `<code>${h(e.request_id ?? DASH)}</code>`, h(e.served_by ?? DASH),
    ]));
    return `<h4><code>${h(g.code)}</code>: ${h(num(g.examples.length, 0))} example${g.examples.length === 1 ? '' : 's'}</h4>${table(['#', 'ended (s)', 'stage', 'status', 'message', 'x-request-id', 'served by'], rows, 'examples')}`;
  });
  return `<section id="errors" class="section">
<h2>Errors</h2>
${table(['error code', 'measured', 'in requests.jsonl', 'HTTP status'], summaryRows, 'num first-text')}
<p class="hint">“measured”: summary.json's count (warmup and cooldown excluded); “in requests.jsonl”: every failed request of the run${requestsRead ? '' : ' (not read)'}. Codes: docs/errors.md. Examples show what requests.jsonl records about a failure; it never holds prompt or completion text.</p>
${examples.join('\n')}
${s.requests.dropped ? `<p>${h(num(s.requests.dropped, 0))} arrivals were dropped at the in-flight cap (never sent; not errors).</p>` : ''}
${statusTable}
</section>`;
}

/** A figure with its summary.json path (under `conversations`) as `data-metric`. */
function convFigure(key: string, text: string): string {
  return `<span data-metric="conversations.${h(key)}">${h(text)}</span>`;
}

/** summary.json `conversations` (workload.conversation scenarios); empty when the run has none. */
export function conversationsSection(s: Summary): string {
  const c = s.conversations;
  if (!c) return '';
  const counts: Array<[string, string]> = [
    ['started', `${convFigure('started', num(c.started, 0))} conversations whose first turn was measured`],
    ['completed', `${convFigure('completed', num(c.completed, 0))} (every planned turn answered)`],
    ['failed', `${convFigure('failed', num(c.failed, 0))} (ended by a failed turn)`],
    ['cut', `${convFigure('cut', num(c.cut, 0))} (still going when sending stopped)`],
    ['completed of those that ended', convFigure('completed_fraction', pct(c.completed_fraction))],
  ];
  const sec = (v: number | null) => (v === null ? DASH : `${num(v, 1)} s`);
  const completed = [
    row([h('turns'), convFigure('turns.mean', num(c.turns.mean, 1)), convFigure('turns.max', num(c.turns.max, 0))]),
    row([h('duration'), convFigure('duration_s.mean', sec(c.duration_s.mean)), convFigure('duration_s.p95', sec(c.duration_s.p95))]),
    row([h('last prompt (tokens)'), convFigure('last_prompt_tokens.mean', num(c.last_prompt_tokens.mean, 0)), convFigure('last_prompt_tokens.max', num(c.last_prompt_tokens.max, 0))]),
  ];
  const turns = Object.entries(c.ttft_ms_by_turn).map(([t, v]) =>
    `<tr data-turn="${h(t)}"><td>${h(t)}</td><td>${convFigure(`ttft_ms_by_turn.${t}.count`, num(v.count, 0))}</td><td>${convFigure(`ttft_ms_by_turn.${t}.p50`, msText(v.p50))}</td><td>${convFigure(`ttft_ms_by_turn.${t}.p95`, msText(v.p95))}</td></tr>`);
  return `<section id="conversations" class="section">
<h2>Conversations</h2>
${dl(counts)}
<h3>Completed conversations</h3>
${table(['', 'mean', 'max (duration: p95)'], completed, 'num first-text narrow')}
<h3>TTFT by turn</h3>
${turns.length ? table(['turn', 'turns measured', 'TTFT p50', 'TTFT p95'], turns, 'num first-text narrow') : '<p class="muted">No measured turn succeeded.</p>'}
<p class="hint">Multi-turn conversations (docs/metrics.md, “Conversations”): each turn carries the whole history, so later turns have longer prompts and, with prefix caching, prefill only their new tokens. Turns 10 and later share the row “10+”. “Completed of those that ended” leaves the cut conversations out.</p>
</section>`;
}

const SERVER_ROWS: Array<[string, keyof ServerSummary & string, 'num' | 'pct']> = [
  ['queue depth (gateway + workers)', 'queue_depth', 'num'],
  ['gateway queue', 'gateway_queue_depth', 'num'],
  ['worker waiting', 'worker_waiting', 'num'],
  ['running', 'running', 'num'],
  ['KV-cache usage (mean over workers)', 'kv_cache_usage', 'pct'],
  ['KV-cache usage (busiest worker)', 'kv_cache_usage_max', 'pct'],
  ['GPU utilisation', 'gpu_utilization', 'pct'],
  ['GPU memory used', 'gpu_memory_used_fraction', 'pct'],
  ['preemptions/s', 'preemptions_per_s', 'num'],
  ['prefix-cache hit rate', 'prefix_cache_hit_rate', 'pct'],
];

export function serverSection(s: Summary): string {
  const sv = s.server;
  if (!isServerSummary(sv) || sv.source === 'none') {
    const note = isServerSummary(sv) && sv.note ? `: ${sv.note}` : '';
    return `<section id="server" class="section"><h2>Server</h2><p class="muted" data-metric="server.none">The target's metrics were not sampled${h(note)}.</p></section>`;
  }
  const f = (unit: 'num' | 'pct', v: number | null | undefined) => (unit === 'pct' ? pct(v) : num(v, 2));
  const rows = SERVER_ROWS.filter(([, k]) => {
    const st = sv[k] as Stats | undefined;
    return st && (st.mean !== null || st.max !== null);
  }).map(([label, k, unit]) => {
    const st = sv[k] as Stats;
    const base = sv.baseline ? (sv.baseline as unknown as Record<string, number | null>)[k] : null;
    return row([h(label), h(f(unit, base)), h(f(unit, st.mean)), h(f(unit, st.p95)), h(f(unit, st.max))]);
  });
  const extraRows = Object.entries(sv.extra ?? {}).map(([k, st]) => row([`<code>${h(k)}</code>`, DASH, h(num(st.mean, 3)), h(num(st.p95, 3)), h(num(st.max, 3))]));
  const endpoints = sv.endpoints.map((e) => row([h(e.name), `<code>${h(e.url)}</code>`, h(num(e.ok_scrapes, 0)), h(num(e.failed_scrapes, 0)), h(num(e.skipped_scrapes, 0)), h(e.last_error ?? DASH)]));
  const workers = Object.entries(sv.by_worker ?? {}).map(([w, b]) => row([
    `<strong>${h(w)}</strong>`,
    h(`${num(b.running.mean, 1)} / ${num(b.running.max, 0)}`),
    h(`${num(b.queue_depth.mean, 1)} / ${num(b.queue_depth.max, 0)}`),
    h(`${pct(b.kv_cache_usage.mean)} / ${pct(b.kv_cache_usage.max)}`),
    h(`${pct(b.gpu_utilization.mean)} / ${pct(b.gpu_utilization.max)}`),
    h(pct(b.gpu_memory_used_fraction.max)),
  ]));
  const tot = sv.totals;
  const totals: Array<[string, string]> = [
    ['source', h(sv.source === 'metrics' ? 'scraped /metrics' : 'Prometheus queries')],
    ['samples', `${h(num(sv.samples, 0))}${sv.interval_s !== null ? `, every ${h(formatDuration(sv.interval_s * 1000))}` : ''}`],
    ...(tot && tot.preemptions !== null ? [['preemptions (run total)', h(num(tot.preemptions, 0))] as [string, string]] : []),
    ...(tot && tot.prefix_cache_hit_rate !== null ? [['prefix-cache hit rate (run)', `${h(pct(tot.prefix_cache_hit_rate))} of ${h(num(tot.prefix_cache_queries, 0))} tokens queried`] as [string, string]] : []),
    ...(sv.prometheus ? [['Prometheus', `<code>${h(sv.prometheus.url)}</code>, step ${h(num(sv.prometheus.step_s, 1))} s, rate window ${h(num(sv.prometheus.rate_window_s, 0))} s${sv.prometheus.errors.length ? `; errors: ${h(sv.prometheus.errors.join('; '))}` : ''}`] as [string, string]] : []),
    ...(sv.note ? [['note', h(sv.note)] as [string, string]] : []),
  ];
  return `<section id="server" class="section">
<h2>Server</h2>
${dl(totals)}
${rows.length || extraRows.length ? table(['quantity', 'baseline (idle)', 'mean', 'p95', 'max'], [...rows, ...extraRows], 'num first-text') : '<p class="muted">The sampled endpoints export none of the serving metrics the harness reads.</p>'}
${workers.length ? `<h3>By worker</h3>${table(['worker', 'running mean / max', 'queue mean / max', 'KV-cache mean / max', 'GPU util. mean / max', 'GPU memory max'], workers, 'num first-text')}` : ''}
${endpoints.length ? `<h3>Endpoints</h3>${table(['endpoint', 'url', 'ok', 'failed', 'skipped', 'last error'], endpoints)}` : ''}
<p class="hint">What the target's own metrics said during the run (formulas: docs/metrics.md, “Server samples”); the baseline is the sample taken just before the run.</p>
</section>`;
}

const KNOWN_KEYS = new Set([
  'schema_version', 'tool', 'scenario', 'target', 'started_at', 'duration_s', 'complete', 'interrupted', 'measurement', 'prompts',
  'requests', 'error_rate', 'errors', 'http_status', 'throughput', 'goodput', 'latency_ms', 'tokens', 'client', 'window_s', 'slo',
  'server', 'stages', 'by_tenant', 'by_model', 'thresholds', 'histograms', 'description', 'conversations', 'dataset',
]);

/** summary.json `dataset`: the file's name, format and order, entries used and skipped (never text). */
function datasetText(d: NonNullable<Summary['dataset']>): string {
  return `<code>${h(d.file)}</code> (${h(d.format)}, ${h(d.order)} order): <span data-metric="dataset.entries_used">${h(num(d.entries_used, 0))}</span> usable entries, <span data-metric="dataset.skipped">${h(num(d.skipped, 0))}</span> skipped as unusable`;
}

export function scenarioSection(s: Summary): string {
  const t = s.target;
  const p = s.prompts;
  const stages = s.stages.map((st) => row([h(String(st.index)), h(st.name), h(st.kind), h(stageLoad(st)), h(`${num(st.start_s, 1)} s`), h(`${num(st.duration_s, 1)} s`)]));
  const slo = Object.entries(s.slo ?? {}).filter(([, v]) => v !== null).map(([k, v]) => `${k.replace(/_ms$/, '').toUpperCase()} ≤ ${formatDuration(v as number)}`);
  const scenario: Array<[string, string]> = [
    ['name', h(s.scenario.name)],
    ['file', `<code>${h(s.scenario.file)}</code>`],
    ['seed', h(String(s.scenario.seed))],
    ...(description(s) ? [['description', h(description(s))] as [string, string]] : []),
    ['target', `<code>${h(t.url)}</code>, model ${h(t.model)}, ${h(t.endpoint)}, ${t.stream ? 'streaming' : 'not streaming'}`],
    ...(t.stack ? [['embedded stack', `${h(t.stack.name)} (<code>${h(t.stack.file)}</code>), tenant ${h(t.stack.tenant ?? 'own key')}`] as [string, string]] : []),
    ['warmup / cooldown', h(`${formatDuration(s.measurement.warmup_s * 1000)} / ${formatDuration(s.measurement.cooldown_s * 1000)} (${s.measurement.excluded.warmup} / ${s.measurement.excluded.cooldown} requests excluded)`)],
    ['SLOs', h(slo.length ? slo.join(', ') : 'none')],
    ['thresholds', s.thresholds.length ? s.thresholds.map((x) => `<code>${h(x.expr)}</code>`).join(', ') : 'none'],
    ['prompts', h(`${p.tokenizer} (${p.source}${p.exact ? ', exact' : ''}), ${p.overhead_tokens} overhead tokens, ${num(p.tokens_per_word, 2)} tokens/word, context ${p.max_model_len ?? 'unknown'}`)],
    ...(s.dataset ? [['dataset', datasetText(s.dataset)] as [string, string]] : []),
    ['tokens', h(`${num(s.tokens.prompt, 0)} prompt (mean ${num(s.tokens.prompt_mean, 0)}), ${num(s.tokens.output, 0)} output (mean ${num(s.tokens.output_mean, 0)})`)],
  ];
  const c = s.client;
  const env: Array<[string, string]> = [
    ['harness', h(`${s.tool?.name ?? 'floodgate'} ${s.tool?.version ?? ''}, summary schema ${s.schema_version}`)],
    ['client threads', h(num(c.threads, 0))],
    ['busiest thread', h(`${pct(c.event_loop_utilization)} busy (event-loop utilisation)`)],
    ['harness CPU', h(`${num(c.cpu_percent, 0)}% of one core`)],
    ['send lag', h(`p50 ${msText(c.send_lag_ms.p50)}, p99 ${msText(c.send_lag_ms.p99)}, max ${msText(c.send_lag_ms.max)} (saturated above p99 ${msText(c.saturation_lag_p99_ms)})`)],
    ['saturated', c.saturated ? '<strong class="bad-text">yes</strong>' : 'no'],
    ['aborted at end', h(num(c.aborted_at_end, 0))],
    ['complete', s.complete ? 'yes' : '<strong class="bad-text">no (interrupted)</strong>'],
    ['started', h(s.started_at)],
    ['duration', h(`${num(s.duration_s, 2)} s (drain included)`)],
  ];
  // Whatever else the summary records (fields added by later versions), as written.
  const other = Object.entries(s as unknown as Record<string, unknown>).filter(([k]) => !KNOWN_KEYS.has(k));
  const otherHtml = other.length ? `<h3>Also recorded</h3>${dl(other.map(([k, v]) => [k, `<pre>${h(JSON.stringify(v, null, 2))}</pre>`]))}` : '';
  return `<section id="scenario" class="section">
<h2>Scenario and environment</h2>
<div class="two-col">
<div><h3>Scenario</h3>${dl(scenario)}</div>
<div><h3>Environment</h3>${dl(env)}</div>
</div>
<h3>Stages</h3>
${table(['#', 'name', 'kind', 'load', 'start', 'duration'], stages)}
${otherHtml}
</section>`;
}
