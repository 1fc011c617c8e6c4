/**
 * Scenario loading and validation, table-driven from test/fixtures/scenarios/.
 *
 * bad/*.yaml begin with `# expect: CODE LINE:COL path` lines, one per issue: loading must throw a
 * ConfigError holding exactly those issues (any order). good/*.yaml must load; their values are
 * checked below (durations in ms, defaults, fitted lognormal, interpolation, overrides, freezing).
 */

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadScenario, parseScenario, type LoadOptions } from '../../harness/scenario/load-scenario.ts';
import { SCENARIO_ERROR_CODES } from '../../harness/scenario/scenario-error-codes.ts';
import { fitLognormal } from '../../harness/workload/lognormal-fit.ts';
import { codesUsedUnder, expectations, issueKey, issuesOf } from '../fixtures/config-issues.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = join(ROOT, 'test/fixtures/scenarios');
const BAD = join(FIXTURES, 'bad');
const GOOD = join(FIXTURES, 'good');
const DATA = join(FIXTURES, 'data');


const badFiles = readdirSync(BAD).filter((f) => f.endsWith('.yaml')).sort();

describe('bad scenarios report exactly the expected issues', () => {
  for (const name of badFiles) {
    test(name, () => {
      const file = join(BAD, name);
      const expected = expectations(file);
      assert.ok(expected.length > 0, `${name} has no "# expect:" lines`);
      const issues = issuesOf(() => loadScenario(file, { env: {} }));
      assert.deepEqual(issues.map(issueKey).sort(), [...expected].sort());
      for (const i of issues) {
        assert.ok(i.message.length > 0, `${issueKey(i)} has no message`);
        assert.ok(i.allowed && i.allowed.length > 0, `${issueKey(i)} does not say what is allowed`);
        assert.ok(i.file.length > 0);
      }
    });
  }
});

test('the bad fixtures are many and cover every scenario error code', () => {
  assert.ok(badFiles.length >= 20, `only ${badFiles.length} bad fixtures`);
  const covered = new Set(badFiles.flatMap((f) => expectations(join(BAD, f)).map((e) => e.split(' ')[0]!)));
  covered.add('FG_SCENARIO_NOT_FOUND'); // a missing file cannot be a fixture: tested below
  assert.deepEqual([...covered].sort(), Object.keys(SCENARIO_ERROR_CODES).sort());
});

test('every FG_SCENARIO_ code used in the harness or the fixtures is registered', () => {
  const used = codesUsedUnder([join(ROOT, 'harness'), FIXTURES], /FG_SCENARIO_[A-Z0-9_]+/g);
  assert.ok(used.size > 0);
  for (const code of used) assert.ok(code in SCENARIO_ERROR_CODES, `${code} is not in SCENARIO_ERROR_CODES`);
});

test('a missing or unreadable scenario file is FG_SCENARIO_NOT_FOUND', () => {
  for (const path of [join(FIXTURES, 'no-such-scenario.yaml'), DATA]) {
    const issues = issuesOf(() => loadScenario(path));
    assert.equal(issues.length, 1);
    assert.equal(issues[0]!.code, 'FG_SCENARIO_NOT_FOUND');
    assert.equal(issues[0]!.file, path);
  }
  assert.throws(() => loadScenario(join(FIXTURES, 'no-such-scenario.yaml')), { code: 'FG_SCENARIO_NOT_FOUND' });
});

test('an error with one kind of issue carries that code; mixed codes carry FG_CONFIG_INVALID', () => {
  assert.throws(() => loadScenario(join(BAD, 'reserved-body.yaml'), { env: {} }), { code: 'FG_SCENARIO_RESERVED_FIELD' });
  assert.throws(() => loadScenario(join(BAD, 'several-problems.yaml'), { env: {} }), { code: 'FG_CONFIG_INVALID' });
});

test('an unknown key is reported at the key, with the nearest valid key and the allowed keys', () => {
  const issues = issuesOf(() => loadScenario(join(BAD, 'unknown-key-suggestion.yaml'), { env: {} }));
  const unknown = issues.find((i) => i.code === 'FG_SCENARIO_UNKNOWN_KEY')!;
  assert.equal(unknown.value, 'durations');
  // The suggestion is part of the contract (the brief asks for `did you mean "x"?`).
  assert.match(unknown.message, /did you mean "duration"\?/);
  assert.deepEqual(unknown.allowed!.split(', ').sort(), ['duration', 'name', 'ramp', 'rate', 'think_time', 'users']);
});

