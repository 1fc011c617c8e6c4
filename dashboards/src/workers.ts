/**
 * Workers: the vLLM engines behind the gateway (running / waiting requests, KV-cache usage,
 * preemptions, prefix-cache hit ratio, batch tokens per engine step, worker-side latency and
 * tokens) and the gateway's view of each worker (health, in-flight requests). The `worker` label
 * on vllm: series comes from the gateway's Prometheus service discovery (/sd/prometheus).
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { Board, RATE, booleanMapping, gaugePanel, labelValuesVariable, quantileQueries, statPanel, timeseriesPanel } from './common.ts';

export const UID = 'floodgate-workers';

const W = 'worker=~"$worker", model_name=~"$model"';
const GW = 'worker=~"$worker"';

export function workers(): dashboard.Dashboard {
  const board = new Board({
    uid: UID,
    title: 'Floodgate / Workers',
    description: 'vLLM workers behind the Floodgate gateway: scheduler state, KV cache, preemptions, prefix cache, batch size, worker-side latency, and the gateway\'s health and in-flight view of each worker.',
    variables: [
      labelValuesVariable('worker', 'Worker', 'vllm:num_requests_running', 'worker', 'Worker names (label set by the gateway\'s Prometheus service discovery)'),
      labelValuesVariable('model', 'Served model', 'vllm:num_requests_running', 'model_name', 'Model name the workers serve (vLLM model_name label)'),
    ],
  });

  board.row('Gateway view')
    .panel(statPanel({
      title: 'Worker health',
      description: 'Whether the gateway routes to each worker: 1 routable (UP), 0 ejected by the health checker (DOWN) (floodgate_gateway_worker_healthy).',
      unit: 'short',
      graph: false,
      w: 12,
      h: 8,
      thresholds: [{ value: null, color: 'red' }, { value: 1, color: 'green' }],
      mappings: booleanMapping({ text: 'UP', color: 'green' }, { text: 'DOWN', color: 'red' }),
      queries: [{ expr: `max by (worker) (floodgate_gateway_worker_healthy{${GW}})`, legend: '{{worker}}', instant: true }],
    }))
    .panel(timeseriesPanel({
      title: 'In flight per worker (gateway)',
      description: 'Requests the gateway has in flight on each worker (floodgate_gateway_worker_in_flight).',
      unit: 'short',
      min: 0,
      queries: [{ expr: `sum by (worker) (floodgate_gateway_worker_in_flight{${GW}})`, legend: '{{worker}}' }],
    }));

  board.row('Scheduler')
    .panel(timeseriesPanel({
      title: 'Running and waiting requests',
      description: 'Requests in the engine\'s running batch (vllm:num_requests_running) and waiting to be scheduled (vllm:num_requests_waiting), per worker.',
      unit: 'short',
      min: 0,
      w: 8,
      queries: [
        { expr: `sum by (worker) (vllm:num_requests_running{${W}})`, legend: 'running {{worker}}' },
        { expr: `sum by (worker) (vllm:num_requests_waiting{${W}})`, legend: 'waiting {{worker}}' },
      ],
    }))
    .panel(timeseriesPanel({
      title: 'KV-cache usage',
      description: 'Fraction of the KV-cache blocks in use on each worker (vllm:kv_cache_usage_perc, 1 = full). Near 1, new requests wait and running ones may be preempted.',
      unit: 'percentunit',
      min: 0,
      max: 1,
      w: 8,
      thresholds: [{ value: null, color: 'green' }, { value: 0.9, color: 'orange' }, { value: 0.98, color: 'red' }],
      queries: [{ expr: `max by (worker) (vllm:kv_cache_usage_perc{${W}})`, legend: '{{worker}}' }],
    }))
    .panel(gaugePanel({
      title: 'KV-cache usage now',
      description: 'Current KV-cache usage per worker (vllm:kv_cache_usage_perc).',
      unit: 'percentunit',
      min: 0,
      max: 1,
      w: 8,
      h: 8,
      thresholds: [{ value: null, color: 'green' }, { value: 0.9, color: 'orange' }, { value: 0.98, color: 'red' }],
      queries: [{ expr: `max by (worker) (vllm:kv_cache_usage_perc{${W}})`, legend: '{{worker}}', instant: true }],
    }))
    .panel(timeseriesPanel({
      title: 'Preemptions',
      description: 'Requests preempted per second on each worker (vllm:num_preemptions_total): the engine ran out of KV-cache blocks and evicted a running request.',
      unit: 'short',
      min: 0,
      w: 8,
      queries: [{ expr: `sum by (worker) (rate(vllm:num_preemptions_total{${W}}[${RATE}]))`, legend: '{{worker}}' }],
    }))
    .panel(timeseriesPanel({
      title: 'Prefix-cache hit ratio',
      description: 'Share of queried prompt tokens found in the prefix cache on each worker (rate of vllm:prefix_cache_hits_total / vllm:prefix_cache_queries_total).',
      unit: 'percentunit',
      min: 0,
      max: 1,
      w: 8,
      queries: [{
        expr: `sum by (worker) (rate(vllm:prefix_cache_hits_total{${W}}[${RATE}])) / sum by (worker) (rate(vllm:prefix_cache_queries_total{${W}}[${RATE}]))`,
        legend: '{{worker}}',
      }],
    }))
    .panel(timeseriesPanel({
      title: 'Batch tokens per engine step',
      description: 'Tokens processed per engine step (prefill + decode) on each worker: p50 / p95 of the vllm:iteration_tokens_total histogram.',
      unit: 'short',
      min: 0,
      w: 8,
      queries: quantileQueries('vllm:iteration_tokens_total_bucket', W, ['worker'], '{{worker}}', 1, [0.5, 0.95]),
    }));

  board.row('Worker throughput and latency')
    .panel(timeseriesPanel({
      title: 'Tokens per second per worker',
      description: 'Prompt (prefill) tokens and generated tokens processed per second on each worker (vllm:prompt_tokens_total, vllm:generation_tokens_total).',
      unit: 'short',
      min: 0,
      w: 8,
      queries: [
        { expr: `sum by (worker) (rate(vllm:prompt_tokens_total{${W}}[${RATE}]))`, legend: 'prompt {{worker}}' },
        { expr: `sum by (worker) (rate(vllm:generation_tokens_total{${W}}[${RATE}]))`, legend: 'generation {{worker}}' },
      ],
    }))
    .panel(timeseriesPanel({
      title: 'Finished requests by reason',
      description: 'Requests finished per second on each worker by finish reason (stop, length, abort) (vllm:request_success_total).',
      unit: 'reqps',
      min: 0,
      w: 8,
      queries: [{ expr: `sum by (worker, finished_reason) (rate(vllm:request_success_total{${W}}[${RATE}]))`, legend: '{{worker}} {{finished_reason}}' }],
    }))
    .panel(timeseriesPanel({
      title: 'Worker TTFT and queue time p95',
      description: 'p95 of the engine\'s time to first token (vllm:time_to_first_token_seconds) and of the time requests wait in the engine queue (vllm:request_queue_time_seconds), per worker.',
      unit: 's',
      min: 0,
      w: 8,
      queries: [
        ...quantileQueries('vllm:time_to_first_token_seconds_bucket', W, ['worker'], 'TTFT {{worker}}', 1, [0.95]),
        ...quantileQueries('vllm:request_queue_time_seconds_bucket', W, ['worker'], 'queue {{worker}}', 1, [0.95]),
      ],
    }));

  return board.build();
}
