/**
 * reference-stack/deploy/prometheus: promtool accepts the configuration and both rule files,
 * and the promtool unit tests of rules/tests pass (alerts firing and not firing, recording
 * rules' exact values). Then, without promtool: the scrape jobs are the contract's, every metric
 * name the rules query is one the parts export (test/fixtures/exported-metrics.ts) or a name the
 * rules record, recorded names follow `level:metric:operations`, every alert has `for`, a
 * severity and summary/description, and the unit tests cover every alert and recording rule.
 *
 * promtool comes with Debian's `prometheus` package (CI installs it). Without it the promtool
 * tests fail, never skip. PROMTOOL overrides the binary.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { EXPORTED_METRIC_DETAILS, PROMETHEUS_TARGET_SERIES, TARGET_LABELS, exportedFamilyOf, isExportedSeries } from '../fixtures/exported-metrics.ts';

const DIR = fileURLToPath(new URL('../../reference-stack/deploy/prometheus/', import.meta.url));
const CONFIG = path.join(DIR, 'prometheus.yml');
const RULE_FILES = ['rules/recording.yml', 'rules/alerts.yml'].map((f) => path.join(DIR, f));
const TEST_DIR = path.join(DIR, 'rules/tests');
const TEST_FILES = fs
  .readdirSync(TEST_DIR)
  .filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'))
  .sort()
  .map((f) => path.join(TEST_DIR, f));
const PROMTOOL = process.env['PROMTOOL'] ?? 'promtool';

function promtool(args: string[]): { code: number | null; output: string } {
  const r = spawnSync(PROMTOOL, args, { cwd: DIR, encoding: 'utf8', timeout: 120_000 });
  if (r.error !== undefined) {
    const err = r.error as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') {
      assert.fail(`promtool not found (${PROMTOOL}): install Debian's \`prometheus\` package (apt-get install prometheus), which CI installs, or set PROMTOOL to its path`);
    }
    assert.fail(`promtool ${args.join(' ')} could not run: ${err.message}`);
  }
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

function assertPromtoolOk(args: string[]): void {
  const { code, output } = promtool(args);
  assert.equal(code, 0, `promtool ${args.join(' ')} exited ${code}:\n${output}`);
}

// --- the rule files, read as data ----------------------------------------------------------------

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleGroup {
  name: string;
  rules: Rule[];
}

function readYaml(file: string): unknown {
  return parseYaml(fs.readFileSync(file, 'utf8'));
}

const groups: RuleGroup[] = RULE_FILES.flatMap((f) => (readYaml(f) as { groups: RuleGroup[] }).groups);
const rules = groups.flatMap((g) => g.rules);
const recorded = new Set(rules.flatMap((r) => (r.record === undefined ? [] : [r.record])));
const alerts = rules.filter((r) => r.alert !== undefined);

/**
 * The names of the series an expression selects: identifiers followed by `{`, `[`, `)`,
 * whitespace or its end, once string literals and comments are removed. Returns the candidates
 * that look like Floodgate's, vLLM's, DCGM's or Prometheus's target series or like a recorded
 * name (two colons), plus anything directly followed by `{` or `[` (only selectors are).
 */
