/**
 * StatsBlock: the aggregate of a set of requests (a whole run, one stage, one tenant, one
 * model): counts, error codes, token totals, goodput and one LatencyHistogram per latency metric.
 * Blocks merge exactly (client threads, shards). Only measured requests (not warmup/cooldown)
 * are added. Formulas are in docs/metrics.md; each is repeated where it is computed.
 */
import { LatencyHistogram, type EncodedHistogram, type LatencyStats } from './latency-histogram.ts';
import type { RequestRecord } from './request-record.ts';
import type { SloConfig } from '../scenario/scenario-types.ts';

export const LATENCY_METRICS = ['ttft', 'itl', 'tpot', 'e2e', 'queue', 'inter_chunk', 'ttft_intended', 'e2e_intended'] as const;
export type LatencyMetric = (typeof LATENCY_METRICS)[number];

/** A summary block: the shape shared by the run, each stage, tenant and model in summary.json. */
export interface BlockSummary {
  requests: { total: number; ok: number; failed: number; dropped: number };
  /** failed / (ok + failed); dropped requests were never sent and are not errors. */
  error_rate: number | null;
  errors: Record<string, number>;
  http_status: Record<string, number>;
  throughput: { requests_per_s: number | null; output_tokens_per_s: number | null; total_tokens_per_s: number | null };
  goodput: { requests_per_s: number | null; output_tokens_per_s: number | null; fraction: number | null };
  latency_ms: Record<LatencyMetric, LatencyStats>;
  tokens: { prompt: number; output: number; prompt_mean: number | null; output_mean: number | null };
  client: { send_lag_ms: LatencyStats };
  /** Seconds the throughput figures are divided by. */
  window_s: number;
}

export interface EncodedBlock {
  total: number;
  ok: number;
  failed: number;
  dropped: number;
  good: number;
  goodOutputTokens: number;
  promptTokens: number;
  outputTokens: number;
  errors: Record<string, number>;
  httpStatus: Record<string, number>;
  firstMs: number | null;
  lastEndMs: number | null;
  histograms: Record<LatencyMetric | 'send_lag', EncodedHistogram>;
}

/** Does a successful request meet every SLO that is set? (Goodput.) */
export function meetsSlo(r: RequestRecord, slo: SloConfig): boolean {
  if (!r.ok) return false;
  if (slo.ttftMs !== undefined && !(r.ttftMs !== undefined && r.ttftMs <= slo.ttftMs)) return false;
  if (slo.e2eMs !== undefined && !(r.e2eMs !== undefined && r.e2eMs <= slo.e2eMs)) return false;
  // TPOT and ITL are undefined for 1-token outputs: nothing to violate.
  if (slo.tpotMs !== undefined && r.tpotMs !== undefined && r.tpotMs > slo.tpotMs) return false;
  if (slo.itlMs !== undefined && r.itlMs.length > 0) {
    let sum = 0;
    for (const v of r.itlMs) sum += v;
    if (sum / r.itlMs.length > slo.itlMs) return false;
  }
  return true;
}

export class StatsBlock {
  total = 0;
  ok = 0;
  failed = 0;
  dropped = 0;
  good = 0;
  goodOutputTokens = 0;
  promptTokens = 0;
  outputTokens = 0;
  readonly errors = new Map<string, number>();
  readonly httpStatus = new Map<string, number>();
  firstMs = Infinity;
  lastEndMs = -Infinity;
  readonly h: Record<LatencyMetric | 'send_lag', LatencyHistogram>;

  constructor() {
    this.h = {
      ttft: new LatencyHistogram(),
      itl: new LatencyHistogram(),
      tpot: new LatencyHistogram(),
      e2e: new LatencyHistogram(),
      queue: new LatencyHistogram(),
      inter_chunk: new LatencyHistogram(),
      ttft_intended: new LatencyHistogram(),
      e2e_intended: new LatencyHistogram(),
      send_lag: new LatencyHistogram(),
    };
  }

  add(r: RequestRecord, slo: SloConfig): void {
    this.total++;
    if (r.intendedMs < this.firstMs) this.firstMs = r.intendedMs;
    if (r.endMs > this.lastEndMs) this.lastEndMs = r.endMs;
    this.h.send_lag.record(r.scheduleLagMs);
    if (r.status !== undefined) bump(this.httpStatus, String(r.status));
    if (r.queueMs !== undefined) this.h.queue.record(r.queueMs);
    if (!r.ok) {
      this.failed++;
      bump(this.errors, r.error?.code ?? 'client_error');
      return;
    }
    this.ok++;
    this.promptTokens += r.promptTokens ?? r.plannedPromptTokens;
    this.outputTokens += r.outputTokens;
    // Latency from the intended send time (coordinated-omission corrected): what a user who
    // arrived on schedule saw, including client lateness and max_in_flight waits.
    const late = r.sentMs - r.intendedMs;
    if (r.ttftMs !== undefined) {
      this.h.ttft.record(r.ttftMs);
      this.h.ttft_intended.record(r.ttftMs + late);
    }
    if (r.e2eMs !== undefined) {
      this.h.e2e.record(r.e2eMs);
      this.h.e2e_intended.record(r.e2eMs + late);
    }
    if (r.tpotMs !== undefined) this.h.tpot.record(r.tpotMs);
    for (const v of r.itlMs) this.h.itl.record(v);
    for (const v of r.chunkGapsMs) this.h.inter_chunk.record(v);
    if (meetsSlo(r, slo)) {
      this.good++;
      this.goodOutputTokens += r.outputTokens;
    }
  }

