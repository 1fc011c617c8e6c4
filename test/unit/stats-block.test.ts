/**
 * StatsBlock (harness/metrics/stats-block.ts): counts, error maps, rates per window, goodput and
 * its SLOs, latency from the intended send time, exact merge and encode/decode. Formulas:
 * docs/metrics.md.
 */

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LATENCY_METRICS, meetsSlo, StatsBlock } from '../../harness/metrics/stats-block.ts';
import type { RequestRecord } from '../../harness/metrics/request-record.ts';
import { failedRecord, record } from '../fixtures/records.ts';
import type { SloConfig } from '../../harness/scenario/scenario-types.ts';

const rec = record;
const failed = failedRecord;

function blockOf(records: readonly RequestRecord[], slo: SloConfig = {}, drops = 0): StatsBlock {
  const b = new StatsBlock();
  for (const r of records) b.add(r, slo);
  for (let i = 0; i < drops; i++) b.addDrop();
  return b;
}

describe('StatsBlock counts', () => {
  test('ok, failed and dropped; total = sent + dropped', () => {
    const b = blockOf([rec(), rec(), rec(), failed('http_500', 500), failed('timeout_ttft', undefined)], {}, 2);
    const s = b.summarize(10_000);
    assert.deepEqual(s.requests, { total: 7, ok: 3, failed: 2, dropped: 2 });
  });

  test('error codes and HTTP statuses are counted', () => {
    const b = blockOf([
      rec(),
      rec({ status: 200 }),
      failed('http_429', 429),
      failed('http_429', 429),
      failed('http_429', 429),
      failed('http_503', 503),
      failed('timeout_ttft', undefined),
      failed('stream_truncated', 200),
    ]);
    const s = b.summarize(1000);
    assert.deepEqual(s.errors, { http_429: 3, http_503: 1, timeout_ttft: 1, stream_truncated: 1 });
    assert.deepEqual(s.http_status, { '200': 3, '429': 3, '503': 1 });
  });

  test('errors are listed most frequent first', () => {
    const b = blockOf([failed('a', 500), failed('b', 500), failed('b', 500), failed('c', 500), failed('c', 500), failed('c', 500)]);
    assert.deepEqual(Object.keys(b.summarize(1000).errors), ['c', 'b', 'a']);
  });

  test('a failed request without an error code counts as client_error', () => {
    const b = blockOf([rec({ ok: false, error: undefined, status: undefined })]);
    assert.deepEqual(b.summarize(1000).errors, { client_error: 1 });
  });

  test('error_rate = failed / (ok + failed); dropped requests are not errors', () => {
    const b = blockOf([rec(), rec(), rec(), failed('http_500', 500)], {}, 6);
    assert.equal(b.summarize(1000).error_rate, 0.25);
  });

  test('error_rate is null when nothing was sent', () => {
    assert.equal(blockOf([], {}, 3).summarize(1000).error_rate, null);
    assert.equal(new StatsBlock().summarize(1000).error_rate, null);
  });
});

describe('StatsBlock rates per window', () => {
  test('throughput: ok requests, output tokens and prompt+output tokens per second of window', () => {
    const b = blockOf([
      rec({ promptTokens: 100, outputTokens: 10 }),
      rec({ promptTokens: 200, outputTokens: 30 }),
      rec({ promptTokens: undefined, plannedPromptTokens: 300, outputTokens: 20 }),
      failed('http_500', 500, { plannedPromptTokens: 999 }),
    ]);
    const s = b.summarize(4000);
    assert.equal(s.window_s, 4);
    assert.deepEqual(s.throughput, { requests_per_s: 0.75, output_tokens_per_s: 15, total_tokens_per_s: 165 });
    // Prompt tokens fall back to the planned length when the server sent no usage.
    assert.deepEqual(s.tokens, { prompt: 600, output: 60, prompt_mean: 200, output_mean: 20 });
  });

  test('goodput per window counts only requests meeting the SLO, and their output tokens', () => {
    const slo: SloConfig = { ttftMs: 200 };
    const b = blockOf([rec({ ttftMs: 100, outputTokens: 10 }), rec({ ttftMs: 150, outputTokens: 30 }), rec({ ttftMs: 500, outputTokens: 1000 }), failed('http_500', 500)], slo);
    const s = b.summarize(2000);
    assert.equal(s.goodput.requests_per_s, 1);
    assert.equal(s.goodput.output_tokens_per_s, 20);
  });

  test('a zero window gives null rates', () => {
    const s = blockOf([rec()]).summarize(0);
    assert.equal(s.window_s, 0);
    assert.deepEqual(s.throughput, { requests_per_s: null, output_tokens_per_s: null, total_tokens_per_s: null });
    assert.equal(s.goodput.requests_per_s, null);
    assert.equal(s.goodput.output_tokens_per_s, null);
  });

  test('goodput fraction = meeting the SLO / requests.total, failed and dropped in the denominator', () => {
    const slo: SloConfig = { e2eMs: 1000 };
    const b = blockOf([rec({ e2eMs: 900 }), rec({ e2eMs: 1000 }), rec({ e2eMs: 1001 }), failed('http_500', 500)], slo, 4);
    // 2 good of 8 (4 sent + 4 dropped).
    assert.equal(b.summarize(1000).goodput.fraction, 0.25);
  });

  test('with no SLO set every successful request counts as good', () => {
    const b = blockOf([rec({ ttftMs: 99_999 }), rec(), failed('x', 500)], {}, 1);
    const s = b.summarize(1000);
    assert.equal(s.goodput.fraction, 0.5);
    assert.equal(s.goodput.requests_per_s, 2);
  });

  test('goodput fraction is null with no requests at all, 0 with only drops', () => {
    assert.equal(new StatsBlock().summarize(1000).goodput.fraction, null);
    assert.equal(blockOf([], {}, 5).summarize(1000).goodput.fraction, 0);
  });
});

