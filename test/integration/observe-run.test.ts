/**
 * Observability of a run, against real parts: a reference stack in this process (two simulated
 * workers with a small KV cache, gateway on port 0), runScenario with an `observe:` block.
 *
 * - summary.json `server` is filled from the workers' own /metrics (found through the gateway's
 *   /sd/prometheus), KV usage rises under a spike, server.json agrees with the summary, and the
 *   counter increases the sampler saw equal what the workers exported (direct scrapes before and
 *   after the run).
 * - the harness's own /metrics is served during the run (scraped while the run is in progress)
 *   and closed after it; a taken port is a warning, never a failure.
 * - Prometheus mode, with a real Prometheus (Debian's `prometheus`; PROMETHEUS overrides the
 *   binary) scraping the stack every second.
 * Every wait polls, bounded; nothing asserts on timing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadStack } from '../../reference-stack/stack/load-stack.ts';
import { startStack, type RunningStack } from '../../reference-stack/stack/start-stack.ts';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { runScenario } from '../../harness/run/run-scenario.ts';
import { parsePromText } from '../../harness/observe/prom-text.ts';
import type { ServerPoint, ServerSummary } from '../../harness/observe/server-summary.ts';

const PROMETHEUS = process.env['PROMETHEUS'] ?? 'prometheus';
const WAIT_MS = 20_000;

const STACK_FILE = fileURLToPath(new URL('../fixtures/stacks/two-small-kv.yaml', import.meta.url));

let stack: RunningStack;
let tmp = '';

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-observe-'));
  stack = await startStack(loadStack(STACK_FILE), { port: 0, usageDbPath: ':memory:' });
});

after(async () => {
  await stack?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function scenario(name: string, observe: string, load = '{arrival: constant, stages: [{duration: 1s, rate: 5}, {name: spike, duration: 2s, rate: 40}]}') {
  return parseScenario(
    `name: ${name}
target: {url: "${stack.url}", model: tiny, api_key: fg-dev-pro}
workload: {prompt_tokens: {dist: uniform, min: 1500, max: 2500}, output_tokens: 96}
load: ${load}
${observe}`,
    path.join(tmp, `${name}.yaml`),
  );
}

/** A worker's counters, scraped directly. */
async function workerCounters(url: string): Promise<{ queries: number; hits: number; preemptions: number }> {
  const origin = new URL(url).origin;
  const text = await (await fetch(`${origin}/metrics`)).text();
  const { families, errors } = parsePromText(text);
  assert.deepEqual(errors, []);
  const one = (name: string) => families.get(name)!.samples.reduce((a, s) => a + s.value, 0);
  return { queries: one('vllm:prefix_cache_queries_total'), hits: one('vllm:prefix_cache_hits_total'), preemptions: one('vllm:num_preemptions_total') };
}

async function allCounters() {
  const per = await Promise.all(stack.workers.map((w) => workerCounters(w.url)));
  return per.reduce((a, b) => ({ queries: a.queries + b.queries, hits: a.hits + b.hits, preemptions: a.preemptions + b.preemptions }));
}

