/**
 * summary.md: a run as GitHub-flavoured Markdown, for CI step summaries ($GITHUB_STEP_SUMMARY)
 * and pull-request comments. A pure function of the saved run data. Compact by design (GitHub
 * caps a step summary at 1 MiB, and a comment at 65,536 characters): key numbers, thresholds with
 * how far off they are, stages, errors by code, conversations and the prompt dataset when the
 * scenario has them, the server's side, and what to distrust.
 */
import type { RunData } from './run-data.ts';
import type { Summary } from '../metrics/summary.ts';
import type { ServerSummary } from '../observe/server-summary.ts';
import { formatLimit, formatMetric, formatOffBy, type ThresholdResult } from '../gate/threshold.ts';
import { fmtMs, fmtNum, fmtPct, serverStatRows } from './console-summary.ts';

/** Rows of a table beyond these are summarised in one line. */
const MAX_STAGES = 20;
const MAX_ERRORS = 10;
const MAX_THRESHOLDS = 50;

/**
 * How a run ended, as its exit code sees it: `failed` (a threshold failed, or one stopped the
 * run: exit 1), `incomplete` (stopped by a signal: exit 3), `saturated` (the client could not
 * keep to the schedule: exit 3 unless --allow-saturated), `passed`.
 */
export type RunStatus = 'passed' | 'failed' | 'incomplete' | 'saturated';

export function runStatus(s: Summary): RunStatus {
  if (s.thresholds.some((t) => !t.pass) || s.aborted?.by === 'threshold') return 'failed';
  if (s.interrupted || s.complete === false) return 'incomplete';
  if (s.client?.saturated) return 'saturated';
  return 'passed';
}

/** One sentence per reason the figures are partial or untrustworthy; empty for a clean run. */
export function runCaveats(s: Summary): string[] {
  const out: string[] = [];
  const a = s.aborted;
  if (a?.by === 'threshold') {
    out.push(`Aborted at ${fmtNum(a.at_s, 1)}s by the abort_on_fail threshold \`${a.threshold}\`: sending stopped, in-flight requests drained; the figures cover what ran.`);
  } else if (s.interrupted || s.complete === false) {
    out.push(`Incomplete: interrupted${a ? ` at ${fmtNum(a.at_s, 1)}s` : ''} (Ctrl-C or a signal); the figures cover what ran.`);
  }
  if (s.client?.saturated) {
    out.push(
      `Client saturated: send lag p99 ${fmtMs(s.client.send_lag_ms.p99)} ms (bound ${fmtMs(s.client.saturation_lag_p99_ms)} ms), busiest client thread ${(s.client.event_loop_utilization * 100).toFixed(0)}% busy; these figures describe the client, not the target.`,
    );
  }
  if (s.client?.aborted_at_end > 0) out.push(`${s.client.aborted_at_end} request(s) were still in flight when the drain period ran out and were aborted.`);
  return out;
}

const TITLE: Record<RunStatus, string> = {
  passed: '✅ passed',
  failed: '❌ failed',
  incomplete: '⚠️ incomplete',
  saturated: '⚠️ client saturated',
};

/** A table cell: pipes escaped, on one line. */
export function cell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ');
}

