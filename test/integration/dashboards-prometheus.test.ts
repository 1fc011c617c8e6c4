/**
 * Every Grafana dashboard panel returns data from a real Prometheus scraping a running stack and a
 * running harness, with the shipped scrape config:
 *
 * - an in-process reference stack whose models and faults make every panel's event happen:
 *   "small" on two workers, one answering 502 at times (retries); "big" running out of memory on
 *   every request (fallback to "small"); "flaky" failing with 500 (5xx to the client); tenant
 *   "pro" with a daily budget, tenant "limited" with 5 requests a minute (429s);
 * - two harness runs at once (runScenario), each serving its own /metrics on a free port that
 *   Prometheus scrapes: one streaming as "pro", one as "limited" (client-side errors);
 * - a real Prometheus (Debian's package) with reference-stack/deploy/prometheus/prometheus.yml,
 *   its addresses rewritten and its intervals 1 s.
 *
 * Then each panel query of dashboards/ (variables as "All") is evaluated at instants taken during
 * the runs: each returns at least one series at one of them. And every metric name the dashboards and rules may use
 * (test/fixtures/exported-metrics.ts) is one Prometheus really holds.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseStack } from '../../reference-stack/stack/load-stack.ts';
import { startStack, type RunningStack } from '../../reference-stack/stack/start-stack.ts';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { runScenario } from '../../harness/run/run-scenario.ts';
import { allDashboards, panelQueries, substituteVariables } from '../../dashboards/index.ts';
import { EXPORTED_METRIC_DETAILS } from '../fixtures/exported-metrics.ts';
import { freePort, startPrometheus, testPrometheusConfig, type PrometheusProcess } from '../fixtures/prometheus-process.ts';

// Development keys fg-dev-pro (tenant pro) and fg-dev-free (tenant limited).
const PRO_HASH = 'sha256:21d289177ddce5356b1ede09d33f323ba1e3ff0e652d4dd39e791da6f16f1225';
const sim = (seed: number, faults = ''): string => `{gpu: h100-sxm, model: llama-3.1-8b, quantization: fp8, max_model_len: 4096, seed: ${seed}${faults ? `, faults: ${faults}` : ''}}`;

let stack: RunningStack | undefined;
let prom: PrometheusProcess | undefined;
let tmp = '';

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-dashboards-'));
  const freeHash = `sha256:${(await import('node:crypto')).createHash('sha256').update('fg-dev-free').digest('hex')}`;
  stack = await startStack(
    parseStack(
      `name: dashboards
models:
  - {name: small, workers: [w0, w1], context_length: 4096, price: {input_per_1m: 1, output_per_1m: 2}}
  - {name: big, workers: [wbig], fallback: [small], context_length: 4096, price: {input_per_1m: 5, output_per_1m: 10}}
  - {name: flaky, workers: [wflaky], context_length: 4096}
workers:
  - {name: w0, sim: ${sim(0)}}
  - {name: w1, sim: ${sim(1, '{error_rate: {status: 502, rate: 0.3}}')}}
  - {name: wbig, sim: ${sim(2, '{oom_above: 1, oom_rate: 1}')}}
  - {name: wflaky, sim: ${sim(3, '{error_rate: {status: 500, rate: 1}}')}}
gateway:
  port: 0
  retries: {max: 1, backoff: 1ms}
  health: {interval: 1s, failures_to_eject: 1000000}
tenants:
  - {name: pro, api_key_hashes: ['${PRO_HASH}'], budget: {per_day: 1000}}
  - {name: limited, api_key_hashes: ['${freeHash}'], limits: {rpm: 5}}
`,
      'dashboards.yaml',
    ),
    { port: 0, usageDbPath: ':memory:', timeScale: 20 },
  );
});

after(async () => {
  await prom?.stop();
  await stack?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const scenarioYaml = (name: string, key: string, port: number, rate: number): string => `
name: ${name}
target: {url: '${stack!.url}', model: small, api_key: ${key}}
workload:
  prompt_tokens: {dist: uniform, min: 64, max: 256}
  output_tokens: {dist: fixed, value: 24}
load:
  arrival: constant
  stages: [{name: steady, duration: 9s, rate: ${rate}}]
observe: {interval: 1s, metrics_listen: '127.0.0.1:${port}'}
`;

/** Side traffic the harness runs do not make: fallbacks (big) and 5xx answers (flaky). */
async function sideTraffic(until: () => boolean): Promise<number> {
  let sent = 0;
  while (!until()) {
    for (const model of ['big', 'flaky']) {
      const r = await fetch(`${stack!.url}/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer fg-dev-pro', 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: `side ${sent}` }], max_tokens: 4 }),
      });
      await r.text();
      sent++;
    }
  }
  return sent;
}

describe('dashboards against a real Prometheus', () => {
  it('every panel query returns data while the stack and the harness run', { timeout: 120_000 }, async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    prom = await startPrometheus(testPrometheusConfig(new URL(stack!.url).host, [`127.0.0.1:${portA}`, `127.0.0.1:${portB}`]));
    await prom.waitFor('gateway and the 4 workers scraped', async () => {
      const t = await prom!.targets();
      const up = t.filter((x) => x.health === 'up' && (x.labels['job'] === 'floodgate-gateway' || x.labels['job'] === 'floodgate-workers'));
      return up.length === 5 ? true : undefined;
    });

    let done = false;
    const runs = Promise.all([
      runScenario(parseScenario(scenarioYaml('dash-pro', 'fg-dev-pro', portA, 6), 'dash-pro.yaml'), { outDir: path.join(tmp, 'a'), allowSaturated: true, threads: 1 }),
      runScenario(parseScenario(scenarioYaml('dash-limited', 'fg-dev-free', portB, 2), 'dash-limited.yaml'), { outDir: path.join(tmp, 'b'), allowSaturated: true, threads: 1 }),
    ]).finally(() => (done = true));
    const side = sideTraffic(() => done);
    // Instants inside the runs at which to evaluate the panels: once both harness targets have
    // been scraped live for a few seconds, one a second until the runs end.
    await prom.waitFor('both harness targets up', async () => {
      const t = await prom!.targets();
      return t.filter((x) => x.labels['job'] === 'floodgate-harness' && x.health === 'up').length === 2 ? true : undefined;
    });
    const instants: number[] = [];
    const upAt = Date.now() / 1000;
    while (!done) {
      const t = Date.now() / 1000;
      if (t - upAt >= 4 && (await prom.query('floodgate_harness_run_info', t)).length === 2) instants.push(t);
      await Promise.race([runs, new Promise((r) => setTimeout(r, 1000))]);
    }
    const [a, b] = await runs;
    assert.ok((await side) > 0);
    assert.ok(a.summary.requests.ok > 0, 'the pro run succeeded');
    assert.ok(b.summary.requests.failed > 0, 'the limited run met its rate limit');
    assert.ok(instants.length >= 2, `${instants.length} instants while both runs were scraped`);

    const vars = { model: '.*', tenant: '.*', worker: '.*', scenario: '.*' };
    const empty: string[] = [];
    let evaluated = 0;
    for (const d of allDashboards()) {
      for (const q of panelQueries(d.json)) {
        const expr = substituteVariables(q.expr, vars, { rateInterval: '5s', interval: '1s', range: '2m' });
        // Data at one of the instants (the scrape and rule timing of a busy machine decide which).
        let found = false;
        for (const t of instants) if ((found = (await prom.query(expr, t)).length > 0)) break;
        evaluated++;
        if (!found) empty.push(`${d.name} / ${q.panel}: ${expr}`);
      }
    }
    assert.ok(evaluated >= 50, `${evaluated} panel queries`);
    assert.deepEqual(empty, [], `panel queries without data:\n${empty.join('\n')}`);
  });

  it('every metric the dashboards and rules may use is one Prometheus holds from the running parts', async () => {
    assert.ok(prom, 'the previous test started Prometheus');
    const names = new Set(await prom.api<string[]>('/api/v1/label/__name__/values'));
    const missing = Object.entries(EXPORTED_METRIC_DETAILS)
      .map(([name, m]) => (m.type === 'histogram' ? `${name}_bucket` : name))
      .filter((n) => !names.has(n));
    assert.deepEqual(missing, []);
  });
});
