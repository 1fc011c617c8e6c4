/**
 * The end-of-run summary table printed on the terminal: a pure function of summary.json.
 */
import type { Summary } from '../metrics/summary.ts';
import type { LatencyStats } from '../metrics/latency-histogram.ts';
import { formatDuration } from '../util/duration.ts';
import type { ServerSummary } from '../observe/server-summary.ts';
import type { Stats } from '../observe/derive.ts';
import { formatLimit, formatMetric, formatOffBy, type ThresholdResult } from '../gate/threshold.ts';

const LAT_ROWS: Array<[string, keyof Summary['latency_ms']]> = [
  ['TTFT', 'ttft'],
  ['ITL', 'itl'],
  ['TPOT', 'tpot'],
  ['E2E', 'e2e'],
  ['inter-chunk', 'inter_chunk'],
  ['queue', 'queue'],
  ['TTFT from intended', 'ttft_intended'],
  ['E2E from intended', 'e2e_intended'],
];

export function fmtMs(v: number | null | undefined): string {
  if (v === null || v === undefined) return '-';
  if (v >= 10_000) return `${(v / 1000).toFixed(1)}s`;
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

export function fmtNum(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined) return '-';
  return v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function fmtPct(v: number | null | undefined): string {
  return v === null || v === undefined ? '-' : `${(v * 100).toFixed(v < 0.1 ? 2 : 1)}%`;
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function latRow(label: string, s: LatencyStats): string {
  const cells = [s.mean, s.p50, s.p90, s.p95, s.p99, s.max].map((v) => pad(fmtMs(v), 9, true));
  return `  ${pad(label, 20)}${cells.join('')}${pad(fmtNum(s.count, 0), 11, true)}`;
}

export function renderSummary(s: Summary, runDir: string | undefined): string {
  const L: string[] = [];
  L.push('');
  const incomplete = s.complete ? '' : s.aborted?.by === 'threshold' ? '  [INCOMPLETE: aborted by a threshold]' : '  [INCOMPLETE: interrupted]';
  L.push(`  ${s.scenario.name}  ->  ${s.target.url}  (${s.target.model}, ${s.target.endpoint}${s.target.stream ? ', streaming' : ''})${incomplete}`);
  L.push(`  duration ${fmtNum(s.duration_s, 1)}s   prompts: ${s.prompts.tokenizer}${s.prompts.exact ? ' (exact)' : ''}   client: ${s.client.threads} thread${s.client.threads === 1 ? '' : 's'}, busiest ${(s.client.event_loop_utilization * 100).toFixed(0)}% busy, CPU ${fmtNum(s.client.cpu_percent, 0)}%`);
  L.push('');
  const r = s.requests;
  L.push(`  requests    ${fmtNum(r.total, 0)} total   ${fmtNum(r.ok, 0)} ok   ${fmtNum(r.failed, 0)} failed   ${fmtNum(r.dropped, 0)} dropped   error rate ${fmtPct(s.error_rate)}` +
    (s.measurement.excluded.warmup + s.measurement.excluded.cooldown > 0 ? `   (${s.measurement.excluded.warmup} warmup, ${s.measurement.excluded.cooldown} cooldown not counted)` : ''));
  L.push(`  throughput  ${fmtNum(s.throughput.requests_per_s, 2)} req/s   ${fmtNum(s.throughput.output_tokens_per_s, 0)} output tok/s   ${fmtNum(s.throughput.total_tokens_per_s, 0)} total tok/s`);
  const slo = [
    s.slo.ttft_ms !== null ? `TTFT <= ${formatDuration(s.slo.ttft_ms)}` : '',
    s.slo.tpot_ms !== null ? `TPOT <= ${formatDuration(s.slo.tpot_ms)}` : '',
    s.slo.itl_ms !== null ? `ITL <= ${formatDuration(s.slo.itl_ms)}` : '',
    s.slo.e2e_ms !== null ? `E2E <= ${formatDuration(s.slo.e2e_ms)}` : '',
  ].filter(Boolean);
  L.push(`  goodput     ${fmtNum(s.goodput.requests_per_s, 2)} req/s   ${fmtPct(s.goodput.fraction)} of requests met ${slo.length ? slo.join(', ') : 'no SLO set (all successful requests count)'}`);
  L.push('');
  L.push(`  ${pad('latency (ms)', 20)}${['mean', 'p50', 'p90', 'p95', 'p99', 'max'].map((h) => pad(h, 9, true)).join('')}${pad('samples', 11, true)}`);
  for (const [label, key] of LAT_ROWS) {
    const st = s.latency_ms[key];
    if (st.count > 0 || key === 'ttft' || key === 'e2e') L.push(latRow(label, st));
  }
  L.push(latRow('send lag', s.client.send_lag_ms));
  if (s.stages.length > 1) {
    L.push('');
    L.push(`  ${pad('stage', 16)}${pad('target', 12, true)}${pad('ok', 8, true)}${pad('failed', 8, true)}${pad('req/s', 9, true)}${pad('TTFT p50', 10, true)}${pad('TTFT p95', 10, true)}${pad('ITL p95', 9, true)}${pad('E2E p95', 9, true)}`);
    for (const st of s.stages) {
      const target = st.kind === 'open' ? `${fmtNum(st.target_rate_rps, 2)} rps` : `${st.users} users`;
      L.push(`  ${pad(st.name, 16)}${pad(target, 12, true)}${pad(fmtNum(st.requests.ok, 0), 8, true)}${pad(fmtNum(st.requests.failed, 0), 8, true)}${pad(fmtNum(st.throughput.requests_per_s, 2), 9, true)}${pad(fmtMs(st.latency_ms.ttft.p50), 10, true)}${pad(fmtMs(st.latency_ms.ttft.p95), 10, true)}${pad(fmtMs(st.latency_ms.itl.p95), 9, true)}${pad(fmtMs(st.latency_ms.e2e.p95), 9, true)}`);
    }
  }
  L.push(...groupLines('tenant', s.by_tenant));
  L.push(...groupLines('model', s.by_model));
  if (s.conversations) {
    const c = s.conversations;
    const t1 = c.ttft_ms_by_turn['1'];
    const turnKeys = Object.keys(c.ttft_ms_by_turn);
    const tl = turnKeys.length > 1 ? c.ttft_ms_by_turn[turnKeys[turnKeys.length - 1]!] : undefined;
    L.push('');
    L.push(`  conversations  ${fmtNum(c.completed, 0)} completed of ${fmtNum(c.started, 0)} (${c.failed} failed, ${c.cut} cut)   turns mean ${fmtNum(c.turns.mean, 1)} max ${fmtNum(c.turns.max, 0)}   duration mean ${fmtNum(c.duration_s.mean, 1)}s   last prompt mean ${fmtNum(c.last_prompt_tokens.mean, 0)} tok` +
      (t1 ? `   TTFT p50 turn 1 ${fmtMs(t1.p50)}${tl ? `, turn ${turnKeys[turnKeys.length - 1]} ${fmtMs(tl.p50)}` : ''} ms` : ''));    if (c.new_text_clamped) L.push(`  warning: ${c.new_text_clamped} trace turn(s) had an input length not above the history's tokens: their new text was clamped to 1 token (trace.history: included)`);
  }
  L.push(...serverLines(s.server));
  const errs = Object.entries(s.errors);
  if (errs.length) {
    L.push('');
    L.push(`  errors      ${errs.map(([k, v]) => `${k}: ${v}`).join('   ')}`);
  }
  if (s.thresholds.length) L.push(...thresholdLines(s.thresholds));
  if (s.aborted?.by === 'threshold') {
    L.push('');
    L.push(`  ABORTED at ${fmtNum(s.aborted.at_s, 1)}s: the abort_on_fail threshold "${s.aborted.threshold}" failed; sending stopped and in-flight requests drained.`);
    L.push(`  The figures cover what ran before the stop.`);
  }
  if (s.client.saturated) {
    L.push('');
    L.push(`  CLIENT SATURATED: send lag p99 ${fmtMs(s.client.send_lag_ms.p99)}ms (bound ${fmtMs(s.client.saturation_lag_p99_ms)}ms), busiest client thread ${(s.client.event_loop_utilization * 100).toFixed(0)}% busy.`);
    L.push(`  The harness could not keep to its schedule, so these figures describe the client, not the target.`);
    L.push(`  Use more client threads (client.threads), a lower rate, or split the load across machines.`);
  }
  if (runDir) {
    L.push('');
    L.push(`  results     ${runDir}`);
  }
  L.push('');
  return L.join('\n');
}

/** The server's side of the run (summary.server), next to the client's; nothing when not sampled. */
function serverLines(server: Summary['server']): string[] {
  if (!('source' in server)) return [];
  const sv = server as ServerSummary;
  if (sv.source === 'none') return ['', `  server      not sampled${sv.note ? `: ${sv.note}` : ''}`];
  const shown = serverStatRows(sv);
  if (shown.length === 0) return ['', `  server      ${sv.samples} samples, no serving metrics found${sv.note ? ` (${sv.note})` : ''}`];
  const L = ['', `  ${pad(`server (${sv.source}, ${sv.samples} samples)`, 36)}${['mean', 'p95', 'max'].map((h) => pad(h, 9, true)).join('')}`];
  for (const [label, st, f] of shown) L.push(`  ${pad(label, 36)}${[st.mean, st.p95, st.max].map((v) => pad(f(v), 9, true)).join('')}`);
  return L;
}

/**
 * The thresholds as a table: verdict, expression, observed value, limit, and for a failed one how
 * far off it is (in the metric's unit, and relative to the limit) or why there was no value.
 */
export function thresholdLines(ts: readonly ThresholdResult[]): string[] {
  const failed = ts.filter((t) => !t.pass).length;
  const exprW = Math.min(48, Math.max(9, ...ts.map((t) => t.expr.length)));
  const rows = ts.map((t) => {
    const unit = t.unit ?? 'number';
    const observed = t.value === null ? 'no value' : formatMetric(t.value, unit);
    const limit = t.unit === undefined ? `${t.op} ${t.limit}` : formatLimit({ op: t.op, limit: t.limit, unit });
    let off = formatOffBy(t);
    if (!t.pass && t.aborted_run && !off.startsWith('failed during the run')) off += off ? '; stopped the run' : 'stopped the run';
    return { verdict: t.pass ? 'PASS' : 'FAIL', expr: t.expr, observed, limit, off };
  });
  const obsW = Math.max(8, ...rows.map((r) => r.observed.length));
  const limW = Math.max(5, ...rows.map((r) => r.limit.length));
  const L = ['', `  thresholds: ${failed ? `${failed} of ${ts.length} FAILED` : `all ${ts.length} passed`}`];
  L.push(`    ${pad('', 6)}${pad('threshold', exprW + 2)}${pad('observed', obsW, true)}  ${pad('limit', limW + 2)}off by`);
  for (const r of rows) {
    L.push(`    ${pad(r.verdict, 6)}${pad(r.expr, exprW + 2)}${pad(r.observed, obsW, true)}  ${pad(r.limit, limW + 2)}${r.off}`.trimEnd());
  }
  return L;
}

/**
 * The server figures the terminal and summary.md show, in order, with their formatting: those
 * the target exported (a figure no sample had is left out).
 */
export function serverStatRows(sv: ServerSummary): Array<[string, Stats, (v: number | null) => string]> {
  const rows: Array<[string, Stats | undefined, (v: number | null) => string]> = [
    ['queue depth', sv.queue_depth, (v) => fmtNum(v, 1)],
    ['running', sv.running, (v) => fmtNum(v, 1)],
    ['KV-cache usage', sv.kv_cache_usage, fmtPct],
    ['GPU utilisation', sv.gpu_utilization, fmtPct],
    ['GPU memory used', sv.gpu_memory_used_fraction, fmtPct],
    ['preemptions/s', sv.preemptions_per_s, (v) => fmtNum(v, 2)],
    ['prefix-cache hits', sv.prefix_cache_hit_rate, fmtPct],
  ];
  return rows.filter((r): r is [string, Stats, (v: number | null) => string] => r[1] !== undefined && (r[1].mean !== null || r[1].max !== null));
}

/** A short table per tenant (or model) when the run had several (a `mix:`): TTFT, errors, req/s. */
export function groupLines(label: string, blocks: Summary['by_tenant'] | undefined): string[] {
  const entries = Object.entries(blocks ?? {});
  if (entries.length < 2) return [];
  const L = ['', `  ${pad(label, 16)}${pad('ok', 8, true)}${pad('failed', 8, true)}${pad('errors', 9, true)}${pad('req/s', 9, true)}${pad('TTFT p50', 10, true)}${pad('TTFT p95', 10, true)}${pad('E2E p95', 9, true)}`];
  for (const [name, b] of entries) {
    L.push(`  ${pad(name, 16)}${pad(fmtNum(b.requests.ok, 0), 8, true)}${pad(fmtNum(b.requests.failed, 0), 8, true)}${pad(fmtPct(b.error_rate), 9, true)}${pad(fmtNum(b.throughput.requests_per_s, 2), 9, true)}${pad(fmtMs(b.latency_ms.ttft.p50), 10, true)}${pad(fmtMs(b.latency_ms.ttft.p95), 10, true)}${pad(fmtMs(b.latency_ms.e2e.p95), 9, true)}`);
  }
  return L;
}
