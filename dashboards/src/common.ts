/**
 * Shared building blocks for the Floodgate Grafana dashboards: every dashboard starts with the
 * `datasource` variable (type prometheus) and every panel and query refers to it as
 * `${datasource}`, so the generated JSON imports into any Grafana without a hard-coded
 * datasource uid. Panels are made with the Grafana Foundation SDK builders; this module only
 * fixes the conventions (ids, legends, tooltips, refIds, layout).
 */
import * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as gauge from '@grafana/grafana-foundation-sdk/gauge';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

/** Name of the datasource variable every dashboard defines. */
export const DATASOURCE_VARIABLE = 'datasource';

/** The datasource reference used by every panel, target and query variable. */
export const DATASOURCE: common.DataSourceRef = { type: 'prometheus', uid: `\${${DATASOURCE_VARIABLE}}` };

export const TAGS = ['floodgate'];

/** Rate window: Grafana's `$__rate_interval` (at least four scrape intervals). */
export const RATE = '$__rate_interval';

/** One Prometheus query of a panel. */
export interface Query {
  expr: string;
  legend?: string;
  /** Instant query (stat, gauge, table panels showing the latest value). */
  instant?: boolean;
  /** Result format; `table` for table panels. */
  format?: 'time_series' | 'table';
}

/** Fields common to every panel helper. */
export interface PanelSpec {
  title: string;
  /** What the panel shows; required: every panel carries a description. */
  description: string;
  queries: Query[];
  unit: string;
  /** Grid width (of 24) and height. */
  w?: number;
  h?: number;
  min?: number;
  max?: number;
  decimals?: number;
  thresholds?: dashboard.Threshold[];
  mappings?: dashboard.ValueMapping[];
}

export interface TimeseriesSpec extends PanelSpec {
  /** Stack the series (areas), e.g. for shares of a total. */
  stack?: boolean;
  /** Legend as a table to the right with mean/max/last. */
  legendTable?: boolean;
  fillOpacity?: number;
}

const REF_IDS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

function target(q: Query, i: number): prometheus.DataqueryBuilder {
  const refId = REF_IDS[i];
  if (refId === undefined) throw new Error('too many queries in one panel');
  const t = new prometheus.DataqueryBuilder()
    .datasource(DATASOURCE)
    .editorMode(prometheus.QueryEditorMode.Code)
    .expr(q.expr)
    .refId(refId);
  if (q.legend !== undefined) t.legendFormat(q.legend);
  if (q.format !== undefined) t.format(q.format === 'table' ? prometheus.PromQueryFormat.Table : prometheus.PromQueryFormat.TimeSeries);
  if (q.instant === true) t.instant();
  else t.range();
  return t;
}

function thresholds(steps: dashboard.Threshold[] | undefined): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps(steps ?? [{ value: null, color: 'green' }]);
}

/** The part of the SDK's panel builders the helpers below set in common. */
interface CommonPanelBuilder extends cog.Builder<dashboard.Panel> {
  title(title: string): this;
  description(description: string): this;
  datasource(datasource: common.DataSourceRef): this;
  unit(unit: string): this;
  span(w: number): this;
  height(h: number): this;
  min(min: number): this;
  max(max: number): this;
  decimals(decimals: number): this;
  mappings(mappings: dashboard.ValueMapping[]): this;
  thresholds(thresholds: cog.Builder<dashboard.ThresholdsConfig>): this;
  withTarget(target: cog.Builder<cog.Dataquery>): this;
}

function applyCommon<B extends CommonPanelBuilder>(b: B, s: PanelSpec, defaultW: number, defaultH: number): B {
  if (s.description.trim() === '') throw new Error(`panel "${s.title}" needs a description`);
  if (s.queries.length === 0) throw new Error(`panel "${s.title}" needs at least one query`);
  b.title(s.title).description(s.description).datasource(DATASOURCE).unit(s.unit)
    .span(s.w ?? defaultW).height(s.h ?? defaultH).thresholds(thresholds(s.thresholds));
  if (s.min !== undefined) b.min(s.min);
  if (s.max !== undefined) b.max(s.max);
  if (s.decimals !== undefined) b.decimals(s.decimals);
  if (s.mappings !== undefined) b.mappings(s.mappings);
  s.queries.forEach((q, i) => b.withTarget(target(q, i)));
  return b;
}

export function timeseriesPanel(s: TimeseriesSpec): timeseries.PanelBuilder {
  const legend = new common.VizLegendOptionsBuilder().showLegend(true);
  if (s.legendTable === true) {
    legend.displayMode(common.LegendDisplayMode.Table).placement(common.LegendPlacement.Right).calcs(['mean', 'max', 'lastNotNull']);
  } else {
    legend.displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom);
  }
  const b = applyCommon(new timeseries.PanelBuilder(), s, 12, 8)
    .legend(legend)
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending))
    .lineWidth(1)
    .fillOpacity(s.fillOpacity ?? (s.stack === true ? 40 : 10))
    .showPoints(common.VisibilityMode.Never)
    .spanNulls(false);
  if (s.stack === true) b.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  return b;
}