test('a bad row of an empirical file is reported at the data file line, with its text', () => {
  const issues = issuesOf(() => loadScenario(join(BAD, 'empirical-bad-row.yaml'), { env: {} }));
  assert.equal(issues.length, 1);
  const [i] = issues;
  assert.equal(i!.code, 'FG_SCENARIO_EMPIRICAL_VALUE');
  assert.equal(relative(DATA, i!.file), 'prompt-lengths-bad-row.txt');
  assert.deepEqual([i!.line, i!.col, i!.value], [17, 1, '12.5']);
});

test('empirical bad rows beyond the first ten are summarised, not listed one by one', () => {
  const yaml = `name: many
target: {model: m}
workload: {prompt_tokens: {dist: empirical, file: data/many-bad.txt}, output_tokens: 1}
load: {stages: [{duration: 1s, rate: 1}]}
`;
  // The data file does not exist here: that is one file issue, not a row flood.
  const issues = issuesOf(() => parseScenario(yaml, join(FIXTURES, 'inline.yaml'), { env: {} }));
  assert.deepEqual(issues.map((i) => i.code), ['FG_SCENARIO_EMPIRICAL_FILE']);
});

describe('good scenarios', () => {
  test('every good fixture loads', () => {
    const env = { SEED: '7', PORT: '8001', MODEL: 'llama', OUT: '32', RATE: '2.5', TOKEN: 'abc' };
    for (const name of readdirSync(GOOD).filter((f) => f.endsWith('.yaml'))) {
      assert.doesNotThrow(() => loadScenario(join(GOOD, name), { env }), name);
    }
  });

  test('the spike example: durations in ms, defaults, fitted lognormal, no api key', () => {
    const file = join(GOOD, 'spike.yaml');
    const s = loadScenario(file, { env: {} });
    assert.equal(s.name, 'spike');
    assert.equal(s.file, file);
    assert.equal(s.description, undefined);
    assert.equal(s.seed, 1);
    assert.equal(s.target.url, 'http://127.0.0.1:8000/v1');
    assert.equal(s.target.model, 'llama-3.1-8b');
    assert.equal(s.target.apiKey, undefined);
    assert.equal(s.target.endpoint, 'chat');
    assert.equal(s.target.stream, true);
    assert.deepEqual(s.target.timeouts, { connectMs: 10_000, ttftMs: 60_000, totalMs: 600_000 });
    const fit = fitLognormal(800, 2000, 1, 8000);
    assert.ok(fit.ok);
    assert.deepEqual(s.workload.promptTokens, { dist: 'lognormal', mu: fit.mu, sigma: fit.sigma, min: 1, max: 8000 });
    assert.deepEqual(s.workload.outputTokens, { dist: 'fixed', value: 200, min: 1, max: Infinity });
    assert.equal(s.load.arrival, 'poisson');
    assert.equal(s.load.burstiness, 1);
    assert.deepEqual(
      s.load.stages.map((st) => [st.kind, st.name, st.durationMs, st.rampMs, st.kind === 'open' ? st.rateRps : st.users]),
      [
        ['open', 'stage-0', 30_000, 0, 5],
        ['open', 'stage-1', 10_000, 2_000, 50],
        ['open', 'stage-2', 30_000, 0, 5],
      ],
    );
    assert.deepEqual(s.slo, { ttftMs: 500, tpotMs: 50 });
    assert.deepEqual(s.thresholds, ['ttft.p95 < 800ms', 'error_rate < 1%', 'goodput.fraction > 0.9']);
    assert.equal(loadScenario(file, { env: { FLOODGATE_API_KEY: '' } }).target.apiKey, undefined);
    assert.equal(loadScenario(file, { env: { FLOODGATE_API_KEY: 'sk-1' } }).target.apiKey, 'sk-1');
  });

  test('defaults are applied once, everywhere', () => {
    const s = loadScenario(join(GOOD, 'defaults.yaml'), { env: {} });
    assert.deepEqual(
      { ...s, file: undefined },
      {
        name: 'minimal',
        file: undefined,
        description: undefined,
        seed: 1,
        target: {
          url: undefined,
          model: 'm',
          apiKey: undefined,
          endpoint: 'chat',
          stream: true,
          headers: {},
          body: {},
          ignoreEos: 'auto',
          continuousUsageStats: 'auto',
          tokenizer: 'auto',
          timeouts: { connectMs: 10_000, ttftMs: 60_000, totalMs: 600_000 },
        },
        workload: {
          promptTokens: { dist: 'fixed', value: 128, min: 1, max: Infinity },
          outputTokens: { dist: 'fixed', value: 16, min: 1, max: Infinity },
        },
        load: {
          arrival: 'poisson',
          burstiness: 1,
          stages: [{ index: 0, name: 'stage-0', durationMs: 60_000, rampMs: 0, kind: 'open', rateRps: 2 }],
          maxInFlight: undefined,
          onMaxInFlight: 'wait',
          warmupMs: 0,
          cooldownMs: 0,
          drainMs: 30_000,
        },
        slo: {},
        thresholds: [],
        client: { threads: 'auto', saturationLagP99Ms: 5 },
      },
    );
  });

  test('every key written out lands in its field', () => {
    const s = loadScenario(join(GOOD, 'full.yaml'), { env: {} });
    assert.equal(s.name, 'full.v2_test-1');
    assert.equal(s.description, 'Every setting written out.');
    assert.equal(s.seed, 42);
    assert.deepEqual(s.target, {
      url: 'https://llm.example.com/v1',
      model: 'meta-llama/Llama-3.1-8B-Instruct',
      apiKey: 'sk-test',
      endpoint: 'completions',
      stream: false,
      headers: { 'X-Tenant': 'team-a', 'x-priority': '1' },
      body: { top_k: 20, temperature: 0.7, stop: ['</s>', '\n\n'], logit_bias: { '50256': -100 }, ignore_eos: true },
      ignoreEos: false,
      continuousUsageStats: true,
      tokenizer: 'builtin',
      timeouts: { connectMs: 2_000, ttftMs: 30_000, totalMs: 90_000 },
    });
    assert.deepEqual(s.workload, {
      promptTokens: { dist: 'normal', mean: 1000, stddev: 250, min: 10, max: 4096 },
      outputTokens: { dist: 'lognormal', mu: 5.3, sigma: 0.6, min: 1, max: 2048 },
    });
    assert.deepEqual(s.load, {
      arrival: 'gamma',
      burstiness: 0.5,
      stages: [
        { index: 0, name: 'ramp-up', durationMs: 60_000, rampMs: 30_000, kind: 'open', rateRps: 10 },
        { index: 1, name: 'closed', durationMs: 120_000, rampMs: 0, kind: 'closed', users: 32, thinkTimeMs: { min: 500, max: 2_000 } },
        { index: 2, name: 'stage-2', durationMs: 30_000, rampMs: 0, kind: 'closed', users: 8, thinkTimeMs: { min: 1_500, max: 1_500 } },
      ],
      maxInFlight: 256,
      onMaxInFlight: 'drop',
      warmupMs: 10_000,
      cooldownMs: 5_000,
      drainMs: 60_000,
    });
    assert.deepEqual(s.slo, { ttftMs: 1_000, tpotMs: 75, itlMs: 100, e2eMs: 20_000 });
    assert.deepEqual(s.thresholds, ['ttft.p95 < 800ms', 'stages.closed.e2e.p99 < 30s', 'stages.2.ttft.p50 <= 1s']);
    assert.deepEqual(s.client, { threads: 4, saturationLagP99Ms: 25 });
  });

  test('empirical files: plain text, CSV column and JSON array, paths relative to the scenario', () => {
    const a = loadScenario(join(GOOD, 'empirical-formats.yaml'), { env: {} });
    assert.deepEqual(a.workload.promptTokens, { dist: 'empirical', values: [512, 733, 128, 2048], file: join(DATA, 'prompt-lengths.txt'), min: 1, max: Infinity });
    assert.deepEqual(a.workload.outputTokens, { dist: 'empirical', values: [120, 80, 200, 64], file: join(DATA, 'output-lengths.json'), min: 70, max: Infinity });
    const b = loadScenario(join(GOOD, 'uniform-and-empirical.yaml'), { env: {} });
    assert.deepEqual(b.workload.promptTokens, { dist: 'empirical', values: [512, 733, 128], file: join(DATA, 'trace.csv'), min: 1, max: 1000 });
    assert.deepEqual(b.workload.outputTokens, { dist: 'uniform', min: 16, max: 256 });
    assert.equal(b.load.arrival, 'constant');
  });

  test('relative paths start from baseDir when given', () => {
    const yaml = 'name: x\ntarget: {model: m}\nworkload: {prompt_tokens: {dist: empirical, file: trace.csv, column: output_tokens}, output_tokens: 1}\nload: {stages: [{duration: 1s, rate: 1}]}\n';
    const s = parseScenario(yaml, '<inline>', { env: {}, baseDir: DATA });
    assert.deepEqual(s.workload.promptTokens.dist === 'empirical' && s.workload.promptTokens.values, [100, 120, 95]);
  });
});

