/**
 * A synthetic run folder of any size, made deterministically from a seed without sending
 * anything: request records drawn from simple distributions (three open-loop stages, two models,
 * two tenants, about 2% failures of three kinds), folded by the harness's own Aggregator into
 * summary.json's blocks and the per-second time series, plus one server sample per second from
 * three workers. For the report's size and open-time checks (bench/report-open/run.ts,
 * test/integration/report-html.test.ts): the figures are plausible, not a simulation.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Aggregator } from '../../harness/metrics/aggregator.ts';
import { SCHEMA_VERSION, type StageSummary, type Summary } from '../../harness/metrics/summary.ts';
import type { RequestRecord } from '../../harness/metrics/request-record.ts';
import { requestLine } from '../../harness/report/run-folder.ts';
import { buildServerSummary, type ServerPoint } from '../../harness/observe/server-summary.ts';
import { evaluateThresholds, parseThreshold, type Threshold } from '../../harness/gate/threshold.ts';
import { Rng } from '../../harness/workload/rng.ts';
import { UsageError } from '../../harness/errors.ts';

export interface SyntheticRunOptions {
  /** Requests in the run (default 100,000). */
  requests?: number;
  /** Length of the run in seconds (default 3600: more seconds than the report keeps points). */
  durationS?: number;
  seed?: number;
}

const STAGES = [
  { name: 'ramp', share: 0.2, weight: 0.6 },
  { name: 'steady', share: 0.6, weight: 1 },
  { name: 'spike', share: 0.2, weight: 1.6 },
] as const;
const SLO = { ttftMs: 800, tpotMs: 60 };
const THRESHOLDS = ['ttft.p95 < 800ms', 'error_rate < 1%', 'goodput.fraction > 0.9', 'by_model.llama-3.1-70b.e2e.p99 < 20s'];
const WORKERS = ['w8b-0', 'w8b-1', 'w70b-0'];