export function statPanel(s: PanelSpec & { graph?: boolean }): stat.PanelBuilder {
  return applyCommon(new stat.PanelBuilder(), s, 6, 4)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .graphMode(s.graph === false ? common.BigValueGraphMode.None : common.BigValueGraphMode.Area)
    .colorMode(common.BigValueColorMode.Value)
    .textMode(common.BigValueTextMode.Auto);
}

export function gaugePanel(s: PanelSpec): gauge.PanelBuilder {
  return applyCommon(new gauge.PanelBuilder(), s, 8, 6)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .showThresholdMarkers(true);
}

export function tablePanel(s: PanelSpec & { transformations?: dashboard.DataTransformerConfig[] }): table.PanelBuilder {
  const b = applyCommon(new table.PanelBuilder(), s, 12, 8).showHeader(true);
  if (s.transformations !== undefined) b.transformations(s.transformations);
  return b;
}

/** Value mapping for 1/0 gauges (healthy, alert state). */
export function booleanMapping(one: { text: string; color: string }, zero: { text: string; color: string }): dashboard.ValueMapping[] {
  return [{ type: dashboard.MappingType.ValueToText, options: { '0': { ...zero, index: 0 }, '1': { ...one, index: 1 } } }];
}

/** The `datasource` variable: picks any Prometheus datasource; the default one is preselected. */
export function datasourceVariable(): dashboard.DatasourceVariableBuilder {
  return new dashboard.DatasourceVariableBuilder(DATASOURCE_VARIABLE)
    .label('Data source')
    .type('prometheus')
    .description('Prometheus that scrapes the Floodgate gateway, workers and harness');
}

/**
 * A multi-value query variable filled from `label_values(metric, label)`, with an "All" option
 * whose value is the regex `.*` (queries match it with `=~"$name"`).
 */
export function labelValuesVariable(name: string, label: string, metric: string, labelName: string, description: string): dashboard.QueryVariableBuilder {
  const query = `label_values(${metric}, ${labelName})`;
  return new dashboard.QueryVariableBuilder(name)
    .label(label)
    .description(description)
    .datasource(DATASOURCE)
    .query(query)
    .definition(query)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ selected: true, text: ['All'], value: ['$__all'] });
}

/**
 * A dashboard under construction: numbers panels and rows in order (stable ids) and lays them
 * out left to right in rows of 24 columns (the SDK's layout).
 */
export class Board {
  private nextId = 1;
  readonly builder: dashboard.DashboardBuilder;

  constructor(o: { uid: string; title: string; description: string; variables: cog.Builder<dashboard.VariableModel>[] }) {
    this.builder = new dashboard.DashboardBuilder(o.title)
      .uid(o.uid)
      .description(o.description)
      .tags(TAGS)
      .editable()
      .timezone('browser')
      .tooltip(dashboard.DashboardCursorSync.Crosshair)
      .time({ from: 'now-15m', to: 'now' })
      .refresh('5s')
      .timepicker(new dashboard.TimePickerBuilder().refreshIntervals(['5s', '10s', '30s', '1m', '5m', '15m']))
      .annotations([])
      .withVariable(datasourceVariable());
    for (const v of o.variables) this.builder.withVariable(v);
  }

  row(title: string): this {
    this.builder.withRow(new dashboard.RowBuilder(title).id(this.nextId++).collapsed(false));
    return this;
  }

  panel(p: cog.Builder<dashboard.Panel> & { id(id: number): unknown }): this {
    p.id(this.nextId++);
    this.builder.withPanel(p);
    return this;
  }

  build(): dashboard.Dashboard {
    return this.builder.build();
  }
}

/** `histogram_quantile(q, sum by (<by>, le) (rate(<bucket>{<selector>}[$__rate_interval])))` */
export function quantile(q: number, bucket: string, selector: string, by: string[]): string {
  const groups = [...by, 'le'].join(', ');
  const series = selector === '' ? bucket : `${bucket}{${selector}}`;
  return `histogram_quantile(${q}, sum by (${groups}) (rate(${series}[${RATE}])))`;
}

/** p50 / p95 / p99 queries of one histogram, legend `pNN <legend>`. */
export function quantileQueries(bucket: string, selector: string, by: string[], legend: string, scale = 1, qs = [0.5, 0.95, 0.99]): Query[] {
  return qs.map((q) => {
    const expr = quantile(q, bucket, selector, by);
    return { expr: scale === 1 ? expr : `${expr} * ${scale}`, legend: `p${Math.round(q * 100)} ${legend}`.trim() };
  });
}
