/**
 * Serving overview: the gateway's view of the traffic (request rate by model and status class,
 * errors, TTFT / E2E / queue-time quantiles, queue depth, tokens/s, retries and fallbacks) and the
 * inter-token latency measured by the vLLM workers.
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { Board, RATE, labelValuesVariable, quantile, quantileQueries, statPanel, timeseriesPanel } from './common.ts';

export const UID = 'floodgate-serving-overview';

const M = 'model=~"$model"';

export function servingOverview(): dashboard.Dashboard {
  const board = new Board({
    uid: UID,
    title: 'Floodgate / Serving overview',
    description: 'Request rate, errors, latency (TTFT, ITL, E2E), queueing, token throughput, retries and fallbacks of a Floodgate gateway and its vLLM workers.',
    variables: [
      labelValuesVariable('model', 'Model', 'floodgate_gateway_requests_total', 'model', 'Model names of the gateway (the stack file\'s models)'),
    ],
  });

  const requests = (selector: string) => `sum(rate(floodgate_gateway_requests_total{${selector}}[${RATE}]))`;

  board.row('Traffic')
    .panel(statPanel({
      title: 'Request rate',
      description: 'Completions requests answered by the gateway per second, all statuses, for the selected models.',
      unit: 'reqps',
      decimals: 2,
      queries: [{ expr: requests(M), legend: 'requests/s' }],
    }))
    .panel(statPanel({
      title: 'Error ratio (non-2xx)',
      description: 'Share of the answered requests whose HTTP status is not 2xx (4xx including 429 rate limits, and 5xx).',
      unit: 'percentunit',
      decimals: 2,
      thresholds: [{ value: null, color: 'green' }, { value: 0.01, color: 'orange' }, { value: 0.05, color: 'red' }],
      queries: [{ expr: `${requests(`${M}, status!~"2.."`)} / ${requests(M)}`, legend: 'non-2xx' }],
    }))
    .panel(statPanel({
      title: 'TTFT p95',
      description: '95th percentile of the time from arrival at the gateway to the first body byte, over all selected models.',
      unit: 's',
      decimals: 3,
      thresholds: [{ value: null, color: 'green' }, { value: 1, color: 'orange' }, { value: 5, color: 'red' }],
      queries: [{ expr: quantile(0.95, 'floodgate_gateway_ttft_seconds_bucket', M, []), legend: 'p95' }],
    }))
    .panel(statPanel({
      title: 'Queue depth',
      description: 'Requests waiting at the gateway for a worker slot right now (queue and retries), summed over the selected models.',
      unit: 'short',
      decimals: 0,
      thresholds: [{ value: null, color: 'green' }, { value: 50, color: 'orange' }, { value: 500, color: 'red' }],
      queries: [{ expr: `sum(floodgate_gateway_queue_depth{${M}})`, legend: 'waiting' }],
    }))
    .panel(timeseriesPanel({
      title: 'Request rate by model and status class',
      description: 'Completions requests answered per second by model and HTTP status class (2xx, 4xx, 5xx) from floodgate_gateway_requests_total.',
      unit: 'reqps',
      min: 0,
      stack: true,
      queries: ['2', '4', '5'].map((c) => ({
        expr: `sum by (model) (rate(floodgate_gateway_requests_total{${M}, status=~"${c}.."}[${RATE}]))`,
        legend: `{{model}} ${c}xx`,
      })),
    }))
    .panel(timeseriesPanel({
      title: 'Error ratio by model',
      description: 'Per model, the share of answered requests with a 5xx status (server errors) and with any non-2xx status (including 429 refusals).',
      unit: 'percentunit',
      min: 0,
      queries: [
        {
          expr: `sum by (model) (rate(floodgate_gateway_requests_total{${M}, status=~"5.."}[${RATE}])) / sum by (model) (rate(floodgate_gateway_requests_total{${M}}[${RATE}]))`,
          legend: '{{model}} 5xx',
        },
        {
          expr: `sum by (model) (rate(floodgate_gateway_requests_total{${M}, status!~"2.."}[${RATE}])) / sum by (model) (rate(floodgate_gateway_requests_total{${M}}[${RATE}]))`,
          legend: '{{model}} non-2xx',
        },
      ],
    }));

  board.row('Latency')
    .panel(timeseriesPanel({
      title: 'Time to first token (gateway)',
      description: 'TTFT p50 / p95 / p99 by model: arrival at the gateway to the first body byte sent (histogram_quantile over floodgate_gateway_ttft_seconds_bucket).',
      unit: 's',
      min: 0,
      queries: quantileQueries('floodgate_gateway_ttft_seconds_bucket', M, ['model'], '{{model}}'),
    }))
    .panel(timeseriesPanel({
      title: 'End-to-end latency (gateway)',
      description: 'E2E p50 / p95 / p99 by model: arrival at the gateway to the end of the response (floodgate_gateway_e2e_seconds).',
      unit: 's',
      min: 0,
      queries: quantileQueries('floodgate_gateway_e2e_seconds_bucket', M, ['model'], '{{model}}'),
    }))
    .panel(timeseriesPanel({
      title: 'Inter-token latency (workers)',
      description: 'ITL p50 / p95 / p99 by the workers\' served model name, from vllm:inter_token_latency_seconds on every worker (not filtered by the gateway model variable: workers may serve under another name).',
      unit: 'ms',
      min: 0,
      queries: quantileQueries('vllm:inter_token_latency_seconds_bucket', '', ['model_name'], '{{model_name}}', 1000),
    }))
    .panel(timeseriesPanel({
      title: 'Queue time p95 (gateway)',
      description: 'p95 and p99 of the time from admission at the gateway to a worker slot, by model (floodgate_gateway_queue_time_seconds).',
      unit: 's',
      min: 0,
      queries: quantileQueries('floodgate_gateway_queue_time_seconds_bucket', M, ['model'], '{{model}}', 1, [0.95, 0.99]),
    }));

  board.row('Queue and throughput')
    .panel(timeseriesPanel({
      title: 'Queue depth by model',
      description: 'Requests waiting at the gateway for a worker (queue and retries), by model (floodgate_gateway_queue_depth).',
      unit: 'short',
      min: 0,
      w: 8,
      queries: [{ expr: `sum by (model) (floodgate_gateway_queue_depth{${M}})`, legend: '{{model}}' }],
    }))
    .panel(timeseriesPanel({
      title: 'Tokens per second by model',
      description: 'Prompt and completion tokens per second by model, counted by the gateway from the workers\' usage (floodgate_gateway_tokens_total by kind).',
      unit: 'short',
      min: 0,
      w: 8,
      queries: [{ expr: `sum by (model, kind) (rate(floodgate_gateway_tokens_total{${M}}[${RATE}]))`, legend: '{{model}} {{kind}}' }],
    }))
    .panel(timeseriesPanel({
      title: 'Retries and fallbacks',
      description: 'Attempts retried on another worker before the first byte, by model, and requests moved down a fallback chain, by from/to model and reason (oom, engine_dead, context_length), per second.',
      unit: 'reqps',
      min: 0,
      w: 8,
      queries: [
        { expr: `sum by (model) (rate(floodgate_gateway_retries_total{${M}}[${RATE}]))`, legend: 'retry {{model}}' },
        { expr: `sum by (from, to, reason) (rate(floodgate_gateway_fallbacks_total{from=~"$model"}[${RATE}]))`, legend: 'fallback {{from}} → {{to}} ({{reason}})' },
      ],
    }));

  return board.build();
}