  /** An open-loop arrival dropped by `on_max_in_flight: drop` (never sent). */
  addDrop(): void {
    this.dropped++;
  }

  merge(o: StatsBlock): this {
    this.total += o.total;
    this.ok += o.ok;
    this.failed += o.failed;
    this.dropped += o.dropped;
    this.good += o.good;
    this.goodOutputTokens += o.goodOutputTokens;
    this.promptTokens += o.promptTokens;
    this.outputTokens += o.outputTokens;
    for (const [k, v] of o.errors) bump(this.errors, k, v);
    for (const [k, v] of o.httpStatus) bump(this.httpStatus, k, v);
    this.firstMs = Math.min(this.firstMs, o.firstMs);
    this.lastEndMs = Math.max(this.lastEndMs, o.lastEndMs);
    for (const k of Object.keys(this.h) as Array<keyof StatsBlock['h']>) this.h[k].merge(o.h[k]);
    return this;
  }

  /**
   * The block as summary.json shows it. `windowMs` is the time the rates are divided by
   * (throughput = completed / window; goodput = requests meeting every SLO / window).
   */
  summarize(windowMs: number): BlockSummary {
    const w = windowMs > 0 ? windowMs / 1000 : 0;
    const rate = (n: number) => (w > 0 ? n / w : null);
    const sent = this.ok + this.failed;
    const latency = {} as Record<LatencyMetric, LatencyStats>;
    for (const m of LATENCY_METRICS) latency[m] = this.h[m].stats();
    return {
      requests: { total: this.total + this.dropped, ok: this.ok, failed: this.failed, dropped: this.dropped },
      error_rate: sent > 0 ? this.failed / sent : null,
      errors: Object.fromEntries([...this.errors].sort((a, b) => b[1] - a[1])),
      http_status: Object.fromEntries([...this.httpStatus].sort()),
      throughput: {
        requests_per_s: rate(this.ok),
        output_tokens_per_s: rate(this.outputTokens),
        total_tokens_per_s: rate(this.outputTokens + this.promptTokens),
      },
      goodput: {
        requests_per_s: rate(this.good),
        output_tokens_per_s: rate(this.goodOutputTokens),
        // Share of all measured requests (failed and dropped included) that met every SLO.
        fraction: this.total + this.dropped > 0 ? this.good / (this.total + this.dropped) : null,
      },
      latency_ms: latency,
      tokens: {
        prompt: this.promptTokens,
        output: this.outputTokens,
        prompt_mean: this.ok ? this.promptTokens / this.ok : null,
        output_mean: this.ok ? this.outputTokens / this.ok : null,
      },
      client: { send_lag_ms: this.h.send_lag.stats() },
      window_s: w,
    };
  }

  encode(): EncodedBlock {
    const histograms = {} as EncodedBlock['histograms'];
    for (const k of Object.keys(this.h) as Array<keyof StatsBlock['h']>) histograms[k] = this.h[k].encode();
    return {
      total: this.total,
      ok: this.ok,
      failed: this.failed,
      dropped: this.dropped,
      good: this.good,
      goodOutputTokens: this.goodOutputTokens,
      promptTokens: this.promptTokens,
      outputTokens: this.outputTokens,
      errors: Object.fromEntries(this.errors),
      httpStatus: Object.fromEntries(this.httpStatus),
      firstMs: Number.isFinite(this.firstMs) ? this.firstMs : null,
      lastEndMs: Number.isFinite(this.lastEndMs) ? this.lastEndMs : null,
      histograms,
    };
  }

  static decode(e: EncodedBlock): StatsBlock {
    const b = new StatsBlock();
    b.total = e.total;
    b.ok = e.ok;
    b.failed = e.failed;
    b.dropped = e.dropped;
    b.good = e.good;
    b.goodOutputTokens = e.goodOutputTokens;
    b.promptTokens = e.promptTokens;
    b.outputTokens = e.outputTokens;
    for (const [k, v] of Object.entries(e.errors)) b.errors.set(k, v);
    for (const [k, v] of Object.entries(e.httpStatus)) b.httpStatus.set(k, v);
    b.firstMs = e.firstMs ?? Infinity;
    b.lastEndMs = e.lastEndMs ?? -Infinity;
    for (const k of Object.keys(b.h) as Array<keyof StatsBlock['h']>) b.h[k].merge(LatencyHistogram.decode(e.histograms[k]));
    return b;
  }
}

function bump(m: Map<string, number>, k: string, by = 1): void {
  m.set(k, (m.get(k) ?? 0) + by);
}
