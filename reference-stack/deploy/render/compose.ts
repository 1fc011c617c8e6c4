/**
 * `harness stack render --format compose`: a Docker Compose project for one GPU box, from a stack
 * file. One vLLM server per simulated worker (the `vllm serve` flags equivalent to its `sim`
 * settings, its own GPUs), the gateway built from the repository's Dockerfile and configured by
 * a rendered stack file whose workers are those servers, Prometheus with the repository's rules,
 * Grafana with the repository's dashboards, and NVIDIA's dcgm-exporter. `url` workers of the
 * stack stay where they are: the gateway points at their URL.
 *
 * Output: a map of relative path -> file text (deterministic: same stack, same bytes).
 */
import type { StackConfig } from '../../stack/stack-types.ts';
import { resolveConfig } from '../../worker-sim/sim-engine.ts';
import {
  DCGM_EXPORTER_IMAGE, GATEWAY_COMMAND, GATEWAY_IMAGE, GATEWAY_PORT, GRAFANA_IMAGE, HARNESS_METRICS_PORT, PROMETHEUS_IMAGE, RULE_FILES, VLLM_IMAGE,
  gatewayStackYaml, header, repositoryAssets, ruleFileText, simWorkers, toYaml, workerServiceNames, type RenderOptions,
} from './render-common.ts';
import { simOnlySettings, vllmArgs, VLLM_PORT } from './vllm-args.ts';

/** Host ports of the vLLM servers: the first worker's on 8001, the next on 8002, ... (127.0.0.1 only). */
export const FIRST_WORKER_HOST_PORT = 8001;
/** The provisioned Grafana datasource's uid (the dashboards pick it through their `datasource` variable). */
export const GRAFANA_DATASOURCE_UID = 'floodgate-prometheus';