/** Writes summary.json, timeseries.json, server.json and requests.jsonl into `dir`; returns the summary. */
export function writeSyntheticRun(dir: string, o: SyntheticRunOptions = {}): Summary {
  const n = o.requests ?? 100_000;
  const durationS = o.durationS ?? 3600;
  const rng = new Rng(o.seed ?? 7);
  const durMs = durationS * 1000;

  // Arrival times: three stages, each with its share of the run's time, at relative rates.
  const stageStartsMs: number[] = [];
  let acc = 0;
  for (const s of STAGES) {
    stageStartsMs.push(acc * durMs);
    acc += s.share;
  }
  const totalWeight = STAGES.reduce((a, s) => a + s.share * s.weight, 0);
  const records: RequestRecord[] = [];
  for (let i = 0; i < n; i++) {
    // Inverse of the piecewise-constant arrival density: the i-th of n arrivals.
    let u = ((i + rng.next()) / n) * totalWeight;
    let stage = 0;
    let intended = 0;
    for (let k = 0; k < STAGES.length; k++) {
      const s = STAGES[k]!;
      const mass = s.share * s.weight;
      if (u <= mass || k === STAGES.length - 1) {
        stage = k;
        intended = stageStartsMs[k]! + Math.min(1, u / mass) * s.share * durMs;
        break;
      }
      u -= mass;
    }
    const lag = rng.exponential(0.3);
    const sent = intended + lag;
    const is70b = rng.next() < 0.2;
    const model = is70b ? 'llama-3.1-70b' : 'llama-3.1-8b';
    const tenant = rng.next() < 0.3 ? 'free' : 'pro';
    const load = STAGES[stage]!.weight;
    const roll = rng.next();
    const worker = is70b ? 'w70b-0' : rng.next() < 0.5 ? 'w8b-0' : 'w8b-1';
    const base = { id: i, stage, phase: 'measure' as const, model, tenant, user: undefined, intendedMs: intended, sentMs: sent, scheduleLagMs: lag, capWaitMs: 0, requestId: `req_${(i * 2654435761 >>> 0).toString(16).padStart(8, '0')}${i.toString(16)}`, servedBy: worker, servedModel: model, plannedPromptTokens: 0, plannedOutputTokens: 0, queueMs: undefined, retryAfterMs: undefined };
    const promptTokens = Math.max(16, Math.round(Math.exp(rng.normal(6.5, 0.6))));
    const outputTokens = rng.int(16, 256);
    base.plannedPromptTokens = promptTokens;
    base.plannedOutputTokens = outputTokens;
    if (roll < 0.02) {
      // Failures: rate limits (most), TTFT timeouts, and an overloaded worker.
      const kind = roll < 0.012 ? 0 : roll < 0.017 ? 1 : 2;
      const end = sent + (kind === 1 ? 60_000 : 5 + rng.exponential(20));
      records.push({
        ...base, endMs: Math.min(end, durMs + 30_000), headersMs: kind === 1 ? undefined : 4, ttftMs: undefined, e2eMs: undefined, itlMs: [], chunkGapsMs: [], tpotMs: undefined,
        promptTokens: undefined, outputTokens: 0, tokenSource: 'chunks', chunks: 0, ok: false,
        status: kind === 0 ? 429 : kind === 1 ? undefined : 503,
        error: kind === 0
          ? { code: 'http_429', message: `tenant '${tenant}' made ${600 + rng.int(1, 40)} requests in the last 60 s, its limit is 600 per minute` }
          : kind === 1 ? { code: 'timeout_ttft', message: 'no token within 60s' } : { code: 'http_503', message: `worker ${worker} is overloaded (queue full)` },
        retryAfterMs: kind === 0 ? 1000 : undefined, servedBy: kind === 2 ? worker : undefined,
      });
      continue;
    }
    const ttft = (is70b ? 120 : 35) * load * Math.exp(rng.normal(0, 0.5)) + promptTokens * 0.02;
    const itlMean = (is70b ? 28 : 9) * (0.8 + 0.4 * load) * Math.exp(rng.normal(0, 0.15));
    const itl: number[] = [];
    const gaps = Math.min(outputTokens - 1, 24);
    let sum = 0;
    for (let k = 0; k < gaps; k++) {
      const v = itlMean * Math.exp(rng.normal(0, 0.3));
      itl.push(v);
      sum += v;
    }
    const e2e = ttft + (gaps > 0 ? (sum / gaps) * (outputTokens - 1) : 0);
    records.push({
      ...base, endMs: sent + e2e, headersMs: ttft * 0.9, ttftMs: ttft, e2eMs: e2e, itlMs: itl, chunkGapsMs: itl, tpotMs: outputTokens > 1 ? (e2e - ttft) / (outputTokens - 1) : undefined,
      promptTokens, outputTokens, tokenSource: 'usage', chunks: outputTokens, ok: true, status: 200, error: undefined,
    });
  }

  // Planned arrivals per second (the series' target), and in-flight at each second's middle.
  const seconds = Math.ceil(durationS);
  const targets = new Array<number>(seconds).fill(0);
  for (const r of records) targets[Math.min(seconds - 1, Math.floor(r.intendedMs / 1000))]!++;
  const agg = new Aggregator(STAGES.length, SLO, targets);
  let lastEndMs = 0;
  for (const r of records) if (r.endMs > lastEndMs) lastEndMs = r.endMs;
  const inFlight = new Array<number>(Math.ceil(lastEndMs / 1000) + 1).fill(0);
  for (const r of records) {
    for (let s = Math.ceil(r.sentMs / 1000 - 0.5); s + 0.5 < r.endMs / 1000; s++) if (s >= 0 && s < inFlight.length) inFlight[s]!++;
  }
  records.sort((a, b) => a.endMs - b.endMs);
  let next = 0;
  for (const r of records) {
    while (next < inFlight.length && next * 1000 + 500 <= r.endMs) {
      agg.series.sampleInFlight(next * 1000 + 500, inFlight[next]!);
      next++;
    }
    agg.add(r);
  }
  const wallMs = Math.max(durMs, records[records.length - 1]!.endMs);

  // One server sample per second (and a baseline before the run), following the load.
  const points: ServerPoint[] = [];
  for (let s = -1; s <= Math.floor(wallMs / 1000); s++) {
    const running = s < 0 ? 0 : inFlight[s] ?? 0;
    const by_worker: ServerPoint['by_worker'] = {};
    for (const w of WORKERS) {
      const share = w === 'w70b-0' ? 0.2 : 0.4;
      const kv = Math.min(1, (running * share) / 60 + rng.next() * 0.02);
      by_worker[w] = {
        queue_depth: Math.max(0, Math.round(running * share - 20)), gateway_queue_depth: null, worker_waiting: Math.max(0, Math.round(running * share - 20)),
        running: Math.round(running * share), kv_cache_usage: kv, kv_cache_usage_max: kv, gpu_utilization: s < 0 ? 0 : Math.min(1, 0.3 + kv), gpu_memory_used_fraction: 0.9,
        preemptions_per_s: 0, prefix_cache_hit_rate: 0.1,
      };
    }
    const vals = Object.values(by_worker);
    const sum = (k: 'queue_depth' | 'running') => vals.reduce((a, v) => a + (v[k] ?? 0), 0);
    const mean = (k: 'kv_cache_usage' | 'gpu_utilization') => vals.reduce((a, v) => a + (v[k] ?? 0), 0) / vals.length;
    points.push({
      t_s: s < 0 ? -0.3 : s, queue_depth: sum('queue_depth'), gateway_queue_depth: 0, worker_waiting: sum('queue_depth'), running: sum('running'),
      kv_cache_usage: mean('kv_cache_usage'), kv_cache_usage_max: Math.max(...vals.map((v) => v.kv_cache_usage ?? 0)), gpu_utilization: mean('gpu_utilization'),
      gpu_memory_used_fraction: 0.9, preemptions_per_s: 0, prefix_cache_hit_rate: 0.1, by_worker, failed: [],
      counters: { preemptions: s < 0 ? null : 0, prefix_cache_queries: s < 0 ? null : 1000, prefix_cache_hits: s < 0 ? null : 100 },
    });
  }

  const run = agg.run.summarize(wallMs);
  const stages: StageSummary[] = STAGES.map((s, k) => ({
    index: k, name: s.name, kind: 'open', target_rate_rps: (n * s.weight) / totalWeight / durationS, users: null,
    start_s: stageStartsMs[k]! / 1000, duration_s: s.share * durationS, ...agg.stages[k]!.summarize(s.share * durMs),
  }));
  const blocks = (m: Map<string, InstanceType<typeof Aggregator>['run']>) =>
    Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)).map(([k, b]) => [k, b.summarize(wallMs)]));
  const summary: Summary = {
    schema_version: SCHEMA_VERSION,
    tool: { name: 'floodgate', version: '0.1.0' },
    scenario: { name: `synthetic-${n}`, file: 'bench/report-open/synthetic-run.ts', seed: o.seed ?? 7, description: 'a synthetic run for the report benchmark' },
    target: { url: 'http://127.0.0.1:8080/v1', model: 'llama-3.1-8b', endpoint: 'chat', stream: true, embedded: false },
    started_at: '2026-11-27T12:00:00.000Z',
    duration_s: wallMs / 1000,
    complete: true,
    interrupted: false,
    measurement: { warmup_s: 0, cooldown_s: 0, excluded: { warmup: 0, cooldown: 0 } },
    prompts: { tokenizer: 'server /tokenize', source: 'server', exact: true, overhead_tokens: 10, tokens_per_word: 1, max_model_len: 32768 },
    ...run,
    client: { ...run.client, saturated: false, saturation_lag_p99_ms: 5, threads: 2, aborted_at_end: 0, event_loop_utilization: 0.21, cpu_percent: 38 },
    slo: { ttft_ms: SLO.ttftMs, tpot_ms: SLO.tpotMs, itl_ms: null, e2e_ms: null },
    server: buildServerSummary({ source: 'metrics', note: null, intervalS: 1, points, durationS: wallMs / 1000, endpoints: WORKERS.map((w, k) => ({ name: w, url: `http://127.0.0.1:${9001 + k}/metrics`, ok_scrapes: points.length, failed_scrapes: 0, skipped_scrapes: 0, last_error: null })), prometheus: null }),
    stages,
    by_tenant: blocks(agg.byTenant),
    by_model: blocks(agg.byModel),
    thresholds: [],
    histograms: agg.run.encode(),
  };
  const parsed = THRESHOLDS.map((t) => {
    const p = parseThreshold(t);
    if (!p.ok) throw new UsageError('FG_THRESHOLD_INVALID', p.message);
    return p.threshold;
  }) satisfies Threshold[];
  summary.thresholds = evaluateThresholds(parsed, summary);

  fs.mkdirSync(dir, { recursive: true });
  const lines: string[] = [];
  const file = path.join(dir, 'requests.jsonl');
  fs.writeFileSync(file, '');
  for (const r of records) {
    lines.push(JSON.stringify(requestLine(r)));
    if (lines.length === 10_000) {
      fs.appendFileSync(file, lines.join('\n') + '\n');
      lines.length = 0;
    }
  }
  if (lines.length) fs.appendFileSync(file, lines.join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'timeseries.json'), JSON.stringify(agg.series.toArray()) + '\n');
  fs.writeFileSync(path.join(dir, 'server.json'), JSON.stringify(points) + '\n');
  fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}