describe('meetsSlo', () => {
  test('a failed request never meets the SLO, even with no SLO set', () => {
    assert.equal(meetsSlo(failed('x', 500), {}), false);
    assert.equal(meetsSlo(rec({ ok: false }), {}), false);
  });

  test('TTFT: at or under the limit passes; over, or no TTFT, fails', () => {
    assert.equal(meetsSlo(rec({ ttftMs: 500 }), { ttftMs: 500 }), true);
    assert.equal(meetsSlo(rec({ ttftMs: 500.001 }), { ttftMs: 500 }), false);
    assert.equal(meetsSlo(rec({ ttftMs: undefined }), { ttftMs: 500 }), false);
  });

  test('E2E: at or under the limit passes; over, or no E2E, fails', () => {
    assert.equal(meetsSlo(rec({ e2eMs: 2000 }), { e2eMs: 2000 }), true);
    assert.equal(meetsSlo(rec({ e2eMs: 2001 }), { e2eMs: 2000 }), false);
    assert.equal(meetsSlo(rec({ e2eMs: undefined }), { e2eMs: 2000 }), false);
  });

  test('TPOT: over the limit fails; undefined (one-token output) never violates', () => {
    assert.equal(meetsSlo(rec({ tpotMs: 50 }), { tpotMs: 50 }), true);
    assert.equal(meetsSlo(rec({ tpotMs: 51 }), { tpotMs: 50 }), false);
    assert.equal(meetsSlo(rec({ tpotMs: undefined, outputTokens: 1, itlMs: [] }), { tpotMs: 50 }), true);
  });

  test('ITL: the request mean is compared, not single gaps; no ITL never violates', () => {
    // mean 50 with one gap of 120: passes a 50 ms limit
    assert.equal(meetsSlo(rec({ itlMs: [10, 20, 120, 50] }), { itlMs: 50 }), true);
    assert.equal(meetsSlo(rec({ itlMs: [10, 20, 120, 51] }), { itlMs: 50 }), false);
    assert.equal(meetsSlo(rec({ itlMs: [] }), { itlMs: 1 }), true);
  });

  test('every SLO that is set must hold', () => {
    const slo: SloConfig = { ttftMs: 200, tpotMs: 50, itlMs: 50, e2eMs: 1000 };
    const good = rec({ ttftMs: 200, tpotMs: 50, itlMs: [50, 50], e2eMs: 1000 });
    assert.equal(meetsSlo(good, slo), true);
    assert.equal(meetsSlo({ ...good, ttftMs: 201 }, slo), false);
    assert.equal(meetsSlo({ ...good, tpotMs: 51 }, slo), false);
    assert.equal(meetsSlo({ ...good, itlMs: [50, 52] }, slo), false);
    assert.equal(meetsSlo({ ...good, e2eMs: 1001 }, slo), false);
  });
});

