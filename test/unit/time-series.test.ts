/**
 * TimeSeries (harness/metrics/time-series.ts): one point per second of the run clock; sends by
 * send second, completions by end second, in-flight as the highest count seen, drops by intended
 * second, per-second quantiles (2 significant digits), targets carried through.
 */

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TimeSeries, type SeriesPoint } from '../../harness/metrics/time-series.ts';
import type { RequestRecord } from '../../harness/metrics/request-record.ts';
import { record } from '../fixtures/records.ts';

/** A successful 3-token request sent at 0 and ended at 300 ms unless overridden. */
function rec(o: Partial<RequestRecord> = {}): RequestRecord {
  return record({ intendedMs: 0, sentMs: 0, endMs: 300, headersMs: 10, ttftMs: 100, e2eMs: 300, itlMs: [100, 100], chunkGapsMs: [100, 100], plannedPromptTokens: 10, promptTokens: 10, plannedOutputTokens: 3, outputTokens: 3, chunks: 3, ...o });
}

function failed(o: Partial<RequestRecord> = {}): RequestRecord {
  return rec({ ok: false, status: 500, error: { code: 'http_500', message: 'x' }, ttftMs: undefined, e2eMs: undefined, itlMs: [], chunkGapsMs: [], tpotMs: undefined, outputTokens: 0, ...o });
}

/** Within the 1% of a 2-significant-digit histogram. */
function near(actual: number | null, expected: number, label: string): void {
  assert.ok(actual !== null, `${label}: null`);
  assert.ok(Math.abs(actual - expected) <= expected * 0.01, `${label}: ${actual} vs ${expected}`);
}

function pick(points: SeriesPoint[], key: keyof SeriesPoint): unknown[] {
  return points.map((p) => p[key]);
}

describe('TimeSeries counts', () => {
  test('sends are counted by send second, completions by end second', () => {
    const ts = new TimeSeries();
    ts.add(rec({ sentMs: 1500, endMs: 3200, outputTokens: 7 }));
    ts.add(rec({ sentMs: 1999.9, endMs: 2000, outputTokens: 5 }));
    ts.add(failed({ sentMs: 2100, endMs: 3999 }));
    const pts = ts.toArray();
    assert.equal(pts.length, 4);
    assert.deepEqual(pick(pts, 't'), [0, 1, 2, 3]);
    assert.deepEqual(pick(pts, 'sent'), [0, 2, 1, 0]);
    assert.deepEqual(pick(pts, 'ok'), [0, 0, 1, 1]);
    assert.deepEqual(pick(pts, 'failed'), [0, 0, 0, 1]);
    assert.deepEqual(pick(pts, 'output_tokens'), [0, 0, 5, 7]);
  });

  test('failed requests add no output tokens', () => {
    const ts = new TimeSeries();
    ts.add(failed({ sentMs: 0, endMs: 10, outputTokens: 9 }));
    assert.deepEqual(pick(ts.toArray(), 'output_tokens'), [0]);
  });

  test('in-flight is the highest count sampled in each second', () => {
    const ts = new TimeSeries();
    ts.sampleInFlight(100, 3);
    ts.sampleInFlight(900, 8);
    ts.sampleInFlight(950, 2);
    ts.sampleInFlight(1000, 1);
    ts.sampleInFlight(2500, 4);
    ts.sampleInFlight(2600, 6);
    assert.deepEqual(pick(ts.toArray(), 'in_flight'), [8, 1, 6]);
  });

  test('drops are counted by intended second', () => {
    const ts = new TimeSeries();
    ts.addDrop(0);
    ts.addDrop(4999);
    ts.addDrop(4000);
    ts.addDrop(2000);
    const pts = ts.toArray();
    assert.deepEqual(pick(pts, 'dropped'), [1, 0, 1, 0, 2]);
    assert.deepEqual(pick(pts, 'sent'), [0, 0, 0, 0, 0]);
  });

  test('times before the epoch count in second 0', () => {
    const ts = new TimeSeries();
    ts.add(rec({ sentMs: -3, endMs: 500 }));
    ts.addDrop(-1);
    ts.sampleInFlight(-2, 5);
    const pts = ts.toArray();
    assert.equal(pts.length, 1);
    assert.deepEqual([pts[0]!.sent, pts[0]!.ok, pts[0]!.dropped, pts[0]!.in_flight], [1, 1, 1, 5]);
  });

  test('seconds with no activity between busy ones are present with zeros and null quantiles', () => {
    const ts = new TimeSeries();
    ts.add(rec({ sentMs: 0, endMs: 100 }));
    ts.add(rec({ sentMs: 5000, endMs: 5100 }));
    const pts = ts.toArray();
    assert.equal(pts.length, 6);
    for (const i of [1, 2, 3, 4]) {
      const p = pts[i]!;
      assert.deepEqual([p.sent, p.ok, p.failed, p.dropped, p.in_flight, p.output_tokens], [0, 0, 0, 0, 0, 0], `t=${i}`);
      assert.deepEqual([p.ttft_p50, p.ttft_p95, p.itl_p50, p.itl_p95, p.e2e_p50, p.send_lag_max], [null, null, null, null, null, null], `t=${i}`);
    }
  });
});

