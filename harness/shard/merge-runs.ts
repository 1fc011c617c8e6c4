/**
 * `harness merge DIR...` (docs/distributed.md): the run folders of the shards of one plan
 * (`harness run --shard I/N`) become one run folder, as if one machine had sent the whole plan.
 *
 * Exact: counts, errors, HTTP statuses, tokens, goodput counts, and every latency statistic of
 * the run, each stage, tenant and model (the shards' encoded HDR histograms are merged: the
 * merged histogram is the histogram of the union of the samples); throughput and goodput rates
 * over the common window (from the earliest measured start to the latest end); requests.jsonl
 * (every line, with its `shard`, sorted by intended send time); per-second counts and tokens;
 * per-second TTFT and E2E quantiles (recomputed from requests.jsonl).
 * Approximated (documented): per-second ITL quantiles (the shards' values, weighted by their
 * completions in that second: requests.jsonl has no per-token gaps), per-second in-flight (the
 * sum of the shards' peaks, an upper bound), the conversations' duration p95 (the highest of the
 * shards'), client CPU and event-loop figures (the busiest shard's).
 *
 * Bad input is a coded UsageError (exit 2) and nothing is written: FG_MERGE_NO_INPUT,
 * FG_MERGE_NOT_A_SHARD, FG_MERGE_MISMATCH, FG_MERGE_DUPLICATE_SHARD, FG_MERGE_MISSING_SHARD,
 * FG_MERGE_OUT_DIR; unreadable folders keep their FG_REPORT_* codes (run-data.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { UsageError, ExitCode } from '../errors.ts';
import { loadRunData, type RequestLine, type RunData } from '../report/run-data.ts';
import { writeRunReports } from '../report/write-reports.ts';
import { StatsBlock, type BlockSummary, type EncodedBlock } from '../metrics/stats-block.ts';
import { LatencyHistogram } from '../metrics/latency-histogram.ts';
import { evaluateThresholds, parseThreshold, type Threshold } from '../gate/threshold.ts';
import type { StageSummary, Summary } from '../metrics/summary.ts';
import type { SeriesPoint } from '../metrics/time-series.ts';
import type { ConversationSummary } from '../metrics/conversation-stats.ts';
import { isShardRun, type MergedShardInfo, type ShardRunInfo } from './shard-types.ts';

export interface MergeOptions {
  /** The merged run folder; default `merged` next to the first shard's folder. */
  outDir?: string;
  /** Merge when some shards are missing (the summary says which; the run is marked incomplete). */
  allowPartial?: boolean;
}

export interface MergeOutcome {
  summary: Summary;
  outDir: string;
  /** 0, or 1 when a threshold failed on the merged run. */
  exitCode: number;
  /** Why the exit code is not 0, and what the merged run is missing, one line each. */
  reasons: string[];
}

interface Shard {
  dir: string;
  data: RunData;
  info: ShardRunInfo;
  offsetMs: number;
}