describe('StatsBlock latencies', () => {
  test('TTFT, E2E, TPOT from successful requests; exact mean/min/max', () => {
    const b = blockOf([rec({ ttftMs: 100, e2eMs: 400, tpotMs: 20 }), rec({ ttftMs: 300, e2eMs: 1000, tpotMs: 40 })]);
    const l = b.summarize(1000).latency_ms;
    assert.deepEqual([l.ttft.count, l.ttft.mean, l.ttft.min, l.ttft.max], [2, 200, 100, 300]);
    assert.deepEqual([l.e2e.count, l.e2e.mean, l.e2e.min, l.e2e.max], [2, 700, 400, 1000]);
    assert.deepEqual([l.tpot.count, l.tpot.mean, l.tpot.min, l.tpot.max], [2, 30, 20, 40]);
  });

  test('latency from the intended send time = latency + (sent - intended)', () => {
    const b = blockOf([
      rec({ intendedMs: 1000, sentMs: 1250, scheduleLagMs: 5, capWaitMs: 245, ttftMs: 100, e2eMs: 400 }),
      rec({ intendedMs: 2000, sentMs: 2000, ttftMs: 60, e2eMs: 300 }),
    ]);
    const l = b.summarize(1000).latency_ms;
    assert.deepEqual([l.ttft_intended.min, l.ttft_intended.max, l.ttft_intended.mean], [60, 350, 205]);
    assert.deepEqual([l.e2e_intended.min, l.e2e_intended.max, l.e2e_intended.mean], [300, 650, 475]);
    // The uncorrected figures are unchanged.
    assert.deepEqual([l.ttft.min, l.ttft.max], [60, 100]);
  });

  test('ITL counts tokens and inter-chunk counts chunk gaps', () => {
    // A 7-token request whose second chunk carried 3 tokens: 6 ITL values, 4 chunk gaps.
    const b = blockOf([
      rec({ outputTokens: 7, itlMs: [10, 10, 10, 30, 40, 50], chunkGapsMs: [30, 30, 40, 50] }),
      rec({ outputTokens: 2, itlMs: [20], chunkGapsMs: [20] }),
    ]);
    const l = b.summarize(1000).latency_ms;
    assert.equal(l.itl.count, 7);
    assert.equal(l.itl.mean, 170 / 7);
    assert.deepEqual([l.itl.min, l.itl.max], [10, 50]);
    assert.equal(l.inter_chunk.count, 5);
    assert.equal(l.inter_chunk.mean, 34);
  });

  test('queue delay is recorded when the target reported it', () => {
    const b = blockOf([rec({ queueMs: 12 }), rec({ queueMs: 30 }), rec({ queueMs: undefined })]);
    const q = b.summarize(1000).latency_ms.queue;
    assert.deepEqual([q.count, q.mean, q.max], [2, 21, 30]);
  });

  test('send lag comes from every sent request, failed ones included', () => {
    const b = blockOf([rec({ scheduleLagMs: 2 }), failed('x', 500, { scheduleLagMs: 8 })]);
    const lag = b.summarize(1000).client.send_lag_ms;
    assert.deepEqual([lag.count, lag.min, lag.max, lag.mean], [2, 2, 8, 5]);
  });

  test('failed requests add no latency samples, even when they carry timings', () => {
    const b = blockOf([
      rec({ ttftMs: 100, e2eMs: 400 }),
      failed('stream_truncated', 200, { ttftMs: 900, e2eMs: 5000, tpotMs: 70, itlMs: [70, 70], chunkGapsMs: [70, 70], sentMs: 1500, outputTokens: 3 }),
    ]);
    const l = b.summarize(1000).latency_ms;
    for (const m of ['ttft', 'itl', 'tpot', 'e2e', 'inter_chunk', 'ttft_intended', 'e2e_intended'] as const) {
      assert.equal(l[m].count, m === 'itl' || m === 'inter_chunk' ? 3 : 1, m);
    }
    assert.equal(l.ttft.max, 100);
    assert.equal(l.e2e.max, 400);
    assert.equal(b.summarize(1000).tokens.output, 4);
  });

  test('an empty block has null statistics for every metric', () => {
    const s = new StatsBlock().summarize(1000);
    for (const m of LATENCY_METRICS) assert.deepEqual([s.latency_ms[m].count, s.latency_ms[m].mean, s.latency_ms[m].p99], [0, null, null], m);
    assert.deepEqual(s.tokens, { prompt: 0, output: 0, prompt_mean: null, output_mean: null });
    assert.equal(s.client.send_lag_ms.max, null);
  });
});

