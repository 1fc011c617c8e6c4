/**
 * summary.md (harness/report/markdown.ts) and junit.xml (harness/report/junit.ts), rendered from
 * run data built by the real summary builder (test/fixtures/run-data.ts): what each says, that
 * junit.xml is well-formed XML with the JUnit essentials (test/fixtures/xml-check.ts), escaping,
 * and size; the terminal's thresholds table; report.html's conversations section and dataset line
 * (the browser checks are test/integration/report-html.test.ts and conversation-report.test.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { renderSummaryMarkdown, runStatus } from '../../harness/report/markdown.ts';
import { renderJunitXml, xmlEscape } from '../../harness/report/junit.ts';
import { renderSummary } from '../../harness/report/console-summary.ts';
import { fixtureRunData } from '../fixtures/run-data.ts';
import { findAll, parseXml, type XmlElement } from '../fixtures/xml-check.ts';
import { record } from '../fixtures/records.ts';
import { conversationsSection, scenarioSection } from '../../harness/report/html/report-sections.ts';

const THRESHOLDS = ['ttft.p95 < 120ms', 'error_rate < 1%', 'server.kv_cache_usage.max < 95%', 'by_tenant.gold.ttft.p95 < 1s'];

function junit(xml: string): { suite: XmlElement; cases: XmlElement[] } {
  const root = parseXml(xml);
  assert.equal(root.name, 'testsuites');
  const suites = findAll(root, 'testsuite');
  assert.equal(suites.length, 1);
  const suite = suites[0]!;
  const cases = findAll(suite, 'testcase');
  // The essentials every JUnit consumer reads.
  assert.equal(Number(suite.attrs.tests), cases.length);
  assert.equal(Number(suite.attrs.failures), cases.filter((c) => findAll(c, 'failure').length > 0).length);
  assert.equal(suite.attrs.errors, '0');
  assert.match(suite.attrs.timestamp!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
  assert.ok(Number.isFinite(Number(suite.attrs.time)));
  assert.equal(root.attrs.tests, suite.attrs.tests);
  assert.equal(root.attrs.failures, suite.attrs.failures);
  for (const c of cases) {
    assert.ok(c.attrs.name && c.attrs.classname, 'testcase has name and classname');
    for (const f of findAll(c, 'failure')) assert.ok(f.attrs.message && f.attrs.type);
  }
  return { suite, cases };
}

describe('summary.md', () => {
  const md = renderSummaryMarkdown(fixtureRunData({ thresholds: THRESHOLDS, server: true }));

  test('a title line with the verdict, then the key numbers', () => {
    const first = md.split('\n')[0]!;
    assert.equal(first, '## Floodgate: fixture-run ❌ failed');
    assert.match(md, /\| requests \| ok \| failed \| dropped \| error rate \| goodput \| throughput \| output tokens\/s \|/);
    assert.match(md, /\| 10 \| 8 \| 2 \| 0 \| 20\.0% \| 80\.0% \(1 req\/s\) \| 1 req\/s \| 4 \|/);
    assert.match(md, /\| TTFT \| 100 \| 150 \| 150 \| 150 \|/);
    assert.match(md, /\| ITL \| 100 \|/);
    assert.match(md, /\| E2E \| 400 \|/);
  });

  test('thresholds: pass/fail and by how much, or why there is no value', () => {
    assert.match(md, /\*\*Thresholds\*\*: 3 of 4 failed/);
    assert.match(md, /\| ❌ \| `ttft\.p95 < 120ms` \| 150ms \| < 120ms \| 30ms \(\+25%\) \|/);
    assert.match(md, /\| ❌ \| `error_rate < 1%` \| 20% \| < 1% \| 19% \(\+1900%\) \|/);
    assert.match(md, /\| ✅ \| `server\.kv_cache_usage\.max < 95%` \| 40% \| < 95% \|  \|/);
    assert.match(md, /\| ❌ \| `by_tenant\.gold\.ttft\.p95 < 1s` \| no value \| < 1s \| no value: no request of tenant "gold" was measured/);
  });

  test('stages, errors by code and the server block', () => {
    assert.match(md, /\| steady \| 2 rps \| 4 \| 0 \| 0\.00% \| 1 \| 100 \| 100 \| 400 \|/);
    assert.match(md, /\| spike \| 4 rps \| 4 \| 2 \| 33\.3% \|/);
    assert.match(md, /\| `http_500` \| 2 \|/);
    assert.match(md, /\*\*Server\*\* \(metrics, 3 samples\)/);
    assert.match(md, /\| KV-cache usage \| 23\.3% \| 40\.0% \| 40\.0% \|/);
  });

  test('tables are well-formed: every row of a table has as many cells as its header', () => {
    const lines = md.split('\n');
    let cols = 0;
    for (const l of lines) {
      if (!l.startsWith('|')) {
        cols = 0;
        continue;
      }
      const n = l.replace(/\\\|/g, '').split('|').length - 2;
      if (cols === 0) cols = n;
      else assert.equal(n, cols, l);
    }
  });

  test('a clean run says passed, with no caveat; no thresholds: no thresholds table', () => {
    const clean = renderSummaryMarkdown(fixtureRunData({ records: [record({ id: 1, stage: 0, intendedMs: 600, sentMs: 600, endMs: 1000 })] }));
    assert.match(clean.split('\n')[0]!, /✅ passed$/);
    assert.doesNotMatch(clean, /Thresholds|^> /m);
    assert.match(clean, /Server metrics|<sub>/);
  });

  test('incomplete, aborted and saturated runs say so', () => {
    const aborted = fixtureRunData({
      thresholds: ['error_rate < 1%'],
      engine: { interrupted: true, stoppedAtMs: 3200 },
      edit: (s) => {
        s.aborted = { by: 'threshold', threshold: 'error_rate < 1%', at_s: 3.2 };
        s.thresholds[0]!.aborted_run = true;
        s.thresholds[0]!.abort_on_fail = true;
      },
    });
    const a = renderSummaryMarkdown(aborted);
    assert.match(a, /^> Aborted at 3\.2s by the abort_on_fail threshold `error_rate < 1%`/m);
    assert.match(a, /`error_rate < 1%` \(stopped the run\)/);
    assert.equal(runStatus(aborted.summary), 'failed');
    const interrupted = fixtureRunData({ engine: { interrupted: true, stoppedAtMs: 2000 } });
    assert.equal(runStatus(interrupted.summary), 'incomplete');
    assert.match(renderSummaryMarkdown(interrupted), /^## .*⚠️ incomplete$/m);
    assert.match(renderSummaryMarkdown(interrupted), /^> Incomplete: interrupted at 2s/m);
    const saturated = fixtureRunData({ engine: { eventLoopUtilization: 0.99 } });
    assert.equal(runStatus(saturated.summary), 'saturated');
    assert.match(renderSummaryMarkdown(saturated), /^> Client saturated: /m);
  });

  test('pipes and newlines in names cannot break a table', () => {
    const d = fixtureRunData({ thresholds: ['error_rate < 1%'], edit: (s) => (s.stages[0]!.name = 'a|b\nc') });
    const md2 = renderSummaryMarkdown(d);
    assert.match(md2, /\| a\\\|b c \| 2 rps \|/);
  });

  test('compact: a run with many stages, codes and thresholds stays far below 1 MiB', () => {
    const many = Array.from({ length: 200 }, (_, i) => `requests.total > ${i}`);
    const d = fixtureRunData({
      thresholds: many,
      edit: (s) => {
        s.stages = Array.from({ length: 500 }, (_, i) => ({ ...s.stages[0]!, name: `stage-${i}`, index: i }));
        s.errors = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`http_${400 + (i % 100)}_${i}`, i]));
      },
    });
    const big = renderSummaryMarkdown(d);
    assert.ok(big.length < 20_000, `${big.length} characters`);
    assert.match(big, /\.\.\. and 150 more in summary\.json/);
    assert.match(big, /\.\.\. and 480 more stages/);
    assert.match(big, /\.\.\. and 290 more codes/);
  });
});

describe('junit.xml', () => {
  test('one testsuite, one testcase per threshold plus "run completed"; failures say observed, limit, off by', () => {
    const { suite, cases } = junit(renderJunitXml(fixtureRunData({ thresholds: THRESHOLDS, server: true })));
    assert.equal(suite.attrs.name, 'fixture-run');
    assert.equal(suite.attrs.timestamp, '2026-11-27T13:00:00');
    assert.equal(suite.attrs.time, '8.500');
    assert.deepEqual(cases.map((c) => c.attrs.name), [...THRESHOLDS, 'run completed']);
    for (const c of cases) assert.equal(c.attrs.classname, 'fixture-run');
    const failure = (i: number) => findAll(cases[i]!, 'failure')[0];
    assert.equal(failure(0)!.attrs.message, 'observed 150ms, limit < 120ms, off by 30ms (+25%)');
    assert.equal(failure(0)!.attrs.type, 'threshold');
    assert.match(failure(0)!.text, /^ttft\.p95 < 120ms: observed 150ms/);
    assert.equal(failure(1)!.attrs.message, 'observed 20%, limit < 1%, off by 19% (+1900%)');
    assert.equal(failure(2), undefined);
    assert.match(failure(3)!.attrs.message!, /^no value \(no request of tenant "gold" was measured/);
    assert.equal(failure(4), undefined, 'the run completed');
    assert.equal(suite.attrs.failures, '3');
    const props = findAll(suite, 'property');
    assert.deepEqual(props.map((p) => p.attrs.name), ['target', 'model', 'scenario_file', 'seed', 'run_folder']);
  });

  test('no thresholds: still a valid file, with the one "run completed" case', () => {
    const { cases, suite } = junit(renderJunitXml(fixtureRunData()));
    assert.deepEqual(cases.map((c) => c.attrs.name), ['run completed']);
    assert.equal(suite.attrs.failures, '0');
  });

  test('"run completed" fails for an interrupted, aborted or saturated run', () => {
    const cases: Array<[Parameters<typeof fixtureRunData>[0], string]> = [
      [{ engine: { interrupted: true, stoppedAtMs: 2000 } }, 'incomplete'],
      [{ engine: { interrupted: true, stoppedAtMs: 2000 }, edit: (s) => (s.aborted = { by: 'threshold', threshold: 'error_rate < 1%', at_s: 2 }) }, 'aborted'],
      [{ engine: { eventLoopUtilization: 0.99 } }, 'saturated'],
    ];
    for (const [o, type] of cases) {
      const { cases: tc, suite } = junit(renderJunitXml(fixtureRunData(o)));
      const f = findAll(tc[tc.length - 1]!, 'failure')[0];
      assert.ok(f, type);
      assert.equal(f.attrs.type, type);
      assert.equal(suite.attrs.failures, '1');
    }
  });

  test('names with XML specials and control characters are escaped into well-formed XML', () => {
    const d = fixtureRunData({
      thresholds: ['error_rate < 1%'],
      edit: (s) => {
        s.scenario.name = `a&b<c>"d'e`;
        s.target.url = 'http://h/v1?x=1&y=<2>';
        s.thresholds[0]!.expr = 'error_rate < 1% & "x" \u0001\u0008 \ud800';
      },
    });
    const xml = renderJunitXml(d);
    const { suite, cases } = junit(xml);
    assert.equal(suite.attrs.name, `a&b<c>"d'e`);
    assert.equal(cases[0]!.attrs.name, 'error_rate < 1% & "x"  ');
    assert.equal(findAll(suite, 'property')[0]!.attrs.value, 'http://h/v1?x=1&y=<2>');
    assert.equal(xmlEscape(`<&>"'`), '&lt;&amp;&gt;&quot;&apos;');
  });

  test('the XML checker itself refuses broken XML', () => {
    for (const bad of ['<a><b></a></b>', '<a x="1" x="2"/>', '<a>1 < 2</a>', '<a>&nbsp;</a>', '<a/><b/>', '<a>', '<a x=1/>', 'text']) {
      assert.throws(() => parseXml(bad), Error, bad);
    }
    assert.doesNotThrow(() => parseXml('<?xml version="1.0" encoding="UTF-8"?>\n<a x="&lt;&#38;"><b/>t&amp;</a>\n'));
  });
});

describe('the terminal summary: thresholds as a table of what failed and by how much', () => {
  test('verdict, expression, observed, limit, off by', () => {
    const text = renderSummary(fixtureRunData({ thresholds: THRESHOLDS, server: true }).summary, undefined);
    assert.match(text, /thresholds: 3 of 4 FAILED/);
    assert.match(text, /threshold\s+observed\s+limit\s+off by/);
    assert.match(text, /FAIL {2}ttft\.p95 < 120ms\s+150ms {2}< 120ms\s+30ms \(\+25%\)/);
    assert.match(text, /FAIL {2}error_rate < 1%\s+20% {2}< 1%\s+19% \(\+1900%\)/);
    assert.match(text, /PASS {2}server\.kv_cache_usage\.max < 95%\s+40% {2}< 95%\n/);
    assert.match(text, /FAIL {2}by_tenant\.gold\.ttft\.p95 < 1s\s+no value {2}< 1s\s+no value: no request of tenant "gold"/);
  });

  test('all passed, and the aborted line', () => {
    const d = fixtureRunData({
      thresholds: ['requests.total >= 10'],
      engine: { interrupted: true, stoppedAtMs: 3000 },
      edit: (s) => (s.aborted = { by: 'threshold', threshold: 'error_rate < 1%', at_s: 3 }),
    });
    const text = renderSummary(d.summary, undefined);
    assert.match(text, /thresholds: all 1 passed/);
    assert.match(text, /\[INCOMPLETE: aborted by a threshold\]/);
    assert.match(text, /ABORTED at 3s: the abort_on_fail threshold "error_rate < 1%" failed/);
  });
});

describe('report.html: conversations and dataset', () => {
  test('no conversations block: no section; a block with nulls and no turn: dashes, escaped', () => {
    const data = fixtureRunData();
    assert.equal(conversationsSection(data.summary), '');
    const html = conversationsSection({
      ...data.summary,
      conversations: {
        started: 2, completed: 0, failed: 0, cut: 2, completed_fraction: null,
        turns: { mean: null, max: null }, duration_s: { mean: null, p95: null }, last_prompt_tokens: { mean: null, max: null }, ttft_ms_by_turn: {},
      },
    });
    assert.match(html, /<section id="conversations"/);
    assert.match(html, /<span data-metric="conversations\.cut">2<\/span>/);
    for (const k of ['completed_fraction', 'turns.mean', 'turns.max', 'duration_s.mean', 'duration_s.p95', 'last_prompt_tokens.mean', 'last_prompt_tokens.max']) {
      assert.ok(html.includes(`<span data-metric="conversations.${k}">–</span>`), k);
    }
    assert.match(html, /No measured turn succeeded/);
  });

  test('turn keys are escaped; the dataset line shows name and counts, escaped', () => {
    const data = fixtureRunData();
    const conv = conversationsSection({
      ...data.summary,
      conversations: {
        started: 1, completed: 1, failed: 0, cut: 0, completed_fraction: 1,
        turns: { mean: 1, max: 1 }, duration_s: { mean: 0.5, p95: 0.5 }, last_prompt_tokens: { mean: 20, max: 20 }, ttft_ms_by_turn: { '<b>1</b>': { count: 1, p50: 80, p95: 80 } },
      },
    });
    assert.ok(!conv.includes('<b>1</b>') && conv.includes('&lt;b&gt;1&lt;/b&gt;'));
    const html = scenarioSection({ ...data.summary, dataset: { file: 'a<b>.json', format: 'sharegpt', order: 'sequential', entries_used: 1234, skipped: 3 } });
    assert.ok(html.includes('<code>a&lt;b&gt;.json</code> (sharegpt, sequential order): <span data-metric="dataset.entries_used">1,234</span> usable entries, <span data-metric="dataset.skipped">3</span> skipped'), html);
    assert.doesNotMatch(html, /<dt>dataset<\/dt><dd><pre>/, 'not repeated as raw JSON under "Also recorded"');
  });
});
