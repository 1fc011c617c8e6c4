/**
 * The production Prometheus text parser (harness/observe/prom-text.ts): families, HELP/TYPE,
 * label escapes, histograms and summaries, special values, timestamps, OpenMetrics counters,
 * bad lines reported and skipped, the `only` filter, and the real /metrics of a simulated worker
 * and of prom-client.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { histogramSeries, parsePromText, parsePromValue, seriesKey, summarySeries } from '../../harness/observe/prom-text.ts';
import { WorkerMetrics } from '../../reference-stack/worker-sim/worker-metrics.ts';

describe('parsePromText', () => {
  test('families with HELP and TYPE, labels and values', () => {
    const { families, errors } = parsePromText(
      [
        '# HELP vllm:num_requests_running Number of requests in model execution batches.',
        '# TYPE vllm:num_requests_running gauge',
        'vllm:num_requests_running{engine="0",model_name="llama"} 3',
        '# HELP http_requests_total The total number of HTTP requests.',
        '# TYPE http_requests_total counter',
        'http_requests_total{method="post",code="200"} 1027 1395066363000',
        'http_requests_total{method="post",code="400"}    3 1395066363000',
        'untyped_metric 7',
        '',
      ].join('\n'),
    );
    assert.deepEqual(errors, []);
    const running = families.get('vllm:num_requests_running')!;
    assert.equal(running.type, 'gauge');
    assert.equal(running.help, 'Number of requests in model execution batches.');
    assert.deepEqual(running.samples, [{ name: 'vllm:num_requests_running', labels: { engine: '0', model_name: 'llama' }, value: 3 }]);
    const http = families.get('http_requests_total')!;
    assert.equal(http.type, 'counter');
    assert.deepEqual(http.samples.map((s) => [s.labels.code, s.value, s.timestampMs]), [['200', 1027, 1395066363000], ['400', 3, 1395066363000]]);
    assert.equal(families.get('untyped_metric')!.type, 'untyped');
  });

  test('label values with escapes, commas, braces and spaces; HELP escapes', () => {
    const { families, errors } = parsePromText(
      [
        '# HELP msdos_file_access_time_seconds Help with \\\\ backslash and \\n newline.',
        '# TYPE msdos_file_access_time_seconds gauge',
        'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\"",odd="a,b}c=d e"} 1.458255915e9',
        'trailing_comma{a="1",} 2',
        'spaced { a = "1" , b="2" } 3',
        'empty_labels{} 4',
      ].join('\n'),
    );
    assert.deepEqual(errors, []);
    const f = families.get('msdos_file_access_time_seconds')!;
    assert.equal(f.help, 'Help with \\ backslash and \n newline.');
    assert.deepEqual(f.samples[0]!.labels, { path: 'C:\\DIR\\FILE.TXT', error: 'Cannot find file:\n"FILE.TXT"', odd: 'a,b}c=d e' });
    assert.equal(f.samples[0]!.value, 1458255915);
    assert.deepEqual(families.get('trailing_comma')!.samples[0]!.labels, { a: '1' });
    assert.deepEqual(families.get('spaced')!.samples[0]!.labels, { a: '1', b: '2' });
    assert.deepEqual(families.get('empty_labels')!.samples[0]!.labels, {});
  });

  test('NaN, +Inf, -Inf, exponents, negative and hex values; timestamps optional', () => {
    assert.ok(Number.isNaN(parsePromValue('NaN')!));
    assert.equal(parsePromValue('+Inf'), Infinity);
    assert.equal(parsePromValue('-Inf'), -Infinity);
    assert.equal(parsePromValue('+inf'), Infinity);
    assert.equal(parsePromValue('1e-3'), 0.001);
    assert.equal(parsePromValue('-2.5'), -2.5);
    assert.equal(parsePromValue('.5'), 0.5);
    assert.equal(parsePromValue('0x1F'), 31);
    assert.equal(parsePromValue('1,5'), undefined);
    assert.equal(parsePromValue(''), undefined);
    const { families, errors } = parsePromText('a NaN\nb +Inf -1\nc -Inf\nd 1e+3 1700000000000\n');
    assert.deepEqual(errors, []);
    assert.ok(Number.isNaN(families.get('a')!.samples[0]!.value));
    assert.deepEqual(families.get('b')!.samples[0], { name: 'b', labels: {}, value: Infinity, timestampMs: -1 });
    assert.equal(families.get('c')!.samples[0]!.value, -Infinity);
    assert.equal(families.get('d')!.samples[0]!.timestampMs, 1700000000000);
  });

  test('histogram and summary samples belong to their family', () => {
    const text = [
      '# TYPE lat histogram',
      'lat_bucket{model="m",le="0.1"} 1',
      'lat_bucket{model="m",le="+Inf"} 3',
      'lat_bucket{model="m",le="1"} 2',
      'lat_sum{model="m"} 2.5',
      'lat_count{model="m"} 3',
      'lat_bucket{model="n",le="+Inf"} 0',
      'lat_sum{model="n"} 0',
      'lat_count{model="n"} 0',
      '# TYPE rpc summary',
      'rpc{quantile="0.5"} 4773',
      'rpc{quantile="0.99"} 76656',
      'rpc_sum 1.7560473e+07',
      'rpc_count 2693',
      'lat_bucket_unrelated 1',
    ].join('\n');
    const { families, errors } = parsePromText(text);
    assert.deepEqual(errors, []);
    const lat = families.get('lat')!;
    assert.equal(lat.type, 'histogram');
    assert.equal(lat.samples.length, 8);
    const series = histogramSeries(lat);
    assert.deepEqual(series[0], { labels: { model: 'm' }, buckets: [{ le: 0.1, count: 1 }, { le: 1, count: 2 }, { le: Infinity, count: 3 }], sum: 2.5, count: 3 });
    assert.equal(series[1]!.labels.model, 'n');
    const rpc = summarySeries(families.get('rpc')!);
    assert.deepEqual(rpc, [{ labels: {}, quantiles: [{ quantile: 0.5, value: 4773 }, { quantile: 0.99, value: 76656 }], sum: 17560473, count: 2693 }]);
    assert.ok(families.has('lat_bucket_unrelated'));
    assert.ok(!families.has('lat_bucket'));
  });

  test('OpenMetrics counters (`x` holding x_total, x_created) and # EOF', () => {
    const { families, errors } = parsePromText('# TYPE vllm:num_preemptions counter\n# UNIT vllm:num_preemptions preemptions\nvllm:num_preemptions_total{engine="0"} 4\nvllm:num_preemptions_created{engine="0"} 1.7e9\n# EOF\n');
    assert.deepEqual(errors, []);
    assert.deepEqual(families.get('vllm:num_preemptions')!.samples.map((s) => s.name), ['vllm:num_preemptions_total', 'vllm:num_preemptions_created']);
  });

  test('bad lines are reported with their line number and skipped; the rest is read', () => {
    const { families, errors } = parsePromText(
      ['good 1', 'no_value', 'bad{a="1" 2', 'bad2{a=1} 2', 'bad3 abc', 'bad4 1 2 3', '# TYPE x nonsense', '9starts_with_digit 1', 'unterminated{a="x} 1', 'dup{a="1",a="2"} 1', 'also_good{x="y"} 2\r'].join('\n'),
    );
    assert.deepEqual(errors.map((e) => e.line), [2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual([...families.keys()].sort(), ['also_good', 'good']);
    assert.equal(families.get('also_good')!.samples[0]!.value, 2);
  });

  test('`only` keeps the named families and skips the others', () => {
    const text = '# TYPE a gauge\na 1\n# TYPE b histogram\nb_bucket{le="+Inf"} 1\nb_sum 1\nb_count 1\nc_total 5\nnot valid at all\n';
    const { families, errors } = parsePromText(text, { only: new Set(['b', 'c_total']) });
    assert.deepEqual(errors, [], 'lines of other families are not parsed');
    assert.deepEqual([...families.keys()].sort(), ['b', 'c_total']);
    assert.equal(families.get('b')!.samples.length, 3);
  });

  test('seriesKey is independent of label order and can drop a label', () => {
    assert.equal(seriesKey({ b: '2', a: '1' }), seriesKey({ a: '1', b: '2' }));
    assert.equal(seriesKey({ a: '1', le: '0.5' }, 'le'), seriesKey({ a: '1' }));
  });

  test('reads the whole /metrics of a simulated worker and of prom-client exactly', async () => {
    const wm = new WorkerMetrics({ modelName: 'llama "8b"\\x', maxModelLen: 4096, gpus: [{ index: 0, uuid: 'GPU-1', modelName: 'H100' }], hostname: 'h', cacheConfig: { block_size: '16' } });
    wm.kvUsage.set(wm.l, 0.25);
    wm.ttft.observe(wm.l, 0.3);
    wm.gpuUtil.set(wm.gpuLabels[0]!, 57);
    const { families, errors } = parsePromText(await wm.registry.metrics());
    assert.deepEqual(errors, []);
    const kv = families.get('vllm:kv_cache_usage_perc')!;
    assert.equal(kv.type, 'gauge');
    assert.deepEqual(kv.samples[0]!.labels, { model_name: 'llama "8b"\\x', engine: '0' });
    assert.equal(kv.samples[0]!.value, 0.25);
    const ttft = histogramSeries(families.get('vllm:time_to_first_token_seconds')!)[0]!;
    assert.equal(ttft.count, 1);
    assert.equal(ttft.buckets.at(-1)!.le, Infinity);
    assert.equal(families.get('DCGM_FI_DEV_GPU_UTIL')!.samples[0]!.value, 57);
    assert.equal(families.get('vllm:num_preemptions_total')!.type, 'counter');

    const r = new Registry();
    new Counter({ name: 'c_total', help: 'c', labelNames: ['l'], registers: [r] }).inc({ l: 'a\nb' }, 2);
    new Gauge({ name: 'g', help: 'g', registers: [r] }).set(NaN);
    new Histogram({ name: 'h', help: 'h', buckets: [1], registers: [r] }).observe(2);
    new Summary({ name: 's', help: 's', percentiles: [0.5], registers: [r] }).observe(3);
    const p = parsePromText(await r.metrics());
    assert.deepEqual(p.errors, []);
    assert.equal(p.families.get('c_total')!.samples[0]!.labels.l, 'a\nb');
    assert.ok(Number.isNaN(p.families.get('g')!.samples[0]!.value));
    assert.deepEqual(histogramSeries(p.families.get('h')!)[0]!.buckets, [{ le: 1, count: 0 }, { le: Infinity, count: 1 }]);
    assert.deepEqual(summarySeries(p.families.get('s')!)[0]!.quantiles, [{ quantile: 0.5, value: 3 }]);
  });
});
