/**
 * Tenants and cost: requests, tokens and spend by tenant and model, 429 refusals by code, and the
 * day / month budgets (spent, limit, left, alert state) the gateway enforces. Amounts are in the
 * stack's currency; the panels use the USD unit of the default stack.
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { Board, RATE, booleanMapping, labelValuesVariable, statPanel, tablePanel, timeseriesPanel } from './common.ts';

export const UID = 'floodgate-tenants-cost';

/** Grafana unit of the amounts; the default stack's currency is USD. */
export const CURRENCY_UNIT = 'currencyUSD';

const T = 'tenant=~"$tenant"';
const TM = 'tenant=~"$tenant", model=~"$model"';

export function tenantsCost(): dashboard.Dashboard {
  const board = new Board({
    uid: UID,
    title: 'Floodgate / Tenants and cost',
    description: 'Per-tenant traffic, tokens, spend, rate limiting and budgets of a Floodgate gateway.',
    variables: [
      labelValuesVariable('tenant', 'Tenant', 'floodgate_gateway_requests_total', 'tenant', 'Tenant names from the stack file'),
      labelValuesVariable('model', 'Model', 'floodgate_gateway_requests_total', 'model', 'Model names of the gateway'),
    ],
  });

  board.row('Traffic')
    .panel(timeseriesPanel({
      title: 'Requests by tenant',
      description: 'Completions requests answered per second by tenant, all statuses (floodgate_gateway_requests_total).',
      unit: 'reqps',
      min: 0,
      w: 8,
      queries: [{ expr: `sum by (tenant) (rate(floodgate_gateway_requests_total{${TM}}[${RATE}]))`, legend: '{{tenant}}' }],
    }))
    .panel(timeseriesPanel({
      title: 'Tokens by tenant',
      description: 'Prompt and completion tokens per second by tenant (floodgate_gateway_tokens_total by kind).',
      unit: 'short',
      min: 0,
      w: 8,
      queries: [{ expr: `sum by (tenant, kind) (rate(floodgate_gateway_tokens_total{${TM}}[${RATE}]))`, legend: '{{tenant}} {{kind}}' }],
    }))
    .panel(timeseriesPanel({
      title: 'Rate limited by code',
      description: 'Requests refused with a 429 per second, by tenant and code (rate_limited, tokens_limited, concurrency_limited, budget_exceeded, queue_full) (floodgate_gateway_rate_limited_total).',
      unit: 'reqps',
      min: 0,
      w: 8,
      stack: true,
      queries: [{ expr: `sum by (tenant, code) (rate(floodgate_gateway_rate_limited_total{${T}}[${RATE}]))`, legend: '{{tenant}} {{code}}' }],
    }));

  board.row('Spend')
    .panel(timeseriesPanel({
      title: 'Spend rate by tenant and model',
      description: 'Spend per hour at the stack\'s prices, by tenant and model (rate of floodgate_gateway_cost_total × 3600), in the stack\'s currency.',
      unit: CURRENCY_UNIT,
      min: 0,
      queries: [{ expr: `sum by (tenant, model) (rate(floodgate_gateway_cost_total{${TM}}[${RATE}])) * 3600`, legend: '{{tenant}} {{model}} /h' }],
    }))
    .panel(tablePanel({
      title: 'Spend in the time range',
      description: 'Spend by tenant and model over the dashboard\'s time range (increase of floodgate_gateway_cost_total over $__range), in the stack\'s currency.',
      unit: CURRENCY_UNIT,
      decimals: 4,
      queries: [{ expr: `sum by (tenant, model) (increase(floodgate_gateway_cost_total{${TM}}[$__range]))`, instant: true, format: 'table' }],
      transformations: [
        { id: 'organize', options: { excludeByName: { Time: true }, renameByName: { Value: 'spend' } } },
      ],
    }));

  board.row('Budgets')
    .panel(timeseriesPanel({
      title: 'Budget spent vs limit',
      description: 'Spend so far this UTC day / month (floodgate_gateway_budget_spent) against the budget (floodgate_gateway_budget_limit; absent for tenants without one), by tenant and period.',
      unit: CURRENCY_UNIT,
      min: 0,
      queries: [
        { expr: `max by (tenant, period) (floodgate_gateway_budget_spent{${T}})`, legend: '{{tenant}} {{period}} spent' },
        { expr: `max by (tenant, period) (floodgate_gateway_budget_limit{${T}})`, legend: '{{tenant}} {{period}} limit' },
      ],
    }))
    .panel(timeseriesPanel({
      title: 'Budget left',
      description: 'Budget left this UTC day / month by tenant: limit - spent (only tenants with a budget).',
      unit: CURRENCY_UNIT,
      queries: [{
        expr: `max by (tenant, period) (floodgate_gateway_budget_limit{${T}}) - max by (tenant, period) (floodgate_gateway_budget_spent{${T}})`,
        legend: '{{tenant}} {{period}}',
      }],
    }))
    .panel(statPanel({
      title: 'Budget used',
      description: 'Share of each tenant\'s day / month budget already spent (spent / limit).',
      unit: 'percentunit',
      graph: false,
      w: 12,
      thresholds: [{ value: null, color: 'green' }, { value: 0.8, color: 'orange' }, { value: 1, color: 'red' }],
      queries: [{
        expr: `max by (tenant, period) (floodgate_gateway_budget_spent{${T}}) / max by (tenant, period) (floodgate_gateway_budget_limit{${T}})`,
        legend: '{{tenant}} {{period}}',
        instant: true,
      }],
    }))
    .panel(statPanel({
      title: 'Budget alert state',
      description: 'ALERT once a tenant\'s spend reaches the alert_threshold share of a budget, else OK (floodgate_gateway_budget_alert).',
      unit: 'short',
      graph: false,
      w: 12,
      thresholds: [{ value: null, color: 'green' }, { value: 1, color: 'red' }],
      mappings: booleanMapping({ text: 'ALERT', color: 'red' }, { text: 'OK', color: 'green' }),
      queries: [{ expr: `max by (tenant) (floodgate_gateway_budget_alert{${T}})`, legend: '{{tenant}}', instant: true }],
    }));

  return board.build();
}
