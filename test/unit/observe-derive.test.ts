/**
 * From scrapes to server figures (harness/observe/derive.ts, server-summary.ts): sums and means
 * over workers, GPU fractions, counter deltas with resets, the prefix-cache hit rate and its
 * null when nothing was queried, statistics over samples, the baseline, and the endpoints found
 * in Prometheus HTTP-SD JSON; the observe block of a scenario and --metrics-listen values.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import os from 'node:os';
import { parsePromText } from '../../harness/observe/prom-text.ts';
import { combine, counterDelta, readEndpoint, SAMPLED_FAMILIES, statsOf, sumDeltas, type CounterSnapshot, type EndpointReading } from '../../harness/observe/derive.ts';
import { buildServerSummary, noServerSummary, type ServerPoint } from '../../harness/observe/server-summary.ts';
import { endpointsFromSd, uniqueNames } from '../../harness/observe/discover.ts';
import { parseListen } from '../../harness/observe/listen-address.ts';
import { parsePromDuration } from '../../harness/observe/prometheus-query.ts';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';

function worker(o: { running?: number; waiting?: number; kv?: number; util?: number; used?: number; free?: number; preempt?: number; queries?: number; hits?: number }): string {
  const l = '{model_name="m",engine="0"}';
  const lines = [
    '# TYPE vllm:num_requests_running gauge', `vllm:num_requests_running${l} ${o.running ?? 0}`,
    '# TYPE vllm:num_requests_waiting gauge', `vllm:num_requests_waiting${l} ${o.waiting ?? 0}`,
    '# TYPE vllm:kv_cache_usage_perc gauge', `vllm:kv_cache_usage_perc${l} ${o.kv ?? 0}`,
    '# TYPE vllm:num_preemptions_total counter', `vllm:num_preemptions_total${l} ${o.preempt ?? 0}`,
    '# TYPE vllm:prefix_cache_queries_total counter', `vllm:prefix_cache_queries_total${l} ${o.queries ?? 0}`,
    '# TYPE vllm:prefix_cache_hits_total counter', `vllm:prefix_cache_hits_total${l} ${o.hits ?? 0}`,
    '# TYPE vllm:time_to_first_token_seconds histogram', `vllm:time_to_first_token_seconds_bucket{model_name="m",engine="0",le="+Inf"} 5`,
  ];
  if (o.util !== undefined) lines.push('# TYPE DCGM_FI_DEV_GPU_UTIL gauge', `DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="u"} ${o.util}`);
  if (o.used !== undefined) lines.push('# TYPE DCGM_FI_DEV_FB_USED gauge', `DCGM_FI_DEV_FB_USED{gpu="0",UUID="u"} ${o.used}`, '# TYPE DCGM_FI_DEV_FB_FREE gauge', `DCGM_FI_DEV_FB_FREE{gpu="0",UUID="u"} ${o.free}`);
  return lines.join('\n') + '\n';
}

function read(text: string, tMs: number, prev?: CounterSnapshot): { reading: EndpointReading; counters: CounterSnapshot } {
  const { families, errors } = parsePromText(text, { only: SAMPLED_FAMILIES });
  assert.deepEqual(errors, []);
  return readEndpoint(families, tMs, prev);
}

describe('derivations', () => {
  test('sums, means over workers, GPU fractions', () => {
    const gw = read('# TYPE floodgate_gateway_queue_depth gauge\nfloodgate_gateway_queue_depth{model="a"} 2\nfloodgate_gateway_queue_depth{model="b"} 3\n', 0).reading;
    const w0 = read(worker({ running: 4, waiting: 1, kv: 0.2, util: 50, used: 30, free: 70 }), 0).reading;
    const w1 = read(worker({ running: 6, waiting: 0, kv: 0.6, util: 100, used: 50, free: 50 }), 0).reading;
    const v = combine([gw, w0, w1]);
    assert.equal(v.gateway_queue_depth, 5);
    assert.equal(v.worker_waiting, 1);
    assert.equal(v.queue_depth, 6);
    assert.equal(v.running, 10);
    assert.ok(Math.abs(v.kv_cache_usage! - 0.4) < 1e-12);
    assert.equal(v.kv_cache_usage_max, 0.6);
    assert.equal(v.gpu_utilization, 0.75, 'DCGM percent -> fraction');
    assert.equal(v.gpu_memory_used_fraction, 80 / 200);
    assert.equal(v.preemptions_per_s, null, 'no previous scrape: no rate');
    assert.equal(v.prefix_cache_hit_rate, null);
  });

  test('absent metrics are null, never 0', () => {
    const v = combine([read('# TYPE other gauge\nother 1\n', 0).reading]);
    for (const [k, x] of Object.entries(v)) assert.equal(x, null, k);
    assert.deepEqual(combine([]).running, null);
    const gwOnly = combine([read('floodgate_gateway_queue_depth{model="a"} 0\n', 0).reading]);
    assert.equal(gwOnly.queue_depth, 0);
    assert.equal(gwOnly.worker_waiting, null);
  });

  test('counter deltas: rates between scrapes, a reset counts the new value, a new series waits', () => {
    assert.equal(counterDelta(undefined, new Map([['a', 5]])), null);
    assert.equal(counterDelta(new Map([['a', 5]]), new Map([['a', 8]])), 3);
    assert.equal(counterDelta(new Map([['a', 5]]), new Map([['a', 2]])), 2, 'reset: the process restarted');
    assert.equal(counterDelta(new Map([['a', 5]]), new Map([['a', 5], ['b', 9]])), 0, 'a new series contributes from its second scrape');
    assert.equal(counterDelta(new Map(), new Map()), null, 'absent from both');

    const s0 = read(worker({ preempt: 10, queries: 1000, hits: 100 }), 1000);
    const s1 = read(worker({ preempt: 14, queries: 1500, hits: 400 }), 3000, s0.counters);
    assert.equal(s1.reading.dtS, 2);
    const v1 = combine([s1.reading]);
    assert.equal(v1.preemptions_per_s, 2);
    assert.equal(v1.prefix_cache_hit_rate, 300 / 500);
    // The worker restarted: its counters start again from 0.
    const s2 = read(worker({ preempt: 1, queries: 200, hits: 50 }), 4000, s1.counters);
    const v2 = combine([s2.reading]);
    assert.equal(v2.preemptions_per_s, 1);
    assert.equal(v2.prefix_cache_hit_rate, 0.25);
    // Nothing queried in the interval: no hit rate (null), not 0.
    const s3 = read(worker({ preempt: 1, queries: 200, hits: 50 }), 5000, s2.counters);
    assert.equal(combine([s3.reading]).prefix_cache_hit_rate, null);
    assert.equal(combine([s3.reading]).preemptions_per_s, 0);
    assert.deepEqual(sumDeltas([s1.reading, s2.reading]), { preemptions: 5, prefix_cache_queries: 700, prefix_cache_hits: 350 });
  });

  test('the hit rate over workers is total hits / total queries, not a mean of rates', () => {
    const a0 = read(worker({ queries: 0, hits: 0 }), 0);
    const b0 = read(worker({ queries: 0, hits: 0 }), 0);
    const a1 = read(worker({ queries: 900, hits: 900 }), 1000, a0.counters);
    const b1 = read(worker({ queries: 100, hits: 0 }), 1000, b0.counters);
    assert.equal(combine([a1.reading, b1.reading]).prefix_cache_hit_rate, 0.9);
  });

  test('OpenMetrics-style counter families are read too', () => {
    const t = (n: number) => `# TYPE vllm:num_preemptions counter\nvllm:num_preemptions_total{engine="0"} ${n}\n`;
    const r0 = read(t(1), 0);
    const r1 = read(t(3), 1000, r0.counters);
    assert.equal(combine([r1.reading]).preemptions_per_s, 2);
  });

  test('statistics: mean, p95 by nearest rank, max over non-null values', () => {
    assert.deepEqual(statsOf([]), { mean: null, p95: null, max: null });
    assert.deepEqual(statsOf([null, undefined, NaN]), { mean: null, p95: null, max: null });
    assert.deepEqual(statsOf([3, null, 1, 2]), { mean: 2, p95: 3, max: 3 });
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(statsOf(hundred).p95, 95);
    assert.equal(statsOf(hundred).mean, 50.5);
  });
});

function point(t: number, running: number | null, by: Record<string, number> = {}, counters = { preemptions: 0, prefix_cache_queries: 10, prefix_cache_hits: 5 }): ServerPoint {
  const v = combine([]);
  return {
    t_s: t,
    ...v,
    running,
    by_worker: Object.fromEntries(Object.entries(by).map(([k, r]) => [k, { ...combine([]), running: r }])),
    failed: [],
    counters,
  };
}

describe('server summary', () => {
  test('statistics over the samples within the run; the last one before it is the baseline', () => {
    const s = buildServerSummary({
      source: 'metrics',
      note: null,
      intervalS: 1,
      durationS: 3,
      points: [point(-0.5, 0, { w0: 0 }, { preemptions: null as unknown as number, prefix_cache_queries: null as unknown as number, prefix_cache_hits: null as unknown as number }), point(0, 2, { w0: 2 }), point(1, 6, { w0: 4, w1: 2 }), point(2, 4, { w1: 4 }), point(3.1, 1, { w0: 1 }), point(9, 100)],
      endpoints: [{ name: 'w0', url: 'http://x/metrics', ok_scrapes: 5, failed_scrapes: 0, skipped_scrapes: 0, last_error: null }],
    });
    assert.equal(s.samples, 4, 'the point at 9 s is past the run');
    assert.deepEqual(s.running, { mean: 13 / 4, p95: 6, max: 6 });
    assert.equal(s.baseline!.running, 0);
    assert.deepEqual(Object.keys(s.by_worker), ['w0', 'w1']);
    assert.deepEqual(s.by_worker['w0']!.running, { mean: 7 / 3, p95: 4, max: 4 });
    assert.equal(s.kv_cache_usage.max, null, 'never exported: null');
    assert.deepEqual(s.totals, { preemptions: 0, prefix_cache_queries: 50, prefix_cache_hits: 25, prefix_cache_hit_rate: 0.5 });
  });

  test('nothing sampled: source none, every figure null', () => {
    const s = noServerSummary('why');
    assert.equal(s.source, 'none');
    assert.equal(s.note, 'why');
    assert.equal(s.samples, 0);
    assert.deepEqual(s.queue_depth, { mean: null, p95: null, max: null });
    assert.equal(s.totals.prefix_cache_hit_rate, null);
  });
});

describe('discovery and addresses', () => {
  test('endpoints from Prometheus HTTP-SD JSON, named by their worker label', () => {
    const eps = endpointsFromSd([
      { targets: ['127.0.0.1:8001'], labels: { __scheme__: 'http', __metrics_path__: '/metrics', worker: 'w0', served_models: 'a' } },
      { targets: ['10.0.0.2:8000', '10.0.0.3:8000'], labels: { __scheme__: 'https', __metrics_path__: '/x/metrics' } },
      { targets: ['127.0.0.1:8002'], labels: { worker: 'w0' } },
      { labels: {} },
      'junk',
    ]);
    assert.deepEqual(eps, [
      { name: 'w0', url: 'http://127.0.0.1:8001/metrics' },
      { name: '10.0.0.2:8000', url: 'https://10.0.0.2:8000/x/metrics' },
      { name: '10.0.0.3:8000', url: 'https://10.0.0.3:8000/x/metrics' },
      { name: 'w0#2', url: 'http://127.0.0.1:8002/metrics' },
    ]);
    assert.deepEqual(endpointsFromSd({ not: 'a list' }), []);
    assert.deepEqual(uniqueNames([{ name: 'a', url: '1' }, { name: 'a', url: '2' }]).map((e) => e.name), ['a', 'a#2']);
  });

  test('metrics_listen values', () => {
    assert.deepEqual(parseListen('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
    assert.deepEqual(parseListen('0.0.0.0:9100'), { host: '0.0.0.0', port: 9100 });
    assert.deepEqual(parseListen(9464), { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parseListen('9465'), { host: '127.0.0.1', port: 9465 });
    assert.equal(parseListen('off'), false);
    assert.equal(parseListen(false), false);
    assert.equal(typeof parseListen('127.0.0.1:70000'), 'string');
    assert.equal(typeof parseListen('nonsense'), 'string');
    assert.equal(typeof parseListen('http://127.0.0.1:9464'), 'string');
  });

  test('Prometheus durations', () => {
    assert.equal(parsePromDuration('1s'), 1000);
    assert.equal(parsePromDuration('1m30s'), 90_000);
    assert.equal(parsePromDuration('500ms'), 500);
    assert.equal(parsePromDuration('15x'), undefined);
  });
});

describe('the observe block of a scenario', () => {
  const base = `name: o
target: {url: "http://127.0.0.1:8000/v1", model: m}
workload: {prompt_tokens: 10, output_tokens: 10}
load: {stages: [{duration: 1s, rate: 1}]}
`;
  const file = path.join(os.tmpdir(), 'o.yaml');

  test('absent: no observe field (the defaults apply at run time)', () => {
    assert.equal(parseScenario(base, file).observe, undefined);
  });

  test('defaults and every field', () => {
    assert.deepEqual(parseScenario(base + 'observe: {enabled: true}\n', file).observe, {
      enabled: true, intervalMs: 1000, timeoutMs: undefined, endpoints: undefined, prometheus: undefined, metricsListen: undefined,
    });
    const full = parseScenario(
      base +
        `observe:
  interval: 500ms
  timeout: 200ms
  endpoints: [{name: gw, url: "http://127.0.0.1:8080/metrics"}, {url: "http://10.0.0.1:9400/metrics"}]
  metrics_listen: off
`,
      file,
    ).observe!;
    assert.equal(full.intervalMs, 500);
    assert.equal(full.timeoutMs, 200);
    assert.deepEqual(full.endpoints, [{ name: 'gw', url: 'http://127.0.0.1:8080/metrics' }, { name: '10.0.0.1:9400', url: 'http://10.0.0.1:9400/metrics' }]);
    assert.equal(full.metricsListen, false);
    const prom = parseScenario(base + `observe: {prometheus: {url: "http://127.0.0.1:9090/", step: 2s, rate_window: 30s, queries: {running: 'sum(x)', extra_one: 'y'}}, metrics_listen: "0.0.0.0:9100"}\n`, file).observe!;
    assert.deepEqual(prom.prometheus, { url: 'http://127.0.0.1:9090', stepMs: 2000, rateWindowMs: 30_000, queries: { running: 'sum(x)', extra_one: 'y' } });
    assert.deepEqual(prom.metricsListen, { host: '0.0.0.0', port: 9100 });
    assert.ok(Object.isFrozen(prom.prometheus!.queries));
  });

  test('overrides reach the block like any other field', () => {
    const sc = parseScenario(base, file, { overrides: { 'observe.metrics_listen': 'off', 'observe.interval': '250ms' } });
    assert.equal(sc.observe!.metricsListen, false);
    assert.equal(sc.observe!.intervalMs, 250);
  });

  test('invalid values are coded issues with file:line:col, path, value and what is allowed', () => {
    const cases: Array<[string, string, string]> = [
      ['observe: {interval: 10ms}', 'FG_SCENARIO_BAD_VALUE', 'observe.interval'],
      ['observe: {enabled: maybe}', 'FG_SCENARIO_TYPE', 'observe.enabled'],
      ['observe: {metrics_listen: [1]}', 'FG_SCENARIO_TYPE', 'observe.metrics_listen'],
      ['observe: {metrics_listen: "host"}', 'FG_SCENARIO_OBSERVE_LISTEN', 'observe.metrics_listen'],
      ['observe: {prometheus: {step: 1s}}', 'FG_SCENARIO_MISSING_FIELD', 'observe.prometheus.url'],
      ['observe: {prometheus: {url: "http://p:9090", queries: {"Bad-Name": x}}}', 'FG_SCENARIO_BAD_VALUE', 'observe.prometheus.queries.Bad-Name'],
      ['observe: {endpoints: [{name: "a b", url: "http://x/metrics"}]}', 'FG_SCENARIO_BAD_VALUE', 'observe.endpoints[0].name'],
      ['observe: {endpoints: "http://x/metrics"}', 'FG_SCENARIO_TYPE', 'observe.endpoints'],
    ];
    for (const [yaml, code, at] of cases) {
      assert.throws(
        () => parseScenario(base + yaml + '\n', file),
        (e: { issues: Array<{ code: string; path: string; line: number; col: number; allowed?: string }> }) => {
          const i = e.issues.find((x) => x.path === at);
          assert.ok(i, `${yaml}: an issue at ${at}, got ${JSON.stringify(e.issues)}`);
          assert.equal(i.code, code, yaml);
          assert.equal(i.line, 5);
          assert.ok(i.col > 1);
          assert.ok(i.allowed && i.allowed.length > 0);
          return true;
        },
      );
    }
  });
});