describe('TimeSeries quantiles', () => {
  test('per-second quantiles are present after toArray(), by end second (latency); worst lag by send second', () => {
    const ts = new TimeSeries();
    // Second 0: sends only, with lags 1..100 ms; every one ends in second 1.
    for (let i = 1; i <= 100; i++) ts.add(rec({ sentMs: 5 * i, endMs: 1000 + 5 * i, scheduleLagMs: i, ttftMs: 10 * i, e2eMs: 20 * i, itlMs: [i, 2 * i] }));
    const pts = ts.toArray();
    assert.equal(pts.length, 2);
    const [p0, p1] = [pts[0]!, pts[1]!];
    assert.equal(p0.send_lag_max, 100);
    assert.deepEqual([p0.ttft_p50, p0.e2e_p50, p0.itl_p50], [null, null, null]);
    near(p1.ttft_p50, 500, 'ttft_p50');
    near(p1.ttft_p95, 950, 'ttft_p95');
    near(p1.e2e_p50, 1000, 'e2e_p50');
    // ITL over all 200 values i and 2i, i = 1..100: p50 is 67 (rank 100), p95 is 180 (rank 190).
    near(p1.itl_p50, 67, 'itl_p50');
    near(p1.itl_p95, 180, 'itl_p95');
    assert.equal(p1.send_lag_max, null);
  });

  test('failed requests add no latency quantiles', () => {
    const ts = new TimeSeries();
    ts.add(failed({ sentMs: 0, endMs: 200, ttftMs: 50, e2eMs: 150, itlMs: [5] }));
    const [p] = ts.toArray();
    assert.deepEqual([p!.ttft_p50, p!.e2e_p50, p!.itl_p50], [null, null, null]);
    assert.equal(p!.failed, 1);
    assert.notEqual(p!.send_lag_max, null);
  });

  test('quantiles of seconds reduced during the run are kept (seconds more than two old)', () => {
    const ts = new TimeSeries();
    for (let s = 0; s < 10; s++) {
      ts.add(rec({ sentMs: s * 1000 + 10, endMs: s * 1000 + 500, ttftMs: 100 * (s + 1), e2eMs: 400, itlMs: [s + 1], scheduleLagMs: s + 1 }));
      ts.sampleInFlight(s * 1000 + 20, s + 1);
    }
    const pts = ts.toArray();
    assert.equal(pts.length, 10);
    for (let s = 0; s < 10; s++) {
      near(pts[s]!.ttft_p50, 100 * (s + 1), `t=${s} ttft_p50`);
      near(pts[s]!.itl_p95, s + 1, `t=${s} itl_p95`);
      assert.equal(pts[s]!.send_lag_max, s + 1, `t=${s} send_lag_max`);
      assert.equal(pts[s]!.in_flight, s + 1);
    }
  });
});

describe('TimeSeries targets and length', () => {
  test('targets are carried through, null included', () => {
    const ts = new TimeSeries([5, 5, null, 7]);
    ts.add(rec({ sentMs: 100, endMs: 200 }));
    const pts = ts.toArray();
    assert.deepEqual(pick(pts, 'target'), [5, 5, null, 7]);
  });

  test('points run up to the targets length even without activity', () => {
    const pts = new TimeSeries([1, 2, 3, 4, 5]).toArray();
    assert.equal(pts.length, 5);
    assert.deepEqual(pick(pts, 't'), [0, 1, 2, 3, 4]);
    assert.deepEqual(pick(pts, 'target'), [1, 2, 3, 4, 5]);
    assert.deepEqual(pick(pts, 'sent'), [0, 0, 0, 0, 0]);
  });

  test('activity past the targets (drain) adds points with a null target', () => {
    const ts = new TimeSeries([3, 3]);
    ts.add(rec({ sentMs: 1500, endMs: 3500 }));
    const pts = ts.toArray();
    assert.deepEqual(pick(pts, 'target'), [3, 3, null, null]);
    assert.deepEqual(pick(pts, 'ok'), [0, 0, 0, 1]);
  });

  test('no targets and no activity: no points', () => {
    assert.deepEqual(new TimeSeries().toArray(), []);
  });

  test('toArray returns copies', () => {
    const ts = new TimeSeries([1]);
    ts.add(rec({ sentMs: 0, endMs: 10 }));
    const first = ts.toArray();
    first[0]!.sent = 99;
    assert.equal(ts.toArray()[0]!.sent, 1);
  });
});

describe('TimeSeries late records', () => {
  test('a long request ending after its send second was reduced keeps that second intact', () => {
    const ts = new TimeSeries();
    ts.add(rec({ sentMs: 100, endMs: 500, ttftMs: 100, e2eMs: 400, scheduleLagMs: 1 }));
    ts.sampleInFlight(5000, 3);
    ts.add(rec({ sentMs: 200, endMs: 10_500, ttftMs: 300, e2eMs: 10_300, scheduleLagMs: 7 }));
    const p0 = ts.toArray()[0]!;
    near(p0.ttft_p50, 100, 'ttft_p50');
    near(p0.e2e_p50, 400, 'e2e_p50');
    assert.equal(p0.send_lag_max, 7);
    assert.equal(p0.sent, 2);
  });

  test('a record ending in a second already reduced counts but leaves its quantiles alone', () => {
    const ts = new TimeSeries();
    ts.add(rec({ sentMs: 0, endMs: 500, ttftMs: 100, e2eMs: 400 }));
    ts.sampleInFlight(9000, 1);
    ts.add(rec({ sentMs: 100, endMs: 900, ttftMs: 700, e2eMs: 800 }));
    const p0 = ts.toArray()[0]!;
    assert.equal(p0.ok, 2);
    near(p0.ttft_p50, 100, 'ttft_p50');
  });
});