describe('environment interpolation', () => {
  const file = join(GOOD, 'env.yaml');
  const env = { SEED: '7', PORT: '8001', MODEL: 'llama', OUT: '32', RATE: '2.5', TOKEN: 'abc', GREETING: '' };

  test('values, defaults, escapes, typing of unquoted values and unset variables', () => {
    const s = loadScenario(file, { env });
    assert.equal(s.name, 'env-default'); // ${NAME:-env-default}, NAME unset
    assert.equal(s.description, 'literal ${NOT_A_VAR} and hi'); // $${ escapes; empty GREETING takes the default
    assert.equal(s.seed, 7); // unquoted ${SEED} reads as a number
    assert.equal(s.target.url, 'http://127.0.0.1:8001/v1');
    assert.equal(s.target.model, 'llama');
    assert.equal(s.target.apiKey, undefined); // unset -> no key
    assert.deepEqual(s.target.headers, { Authorization: 'Bearer abc' }); // unset header value -> not sent
    assert.equal(s.target.stream, true);
    assert.deepEqual(s.workload.promptTokens, { dist: 'fixed', value: 64, min: 1, max: Infinity });
    assert.deepEqual(s.workload.outputTokens, { dist: 'fixed', value: 32, min: 1, max: Infinity });
    assert.equal(s.load.stages[0]!.durationMs, 5_000);
    assert.equal(s.load.stages[0]!.kind === 'open' && s.load.stages[0]!.rateRps, 2.5);
    assert.equal(s.load.drainMs, 30_000); // ${DRAIN} unset -> default
  });

  test('a value from the environment is checked like any other, at its position', () => {
    const issues = issuesOf(() => loadScenario(file, { env: { ...env, RATE: 'fast', MODEL: '' } }));
    assert.deepEqual(issues.map(issueKey).sort(), [
      'FG_SCENARIO_MISSING_FIELD 7:3 target.model',
      'FG_SCENARIO_TYPE 16:41 load.stages[0].rate',
    ]);
  });

  test('a quoted ${VAR} stays a string; an environment value cannot add structure', () => {
    const yaml = (seed: string) => `name: q\nseed: ${seed}\ntarget: {model: "\${M}"}\nworkload: {prompt_tokens: 1, output_tokens: 1}\nload: {stages: [{duration: 1s, rate: 1}]}\n`;
    const issues = issuesOf(() => parseScenario(yaml('"${SEED}"'), 'q.yaml', { env: { SEED: '7', M: 'm' } }));
    assert.deepEqual(issues.map(issueKey), ['FG_SCENARIO_TYPE 2:7 seed']);
    const s = parseScenario(yaml('${SEED}'), 'q.yaml', { env: { SEED: '3', M: '{a: 1}, b: [2]' } });
    assert.equal(s.target.model, '{a: 1}, b: [2]');
    assert.equal(s.seed, 3);
  });

  test('env defaults to process.env', () => {
    const yaml = 'name: p\ntarget: {model: "${FG_TEST_UNLIKELY_VARIABLE_NAME:-fallback}"}\nworkload: {prompt_tokens: 1, output_tokens: 1}\nload: {stages: [{duration: 1s, rate: 1}]}\n';
    assert.equal(parseScenario(yaml, 'p.yaml').target.model, 'fallback');
  });
});