describe('sampling /metrics during a run', () => {
  it('fills summary.server from the simulated workers, and the figures agree with what they exported', async () => {
    const before = await allCounters();
    const sc = scenario('observe-spike', 'observe: {interval: 250ms, timeout: 5s}');
    const out = await runScenario(sc, { threads: 1, allowSaturated: true, outDir: path.join(tmp, 'spike') });
    const afterRun = await allCounters();
    assert.equal(out.summary.requests.failed, 0, JSON.stringify(out.summary.errors));
    const s = out.summary.server as ServerSummary;
    assert.equal(s.source, 'metrics', s.note ?? '');
    assert.equal(s.interval_s, 0.25);
    assert.ok(s.samples > 0);
    // The gateway and both workers, found through /sd/prometheus, every scrape ok.
    assert.deepEqual(s.endpoints.map((e) => e.name), ['gateway', 'w0', 'w1']);
    for (const e of s.endpoints) {
      assert.ok(e.ok_scrapes > 0, `${e.name} scraped`);
      assert.equal(e.failed_scrapes, 0, `${e.name}: ${e.last_error}`);
    }
    assert.deepEqual(Object.keys(s.by_worker), ['w0', 'w1']);
    // KV usage rises under the spike, above the idle baseline taken before the run.
    assert.ok(s.baseline, 'a baseline sample before the run');
    assert.ok(s.kv_cache_usage.max! > (s.baseline.kv_cache_usage ?? 0), `kv max ${s.kv_cache_usage.max} > idle ${s.baseline.kv_cache_usage}`);
    assert.ok(s.kv_cache_usage_max.max! >= s.kv_cache_usage.max!);
    assert.ok(s.running.max! >= 1);
    assert.ok(s.gpu_utilization.max! > 0 && s.gpu_utilization.max! <= 1, 'GPU utilisation as a fraction');
    assert.ok(s.gpu_memory_used_fraction.max! > 0 && s.gpu_memory_used_fraction.max! < 1);
    assert.equal(s.gateway_queue_depth.max !== null, true);
    // The sampler's counter increases are exactly what the workers exported over the run.
    assert.equal(s.totals.prefix_cache_queries, afterRun.queries - before.queries);
    assert.equal(s.totals.prefix_cache_hits, afterRun.hits - before.hits);
    assert.equal(s.totals.preemptions, afterRun.preemptions - before.preemptions);
    assert.ok(s.totals.prefix_cache_queries! > 0);
    // server.json: one point per sample on the run clock, consistent with the summary.
    const points = JSON.parse(fs.readFileSync(path.join(tmp, 'spike', 'server.json'), 'utf8')) as ServerPoint[];
    const inRun = points.filter((p) => p.t_s >= 0 && p.t_s <= out.summary.duration_s + 0.5);
    assert.equal(inRun.length, s.samples);
    assert.ok(points[0]!.t_s < 0, 'the baseline precedes t = 0');
    assert.equal(Math.max(...inRun.map((p) => p.running ?? 0)), s.running.max);
    assert.equal(Math.max(...inRun.map((p) => p.kv_cache_usage ?? 0)), s.kv_cache_usage.max);
    for (const p of inRun) {
      assert.ok(p.failed.every((n) => ['gateway', 'w0', 'w1'].includes(n)));
      const workers = Object.values(p.by_worker);
      assert.equal(p.running, workers.reduce((a, w) => a + (w.running ?? 0), 0), 'total running = sum over workers');
      assert.equal(p.queue_depth, (p.gateway_queue_depth ?? 0) + (p.worker_waiting ?? 0));
    }
    // Samples are about `interval` apart on the run clock (aligned to t = 0, 0.25, 0.5, ...).
    assert.ok(inRun.some((p) => p.t_s > 1), 'samples span the run');
  });

  it('says why nothing was sampled when the target serves no /metrics, and writes no server.json', async () => {
    const sc = parseScenario(
      `name: observe-none
target: {url: "${stack.url}", model: tiny, api_key: fg-dev-pro}
workload: {prompt_tokens: 20, output_tokens: 4}
load: {arrival: constant, stages: [{duration: 500ms, rate: 4}]}
observe: {endpoints: [{name: nothing, url: "http://127.0.0.1:${await closedPort()}/metrics"}], interval: 100ms}`,
      path.join(tmp, 'none.yaml'),
    );
    const out = await runScenario(sc, { threads: 0, allowSaturated: true, outDir: path.join(tmp, 'none') });
    assert.equal(out.exitCode, 0, out.reasons.join('; '));
    const s = out.summary.server as ServerSummary;
    assert.equal(s.source, 'metrics');
    assert.equal(s.endpoints[0]!.ok_scrapes, 0);
    assert.ok(s.endpoints[0]!.failed_scrapes > 0);
    assert.equal(s.endpoints[0]!.last_error, 'connection_refused');
    assert.match(s.note ?? '', /no successful scrape of nothing/);
    assert.equal(s.running.max, null);
    const off = scenario('observe-off', 'observe: {enabled: false}', '{arrival: constant, stages: [{duration: 500ms, rate: 4}]}');
    const out2 = await runScenario(off, { threads: 0, allowSaturated: true, outDir: path.join(tmp, 'off') });
    const s2 = out2.summary.server as ServerSummary;
    assert.equal(s2.source, 'none');
    assert.match(s2.note ?? '', /enabled is false/);
    assert.equal(fs.existsSync(path.join(tmp, 'off', 'server.json')), false);
  });
});

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("the harness's own /metrics", () => {
  it('is served during the run, with sends, completions and histograms, and closed after it', async () => {
    const sc = scenario('observe-live', 'observe: {metrics_listen: "127.0.0.1:0", enabled: false}', '{arrival: constant, stages: [{duration: 2s, rate: 10}]}');
    let url = '';
    let seen = '';
    let polling: Promise<void> | undefined;
    let runDone = false;
    const out = await runScenario(sc, {
      threads: 1,
      allowSaturated: true,
      outDir: path.join(tmp, 'live'),
      onMetricsListen: (u) => {
        url = u;
        // Poll while the run is in progress, until the metrics show sends and a completion.
        polling = (async () => {
          while (!runDone) {
            let text: string;
            try {
              text = await (await fetch(u)).text();
            } catch (e) {
              if (runDone) return; // closed with the run: `seen` tells whether it was in time
              throw e;
            }
            const f = parsePromText(text).families;
            const sent = f.get('floodgate_harness_requests_sent_total')?.samples.reduce((a, s) => a + s.value, 0) ?? 0;
            const ttftCount = f.get('floodgate_harness_ttft_seconds')?.samples.find((s) => s.name === 'floodgate_harness_ttft_seconds_count')?.value ?? 0;
            if (sent > 0 && ttftCount > 0) {
              seen = text;
              return;
            }
            await new Promise((r) => setTimeout(r, 50));
          }
        })();
      },
    });
    runDone = true;
    await polling;
    assert.equal(out.exitCode, 0, out.reasons.join('; '));
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    assert.ok(seen, 'the harness /metrics showed sends and completions during the run');
    const { families, errors } = parsePromText(seen);
    assert.deepEqual(errors, []);
    for (const name of [
      'floodgate_harness_requests_sent_total', 'floodgate_harness_requests_completed_total', 'floodgate_harness_errors_total',
      'floodgate_harness_in_flight', 'floodgate_harness_target_rate', 'floodgate_harness_ttft_seconds', 'floodgate_harness_itl_seconds',
      'floodgate_harness_e2e_seconds', 'floodgate_harness_output_tokens_total', 'floodgate_harness_send_lag_seconds', 'floodgate_harness_run_info',
    ]) assert.ok(families.has(name), name);
    assert.equal(families.get('floodgate_harness_ttft_seconds')!.type, 'histogram');
    const info = families.get('floodgate_harness_run_info')!.samples[0]!;
    assert.deepEqual(info.labels, { scenario: 'observe-live', run_id: 'live' });
    const sent = families.get('floodgate_harness_requests_sent_total')!.samples;
    assert.ok(sent.every((x) => x.labels.scenario === 'observe-live' && x.labels.stage === 'stage-0'));
    const itl = families.get('floodgate_harness_itl_seconds')!.samples.find((s) => s.name.endsWith('_count'))!;
    assert.equal(itl.labels.model, 'tiny');
    assert.ok(itl.value > 0);
    // Closed after the run.
    await assert.rejects(fetch(url));
  });

  it('a taken port is a warning and the run goes on', async () => {
    const blocker = http.createServer((_q, r) => r.end());
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const sc = scenario('observe-taken', `observe: {metrics_listen: "127.0.0.1:${port}", enabled: false}`, '{arrival: constant, stages: [{duration: 300ms, rate: 5}]}');
      const warnings: string[] = [];
      const out = await runScenario(sc, { threads: 0, allowSaturated: true, outDir: path.join(tmp, 'taken'), onWarning: (m) => warnings.push(m) });
      assert.equal(out.exitCode, 0, out.reasons.join('; '));
      assert.ok(warnings.some((w) => /cannot be served on 127\.0\.0\.1:\d+ \(EADDRINUSE\)/.test(w)), warnings.join('\n'));
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});

describe('Prometheus mode', () => {
  let prom: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let log = '';
  let promUrl = '';

  before(async () => {
    const port = await closedPort();
    promUrl = `http://127.0.0.1:${port}`;
    const gw = new URL(stack.url).host;
    const config = path.join(tmp, 'prometheus.yml');
    fs.writeFileSync(
      config,
      `global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: floodgate-gateway
    static_configs: [{targets: ['${gw}']}]
  - job_name: floodgate-workers
    http_sd_configs: [{url: 'http://${gw}/sd/prometheus', refresh_interval: 1s}]
`,
    );
    const child = spawn(PROMETHEUS, [`--config.file=${config}`, `--storage.tsdb.path=${path.join(tmp, 'prom-data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    prom = child;
    child.stdout!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-10_000)));
    child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-10_000)));
    exited = new Promise((r) => child.once('exit', () => r()));
    const err = await new Promise<Error | undefined>((r) => {
      child.once('spawn', () => r(undefined));
      child.once('error', (e) => r(e));
    });
    if (err) {
      prom = undefined;
      assert.fail(`prometheus did not start (${PROMETHEUS}): ${err.message}; install Debian's prometheus package or set PROMETHEUS`);
    }
    // Bounded polling: every target (gateway + 2 workers) up.
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      if (child.exitCode !== null) assert.fail(`prometheus exited: ${log}`);
      try {
        const body = (await (await fetch(`${promUrl}/api/v1/targets?state=active`, { signal: AbortSignal.timeout(2000) })).json()) as { data: { activeTargets: Array<{ health: string }> } };
        const t = body.data.activeTargets;
        if (t.length === 3 && t.every((x) => x.health === 'up')) break;
      } catch {
        // not ready yet
      }
      if (Date.now() > deadline) assert.fail(`Prometheus targets not up within ${WAIT_MS} ms:\n${log.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  after(async () => {
    const p = prom;
    if (p && p.exitCode === null && p.signalCode === null) {
      p.kill('SIGTERM');
      const kill = setTimeout(() => p.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(kill);
    }
  });

  it('queries the run window and fills the server block, per worker too', async () => {
    const sc = scenario(
      'observe-prom',
      `observe:
  prometheus:
    url: ${promUrl}
    step: 1s
    queries:
      generation_tokens_per_s: 'sum(rate(vllm:generation_tokens_total[$rate_window]))'`,
      '{arrival: constant, stages: [{duration: 4s, rate: 30}]}',
    );
    const out = await runScenario(sc, { threads: 1, allowSaturated: true, outDir: path.join(tmp, 'prom') });
    assert.equal(out.summary.requests.failed, 0);
    const s = out.summary.server as ServerSummary;
    assert.equal(s.source, 'prometheus', s.note ?? '');
    assert.deepEqual(s.prometheus!.errors, []);
    assert.equal(s.prometheus!.step_s, 1);
    assert.equal(s.prometheus!.rate_window_s, 4, '4 x max(step, the 1 s scrape interval)');
    assert.ok(s.samples >= 4, `samples ${s.samples}`);
    assert.ok(s.gpu_memory_used_fraction.max! > 0 && s.gpu_memory_used_fraction.max! < 1);
    assert.ok(s.kv_cache_usage.max! > 0, 'KV usage seen under load');
    assert.ok(s.running.max! >= 1);
    assert.ok(s.gateway_queue_depth.max !== null && s.worker_waiting.max !== null);
    assert.deepEqual(Object.keys(s.by_worker), ['w0', 'w1']);
    assert.ok(s.by_worker['w0']!.kv_cache_usage.max !== null);
    assert.ok(s.extra['generation_tokens_per_s']!.max! > 0, 'an added query is reported under extra');
    const points = JSON.parse(fs.readFileSync(path.join(tmp, 'prom', 'server.json'), 'utf8')) as ServerPoint[];
    assert.deepEqual(points.slice(0, 3).map((p) => p.t_s), [0, 1, 2], 'points on the run clock, one per step');
  });
});
