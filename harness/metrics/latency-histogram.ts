/**
 * LatencyHistogram: an HDR histogram of durations in milliseconds, recorded at microsecond
 * resolution with 3 significant digits (percentiles within 0.1%), plus the exact count, sum, min
 * and max. Encodes to a compact string so results from several client threads or machines merge
 * exactly (the merged histogram is the histogram of the union of the samples).
 */
import * as hdr from 'hdr-histogram-js';

/** Quantile summary of one latency metric, in ms. Null fields when there are no samples. */
export interface LatencyStats {
  count: number;
  mean: number | null;
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
  min: number | null;
}

/** Serialised form (summary.json `histograms`): exact merge of runs and shards. */
export interface EncodedHistogram {
  count: number;
  sumMs: number;
  minMs: number | null;
  maxMs: number | null;
  /** HdrHistogram V2 compressed base64 of the microsecond values. */
  hdr: string;
}

const HIGHEST_US = 3_600_000_000; // 1 hour; autoResize grows past it if ever needed
const US_PER_MS = 1000;

function newHdr(digits: number): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: digits as 3, autoResize: true });
}

export class LatencyHistogram {
  private readonly h: hdr.Histogram;
  count = 0;
  sumMs = 0;
  minMs = Infinity;
  maxMs = -Infinity;

  /** `digits`: HDR significant digits (3 for results; 2 for cheap per-second buckets). */
  constructor(digits = 3) {
    this.h = newHdr(digits);
  }

  /** Record one duration in ms. Negative values (clock noise) are recorded as 0. */
  record(ms: number): void {
    const v = ms > 0 ? ms : 0;
    this.h.recordValue(Math.max(1, Math.round(v * US_PER_MS)));
    this.count++;
    this.sumMs += v;
    if (v < this.minMs) this.minMs = v;
    if (v > this.maxMs) this.maxMs = v;
  }

  /** Value at a percentile (0..100) in ms, or null when empty. */
  percentile(p: number): number | null {
    if (this.count === 0) return null;
    const v = this.h.getValueAtPercentile(p) / US_PER_MS;
    // HDR reports a bucket's upper equivalent value; never past the true extremes.
    return Math.min(Math.max(v, this.minMs), this.maxMs);
  }

  stats(): LatencyStats {
    if (this.count === 0) return { count: 0, mean: null, p50: null, p90: null, p95: null, p99: null, max: null, min: null };
    return {
      count: this.count,
      mean: this.sumMs / this.count,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p95: this.percentile(95),
      p99: this.percentile(99),
      max: this.maxMs,
      min: this.minMs,
    };
  }

  /** Add every sample of `other` into this histogram. */
  merge(other: LatencyHistogram): this {
    if (other.count === 0) return this;
    this.h.add(other.h);
    this.count += other.count;
    this.sumMs += other.sumMs;
    this.minMs = Math.min(this.minMs, other.minMs);
    this.maxMs = Math.max(this.maxMs, other.maxMs);
    return this;
  }

  encode(): EncodedHistogram {
    return {
      count: this.count,
      sumMs: this.sumMs,
      minMs: this.count ? this.minMs : null,
      maxMs: this.count ? this.maxMs : null,
      hdr: this.count ? hdr.encodeIntoCompressedBase64(this.h) : '',
    };
  }

  static decode(e: EncodedHistogram): LatencyHistogram {
    const out = new LatencyHistogram();
    if (e.count === 0) return out;
    out.h.add(hdr.decodeFromCompressedBase64(e.hdr));
    out.count = e.count;
    out.sumMs = e.sumMs;
    out.minMs = e.minMs ?? Infinity;
    out.maxMs = e.maxMs ?? -Infinity;
    return out;
  }
}