/** Merge the shard folders `dirs` into one run folder (see the module header). */
export function mergeRuns(dirs: readonly string[], opts: MergeOptions = {}): MergeOutcome {
  if (dirs.length === 0) throw new UsageError('FG_MERGE_NO_INPUT', 'harness merge: no shard folders given; expected one run folder per shard (harness run --shard I/N --out DIR)');
  const loaded = dirs.map((dir) => {
    const data = loadRunData(dir);
    const info = data.summary.shard;
    if (!isShardRun(info)) {
      const what = info === undefined ? 'an ordinary run (its summary.json has no shard block)' : 'a merged run';
      throw new UsageError('FG_MERGE_NOT_A_SHARD', `${path.join(dir, 'summary.json')}: shard: ${what}; harness merge takes the folders of harness run --shard I/N`);
    }
    return { dir, data, info };
  });
  checkSameRun(loaded);
  const count = loaded[0]!.info.count;
  const seen = new Map<number, string>();
  for (const s of loaded) {
    const other = seen.get(s.info.index);
    if (other !== undefined) {
      throw new UsageError('FG_MERGE_DUPLICATE_SHARD', `${s.dir}: shard.index ${s.info.index} is also the index of ${other}; each shard index (0 .. ${count - 1}) may be given once`);
    }
    seen.set(s.info.index, s.dir);
  }
  const missing: number[] = [];
  for (let i = 0; i < count; i++) if (!seen.has(i)) missing.push(i);
  if (missing.length > 0 && !opts.allowPartial) {
    throw new UsageError(
      'FG_MERGE_MISSING_SHARD',
      `shard${missing.length === 1 ? '' : 's'} ${missing.join(', ')} of ${count} missing (given: ${[...seen.keys()].sort((a, b) => a - b).join(', ')}); give every shard's folder, or --allow-partial to merge what there is (marked incomplete)`,
    );
  }
  const outDir = opts.outDir ?? path.join(path.dirname(path.resolve(dirs[0]!)), 'merged');
  checkOutDir(outDir, dirs);

  // The common clock: t = 0 is the earliest shard's t = 0 (with --start-at, every shard's).
  const startMs = loaded.map((s) => Date.parse(s.data.summary.started_at));
  const base = Math.min(...startMs);
  const shards: Shard[] = loaded.map((s, i) => ({ ...s, offsetMs: startMs[i]! - base })).sort((a, b) => a.info.index - b.info.index);

  const summary = mergeSummaries(shards, count, missing, new Date(base));
  const requests = mergeRequests(shards);
  const series = mergeSeries(shards, requests);
  const first = shards.find((s) => s.info.index === 0) ?? shards[0]!;

  const reasons: string[] = [];
  if (missing.length) reasons.push(`partial merge: shard${missing.length === 1 ? '' : 's'} ${missing.join(', ')} of ${count} missing; the figures cover the shards given`);
  if (first.info.index !== 0 && first.data.server) reasons.push(`server.json and summary.server come from shard ${first.info.index} (shard 0 is missing)`);
  for (const s of shards) {
    if (s.data.summary.client.saturated) reasons.push(`shard ${s.info.index} (${s.dir}): the client was saturated: its send lag is in the merged figures`);
    if (s.data.summary.interrupted) reasons.push(`shard ${s.info.index} (${s.dir}): the run was interrupted: the merged run is incomplete`);
  }
  const failed = summary.thresholds.filter((t) => !t.pass);
  for (const t of failed) reasons.push(`threshold failed: ${t.expr}: ${t.reason ?? 'failed'}`);

  // Written: requests.jsonl, timeseries.json, server.json, then summary.json (its presence
  // means the folder is complete), then the reports.
  fs.mkdirSync(outDir, { recursive: true });
  writeAtomic(path.join(outDir, 'requests.jsonl'), requests.map((r) => JSON.stringify(r) + '\n').join(''));
  writeAtomic(path.join(outDir, 'timeseries.json'), JSON.stringify(series) + '\n');
  const serverFile = path.join(outDir, 'server.json');
  if (first.data.server) writeAtomic(serverFile, JSON.stringify(first.data.server) + '\n');
  else fs.rmSync(serverFile, { force: true });
  writeAtomic(path.join(outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  writeRunReports(outDir);
  return { summary, outDir, exitCode: failed.length ? ExitCode.THRESHOLD_FAILED : ExitCode.OK, reasons };
}

function writeAtomic(file: string, text: string): void {
  fs.writeFileSync(`${file}.tmp`, text);
  fs.renameSync(`${file}.tmp`, file);
}

/** Every shard must come from the same scenario, seed, plan and split. */
function checkSameRun(shards: ReadonlyArray<{ dir: string; data: RunData; info: ShardRunInfo }>): void {
  const ref = shards[0]!;
  const fields: Array<[string, (s: (typeof shards)[number]) => unknown]> = [
    ['scenario.name', (s) => s.data.summary.scenario.name],
    ['scenario.seed', (s) => s.data.summary.scenario.seed],
    ['shard.count', (s) => s.info.count],
    ['shard.plan_hash', (s) => s.info.plan_hash],
    ['stages', (s) => s.data.summary.stages.map((st) => st.name).join(',')],
  ];
  for (const s of shards.slice(1)) {
    for (const [field, get] of fields) {
      const want = get(ref);
      const got = get(s);
      if (got !== want) {
        throw new UsageError(
          'FG_MERGE_MISMATCH',
          `${path.join(s.dir, 'summary.json')}: ${field} is ${JSON.stringify(got)}, but ${JSON.stringify(want)} in ${ref.dir}; only shards of one scenario, seed and plan (same --shard N) merge`,
        );
      }
    }
  }
}

/** The output folder: not one of the shards, and empty or an earlier merge's output. */
function checkOutDir(outDir: string, dirs: readonly string[]): void {
  const out = path.resolve(outDir);
  for (const d of dirs) {
    if (path.resolve(d) === out) throw new UsageError('FG_MERGE_OUT_DIR', `--out ${outDir}: is one of the shard folders; give a folder of its own`);
  }
  if (!fs.existsSync(out)) return;
  if (!fs.statSync(out).isDirectory()) throw new UsageError('FG_MERGE_OUT_DIR', `--out ${outDir}: exists and is not a folder`);
  const entries = fs.readdirSync(out);
  if (entries.length === 0) return;
  const summaryFile = path.join(out, 'summary.json');
  let merged = false;
  try {
    const s = JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as { shard?: { merged_from?: unknown } };
    merged = typeof s.shard?.merged_from === 'number';
  } catch {
    merged = false;
  }
  if (!merged) throw new UsageError('FG_MERGE_OUT_DIR', `--out ${outDir}: exists and holds files that are not an earlier merge's; give an empty or new folder`);
}

/** A block's rate window on the merged clock: earliest start to latest end over the shards that have it. */
function mergedWindowS(parts: ReadonlyArray<{ offsetMs: number; windowS: number }>): number {
  if (parts.length === 0) return 0;
  const start = Math.min(...parts.map((p) => p.offsetMs / 1000));
  const end = Math.max(...parts.map((p) => p.offsetMs / 1000 + p.windowS));
  return Math.max(0, end - start);
}

function mergeBlock(parts: ReadonlyArray<{ enc: EncodedBlock; offsetMs: number; windowS: number }>): BlockSummary & { encoded: EncodedBlock } {
  const b = new StatsBlock();
  for (const p of parts) b.merge(StatsBlock.decode(p.enc));
  return { ...b.summarize(mergedWindowS(parts) * 1000), encoded: b.encode() };
}

function withoutEncoded<T extends { encoded: EncodedBlock }>(x: T): Omit<T, 'encoded'> {
  const { encoded: _e, ...rest } = x;
  return rest;
}

function mergeKeyed(shards: readonly Shard[], pick: (s: Shard) => { enc: Record<string, EncodedBlock>; sum: Record<string, BlockSummary> }): Record<string, BlockSummary> {
  const keys = new Set<string>();
  for (const s of shards) for (const k of Object.keys(pick(s).enc)) keys.add(k);
  const out: Record<string, BlockSummary> = {};
  for (const k of [...keys].sort((a, b) => a.localeCompare(b))) {
    const parts = shards.flatMap((s) => {
      const p = pick(s);
      const enc = p.enc[k];
      return enc ? [{ enc, offsetMs: s.offsetMs, windowS: p.sum[k]?.window_s ?? 0 }] : [];
    });
    out[k] = withoutEncoded(mergeBlock(parts));
  }
  return out;
}

function mergeSummaries(shards: readonly Shard[], count: number, missing: number[], startedAt: Date): Summary {
  const first = shards.find((s) => s.info.index === 0) ?? shards[0]!;
  const f = first.data.summary;
  const sums = shards.map((s) => s.data.summary);
  const run = mergeBlock(shards.map((s) => ({ enc: s.data.summary.histograms, offsetMs: s.offsetMs, windowS: s.data.summary.window_s })));
  const stages: StageSummary[] = f.stages.map((st, i) => {
    const parts = shards.flatMap((s) => {
      const enc = s.info.histograms.stages[i];
      return enc ? [{ enc, offsetMs: s.offsetMs, windowS: s.data.summary.stages[i]?.window_s ?? 0 }] : [];
    });
    return {
      index: st.index,
      name: st.name,
      kind: st.kind,
      target_rate_rps: st.target_rate_rps,
      users: st.users,
      start_s: st.start_s,
      duration_s: st.duration_s,
      ...withoutEncoded(mergeBlock(parts)),
    };
  });
  const by_tenant = mergeKeyed(shards, (s) => ({ enc: s.info.histograms.by_tenant, sum: s.data.summary.by_tenant }));
  const by_model = mergeKeyed(shards, (s) => ({ enc: s.info.histograms.by_model, sum: s.data.summary.by_model }));
  const interrupted = sums.some((s) => s.interrupted);
  const aborted = sums.find((s) => s.aborted)?.aborted ?? null;
  const shardBlock: MergedShardInfo = {
    merged_from: shards.length,
    count,
    indices: shards.map((s) => s.info.index),
    missing,
    partial: missing.length > 0,
    start_at: first.info.start_at,
    plan_hash: first.info.plan_hash,
    shards: shards.map((s) => ({
      index: s.info.index,
      dir: s.dir,
      started_at: s.data.summary.started_at,
      offset_ms: s.offsetMs,
      requests: s.data.summary.requests.total,
      saturated: s.data.summary.client.saturated,
      complete: s.data.summary.complete,
      send_lag_p99_ms: s.data.summary.client.send_lag_ms.p99,
    })),
  };
  const { encoded, ...runBlock } = run;
  const summary: Summary = {
    ...f,
    ...runBlock,
    started_at: startedAt.toISOString(),
    duration_s: Math.max(...shards.map((s) => s.offsetMs / 1000 + s.data.summary.duration_s)),
    complete: !interrupted && missing.length === 0 && sums.every((s) => s.complete),
    interrupted,
    aborted,
    measurement: {
      ...f.measurement,
      excluded: {
        warmup: sums.reduce((a, s) => a + s.measurement.excluded.warmup, 0),
        cooldown: sums.reduce((a, s) => a + s.measurement.excluded.cooldown, 0),
      },
    },
    client: {
      ...runBlock.client,
      saturated: sums.some((s) => s.client.saturated),
      saturation_lag_p99_ms: f.client.saturation_lag_p99_ms,
      threads: sums.reduce((a, s) => a + s.client.threads, 0),
      aborted_at_end: sums.reduce((a, s) => a + s.client.aborted_at_end, 0),
      event_loop_utilization: Math.max(...sums.map((s) => s.client.event_loop_utilization)),
      cpu_percent: Math.max(...sums.map((s) => s.client.cpu_percent)),
    },
    // The target is shared: its metrics once, from shard 0 (else the lowest shard given).
    server: f.server,
    stages,
    by_tenant,
    by_model,
    thresholds: [],
    histograms: encoded,
    shard: shardBlock,
  };
  delete summary.conversations;
  const conv = mergeConversations(shards);
  if (conv) summary.conversations = conv;
  summary.thresholds = evaluateThresholds(parseThresholds(f.thresholds.map((t) => t.expr), first.dir), summary);
  return summary;
}

function parseThresholds(exprs: readonly string[], dir: string): Threshold[] {
  return exprs.map((expr) => {
    const p = parseThreshold(expr);
    if (!p.ok) throw new UsageError(p.code, `${path.join(dir, 'summary.json')}: thresholds: "${expr}": ${p.message}`);
    return p.threshold;
  });
}

/**
 * Conversations stay whole on one shard: counts sum; means are weighted by the completed
 * conversations; maxima are the shards' highest; TTFT by turn is recomputed from requests.jsonl
 * (measured successful turns); duration p95 is the highest of the shards' (an upper bound).
 */
function mergeConversations(shards: readonly Shard[]): ConversationSummary | undefined {
  const parts = shards.map((s) => s.data.summary.conversations).filter((c): c is ConversationSummary => c !== undefined);
  if (parts.length === 0) return undefined;
  const sum = (f: (c: ConversationSummary) => number) => parts.reduce((a, c) => a + f(c), 0);
  const completed = sum((c) => c.completed);
  const wmean = (f: (c: ConversationSummary) => number | null) => (completed ? sum((c) => (f(c) ?? 0) * c.completed) / completed : null);
  const max = (f: (c: ConversationSummary) => number | null) => {
    const v = parts.map(f).filter((x): x is number => x !== null);
    return v.length ? Math.max(...v) : null;
  };
  const byTurn = new Map<string, LatencyHistogram>();
  for (const s of shards) {
    for (const r of s.data.requests) {
      if (r.conversation == null || !r.ok || r.phase !== 'measure' || r.ttft_ms === null) continue;
      const turn = r.turn ?? 1;
      const key = turn >= 10 ? '10+' : String(turn);
      let h = byTurn.get(key);
      if (!h) byTurn.set(key, (h = new LatencyHistogram()));
      h.record(r.ttft_ms);
    }
  }
  const ttft_ms_by_turn: ConversationSummary['ttft_ms_by_turn'] = {};
  for (const key of [...byTurn.keys()].sort((a, b) => parseInt(a, 10) - parseInt(b, 10))) {
    const st = byTurn.get(key)!.stats();
    ttft_ms_by_turn[key] = { count: st.count, p50: st.p50, p95: st.p95 };
  }
  const failed = sum((c) => c.failed);
  return {
    started: sum((c) => c.started),
    completed,
    failed,
    cut: sum((c) => c.cut),
    completed_fraction: completed + failed ? completed / (completed + failed) : null,
    turns: { mean: wmean((c) => c.turns.mean), max: max((c) => c.turns.max) },
    duration_s: { mean: wmean((c) => c.duration_s.mean), p95: max((c) => c.duration_s.p95) },
    last_prompt_tokens: { mean: wmean((c) => c.last_prompt_tokens.mean), max: max((c) => c.last_prompt_tokens.max) },
    ttft_ms_by_turn,
  };
}

type MergedLine = RequestLine & { shard: number };

/** Every shard's lines, with `shard`, times on the merged clock, sorted by intended send time. */
function mergeRequests(shards: readonly Shard[]): MergedLine[] {
  const shift = (v: number | null, by: number) => (v === null || by === 0 ? v : Math.round((v + by) * 1000) / 1000);
  const out: MergedLine[] = [];
  for (const s of shards) {
    for (const r of s.data.requests) {
      out.push({ ...r, shard: s.info.index, intended_ms: shift(r.intended_ms, s.offsetMs), sent_ms: shift(r.sent_ms, s.offsetMs), end_ms: shift(r.end_ms, s.offsetMs) });
    }
  }
  out.sort((a, b) => (a.intended_ms ?? 0) - (b.intended_ms ?? 0) || a.shard - b.shard || a.id - b.id);
  return out;
}

/**
 * The shards' per-second series on the merged clock: counts and tokens summed, target summed
 * (null where every shard's is null), send lag the worst, in-flight the sum of the shards'
 * peaks (an upper bound of the true peak), TTFT and E2E quantiles recomputed from the merged
 * requests (same 2-digit histograms as a run's series), ITL quantiles the shards' values
 * weighted by their completions in the second (requests.jsonl has no per-token gaps).
 */
function mergeSeries(shards: readonly Shard[], requests: readonly MergedLine[]): SeriesPoint[] {
  const len = Math.max(0, ...shards.map((s) => Math.round(s.offsetMs / 1000) + s.data.timeseries.length));
  const pts: SeriesPoint[] = Array.from({ length: len }, (_, t) => ({
    t, target: null, sent: 0, ok: 0, failed: 0, dropped: 0, in_flight: 0, output_tokens: 0,
    ttft_p50: null, ttft_p95: null, itl_p50: null, itl_p95: null, e2e_p50: null, send_lag_max: null,
  }));
  const itl = Array.from({ length: len }, () => ({ w: 0, p50: 0, p95: 0 }));
  for (const s of shards) {
    const off = Math.round(s.offsetMs / 1000);
    for (const p of s.data.timeseries) {
      const q = pts[p.t + off];
      if (!q) continue;
      if (p.target !== null) q.target = (q.target ?? 0) + p.target;
      q.sent += p.sent;
      q.ok += p.ok;
      q.failed += p.failed;
      q.dropped += p.dropped;
      q.in_flight += p.in_flight;
      q.output_tokens += p.output_tokens;
      if (p.send_lag_max !== null && (q.send_lag_max === null || p.send_lag_max > q.send_lag_max)) q.send_lag_max = p.send_lag_max;
      if (p.itl_p50 !== null && p.itl_p95 !== null && p.ok > 0) {
        const a = itl[p.t + off]!;
        a.w += p.ok;
        a.p50 += p.itl_p50 * p.ok;
        a.p95 += p.itl_p95 * p.ok;
      }
    }
  }
  const hs = new Map<number, { ttft: LatencyHistogram; e2e: LatencyHistogram }>();
  for (const r of requests) {
    if (!r.ok || r.end_ms === null) continue;
    const sec = Math.max(0, Math.floor(r.end_ms / 1000));
    let h = hs.get(sec);
    if (!h) hs.set(sec, (h = { ttft: new LatencyHistogram(2), e2e: new LatencyHistogram(2) }));
    if (r.ttft_ms !== null) h.ttft.record(r.ttft_ms);
    if (r.e2e_ms !== null) h.e2e.record(r.e2e_ms);
  }
  for (const [sec, h] of hs) {
    const q = pts[sec];
    if (!q) continue;
    q.ttft_p50 = h.ttft.percentile(50);
    q.ttft_p95 = h.ttft.percentile(95);
    q.e2e_p50 = h.e2e.percentile(50);
  }
  itl.forEach((a, i) => {
    if (a.w > 0) {
      pts[i]!.itl_p50 = a.p50 / a.w;
      pts[i]!.itl_p95 = a.p95 / a.w;
    }
  });
  return pts;
}