/** A varied set of records: successes, failures of several kinds, queue headers, late sends. */
function varied(seed: number, n: number): RequestRecord[] {
  const out: RequestRecord[] = [];
  for (let i = 0; i < n; i++) {
    const k = (i * 7 + seed) % 11;
    const t = 1000 * i;
    if (k === 3) out.push(failed('http_429', 429, { intendedMs: t, sentMs: t + 0.5, endMs: t + 20, scheduleLagMs: 0.5 }));
    else if (k === 7) out.push(failed('timeout_ttft', undefined, { intendedMs: t, sentMs: t, endMs: t + 60_000, queueMs: 4 }));
    else {
      const ttft = 50 + ((i * 37 + seed) % 400);
      const tokens = 1 + ((i * 13 + seed) % 40);
      // Multiples of 1/4 ms keep every sum exact, so merged means equal single-block means.
      const gap = 5 + (i % 20) * 0.25;
      const itl = new Array<number>(tokens - 1).fill(gap);
      const e2e = ttft + gap * (tokens - 1);
      out.push(rec({
        intendedMs: t,
        sentMs: t + (i % 4) * 0.25,
        scheduleLagMs: (i % 4) * 0.25,
        endMs: t + e2e,
        ttftMs: ttft,
        e2eMs: e2e,
        tpotMs: tokens > 1 ? gap : undefined,
        itlMs: itl,
        chunkGapsMs: itl,
        outputTokens: tokens,
        promptTokens: 100 + i,
        queueMs: i % 2 ? i * 0.5 : undefined,
        status: 200,
      }));
    }
  }
  return out;
}

describe('StatsBlock merge and encoding', () => {
  const slo: SloConfig = { ttftMs: 300, tpotMs: 12, itlMs: 9 };

  test('merge() equals adding everything to one block', () => {
    const a = varied(1, 60);
    const b = varied(5, 45);
    const merged = blockOf(a, slo, 3).merge(blockOf(b, slo, 2));
    const whole = blockOf([...a, ...b], slo, 5);
    assert.deepEqual(merged.summarize(120_000), whole.summarize(120_000));
    assert.equal(merged.firstMs, whole.firstMs);
    assert.equal(merged.lastEndMs, whole.lastEndMs);
    // The data set exercises what it should.
    const s = whole.summarize(120_000);
    assert.ok(s.requests.failed > 0 && s.requests.dropped > 0 && s.goodput.fraction! > 0 && s.goodput.fraction! < 1);
  });

  test('merge with an empty block changes nothing', () => {
    const rs = varied(2, 30);
    assert.deepEqual(new StatsBlock().merge(blockOf(rs, slo)).summarize(5000), blockOf(rs, slo).summarize(5000));
    assert.deepEqual(blockOf(rs, slo).merge(new StatsBlock()).summarize(5000), blockOf(rs, slo).summarize(5000));
  });

  test('firstMs is the earliest intended send time, lastEndMs the latest end', () => {
    const b = blockOf([rec({ intendedMs: 500, sentMs: 700, endMs: 900 }), rec({ intendedMs: 100, sentMs: 100, endMs: 5000 }), failed('x', 500, { intendedMs: 300, endMs: 9000 })]);
    assert.equal(b.firstMs, 100);
    assert.equal(b.lastEndMs, 9000);
  });

  test('encode/decode round trip (through JSON) gives identical summarize() output', () => {
    const b = blockOf(varied(3, 80), slo, 4);
    const e = JSON.parse(JSON.stringify(b.encode()));
    const d = StatsBlock.decode(e);
    assert.deepEqual(d.summarize(80_000), b.summarize(80_000));
    assert.equal(d.firstMs, b.firstMs);
    assert.equal(d.lastEndMs, b.lastEndMs);
    assert.deepEqual(d.encode(), b.encode());
  });

  test('an empty block round-trips with null first/last times', () => {
    const e = new StatsBlock().encode();
    assert.equal(e.firstMs, null);
    assert.equal(e.lastEndMs, null);
    const d = StatsBlock.decode(JSON.parse(JSON.stringify(e)));
    assert.deepEqual(d.summarize(1000), new StatsBlock().summarize(1000));
    assert.equal(d.firstMs, Infinity);
    assert.equal(d.lastEndMs, -Infinity);
  });

  test('decoded shards merge to the same result as one block', () => {
    const a = varied(4, 50);
    const b = varied(6, 50);
    const viaEncoding = StatsBlock.decode(blockOf(a, slo).encode()).merge(StatsBlock.decode(blockOf(b, slo).encode()));
    assert.deepEqual(viaEncoding.summarize(10_000), blockOf([...a, ...b], slo).summarize(10_000));
  });
});