describe('overrides', () => {
  const file = join(GOOD, 'spike.yaml');

  test('dotted paths are set before validation, strings typed like YAML values', () => {
    const s = loadScenario(file, {
      env: {},
      overrides: {
        'target.url': 'http://127.0.0.1:9/v1/',
        seed: 7,
        'load.stages[0].rate': 3,
        'load.stages[1].rate': '4.5',
        'target.headers.X-Run': 'nightly',
        'load.stages[3]': { duration: '5s', users: 2 },
        'client.threads': '2',
        description: 2024,
      },
    });
    assert.equal(s.description, '2024'); // a number given where a string belongs reads as its text
    assert.equal(s.target.url, 'http://127.0.0.1:9/v1');
    assert.equal(s.seed, 7);
    assert.deepEqual(s.load.stages.map((st) => (st.kind === 'open' ? st.rateRps : st.users)), [3, 4.5, 5, 2]);
    assert.equal(s.load.stages[3]!.kind, 'closed');
    assert.deepEqual(s.target.headers, { 'X-Run': 'nightly' });
    assert.equal(s.client.threads, 2);
  });

  test('an issue in an overridden value names the command line, line 0, col 0 and the path', () => {
    const issues = issuesOf(() =>
      loadScenario(file, {
        env: {},
        overrides: {
          'load.stages[0].rate': -3,
          'target.url': 'not a url',
          'load.stages[0].userz': 4,
          'load.stages[9].rate': 1,
          'load..x': 1,
          'name.first': 'a',
        },
      }),
    );
    assert.deepEqual(issues.map((i) => [i.file, i.line, i.col]), issues.map(() => ['<command line>', 0, 0]));
    assert.deepEqual(issues.map((i) => `${i.code} ${i.path}`).sort(), [
      'FG_SCENARIO_BAD_VALUE load..x',
      'FG_SCENARIO_BAD_VALUE load.stages[0].rate',
      'FG_SCENARIO_BAD_VALUE load.stages[9].rate',
      'FG_SCENARIO_BAD_VALUE target.url',
      'FG_SCENARIO_TYPE name.first',
      'FG_SCENARIO_UNKNOWN_KEY load.stages[0].userz',
    ]);
  });

  test('an override that conflicts with the file is reported at the command line', () => {
    const issues = issuesOf(() => loadScenario(file, { env: {}, overrides: { 'load.stages[0].users': 4 } }));
    assert.deepEqual(issues.map((i) => [i.code, i.file, i.line, i.col, i.path]), [
      ['FG_SCENARIO_CONFLICT', '<command line>', 0, 0, 'load.stages[0].users'],
    ]);
  });
});

