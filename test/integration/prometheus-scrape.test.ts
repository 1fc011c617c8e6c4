/**
 * reference-stack/deploy/prometheus against real parts: a reference stack in this process (two
 * simulated workers, time scale 50, gateway on port 0) and a real Prometheus process on a free
 * loopback port, running a temporary copy of prometheus.yml whose gateway address is the test
 * gateway's, whose harness target is a closed port, and whose intervals are 1 s. Prometheus must
 * find the workers through the gateway's /sd/prometheus, scrape gateway and workers, hold the
 * requests sent through the gateway and the workers' vllm: series with the SD labels, and load
 * every rule group of rules/*.yml with every rule healthy after an evaluation.
 *
 * Needs the `prometheus` binary (Debian's `prometheus` package; CI installs it): fails without
 * it, never skips. PROMETHEUS overrides the binary. Every wait polls the HTTP API, bounded.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseStack } from '../../reference-stack/stack/load-stack.ts';
import { startStack, type RunningStack } from '../../reference-stack/stack/start-stack.ts';
import { freePort, PROMETHEUS_DIR as DIR, startPrometheus, testPrometheusConfig, type PrometheusProcess } from '../fixtures/prometheus-process.ts';

// The key hash is the development key fg-dev-pro's (DEV_KEYS in start-stack.ts).
const STACK_YAML = `
name: prometheus-scrape
models:
  - name: tiny
    workers: [w0, w1]
    context_length: 4096
workers:
  - name: w0
    sim: {gpu: h100-sxm, model: llama-3.1-8b, served_model_name: tiny, quantization: fp8, max_model_len: 4096, seed: 0}
  - name: w1
    sim: {gpu: h100-sxm, model: llama-3.1-8b, served_model_name: tiny, quantization: fp8, max_model_len: 4096, seed: 1}
gateway:
  port: 0
tenants:
  - name: pro
    api_key_hashes: ['sha256:21d289177ddce5356b1ede09d33f323ba1e3ff0e652d4dd39e791da6f16f1225']
`;
const REQUESTS = 4;

let stack: RunningStack | undefined;
let prom: PrometheusProcess | undefined;
let gatewayHost = '';
let harnessHost = '';

const waitFor = <T>(what: string, probe: () => Promise<T | undefined>, last?: () => string): Promise<T> => prom!.waitFor(what, probe, last);
const query = (q: string) => prom!.query(q);
const targets = () => prom!.targets();
const ruleGroups = () => prom!.ruleGroups();

before(async () => {
  stack = await startStack(parseStack(STACK_YAML, 'prometheus-scrape.yaml'), { port: 0, usageDbPath: ':memory:', timeScale: 50 });
  gatewayHost = new URL(stack.url).host;
  harnessHost = `127.0.0.1:${await freePort()}`;
  prom = await startPrometheus(testPrometheusConfig(gatewayHost, [harnessHost]));
});

after(async () => {
  await prom?.stop();
  await stack?.close();
});

describe('Prometheus scraping the reference stack', () => {
  it('finds the workers through the gateway SD and scrapes gateway and workers', async () => {
    const workers = new Map(stack!.workers.map((w) => [w.name, new URL(w.url).host]));
    let seen = '';
    const list = await waitFor(
      'gateway and worker targets up, harness target down',
      async () => {
        const t = await targets();
        seen = t.map((x) => `${x.labels['job']} ${x.scrapeUrl} ${x.health} ${x.lastError}`).join('\n');
        const up = (job: string) => t.filter((x) => x.labels['job'] === job && x.health === 'up');
        const harnessDown = t.some((x) => x.labels['job'] === 'floodgate-harness' && x.health === 'down');
        return up('floodgate-gateway').length === 1 && up('floodgate-workers').length === workers.size && harnessDown ? t : undefined;
      },
      () => `targets:\n${seen}`,
    );
    const gw = list.find((x) => x.labels['job'] === 'floodgate-gateway')!;
    assert.equal(gw.labels['instance'], gatewayHost);
    assert.equal(gw.scrapeUrl, `http://${gatewayHost}/metrics`);
    for (const t of list.filter((x) => x.labels['job'] === 'floodgate-workers')) {
      const name = t.labels['worker']!;
      assert.ok(workers.has(name), `worker label ${name}`);
      assert.equal(t.labels['instance'], workers.get(name));
      assert.equal(t.labels['served_models'], 'tiny');
      assert.equal(t.scrapeUrl, `http://${workers.get(name)}/metrics`);
    }
    const harness = list.find((x) => x.labels['job'] === 'floodgate-harness')!;
    assert.equal(harness.labels['instance'], harnessHost);
  });

  it('holds the gateway\'s request counter and the workers\' vllm: series with their labels', async () => {
    const pro = stack!.devKeys.find((k) => k.tenant === 'pro');
    assert.ok(pro, 'the stack accepts fg-dev-pro');
    const send = async (i: number) => {
      const res = await fetch(`${stack!.url}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${pro.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: `hello ${i}` }], max_tokens: 8 }),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      assert.equal((JSON.parse(text) as { choices: unknown[] }).choices.length, 1);
    };
    const sel = `floodgate_gateway_requests_total{job="floodgate-gateway",tenant="pro",model="tiny",status="200"}`;
    const scraped = (n: number) =>
      waitFor(`${sel} >= ${n}`, async () => {
        const r = await query(sel);
        return r.length === 1 && Number(r[0]!.value[1]) >= n ? r : undefined;
      });
    // Two batches, each seen by a scrape: a counter series is born at its first value, so only
    // the second batch is an increase rate() can see.
    for (let i = 0; i < REQUESTS / 2; i++) await send(i);
    await scraped(REQUESTS / 2);
    for (let i = REQUESTS / 2; i < REQUESTS; i++) await send(i);
    const requests = await scraped(REQUESTS);
    assert.equal(Number(requests[0]!.value[1]), REQUESTS);
    assert.equal(requests[0]!.metric['instance'], gatewayHost);

    const running = await query('vllm:num_requests_running{job="floodgate-workers"}');
    assert.deepEqual(running.map((s) => s.metric['worker']).sort(), ['w0', 'w1']);
    for (const s of running) {
      assert.equal(s.metric['model_name'], 'tiny');
      assert.equal(s.metric['engine'], '0');
      assert.equal(s.metric['served_models'], 'tiny');
    }
    const fb = await query('DCGM_FI_DEV_FB_USED{job="floodgate-workers"}');
    assert.deepEqual([...new Set(fb.map((s) => s.metric['worker']))].sort(), ['w0', 'w1']);

    // The workers' own token counters saw the requests.
    const tokens = await waitFor('the workers\' prompt tokens', async () => {
      const r = await query('sum(vllm:prompt_tokens_total{job="floodgate-workers"})');
      return r.length === 1 && Number(r[0]!.value[1]) > 0 ? Number(r[0]!.value[1]) : undefined;
    });
    assert.ok(tokens > 0);

    // The recording rules run on the scraped series.
    let recordedSeen = '';
    await waitFor(
      'recorded request rate and GPU memory ratio',
      async () => {
        const [rate, ratio] = await Promise.all([query('model:floodgate_gateway_requests:rate5m{model="tiny"}'), query('gpu:DCGM_FI_DEV_FB_USED:ratio')]);
        recordedSeen = JSON.stringify({ rate, ratio });
        return rate.length === 1 && Number(rate[0]!.value[1]) > 0 && ratio.length === 2 ? true : undefined;
      },
      () => recordedSeen,
    );
  });

  it('loads every rule group and rule of rules/*.yml, all healthy after an evaluation', async () => {
    const files = (parseYaml(fs.readFileSync(path.join(DIR, 'prometheus.yml'), 'utf8')) as { rule_files: string[] }).rule_files;
    const expected = files.flatMap((f) =>
      (parseYaml(fs.readFileSync(path.resolve(DIR, f), 'utf8')) as { groups: Array<{ name: string; rules: Array<{ record?: string; alert?: string }> }> }).groups.map((g) => ({
        name: g.name,
        rules: g.rules.map((r) => r.record ?? r.alert),
      })),
    );
    let seen = '';
    const groups = await waitFor(
      'every rule evaluated',
      async () => {
        const g = await ruleGroups();
        seen = JSON.stringify(g.map((x) => ({ name: x.name, rules: x.rules.map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`) })), null, 1);
        const rules = g.flatMap((x) => x.rules);
        return rules.length > 0 && rules.every((r) => r.health !== 'unknown') ? g : undefined;
      },
      () => seen,
    );
    // The API lists groups by file, then name.
    const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    assert.deepEqual(
      groups.map((g) => ({ name: g.name, rules: g.rules.map((r) => r.name) })).sort(byName),
      [...expected].sort(byName),
    );
    const bad = groups.flatMap((g) => g.rules.filter((r) => r.health !== 'ok').map((r) => `${g.name}/${r.name}: ${r.health} ${r.lastError ?? ''}`));
    assert.deepEqual(bad, []);
    const alerting = groups.flatMap((g) => g.rules.filter((r) => r.type === 'alerting').map((r) => r.name));
    for (const n of ['FloodgateGPUMemoryHigh', 'FloodgateQueueDepthHigh', 'FloodgateTTFTSLOBurnRate', 'FloodgateErrorRateHigh', 'FloodgateWorkerDown', 'FloodgateTenantBudgetAlert']) {
      assert.ok(alerting.includes(n), `alert ${n} loaded`);
    }
  });
});
