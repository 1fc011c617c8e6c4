/**
 * `harness stack render --format k8s`: Kubernetes manifests of a stack file.
 *
 *   00-namespace.yaml             the namespace
 *   10-model-cache.yaml           one PersistentVolumeClaim (ReadWriteMany) shared by every vLLM pod
 *   20-vllm-<worker>.yaml         per simulated worker: a Deployment (nvidia.com/gpu = TP size,
 *                                 startup / readiness / liveness probes on /health) and a Service
 *   30-gateway.yaml               the gateway: ConfigMap (its stack file, workers at their Service
 *                                 DNS names), PVC (usage ledger), Deployment, Service
 *   40-monitoring.yaml            ServiceMonitors (vLLM workers, gateway) and a PrometheusRule with
 *                                 the repository's recording rules and alerts
 *   41-dashboards.yaml            one ConfigMap per dashboard, labelled grafana_dashboard: "1"
 *   50-autoscaling.yaml           an HPA per vLLM Deployment on vllm:num_requests_waiting (needs
 *                                 prometheus-adapter: the rule is in the file's header)
 *   load/harness-job.yaml         the load: scenario ConfigMap, reports PVC, an Indexed Job of N shards
 *   load/harness-merge.yaml       merging the shards into one run, and a pod to copy reports out
 *
 * Why Deployments and not StatefulSets for vLLM: a vLLM server keeps no state of its own (the
 * weights come from the shared, read-mostly model cache), needs no stable identity (the gateway
 * reaches it through its Service), and a StatefulSet's per-pod volumes would download the
 * weights once per replica. The strategy is Recreate: the GPUs hold one copy of the model, so a
 * rolling update's second pod could not be scheduled.
 */
import { parse } from 'yaml';
import type { StackConfig } from '../../stack/stack-types.ts';
import { resolveConfig } from '../../worker-sim/sim-engine.ts';
import {
  GATEWAY_COMMAND, GATEWAY_IMAGE, GATEWAY_PORT, RULE_FILES, VLLM_IMAGE, defaultScenario, gatewayStackYaml, header, repositoryAssets, simWorkers, toYaml,
  workerServiceNames, type RenderOptions,
} from './render-common.ts';
import { simOnlySettings, vllmArgs, VLLM_PORT } from './vllm-args.ts';

export const DEFAULT_NAMESPACE = 'floodgate';
export const DEFAULT_SHARDS = 4;
/** The start time the harness Job's pods wait for: replace it before applying (docs/gpu-box.md). */
export const START_AT_PLACEHOLDER = 'REPLACE-WITH-START-TIME-UTC';
export const BUSYBOX_IMAGE = 'busybox:1.36.1';
/** The HPA's target: waiting requests per vLLM pod. */
export const HPA_WAITING_PER_POD = '10';
export const HPA_MAX_REPLICAS = 2;