test('the result is deep-frozen', () => {
  const s = loadScenario(join(GOOD, 'empirical-formats.yaml'), { env: {} });
  assert.ok(Object.isFrozen(s));
  assert.throws(() => {
    (s as { seed: number }).seed = 2;
  }, TypeError);
  assert.throws(() => {
    (s.target.timeouts as { ttftMs: number }).ttftMs = 1;
  }, TypeError);
  assert.throws(() => {
    (s.load.stages as unknown as unknown[]).push({});
  }, TypeError);
  const dist = s.workload.promptTokens;
  assert.ok(dist.dist === 'empirical');
  assert.throws(() => {
    (dist.values as number[])[0] = 1;
  }, TypeError);
  const full = loadScenario(join(GOOD, 'full.yaml'), { env: {} });
  assert.throws(() => {
    (full.target.body as Record<string, unknown>).top_k = 1;
  }, TypeError);
});

test('YAML syntax errors are all reported and stop validation', () => {
  const issues = issuesOf(() => parseScenario('name: a\nname: b\ntarget: [\n', 'x.yaml', { env: {} }));
  assert.ok(issues.length >= 2);
  assert.ok(issues.every((i) => i.code === 'FG_SCENARIO_YAML_SYNTAX' && i.line > 0 && i.col > 0 && i.file === 'x.yaml'));
});

test('an empty document is not a scenario', () => {
  const issues = issuesOf(() => parseScenario('# nothing here\n', 'empty.yaml', { env: {} }));
  assert.deepEqual(issues.map(issueKey), ['FG_SCENARIO_TYPE 1:1']);
});

test('LoadOptions is optional', () => {
  const opts: LoadOptions = {};
  assert.doesNotThrow(() => loadScenario(join(GOOD, 'defaults.yaml'), opts));
});