/** Inline code holding `text` (a backtick in it gets a longer fence). */
function code(text: string): string {
  const fence = /`/.test(text) ? '``' : '`';
  const pad = fence.length > 1 ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function table(head: readonly string[], rows: readonly (readonly string[])[], align?: readonly ('l' | 'r')[]): string[] {
  const sep = head.map((_, i) => ((align?.[i] ?? (i === 0 ? 'l' : 'r')) === 'r' ? '---:' : '---'));
  return [row(head), row(sep), ...rows.map(row)];
}

function thresholdRows(ts: readonly ThresholdResult[]): string[][] {
  return ts.slice(0, MAX_THRESHOLDS).map((t) => {
    const off = cell(formatOffBy(t));
    const flags = [t.aborted_run ? 'stopped the run' : '', t.abort_on_fail && !t.aborted_run ? 'abort_on_fail' : ''].filter(Boolean).join(', ');
    return [
      t.pass ? '✅' : '❌',
      cell(code(t.expr)) + (flags ? ` (${flags})` : ''),
      t.value === null ? 'no value' : formatMetric(t.value, t.unit ?? 'number'),
      cell(t.unit === undefined ? `${t.limit}` : formatLimit({ op: t.op, limit: t.limit, unit: t.unit })),
      off,
    ];
  });
}

function serverRows(server: Summary['server']): string[] {
  if (!server || !('source' in server)) return [];
  const sv = server as ServerSummary;
  if (sv.source === 'none') return [`Server metrics: not sampled${sv.note ? ` (${cell(sv.note)})` : ''}.`, ''];
  const shown = serverStatRows(sv);
  if (shown.length === 0) return [`Server metrics: ${sv.samples} samples, no serving metrics found.`, ''];
  return [
    `**Server** (${sv.source}, ${sv.samples} samples)`,
    '',
    ...table(['', 'mean', 'p95', 'max'], shown.map(([label, st, f]) => [label, f(st.mean), f(st.p95), f(st.max)])),
    '',
  ];
}

/** summary.md for the run `data` (GitHub-flavoured Markdown). */
export function renderSummaryMarkdown(data: RunData): string {
  const s = data.summary;
  const status = runStatus(s);
  const L: string[] = [];
  L.push(`## Floodgate: ${cell(s.scenario.name)} ${TITLE[status]}`);
  L.push('');
  const stream = s.target.stream ? ', streaming' : '';
  L.push(`${cell(s.target.model)} at ${cell(s.target.url)} (${s.target.endpoint}${stream}${s.target.embedded ? ', embedded stack' : ''}); started ${s.started_at}, ${fmtNum(s.duration_s, 1)} s.`);
  L.push('');
  for (const c of runCaveats(s)) L.push(`> ${c}`);
  if (runCaveats(s).length) L.push('');

  const r = s.requests;
  L.push(
    ...table(
      ['requests', 'ok', 'failed', 'dropped', 'error rate', 'goodput', 'throughput', 'output tokens/s'],
      [[
        fmtNum(r.total, 0),
        fmtNum(r.ok, 0),
        fmtNum(r.failed, 0),
        fmtNum(r.dropped, 0),
        fmtPct(s.error_rate),
        `${fmtPct(s.goodput.fraction)} (${fmtNum(s.goodput.requests_per_s, 2)} req/s)`,
        `${fmtNum(s.throughput.requests_per_s, 2)} req/s`,
        fmtNum(s.throughput.output_tokens_per_s, 0),
      ]],
      ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  L.push('');
  const lat: Array<[string, keyof Summary['latency_ms']]> = [['TTFT', 'ttft'], ['ITL', 'itl'], ['TPOT', 'tpot'], ['E2E', 'e2e']];
  L.push(
    ...table(
      ['latency (ms)', 'p50', 'p95', 'p99', 'max'],
      lat.filter(([, k]) => s.latency_ms[k]).map(([label, k]) => {
        const st = s.latency_ms[k];
        return [label, fmtMs(st.p50), fmtMs(st.p95), fmtMs(st.p99), fmtMs(st.max)];
      }),
    ),
  );
  L.push('');

  if (s.thresholds.length) {
    const failed = s.thresholds.filter((t) => !t.pass).length;
    L.push(`**Thresholds**: ${failed ? `${failed} of ${s.thresholds.length} failed` : `all ${s.thresholds.length} passed`}`);
    L.push('');
    L.push(...table(['', 'threshold', 'observed', 'limit', 'off by'], thresholdRows(s.thresholds), ['l', 'l', 'r', 'r', 'l']));
    if (s.thresholds.length > MAX_THRESHOLDS) L.push('', `... and ${s.thresholds.length - MAX_THRESHOLDS} more in summary.json.`);
    L.push('');
  }

  if (s.stages.length > 1) {
    L.push('**Stages**');
    L.push('');
    L.push(
      ...table(
        ['stage', 'target', 'ok', 'failed', 'error rate', 'req/s', 'TTFT p95', 'ITL p95', 'E2E p95'],
        s.stages.slice(0, MAX_STAGES).map((st) => [
          cell(st.name),
          st.kind === 'open' ? `${fmtNum(st.target_rate_rps, 2)} rps` : `${st.users} users`,
          fmtNum(st.requests.ok, 0),
          fmtNum(st.requests.failed, 0),
          fmtPct(st.error_rate),
          fmtNum(st.throughput.requests_per_s, 2),
          fmtMs(st.latency_ms.ttft.p95),
          fmtMs(st.latency_ms.itl.p95),
          fmtMs(st.latency_ms.e2e.p95),
        ]),
      ),
    );
    if (s.stages.length > MAX_STAGES) L.push('', `... and ${s.stages.length - MAX_STAGES} more stages in summary.json.`);
    L.push('');
  }

  const errs = Object.entries(s.errors ?? {}).sort((a, b) => b[1] - a[1]);
  if (errs.length) {
    L.push('**Errors by code**');
    L.push('');
    L.push(...table(['code', 'count'], errs.slice(0, MAX_ERRORS).map(([k, v]) => [cell(code(k)), fmtNum(v, 0)])));
    if (errs.length > MAX_ERRORS) L.push('', `... and ${errs.length - MAX_ERRORS} more codes in summary.json.`);
    L.push('');
  }

  if (s.conversations) {
    const c = s.conversations;
    L.push(`**Conversations**: ${fmtNum(c.completed, 0)} completed of ${fmtNum(c.started, 0)} (${c.failed} failed, ${c.cut} cut), turns mean ${fmtNum(c.turns.mean, 1)} max ${fmtNum(c.turns.max, 0)}, last prompt mean ${fmtNum(c.last_prompt_tokens.mean, 0)} tokens`);
    if (c.new_text_clamped) L.push('', `> **Warning**: ${fmtNum(c.new_text_clamped, 0)} trace turn(s) had an input length not above the history's tokens: their new text was clamped to 1 token (\`trace.history: included\`).`);
    L.push('');
    const turns = Object.entries(c.ttft_ms_by_turn);
    if (turns.length > 0) L.push(...table(['turn', 'turns', 'TTFT p50 (ms)', 'TTFT p95 (ms)'], turns.map(([t, v]) => [t, fmtNum(v.count, 0), fmtMs(v.p50), fmtMs(v.p95)])), '');
  }
  if (s.dataset) {
    const d = s.dataset;
    L.push(`**Dataset**: ${cell(code(d.file))} (${d.format}, ${d.order} order): ${fmtNum(d.entries_used, 0)} usable entries, ${fmtNum(d.skipped, 0)} skipped as unusable`);
    L.push('');
  }
  L.push(...serverRows(s.server));
  L.push(`<sub>floodgate ${cell(s.tool?.version ?? '')}, scenario ${cell(s.scenario.file)}, seed ${s.scenario.seed}; run folder \`${cell(data.dir)}\`</sub>`);
  L.push('');
  return L.join('\n');
}