const PART_OF = { 'app.kubernetes.io/part-of': 'floodgate' };
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Render the Kubernetes manifests of `stack`. */
export function renderK8s(stack: StackConfig, o: RenderOptions): Map<string, string> {
  const ns = o.namespace ?? DEFAULT_NAMESPACE;
  const assets = o.assets ?? repositoryAssets();
  const services = workerServiceNames(stack);
  const sims = simWorkers(stack);
  const files = new Map<string, string>();
  const docs = (what: string, objects: unknown[]): string => header(o, what) + objects.map((x) => `---\n${toYaml(x)}`).join('');
  const meta = (name: string, labels: Record<string, string> = {}, annotations?: Record<string, string>): Record<string, unknown> => ({
    name,
    namespace: ns,
    labels: { ...PART_OF, ...labels },
    ...(annotations ? { annotations } : {}),
  });
  const gatewayHost = `gateway.${ns}.svc.cluster.local`;

  files.set('00-namespace.yaml', docs(`The namespace of stack "${stack.name}".`, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { ...PART_OF } } }]));

  if (sims.length > 0) files.set('10-model-cache.yaml', docs(
    'The Hugging Face cache every vLLM pod mounts (weights are downloaded once). ReadWriteMany needs a storage class that offers it (NFS, CephFS, EFS, Filestore...); with ReadWriteOnce all vLLM pods must share one node.',
    [{
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: meta('model-cache'),
      spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: `${modelCacheGi(stack)}Gi` } } },
    }],
  ));

  // --- vLLM servers ---------------------------------------------------------------------------
  for (const { worker, model } of sims) {
    const svc = services.get(worker.name)!;
    const r = resolveConfig(worker.sim);
    const workerLabel = LABEL_VALUE.test(worker.name) && worker.name.length <= 63 ? worker.name : svc;
    const served = stack.models.filter((m) => m.workers.includes(worker.name)).map((m) => m.name).join(',');
    const selector = { 'app.kubernetes.io/name': 'vllm', 'app.kubernetes.io/instance': svc };
    const labels = { ...selector, 'floodgate.dev/worker': workerLabel };
    const notes = simOnlySettings(worker).map((n) => `sim.${n.key} = ${n.value}: not deployed (${n.why})`);
    const probe = (period: number, failures: number): Record<string, unknown> => ({
      httpGet: { path: '/health', port: 'http' },
      periodSeconds: period,
      timeoutSeconds: 5,
      failureThreshold: failures,
    });
    files.set(`20-${svc}.yaml`, docs(
      [`vLLM server of worker "${worker.name}": ${r.model.hfName} on ${r.tensorParallelSize} x ${r.gpu.name} (nvidia.com/gpu: ${r.tensorParallelSize}).`,
        ...notes.map((n) => `# ${n}`)].join('\n'),
      [
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: meta(svc, labels, { 'floodgate.dev/worker': worker.name, 'floodgate.dev/gpu': r.gpu.id }),
          spec: {
            replicas: 1,
            strategy: { type: 'Recreate' },
            selector: { matchLabels: selector },
            template: {
              metadata: { labels: { ...PART_OF, ...labels } },
              spec: {
                containers: [{
                  name: 'vllm',
                  image: o.vllmImage ?? VLLM_IMAGE,
                  command: ['vllm', 'serve'],
                  args: vllmArgs(worker, model),
                  ports: [{ name: 'http', containerPort: VLLM_PORT }],
                  env: [{ name: 'HF_TOKEN', valueFrom: { secretKeyRef: { name: 'hf-token', key: 'token', optional: true } } }],
                  resources: { limits: { 'nvidia.com/gpu': String(r.tensorParallelSize) } },
                  volumeMounts: [
                    { name: 'model-cache', mountPath: '/root/.cache/huggingface' },
                    { name: 'dshm', mountPath: '/dev/shm' },
                  ],
                  // Loading weights (and downloading them the first time) takes minutes: the
                  // startup probe allows 30 minutes before liveness takes over.
                  startupProbe: probe(10, 180),
                  readinessProbe: probe(5, 3),
                  livenessProbe: probe(10, 6),
                }],
                volumes: [
                  { name: 'model-cache', persistentVolumeClaim: { claimName: 'model-cache' } },
                  // Shared memory for tensor parallelism (Compose: ipc: host).
                  { name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: '16Gi' } },
                ],
              },
            },
          },
        },
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: meta(svc, { ...labels, 'floodgate.dev/scrape-job': 'floodgate-workers' }, { 'floodgate.dev/served-models': served }),
          spec: { selector, ports: [{ name: 'http', port: VLLM_PORT, targetPort: 'http' }] },
        },
      ],
    ));
  }

  // --- the gateway ----------------------------------------------------------------------------
  const gatewayStack = gatewayStackYaml(
    stack,
    o,
    (svc) => ({ url: `http://${svc}.${ns}.svc.cluster.local:${VLLM_PORT}/v1`, metricsUrl: `http://${svc}.${ns}.svc.cluster.local:${VLLM_PORT}/metrics` }),
    '/data/usage.db',
  );
  const gwSelector = { 'app.kubernetes.io/name': 'floodgate-gateway' };
  files.set('30-gateway.yaml', docs(
    'The gateway: its stack file (workers at their Service DNS names), its usage ledger (SQLite: one replica), Deployment and Service. Build the image from the repository\'s Dockerfile and push it where the cluster pulls from.',
    [
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('gateway-stack', gwSelector), data: { 'stack.yaml': gatewayStack } },
      { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: meta('gateway-data', gwSelector), spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: meta('gateway', gwSelector),
        spec: {
          replicas: 1,
          strategy: { type: 'Recreate' },
          selector: { matchLabels: gwSelector },
          template: {
            metadata: { labels: { ...PART_OF, ...gwSelector } },
            spec: {
              containers: [{
                name: 'gateway',
                image: GATEWAY_IMAGE,
                args: [...GATEWAY_COMMAND],
                ports: [{ name: 'http', containerPort: GATEWAY_PORT }],
                volumeMounts: [{ name: 'config', mountPath: '/config', readOnly: true }, { name: 'data', mountPath: '/data' }],
                readinessProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 5, failureThreshold: 3 },
                livenessProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 10, failureThreshold: 3 },
                resources: { requests: { cpu: '1', memory: '512Mi' } },
              }],
              volumes: [
                { name: 'config', configMap: { name: 'gateway-stack' } },
                { name: 'data', persistentVolumeClaim: { claimName: 'gateway-data' } },
              ],
            },
          },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: meta('gateway', { ...gwSelector, 'floodgate.dev/scrape-job': 'floodgate-gateway' }),
        spec: { selector: gwSelector, ports: [{ name: 'http', port: GATEWAY_PORT, targetPort: 'http' }] },
      },
    ],
  ));

  // --- monitoring -----------------------------------------------------------------------------
  const monitor = (name: string, job: string, extra: unknown[]): Record<string, unknown> => ({
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: meta(name),
    spec: {
      // The `job` label is the Service's floodgate.dev/scrape-job (FloodgateWorkerDown selects
      // up{job="floodgate-workers"}).
      jobLabel: 'floodgate.dev/scrape-job',
      selector: { matchLabels: { 'floodgate.dev/scrape-job': job } },
      namespaceSelector: { matchNames: [ns] },
      endpoints: [{ port: 'http', path: '/metrics', interval: '5s', relabelings: extra }],
    },
  });
  const groups = RULE_FILES.flatMap((f) => ((parse(assets.rules.get(f) ?? '') as { groups?: unknown[] } | null)?.groups ?? []));
  files.set('40-monitoring.yaml', docs(
    'Prometheus Operator objects: what to scrape (the label `worker` is the stack\'s worker name, as the dashboards expect) and the repository\'s recording rules and alerts. Your Prometheus must select them (kube-prometheus-stack: label them with its release, or set its *SelectorNilUsesHelmValues to false).',
    [
      monitor('floodgate-workers', 'floodgate-workers', [
        { sourceLabels: ['__meta_kubernetes_service_label_floodgate_dev_worker'], targetLabel: 'worker' },
        { sourceLabels: ['__meta_kubernetes_service_annotation_floodgate_dev_served_models'], targetLabel: 'served_models' },
      ]),
      monitor('floodgate-gateway', 'floodgate-gateway', []),
      { apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: meta('floodgate-rules'), spec: { groups } },
    ],
  ));

  files.set('41-dashboards.yaml', docs(
    'The repository\'s Grafana dashboards, for the Grafana sidecar (kube-prometheus-stack: grafana.sidecar.dashboards.enabled, label grafana_dashboard "1"; searchNamespace ALL or this namespace). Their `datasource` variable picks the default Prometheus datasource.',
    [...assets.dashboards].map(([file, text]) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta(`floodgate-dashboard-${file.replace(/\.json$/, '')}`, { grafana_dashboard: '1' }),
      data: { [file]: text },
    })),
  ));

  // --- autoscaling ----------------------------------------------------------------------------
  if (sims.length > 0) {
    files.set('50-autoscaling.yaml', docs(
      [
        'Autoscaling example: more vLLM replicas when requests wait in the engine (vllm:num_requests_waiting per pod).',
        '# It needs prometheus-adapter serving the custom metrics API with this rule (Helm values `rules.custom`):',
        '#   - seriesQuery: \'vllm:num_requests_waiting{namespace!="",pod!=""}\'',
        '#     resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}}}',
        '#     name: {matches: "^vllm:num_requests_waiting$", as: "vllm_num_requests_waiting"}',
        '#     metricsQuery: \'sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)\'',
        '# Each replica needs its own GPUs. The gateway sees a worker\'s Service as one worker and keeps at most its',
        '# max_in_flight requests on it (default: max_num_seqs), so requests queue in the gateway, not in vLLM, unless',
        '# max_in_flight in the gateway\'s stack file is raised to max_num_seqs x maxReplicas (docs/gpu-box.md).',
      ].join('\n'),
      sims.map(({ worker }) => {
        const svc = services.get(worker.name)!;
        return {
          apiVersion: 'autoscaling/v2',
          kind: 'HorizontalPodAutoscaler',
          metadata: meta(svc),
          spec: {
            scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: svc },
            minReplicas: 1,
            maxReplicas: HPA_MAX_REPLICAS,
            metrics: [{ type: 'Pods', pods: { metric: { name: 'vllm_num_requests_waiting' }, target: { type: 'AverageValue', averageValue: HPA_WAITING_PER_POD } } }],
            // A new replica takes minutes to load its model: scale down slowly.
            behavior: { scaleDown: { stabilizationWindowSeconds: 600 } },
          },
        };
      }),
    ));
  }

  // --- the load: an Indexed Job of N harness shards, then a merge -------------------------------
  const scenario = o.scenario ?? defaultScenario();
  const shards = o.shards ?? DEFAULT_SHARDS;
  const runName = `${scenario.file.replace(/\.ya?ml$/, '').toLowerCase().replace(/[^a-z0-9-]+/g, '-')}-sharded`;
  const harnessEnv = [
    { name: 'START_AT', value: START_AT_PLACEHOLDER },
    { name: 'RUN_NAME', value: runName },
    { name: 'FLOODGATE_API_KEY', valueFrom: { secretKeyRef: { name: 'floodgate-harness', key: 'api-key' } } },
  ];
  const reportsVolume = { name: 'reports', persistentVolumeClaim: { claimName: 'harness-reports' } };
  files.set('load/harness-job.yaml', docs(
    [
      `The load: ${shards} harness shards (an Indexed Job) running ${scenario.file} against the gateway, all starting at START_AT.`,
      `# Before applying: set START_AT (an ISO-8601 UTC time a few minutes ahead, when every pod will be running) and create`,
      '# the API key secret: kubectl -n NS create secret generic floodgate-harness --from-literal=api-key=YOUR-KEY',
      `# Reports: /reports/${runName}/shard-<index> on the harness-reports PVC; then apply load/harness-merge.yaml.`,
    ].join('\n'),
    [
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('harness-scenario'), data: { [scenario.file]: scenario.text } },
      { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: meta('harness-reports'), spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '10Gi' } } } },
      {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: meta('harness-load', { 'app.kubernetes.io/name': 'floodgate-harness' }),
        spec: {
          completionMode: 'Indexed',
          completions: shards,
          parallelism: shards,
          // A retried shard would start after START_AT: fail instead, and run the Job again.
          backoffLimit: 0,
          template: {
            metadata: { labels: { ...PART_OF, 'app.kubernetes.io/name': 'floodgate-harness' } },
            spec: {
              restartPolicy: 'Never',
              containers: [{
                name: 'harness',
                image: GATEWAY_IMAGE,
                args: [
                  'run', `/scenarios/${scenario.file}`,
                  '--shard', `$(JOB_COMPLETION_INDEX)/${shards}`,
                  '--start-at', '$(START_AT)',
                  '--out', '/reports/$(RUN_NAME)/shard-$(JOB_COMPLETION_INDEX)',
                  '--target', `http://${gatewayHost}:${GATEWAY_PORT}/v1`,
                  '-q',
                ],
                env: [
                  { name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } },
                  ...harnessEnv,
                ],
                volumeMounts: [{ name: 'scenario', mountPath: '/scenarios', readOnly: true }, { name: 'reports', mountPath: '/reports' }],
                resources: { requests: { cpu: '2', memory: '1Gi' } },
              }],
              volumes: [{ name: 'scenario', configMap: { name: 'harness-scenario' } }, reportsVolume],
            },
          },
        },
      },
    ],
  ));
  const shardDirs = Array.from({ length: shards }, (_, i) => `/reports/$(RUN_NAME)/shard-${i}`);
  files.set('load/harness-merge.yaml', docs(
    [
      'After the load Job completed: merge the shard folders into one run (/reports/RUN/merged), and a pod to copy it out:',
      `#   kubectl -n ${ns} cp harness-reports-reader:/reports/${runName}/merged ./${runName}`,
    ].join('\n'),
    [
      {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: meta('harness-merge', { 'app.kubernetes.io/name': 'floodgate-harness' }),
        spec: {
          backoffLimit: 0,
          template: {
            metadata: { labels: { ...PART_OF, 'app.kubernetes.io/name': 'floodgate-harness' } },
            spec: {
              restartPolicy: 'Never',
              containers: [{
                name: 'merge',
                image: GATEWAY_IMAGE,
                args: ['merge', ...shardDirs, '--out', '/reports/$(RUN_NAME)/merged'],
                env: [{ name: 'RUN_NAME', value: runName }],
                volumeMounts: [{ name: 'reports', mountPath: '/reports' }],
              }],
              volumes: [reportsVolume],
            },
          },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: meta('harness-reports-reader', { 'app.kubernetes.io/name': 'floodgate-harness' }),
        spec: {
          restartPolicy: 'Never',
          containers: [{ name: 'reader', image: BUSYBOX_IMAGE, command: ['sleep', '86400'], volumeMounts: [{ name: 'reports', mountPath: '/reports', readOnly: true }] }],
          volumes: [reportsVolume],
        },
      },
    ],
  ));

  files.set('README.md', [
    '# Generated Kubernetes manifests',
    '',
    `Generated by \`${o.command}\` from ${o.stackLabel}; do not edit, render again. Namespace \`${ns}\`.`,
    'How to use them: docs/gpu-box.md in the Floodgate repository (`kubectl apply -f .` for the stack;',
    '`load/` holds the load Job and the merge, applied separately).',
    '',
    ...[...files.keys(), 'README.md'].sort().map((p) => `- \`${p}\``),
    '',
  ].join('\n'));
  return new Map([...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Room for every distinct model's weights in the cache: 2 bytes per parameter, plus 20%, at least 50 GiB. */
function modelCacheGi(stack: StackConfig): number {
  const models = new Map<string, number>();
  for (const { worker } of simWorkers(stack)) {
    const r = resolveConfig(worker.sim);
    models.set(r.model.hfName, r.model.paramsB);
  }
  const gb = [...models.values()].reduce((a, p) => a + p * 2 * 1.2, 0);
  return Math.max(50, Math.ceil(gb / 10) * 10);
}