function seriesNamesIn(expr: string): string[] {
  const bare = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""').replace(/#[^\n]*/g, '');
  const out = new Set<string>();
  for (const m of bare.matchAll(/(?<![A-Za-z0-9_:.])([A-Za-z_:][A-Za-z0-9_:]*)(?=(\s*[{[])|[)\s]|$)/g)) {
    const name = m[1]!;
    const selector = m[2] !== undefined;
    if (selector || /^(floodgate_|vllm:|DCGM_)/.test(name) || name === 'up' || /^[^:]+:[^:]+:[^:]+$/.test(name)) out.add(name);
  }
  return [...out];
}

/** Label names in the matchers of `name{...}` selectors of an expression. */
function matcherLabels(expr: string): Array<{ name: string; labels: string[] }> {
  const out: Array<{ name: string; labels: string[] }> = [];
  for (const m of expr.matchAll(/(?<![A-Za-z0-9_:.])([A-Za-z_:][A-Za-z0-9_:]*)\s*\{((?:[^}"]|"(?:[^"\\]|\\.)*")*)\}/g)) {
    const body = m[2]!.replace(/"(?:[^"\\]|\\.)*"/g, '""');
    out.push({ name: m[1]!, labels: [...body.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((x) => x[1]!) });
  }
  return out;
}

function knownName(name: string): boolean {
  return isExportedSeries(name) || PROMETHEUS_TARGET_SERIES.includes(name) || recorded.has(name);
}

interface PromtoolTestFile {
  rule_files: string[];
  tests: Array<{
    alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] | null }>;
    promql_expr_test?: Array<{ expr: string; exp_samples?: unknown[] | null }>;
  }>;
}

describe('Prometheus deployment files (promtool)', () => {
  it('promtool check config accepts prometheus.yml and its rule files', () => {
    assertPromtoolOk(['check', 'config', CONFIG]);
  });

  it('promtool check rules accepts recording.yml and alerts.yml', () => {
    for (const f of RULE_FILES) assertPromtoolOk(['check', 'rules', f]);
  });

  it('promtool test rules passes the unit tests of rules/tests', () => {
    assert.ok(TEST_FILES.length >= 2, `unit tests in ${TEST_DIR}: ${TEST_FILES.join(', ')}`);
    assertPromtoolOk(['test', 'rules', ...TEST_FILES]);
  });
});

describe('Prometheus deployment files (content)', () => {
  it('scrapes the contract jobs: gateway, workers through the gateway SD, harness', () => {
    const cfg = readYaml(CONFIG) as {
      global: Record<string, string>;
      rule_files: string[];
      scrape_configs: Array<{ job_name: string; static_configs?: Array<{ targets: string[] }>; http_sd_configs?: Array<{ url: string; refresh_interval?: string }> }>;
    };
    assert.equal(cfg.global['scrape_interval'], '5s');
    assert.equal(cfg.global['evaluation_interval'], '5s');
    assert.deepEqual(cfg.rule_files, ['rules/recording.yml', 'rules/alerts.yml']);
    const jobs = new Map(cfg.scrape_configs.map((j) => [j.job_name, j]));
    assert.deepEqual([...jobs.keys()], ['floodgate-gateway', 'floodgate-workers', 'floodgate-harness']);
    assert.deepEqual(jobs.get('floodgate-gateway')!.static_configs, [{ targets: ['127.0.0.1:8080'] }]);
    assert.deepEqual(jobs.get('floodgate-workers')!.http_sd_configs, [{ url: 'http://127.0.0.1:8080/sd/prometheus', refresh_interval: '5s' }]);
    assert.deepEqual(jobs.get('floodgate-harness')!.static_configs, [{ targets: ['127.0.0.1:9464'] }]);
  });

  it('every metric name in the rules is exported by a part, Prometheus, or recorded by the rules', () => {
    const unknown: string[] = [];
    let seen = 0;
    for (const r of rules) {
      for (const name of seriesNamesIn(r.expr)) {
        seen++;
        if (!knownName(name)) unknown.push(`${r.record ?? r.alert}: ${name}`);
      }
    }
    assert.ok(seen > rules.length, `names found in the expressions: ${seen}`);
    assert.deepEqual(unknown, [], `names no part exports (test/fixtures/exported-metrics.ts) and no rule records:\n${unknown.join('\n')}`);
  });

  it('selectors match only labels the series carry', () => {
    const bad: string[] = [];
    for (const r of rules) {
      for (const { name, labels } of matcherLabels(r.expr)) {
        if (recorded.has(name)) continue;
        const family = exportedFamilyOf(name);
        const own = family !== undefined ? EXPORTED_METRIC_DETAILS[family]!.labels : [];
        const allowed = new Set([...own, ...TARGET_LABELS, '__name__', ...(name.endsWith('_bucket') ? ['le'] : [])]);
        for (const l of labels) if (!allowed.has(l)) bad.push(`${r.record ?? r.alert}: ${name}{${l}}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it('the name extraction finds selectors, ignores functions, keywords, labels and strings', () => {
    const names = seriesNamesIn('sum by (model) (rate(floodgate_gateway_requests_total{status=~"5..", x="vllm:fake"}[5m])) / (job:up:sum > 0) and on (worker) up == 0 or bogus_metric{a="b"} unless DCGM_FI_DEV_FB_USED');
    assert.deepEqual(names.sort(), ['DCGM_FI_DEV_FB_USED', 'bogus_metric', 'floodgate_gateway_requests_total', 'job:up:sum', 'up']);
    assert.equal(isExportedSeries('floodgate_gateway_ttft_seconds_bucket'), true);
    assert.equal(isExportedSeries('vllm:iteration_tokens_total_count'), true);
    assert.equal(isExportedSeries('floodgate_gateway_ttft_seconds'), false, 'a histogram family is no series');
    assert.equal(isExportedSeries('floodgate_gateway_requests_total_bucket'), false, 'a counter has no buckets');
    assert.equal(isExportedSeries('vllm:prompt_tokens'), false, 'counters are exposed with _total');
  });

  it('recorded names follow level:metric:operations and are recorded once', () => {
    const names = rules.flatMap((r) => (r.record === undefined ? [] : [r.record]));
    assert.equal(new Set(names).size, names.length, `duplicates in ${names.join(', ')}`);
    for (const n of names) assert.match(n, /^[a-z][a-z_]*:[A-Za-z][A-Za-z0-9_]*:[a-z0-9_]+$/, n);
  });

  it('has the issue\'s alerts, each with for, a severity and summary/description annotations', () => {
    const names = new Set(alerts.map((a) => a.alert));
    for (const n of ['FloodgateGPUMemoryHigh', 'FloodgateQueueDepthHigh', 'FloodgateTTFTSLOBurnRate', 'FloodgateErrorRateHigh', 'FloodgateWorkerDown', 'FloodgateTenantBudgetAlert']) {
      assert.ok(names.has(n), `alert ${n}`);
    }
    for (const a of alerts) {
      assert.match(a.for ?? '', /^\d+[smh]$/, `${a.alert}: for`);
      assert.ok(['critical', 'warning'].includes(a.labels?.['severity'] ?? ''), `${a.alert}: severity ${a.labels?.['severity']}`);
      assert.ok(a.annotations?.['summary'] && a.annotations['description'], `${a.alert}: annotations`);
      assert.match(a.annotations!['summary']!, /\{\{ \$labels\.\w+ \}\}/, `${a.alert}: the summary names what is concerned`);
    }
  });

  it('the unit tests cover every alert firing and not firing, and every recording rule', () => {
    const tests = TEST_FILES.flatMap((f) => (readYaml(f) as PromtoolTestFile).tests);
    const firing = new Set<string>();
    const quiet = new Set<string>();
    const exprs = new Set<string>();
    for (const t of tests) {
      for (const a of t.alert_rule_test ?? []) ((a.exp_alerts ?? []).length > 0 ? firing : quiet).add(a.alertname);
      for (const e of t.promql_expr_test ?? []) exprs.add(e.expr.trim());
    }
    for (const a of alerts) {
      assert.ok(firing.has(a.alert!), `${a.alert}: no test where it fires`);
      assert.ok(quiet.has(a.alert!), `${a.alert}: no test where it does not fire`);
    }
    for (const r of recorded) assert.ok(exprs.has(r), `${r}: no promql_expr_test`);
  });
});
