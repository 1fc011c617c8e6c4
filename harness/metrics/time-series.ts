/**
 * Per-second time series of a run, on the run's clock (second i covers [i, i+1) s):
 * sends (and their worst schedule lag) are counted in the second they were sent, completions
 * (ok, failed, tokens, latencies) in the second they ended, in-flight is the highest count seen
 * in the second. Latency quantiles per second come from small HDR histograms (2 significant
 * digits) that are reduced to numbers once their second is two seconds old, so memory stays
 * flat on long soaks. Records reach the aggregator when they end, so only end-second figures
 * can use histograms; a send second can be long past when its request ends, so send lag is
 * kept as a per-second maximum, which can be raised at any time.
 */
import { LatencyHistogram } from './latency-histogram.ts';
import type { RequestRecord } from './request-record.ts';

export interface SeriesPoint {
  t: number;
  /** Planned open-loop arrivals in this second (the target), or null for closed-loop seconds. */
  target: number | null;
  sent: number;
  ok: number;
  failed: number;
  dropped: number;
  in_flight: number;
  output_tokens: number;
  ttft_p50: number | null;
  ttft_p95: number | null;
  itl_p50: number | null;
  itl_p95: number | null;
  e2e_p50: number | null;
  /** Worst schedule lag of the requests sent in this second (ms). */
  send_lag_max: number | null;
}

interface Live {
  ttft: LatencyHistogram;
  itl: LatencyHistogram;
  e2e: LatencyHistogram;
}

export class TimeSeries {
  private readonly points: SeriesPoint[] = [];
  private readonly live = new Map<number, Live>();
  /** Seconds reduced to quantiles: data ending in them later is too late to change them. */
  private finalizedBelow = 0;
  private newest = 0;

  /** `targets[i]`: planned arrivals in second i (null where the load is closed-loop). */
  constructor(private readonly targets: ReadonlyArray<number | null> = []) {}

  private point(i: number): SeriesPoint {
    while (this.points.length <= i) {
      const t = this.points.length;
      this.points.push({
        t, target: this.targets[t] ?? null, sent: 0, ok: 0, failed: 0, dropped: 0, in_flight: 0, output_tokens: 0,
        ttft_p50: null, ttft_p95: null, itl_p50: null, itl_p95: null, e2e_p50: null, send_lag_max: null,
      });
    }
    return this.points[i]!;
  }

  private liveOf(i: number): Live | undefined {
    if (i < this.finalizedBelow) return undefined;
    let l = this.live.get(i);
    if (!l) {
      l = { ttft: new LatencyHistogram(2), itl: new LatencyHistogram(2), e2e: new LatencyHistogram(2) };
      this.live.set(i, l);
    }
    return l;
  }

  add(r: RequestRecord): void {
    const sentS = Math.max(0, Math.floor(r.sentMs / 1000));
    const endS = Math.max(0, Math.floor(r.endMs / 1000));
    const sent = this.point(sentS);
    sent.sent++;
    if (sent.send_lag_max === null || r.scheduleLagMs > sent.send_lag_max) sent.send_lag_max = r.scheduleLagMs;
    const p = this.point(endS);
    if (r.ok) {
      p.ok++;
      p.output_tokens += r.outputTokens;
      const l = this.liveOf(endS);
      if (l) {
        if (r.ttftMs !== undefined) l.ttft.record(r.ttftMs);
        if (r.e2eMs !== undefined) l.e2e.record(r.e2eMs);
        for (const v of r.itlMs) l.itl.record(v);
      }
    } else {
      p.failed++;
    }
    this.advance(Math.max(sentS, endS));
  }

  addDrop(intendedMs: number): void {
    this.point(Math.max(0, Math.floor(intendedMs / 1000))).dropped++;
  }

  sampleInFlight(tMs: number, inFlight: number): void {
    const i = Math.max(0, Math.floor(tMs / 1000));
    const p = this.point(i);
    if (inFlight > p.in_flight) p.in_flight = inFlight;
    this.advance(i);
  }

  /** Reduce per-second histograms older than two seconds to their quantiles. */
  private advance(i: number): void {
    if (i <= this.newest) return;
    this.newest = i;
    this.finalizedBelow = Math.max(this.finalizedBelow, i - 2);
    for (const [s, l] of this.live) if (s < this.finalizedBelow) this.finalize(s, l);
  }

  private finalize(s: number, l: Live): void {
    const p = this.point(s);
    p.ttft_p50 = l.ttft.percentile(50);
    p.ttft_p95 = l.ttft.percentile(95);
    p.itl_p50 = l.itl.percentile(50);
    p.itl_p95 = l.itl.percentile(95);
    p.e2e_p50 = l.e2e.percentile(50);
    this.live.delete(s);
  }

  /** All points up to the last second with any activity (finalizes what is left). */
  toArray(): SeriesPoint[] {
    for (const [s, l] of this.live) this.finalize(s, l);
    for (let i = this.points.length; i < this.targets.length; i++) this.point(i);
    return this.points.map((p) => ({ ...p }));
  }
}
