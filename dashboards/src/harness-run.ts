/**
 * Harness run: the load generator's live view of a run from its own /metrics
 * (floodgate_harness_*): sent / completed rate, target vs achieved rate, in flight, client-side
 * TTFT / ITL / E2E quantiles, errors by code, output tokens/s and the send lag of the schedule.
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { Board, RATE, labelValuesVariable, quantileQueries, statPanel, tablePanel, timeseriesPanel } from './common.ts';

export const UID = 'floodgate-harness-run';

const S = 'scenario=~"$scenario"';
const SM = 'scenario=~"$scenario", model=~"$model"';

export function harnessRun(): dashboard.Dashboard {
  const board = new Board({
    uid: UID,
    title: 'Floodgate / Harness run',
    description: 'What the Floodgate harness sees while it runs a scenario: offered vs achieved load, outcomes, client-side latency and throughput.',
    variables: [
      labelValuesVariable('scenario', 'Scenario', 'floodgate_harness_run_info', 'scenario', 'Scenario of the run(s) the harness is executing'),
      labelValuesVariable('model', 'Model', 'floodgate_harness_ttft_seconds_count', 'model', 'Model names the harness requests'),
    ],
  });

  const sent = (by: string) => `sum by (${by}) (rate(floodgate_harness_requests_sent_total{${S}}[${RATE}]))`;

  board.row('Load')
    .panel(tablePanel({
      title: 'Run',
      description: 'The run(s) the harness is executing: scenario and run id (floodgate_harness_run_info).',
      unit: 'short',
      w: 8,
      h: 6,
      queries: [{ expr: `max by (scenario, run_id) (floodgate_harness_run_info{${S}})`, instant: true, format: 'table' }],
      transformations: [{ id: 'organize', options: { excludeByName: { Time: true, Value: true } } }],
    }))
    .panel(statPanel({
      title: 'In flight',
      description: 'Requests the harness has sent and not yet finished (floodgate_harness_in_flight).',
      unit: 'short',
      w: 8,
      h: 6,
      queries: [{ expr: `sum(floodgate_harness_in_flight{${S}})`, legend: 'in flight' }],
    }))
    .panel(statPanel({
      title: 'Success ratio',
      description: 'Share of completed requests with outcome ok (floodgate_harness_requests_completed_total).',
      unit: 'percentunit',
      w: 8,
      h: 6,
      thresholds: [{ value: null, color: 'red' }, { value: 0.95, color: 'orange' }, { value: 0.99, color: 'green' }],
      queries: [{
        expr: `sum(rate(floodgate_harness_requests_completed_total{${S}, outcome="ok"}[${RATE}])) / sum(rate(floodgate_harness_requests_completed_total{${S}}[${RATE}]))`,
        legend: 'ok',
      }],
    }))
    .panel(timeseriesPanel({
      title: 'Target vs achieved rate',
      description: 'Requests per second the schedule asks for now (floodgate_harness_target_rate) against the rate actually sent (floodgate_harness_requests_sent_total), by scenario.',
      unit: 'reqps',
      min: 0,
      queries: [
        { expr: `sum by (scenario) (floodgate_harness_target_rate{${S}})`, legend: 'target {{scenario}}' },
        { expr: sent('scenario'), legend: 'achieved {{scenario}}' },
      ],
    }))
    .panel(timeseriesPanel({
      title: 'Sent and completed rate',
      description: 'Requests sent per second by stage, and completed per second by outcome (ok / failed).',
      unit: 'reqps',
      min: 0,
      queries: [
        { expr: sent('stage'), legend: 'sent {{stage}}' },
        { expr: `sum by (outcome) (rate(floodgate_harness_requests_completed_total{${S}}[${RATE}]))`, legend: 'completed {{outcome}}' },
      ],
    }))
    .panel(timeseriesPanel({
      title: 'In flight over time',
      description: 'Requests in flight in the harness, by scenario (floodgate_harness_in_flight).',
      unit: 'short',
      min: 0,
      w: 8,
      queries: [{ expr: `sum by (scenario) (floodgate_harness_in_flight{${S}})`, legend: '{{scenario}}' }],
    }))
    .panel(timeseriesPanel({
      title: 'Errors by code',
      description: 'Failed requests per second by error code as the harness classifies them (floodgate_harness_errors_total).',
      unit: 'reqps',
      min: 0,
      w: 8,
      stack: true,
      queries: [{ expr: `sum by (code) (rate(floodgate_harness_errors_total{${S}}[${RATE}]))`, legend: '{{code}}' }],
    }))
    .panel(timeseriesPanel({
      title: 'Send lag p99',
      description: 'p99 (and p50) of how late the harness sent requests relative to the arrival schedule (floodgate_harness_send_lag_seconds); a growing lag means the client itself is the bottleneck.',
      unit: 's',
      min: 0,
      w: 8,
      queries: quantileQueries('floodgate_harness_send_lag_seconds_bucket', S, ['scenario'], '{{scenario}}', 1, [0.5, 0.99]),
    }));

  board.row('Client-side latency and throughput')
    .panel(timeseriesPanel({
      title: 'TTFT (client)',
      description: 'Time to first token p50 / p95 / p99 measured by the harness, by model (floodgate_harness_ttft_seconds).',
      unit: 's',
      min: 0,
      queries: quantileQueries('floodgate_harness_ttft_seconds_bucket', SM, ['model'], '{{model}}'),
    }))
    .panel(timeseriesPanel({
      title: 'Inter-token latency (client)',
      description: 'Inter-token latency p50 / p95 / p99 measured by the harness, by model (floodgate_harness_itl_seconds).',
      unit: 'ms',
      min: 0,
      queries: quantileQueries('floodgate_harness_itl_seconds_bucket', SM, ['model'], '{{model}}', 1000),
    }))
    .panel(timeseriesPanel({
      title: 'End-to-end latency (client)',
      description: 'Request latency p50 / p95 / p99 measured by the harness, from send to the last byte, by model (floodgate_harness_e2e_seconds).',
      unit: 's',
      min: 0,
      queries: quantileQueries('floodgate_harness_e2e_seconds_bucket', SM, ['model'], '{{model}}'),
    }))
    .panel(timeseriesPanel({
      title: 'Output tokens per second',
      description: 'Completion tokens received per second by the harness, by model (floodgate_harness_output_tokens_total).',
      unit: 'short',
      min: 0,
      queries: [{ expr: `sum by (model) (rate(floodgate_harness_output_tokens_total{${SM}}[${RATE}]))`, legend: '{{model}}' }],
    }));

  return board.build();
}