/** Render the Compose project of `stack`. */
export function renderCompose(stack: StackConfig, o: RenderOptions): Map<string, string> {
  const assets = o.assets ?? repositoryAssets();
  const services = workerServiceNames(stack);
  const sims = simWorkers(stack);
  const files = new Map<string, string>();

  // --- vLLM servers: GPUs handed out in stack order, tensor_parallel_size each -------------------
  const composeServices: Record<string, unknown> = {};
  const workerComments: string[] = [];
  let nextGpu = 0;
  sims.forEach(({ worker, model }, i) => {
    const name = services.get(worker.name)!;
    const r = resolveConfig(worker.sim);
    const gpus = Array.from({ length: r.tensorParallelSize }, (_, k) => String(nextGpu + k));
    nextGpu += r.tensorParallelSize;
    const notes = simOnlySettings(worker);
    workerComments.push(
      `#   ${name}: worker "${worker.name}", ${r.tensorParallelSize} x ${r.gpu.name} (GPU ${gpus.join(', ')}), ${r.model.hfName}, ` +
        `127.0.0.1:${FIRST_WORKER_HOST_PORT + i}`,
      ...notes.map((n) => `#     sim.${n.key} = ${n.value}: not deployed (${n.why})`),
    );
    composeServices[name] = {
      image: o.vllmImage ?? VLLM_IMAGE,
      entrypoint: ['vllm', 'serve'],
      command: vllmArgs(worker, model),
      environment: { HF_TOKEN: '${HF_TOKEN:-}' },
      ipc: 'host',
      ports: [`127.0.0.1:${FIRST_WORKER_HOST_PORT + i}:${VLLM_PORT}`],
      volumes: ['hf-cache:/root/.cache/huggingface'],
      deploy: { resources: { reservations: { devices: [{ driver: 'nvidia', device_ids: gpus, capabilities: ['gpu'] }] } } },
      healthcheck: {
        test: ['CMD', 'python3', '-c', `import urllib.request; urllib.request.urlopen('http://127.0.0.1:${VLLM_PORT}/health', timeout=5)`],
        interval: '15s',
        timeout: '10s',
        retries: 4,
        // Downloading and loading weights (and compiling CUDA graphs) takes minutes: failures in
        // the first 30 minutes do not count.
        start_period: '30m',
      },
      labels: { 'floodgate.worker': worker.name, 'floodgate.served-models': stack.models.filter((m) => m.workers.includes(worker.name)).map((m) => m.name).join(',') },
      restart: 'unless-stopped',
    };
  });

  // --- the gateway -----------------------------------------------------------------------------
  const gatewayStack = gatewayStackYaml(stack, o, (svc) => ({ url: `http://${svc}:${VLLM_PORT}/v1`, metricsUrl: `http://${svc}:${VLLM_PORT}/metrics` }), '/data/usage.db');
  files.set('gateway/stack.yaml', gatewayStack);
  composeServices.gateway = {
    build: { context: o.buildContext ?? '.', dockerfile: 'Dockerfile' },
    image: GATEWAY_IMAGE,
    command: [...GATEWAY_COMMAND],
    ports: [`${GATEWAY_PORT}:${GATEWAY_PORT}`],
    volumes: ['./gateway/stack.yaml:/config/stack.yaml:ro', 'gateway-data:/data'],
    ...(sims.length > 0 ? { depends_on: sims.map((s) => services.get(s.worker.name)!) } : {}),
    healthcheck: {
      test: ['CMD', 'node', '-e', `fetch('http://127.0.0.1:${GATEWAY_PORT}/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`],
      interval: '10s',
      timeout: '5s',
      retries: 3,
      start_period: '30s',
    },
    restart: 'unless-stopped',
  };

  // --- Prometheus, Grafana, dcgm-exporter ------------------------------------------------------
  files.set('prometheus/prometheus.yml', prometheusConfig(stack, o));
  for (const f of RULE_FILES) files.set(`prometheus/rules/${f}`, ruleFileText(o, assets, f));
  composeServices.prometheus = {
    image: PROMETHEUS_IMAGE,
    command: ['--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus', '--storage.tsdb.retention.time=15d', '--web.enable-lifecycle'],
    ports: ['127.0.0.1:9090:9090'],
    volumes: ['./prometheus:/etc/prometheus:ro', 'prometheus-data:/prometheus'],
    // The harness runs on the host: Prometheus reaches it as host.docker.internal.
    extra_hosts: ['host.docker.internal:host-gateway'],
    restart: 'unless-stopped',
  };
  files.set('grafana/provisioning/datasources/prometheus.yaml', header(o, 'Grafana datasource: the Prometheus of this project, the default one, so the dashboards\' `datasource` variable selects it.') + toYaml({
    apiVersion: 1,
    datasources: [{ name: 'Prometheus', type: 'prometheus', uid: GRAFANA_DATASOURCE_UID, access: 'proxy', url: 'http://prometheus:9090', isDefault: true, editable: false, jsonData: { timeInterval: '5s' } }],
  }));
  files.set('grafana/provisioning/dashboards/floodgate.yaml', header(o, 'Grafana dashboards: every JSON file in /var/lib/grafana/dashboards (copies of the repository\'s dashboards/*.json).') + toYaml({
    apiVersion: 1,
    providers: [{ name: 'floodgate', folder: 'Floodgate', type: 'file', disableDeletion: true, allowUiUpdates: false, updateIntervalSeconds: 30, options: { path: '/var/lib/grafana/dashboards', foldersFromFilesStructure: false } }],
  }));
  for (const [f, text] of assets.dashboards) files.set(`grafana/dashboards/${f}`, text);
  composeServices.grafana = {
    image: GRAFANA_IMAGE,
    environment: {
      GF_SECURITY_ADMIN_USER: '${GRAFANA_ADMIN_USER:-admin}',
      GF_SECURITY_ADMIN_PASSWORD: '${GRAFANA_ADMIN_PASSWORD:-admin}',
      GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH: '/var/lib/grafana/dashboards/serving-overview.json',
    },
    ports: ['3000:3000'],
    volumes: ['./grafana/provisioning:/etc/grafana/provisioning:ro', './grafana/dashboards:/var/lib/grafana/dashboards:ro', 'grafana-data:/var/lib/grafana'],
    depends_on: ['prometheus'],
    restart: 'unless-stopped',
  };
  // GPU metrics of this box (none without simulated workers: only external servers then).
  if (sims.length > 0) {
    composeServices['dcgm-exporter'] = {
      image: DCGM_EXPORTER_IMAGE,
      // SYS_ADMIN: the profiling fields (DCGM_FI_PROF_PIPE_TENSOR_ACTIVE, DCGM_FI_PROF_DRAM_ACTIVE).
      cap_add: ['SYS_ADMIN'],
      ports: ['127.0.0.1:9400:9400'],
      deploy: { resources: { reservations: { devices: [{ driver: 'nvidia', count: 'all', capabilities: ['gpu'] }] } } },
      restart: 'unless-stopped',
    };
  }

  // No top-level `name` (the Compose schema this is checked against predates it): the project
  // is named on the command line, `docker compose -p floodgate-<stack> up -d`.
  const compose = {
    services: composeServices,
    volumes: { 'gateway-data': {}, 'grafana-data': {}, 'hf-cache': {}, 'prometheus-data': {} },
  };
  const intro = [
    `Docker Compose project of stack "${stack.name}" for one GPU box (docs/gpu-box.md).`,
    `#   HF_TOKEN=hf_... docker compose -p ${composeProjectName(stack.name)} up -d      # then: gateway http://HOST:8080/v1, Grafana http://HOST:3000`,
    nextGpu > 0
      ? `# GPUs needed: ${nextGpu} (device ids 0..${nextGpu - 1}, handed out in stack order; device_ids stand for count = tensor_parallel_size).`
      : '# GPUs needed: none.',
    ...(workerComments.length > 0 ? ['# vLLM servers (one per simulated worker):', ...workerComments] : ['# No simulated workers: the gateway serves the stack\'s url workers only.']),
    ...stack.workers.filter((w) => w.kind === 'url').map((w) => `#   external worker "${w.name}": ${w.kind === 'url' ? w.url : ''} (not deployed here)`),
  ].join('\n');
  files.set('compose.yaml', header(o, intro) + toYaml(compose));
  files.set('README.md', readme(o, [...files.keys(), 'README.md'].sort()));
  return new Map([...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** A Compose project name: lower-case letters, digits, '-' and '_', starting with a letter or digit. */
function composeProjectName(name: string): string {
  const s = `floodgate-${name.toLowerCase().replace(/[^a-z0-9_-]+/g, '-')}`;
  return s.replace(/-+/g, '-').replace(/-$/, '');
}

/** Prometheus's configuration inside the Compose project. */
function prometheusConfig(stack: StackConfig, o: RenderOptions): string {
  const services = workerServiceNames(stack);
  const servedBy = (w: string): string => stack.models.filter((m) => m.workers.includes(w)).map((m) => m.name).join(',');
  const workerTargets: unknown[] = [];
  for (const { worker } of simWorkers(stack)) {
    workerTargets.push({ targets: [`${services.get(worker.name)!}:${VLLM_PORT}`], labels: { worker: worker.name, served_models: servedBy(worker.name) } });
  }
  const external = stack.workers.flatMap((w) => (w.kind === 'url' ? [w] : []));
  const cfg = {
    global: { scrape_interval: '5s', evaluation_interval: '5s' },
    rule_files: RULE_FILES.map((f) => `rules/${f}`),
    scrape_configs: [
      { job_name: 'floodgate-gateway', metrics_path: '/metrics', static_configs: [{ targets: [`gateway:${GATEWAY_PORT}`] }] },
      // Job name kept: FloodgateWorkerDown selects up{job="floodgate-workers"}.
      ...(workerTargets.length > 0 ? [{ job_name: 'floodgate-workers', metrics_path: '/metrics', static_configs: workerTargets }] : []),
      // External (url) workers: one job each (scheme and path are per job), labelled as workers.
      ...external.map((w, i) => {
        const u = new URL(w.metricsUrl);
        return {
          job_name: `floodgate-external-worker-${i + 1}`,
          scheme: u.protocol.replace(':', ''),
          metrics_path: u.pathname,
          static_configs: [{ targets: [u.host], labels: { worker: w.name, served_models: servedBy(w.name) } }],
          relabel_configs: [{ target_label: 'job', replacement: 'floodgate-workers' }],
        };
      }),
      ...(workerTargets.length > 0 ? [{ job_name: 'dcgm', static_configs: [{ targets: ['dcgm-exporter:9400'] }] }] : []),
      // `harness run --metrics-listen 0.0.0.0:9464` on the host; down between runs.
      { job_name: 'floodgate-harness', static_configs: [{ targets: [`host.docker.internal:${HARNESS_METRICS_PORT}`] }] },
    ],
  };
  return header(o, 'Prometheus: the gateway, every vLLM server (labels worker, served_models), dcgm-exporter, the harness on the host; the repository\'s rules.') + toYaml(cfg);
}

function readme(o: RenderOptions, paths: readonly string[]): string {
  return [
    '# Generated Compose project',
    '',
    `Generated by \`${o.command}\` from ${o.stackLabel}; do not edit, render again. The JSON dashboards`,
    'under `grafana/dashboards/` are copies of the repository\'s `dashboards/*.json` (JSON has no comments).',
    'How to run it: docs/gpu-box.md in the Floodgate repository.',
    '',
    ...paths.map((p) => `- \`${p}\``),
    '',
  ].join('\n');
}
