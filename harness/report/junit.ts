/**
 * junit.xml: the run as a JUnit XML report, which CI systems (GitHub Actions test reporters,
 * GitLab, Jenkins) show as test results. A pure function of the saved run data.
 *
 * One <testsuite> for the run (name = the scenario), holding one <testcase> per threshold (name =
 * the expression, classname = the scenario name) with a <failure> saying "observed X, limit Y,
 * off by Z" when it failed, and, always last, a testcase `run completed` that fails when the run
 * was stopped early (Ctrl-C, abort_on_fail) or the client was saturated: the cases then fail
 * whenever `harness run` exits non-zero, and a run without thresholds still yields a valid file
 * with one case. (A run with --allow-saturated exits 0 but its `run completed` case still
 * fails: the figures describe the client.)
 */
import type { RunData } from './run-data.ts';
import type { Summary } from '../metrics/summary.ts';
import { formatLimit, formatMetric, formatOffBy, type ThresholdResult } from '../gate/threshold.ts';
import { runCaveats } from './markdown.ts';

/** Text and attribute values escaped for XML; characters XML 1.0 cannot hold are dropped. */
export function xmlEscape(text: string): string {
  return text
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function attrs(o: Record<string, string | number>): string {
  return Object.entries(o)
    .map(([k, v]) => ` ${k}="${xmlEscape(String(v))}"`)
    .join('');
}

/** The failure message of a threshold: `observed 950ms, limit < 800ms, off by 150ms (+18.8%)`. */
export function thresholdFailureMessage(t: ThresholdResult): string {
  const unit = t.unit ?? 'number';
  const limit = t.unit === undefined ? `${t.op} ${t.limit}` : formatLimit({ op: t.op, limit: t.limit, unit });
  if (t.value === null) return `no value (${(t.reason ?? 'the metric has none').replace(/^no value: /, '')}), limit ${limit}`;
  if (t.pass) return 'passed';
  const observed = `observed ${formatMetric(t.value, unit)}, limit ${limit}`;
  if (t.reason?.startsWith('failed during the run')) return `${observed}; ${t.reason}`;
  const off = t.op === '!=' ? ', equal to the limit' : `, off by ${formatOffBy(t)}`;
  return t.aborted_run ? `${observed}${off}; it stopped the run` : `${observed}${off}`;
}

/** ISO 8601 without zone or fraction, as the JUnit schema's `timestamp` wants it (UTC). */
function junitTimestamp(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '1970-01-01T00:00:00' : d.toISOString().replace(/\.\d+Z$/, '').replace(/Z$/, '');
}

function testcase(name: string, classname: string, failure: { message: string; type: string; body: string } | undefined): string {
  const open = `    <testcase${attrs({ name, classname, time: 0 })}`;
  if (!failure) return `${open}/>`;
  return [
    `${open}>`,
    `      <failure${attrs({ message: failure.message, type: failure.type })}>${xmlEscape(failure.body)}</failure>`,
    '    </testcase>',
  ].join('\n');
}

function completedCase(s: Summary): { message: string; type: string; body: string } | undefined {
  const caveats = runCaveats(s).filter((c) => !c.includes('still in flight'));
  if (caveats.length === 0) return undefined;
  const type = s.aborted?.by === 'threshold' ? 'aborted' : s.interrupted || s.complete === false ? 'incomplete' : 'saturated';
  return { message: caveats[0]!, type, body: caveats.join('\n') };
}

/** junit.xml for the run `data`. */
export function renderJunitXml(data: RunData): string {
  const s = data.summary;
  const classname = s.scenario.name;
  const cases: string[] = [];
  let failures = 0;
  for (const t of s.thresholds) {
    if (t.pass) {
      cases.push(testcase(t.expr, classname, undefined));
      continue;
    }
    failures++;
    const message = thresholdFailureMessage(t);
    const body = `${t.expr}: ${message}`;
    cases.push(testcase(t.expr, classname, { message, type: 'threshold', body }));
  }
  const done = completedCase(s);
  if (done) failures++;
  cases.push(testcase('run completed', classname, done));
  const tests = s.thresholds.length + 1;
  const time = Number.isFinite(s.duration_s) ? s.duration_s.toFixed(3) : '0';
  const props: Array<[string, string]> = [
    ['target', s.target.url],
    ['model', s.target.model],
    ['scenario_file', s.scenario.file],
    ['seed', String(s.scenario.seed)],
    ['run_folder', data.dir],
  ];
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs({ name: 'floodgate', tests, failures, errors: 0, time })}>`,
    `  <testsuite${attrs({ name: classname, tests, failures, errors: 0, skipped: 0, time, timestamp: junitTimestamp(s.started_at) })}>`,
    '    <properties>',
    ...props.map(([name, value]) => `      <property${attrs({ name, value })}/>`),
    '    </properties>',
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
