/**
 * The Grafana dashboards in dashboards/: the committed JSON is what dashboards/src builds, every
 * panel queries Prometheus through the `datasource` variable, every metric a panel or variable
 * names is exported by the stack or the harness, and every variable a query uses is defined.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isExportedSeries } from '../fixtures/exported-metrics.ts';
import {
  allDashboards, dashboardVariables, metricNames, panelQueries, panels, referencedVariables, renderDashboard, substituteVariables,
} from '../../dashboards/index.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DASHBOARDS_DIR = join(ROOT, 'dashboards');
const DS_UID = '${datasource}';

const BUILT = allDashboards();

test('the five dashboards are built, with stable uids, tags, time range and refresh', () => {
  assert.deepEqual(BUILT.map((d) => d.name), ['serving-overview', 'workers', 'gpu', 'tenants-cost', 'harness-run']);
  const uids = new Set<string>();
  for (const { name, json } of BUILT) {
    const d = json as { uid?: string; title?: string; tags?: string[]; time?: { from: string; to: string }; refresh?: string };
    assert.equal(d.uid, `floodgate-${name}`, name);
    assert.ok(!uids.has(d.uid), `duplicate uid ${d.uid}`);
    uids.add(d.uid);
    assert.ok(d.title && d.title.startsWith('Floodgate'), name);
    assert.deepEqual(d.tags, ['floodgate'], name);
    assert.deepEqual(d.time, { from: 'now-15m', to: 'now' }, name);
    assert.equal(d.refresh, '5s', name);
  }
});

test('the committed dashboards/*.json are exactly what dashboards/src builds', () => {
  const again = allDashboards();
  const problems: string[] = [];
  for (const [i, { name, json }] of BUILT.entries()) {
    const text = renderDashboard(json);
    assert.equal(renderDashboard((again[i] as { json: object }).json), text, `${name}: building twice gives different JSON`);
    const file = join(DASHBOARDS_DIR, `${name}.json`);
    if (!existsSync(file)) {
      problems.push(`dashboards/${name}.json is missing`);
      continue;
    }
    const committed = readFileSync(file, 'utf8');
    if (committed !== text) {
      const a = committed.split('\n');
      const b = text.split('\n');
      const line = a.findIndex((l, k) => l !== b[k]);
      problems.push(`dashboards/${name}.json differs from the builder output (first at line ${line + 1}: ${JSON.stringify(a[line])} vs ${JSON.stringify(b[line])})`);
    }
  }
  const expected = new Set(BUILT.map((d) => `${d.name}.json`));
  for (const f of readdirSync(DASHBOARDS_DIR)) {
    if (f.endsWith('.json') && !expected.has(f)) problems.push(`dashboards/${f} is not built by any dashboard module`);
  }
  assert.deepEqual(problems, [], `${problems.join('\n')}\nRun \`npm run dashboards\` and commit the result.`);
});

test('every panel has a title, a description, a unit and at least one target', () => {
  for (const { name, json } of BUILT) {
    const list = panels(json) as Array<ReturnType<typeof panels>[number] & { description?: string; fieldConfig?: { defaults?: { unit?: string } } }>;
    assert.ok(list.length >= 6, `${name}: only ${list.length} panels`);
    const ids = new Set<number>();
    for (const p of list) {
      const where = `${name} / ${p.title}`;
      assert.ok(p.title && p.title.trim() !== '', `${name}: panel without title`);
      assert.ok(p.description && p.description.trim().length > 10, `${where}: no description`);
      assert.ok(p.fieldConfig?.defaults?.unit, `${where}: no unit`);
      assert.ok((p.targets ?? []).length >= 1, `${where}: no target`);
      for (const t of p.targets ?? []) assert.ok(typeof t.expr === 'string' && t.expr.trim() !== '', `${where}: target without expr`);
      const id = (p as { id?: number }).id;
      assert.ok(typeof id === 'number' && id > 0 && !ids.has(id), `${where}: id ${id} missing or repeated`);
      ids.add(id);
    }
  }
});

test('every datasource reference is the ${datasource} variable; no hard-coded datasource uid', () => {
  for (const { name, json } of BUILT) {
    const vars = dashboardVariables(json);
    const ds = vars.find((v) => v.name === 'datasource');
    assert.ok(ds, `${name}: no datasource variable`);
    assert.equal(ds.type, 'datasource', name);
    assert.equal(ds.query, 'prometheus', name);
    for (const p of panels(json)) {
      assert.deepEqual(p.datasource, { type: 'prometheus', uid: DS_UID }, `${name} / ${p.title}: panel datasource`);
      for (const t of p.targets ?? []) {
        assert.deepEqual(t.datasource, { type: 'prometheus', uid: DS_UID }, `${name} / ${p.title} ${t.refId}: target datasource`);
      }
    }
    // Anywhere in the model (variables included): a datasource is always the variable.
    const walk = (v: unknown, path: string): void => {
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
      else if (v !== null && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (k === 'datasource') assert.deepEqual(x, { type: 'prometheus', uid: DS_UID }, `${name}: ${path}.datasource`);
          walk(x, `${path}.${k}`);
        }
      }
    };
    walk(json, name);
    const text = renderDashboard(json);
    assert.ok(!text.includes('__inputs') && !text.includes('${DS_'), `${name}: uses import inputs instead of the variable`);
  }
});

test('the PromQL metric-name parser finds selectors and ignores functions, labels and variables', () => {
  assert.deepEqual(
    metricNames('histogram_quantile(0.95, sum by (model, le) (rate(floodgate_gateway_ttft_seconds_bucket{model=~"$model", x="a b"}[$__rate_interval])))'),
    ['floodgate_gateway_ttft_seconds_bucket'],
  );
  assert.deepEqual(
    metricNames('max by (tenant, period) (a_limit{tenant=~"$tenant"}) - on (tenant) group_left (period) vllm:x_total offset 5m / 1e-9 and bool b'),
    ['a_limit', 'b', 'vllm:x_total'],
  );
  assert.deepEqual(metricNames('sum(rate(x_total[5m])) * 3600 + label_replace(y, "c", "$1", "status", "(.)..")'), ['x_total', 'y']);
});

test('every metric a dashboard queries is exported by the stack or the harness', () => {
  const unknown: string[] = [];
  for (const { name, json } of BUILT) {
    for (const q of panelQueries(json)) {
      const names = metricNames(q.expr);
      assert.ok(names.length >= 1, `${name} / ${q.panel} ${q.refId}: no metric in ${q.expr}`);
      for (const m of names) if (!isExportedSeries(m)) unknown.push(`${name} / ${q.panel} ${q.refId}: ${m}`);
    }
    for (const v of dashboardVariables(json)) {
      if (v.type !== 'query') continue;
      const m = /^label_values\(\s*([^,\s]+)\s*,\s*\w+\s*\)$/.exec(v.query);
      assert.ok(m, `${name}: variable ${v.name} query is not label_values(metric, label): ${v.query}`);
      if (!isExportedSeries(m[1] as string)) unknown.push(`${name} / variable ${v.name}: ${m[1]}`);
    }
  }
  assert.deepEqual(unknown, [], `metrics not exported (test/fixtures/exported-metrics.ts):\n${unknown.join('\n')}`);
});

test('every variable a query references is defined in its dashboard', () => {
  const expected: Record<string, string[]> = {
    'serving-overview': ['model'],
    workers: ['worker', 'model'],
    gpu: ['worker'],
    'tenants-cost': ['tenant', 'model'],
    'harness-run': ['scenario', 'model'],
  };
  for (const { name, json } of BUILT) {
    const defined = new Set(dashboardVariables(json).map((v) => v.name));
    for (const v of expected[name] ?? []) assert.ok(defined.has(v), `${name}: variable ${v} not defined`);
    const texts = [
      ...panelQueries(json).map((q) => ({ where: `${q.panel} ${q.refId}`, text: q.expr })),
      ...panels(json).flatMap((p) => (p.targets ?? []).map((t) => ({ where: `${p.title} ${t.refId} datasource`, text: JSON.stringify(t.datasource) }))),
      ...dashboardVariables(json).map((v) => ({ where: `variable ${v.name}`, text: v.query })),
    ];
    for (const { where, text } of texts) {
      for (const v of referencedVariables(text)) {
        if (v.startsWith('__')) {
          assert.ok(['__rate_interval', '__interval', '__range'].includes(v), `${name} / ${where}: unexpected built-in $${v}`);
          continue;
        }
        assert.ok(defined.has(v), `${name} / ${where}: $${v} is not a variable of the dashboard`);
      }
    }
  }
});

test('panelQueries and substituteVariables give runnable PromQL', () => {
  const overview = BUILT.find((d) => d.name === 'serving-overview');
  assert.ok(overview);
  const qs = panelQueries(overview.json);
  assert.ok(qs.some((q) => q.panel === 'Time to first token (gateway)' && q.expr.includes('floodgate_gateway_ttft_seconds_bucket')));
  const all = BUILT.flatMap((d) => panelQueries(d.json));
  for (const q of all) {
    const s = substituteVariables(q.expr, { model: '.*', tenant: '.*', worker: '.*', scenario: '.*', datasource: 'x' }, { rateInterval: '2m', range: '1h' });
    assert.deepEqual(referencedVariables(s), [], `${q.panel}: left ${s}`);
  }
  assert.equal(
    substituteVariables('rate(a{m=~"$model",t=~"${tenant}",w=~"[[worker]]",x="${model:regex}"}[$__rate_interval]) + increase(b[$__range]) + c[$__interval] $other', { model: '.+', tenant: 't', worker: 'w' }, { rateInterval: '30s', interval: '5s', range: '10m' }),
    'rate(a{m=~".+",t=~"t",w=~"w",x=".+"}[30s]) + increase(b[10m]) + c[5s] $other',
  );
  assert.equal(substituteVariables('rate(a[$__rate_interval])', {}), 'rate(a[1m])');
});
