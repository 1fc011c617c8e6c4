/**
 * A scenario's `stack:` (harness/scenario/scenario-stack.ts): both forms, paths from the
 * scenario's folder, the stack file's own problems reported at their positions, and the checks
 * on the tenant and key the run will use. The broken cases with only FG_SCENARIO_ codes are
 * fixtures in test/fixtures/scenarios/bad/stack-*.yaml (checked by scenario-validation.test.ts);
 * these are the ones that need more than a code and a position.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatIssues } from '../../harness/errors.ts';
import { loadScenario, parseScenario, type LoadOptions } from '../../harness/scenario/load-scenario.ts';
import { COMMAND_LINE } from '../../harness/scenario/yaml-node-reader.ts';
import { expectations, issueKey, issuesOf } from '../fixtures/config-issues.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCENARIOS = join(ROOT, 'test/fixtures/scenarios');
const STACKS = join(ROOT, 'test/fixtures/stacks');
const ONE_WORKER = join(STACKS, 'one-worker.yaml');
/** A scenario "file" in the scenario fixtures' folder, so `../stacks/...` paths resolve. */
const INLINE = join(SCENARIOS, 'inline.yaml');

function scenarioText(stack: string, target = '{model: tiny-llama}'): string {
  return `name: s
target: ${target}
${stack}
workload: {prompt_tokens: 64, output_tokens: 8}
load: {stages: [{duration: 1s, rate: 4}]}
`;
}

function parse(stack: string, target?: string, options: LoadOptions = {}) {
  return parseScenario(scenarioText(stack, target), INLINE, { env: {}, ...options });
}

test('stack as a path: relative to the scenario file\'s folder; the stack\'s name; no tenant', () => {
  const s = loadScenario(join(SCENARIOS, 'good/stack-file.yaml'), { env: {} });
  assert.equal(resolve(s.stack!.file), ONE_WORKER);
  assert.equal(s.stack!.name, 'one-worker');
  assert.equal(s.stack!.tenant, undefined);
  assert.equal(s.target.url, undefined);
  assert.ok(Object.isFrozen(s.stack));
});

test('stack as a map {file, tenant}', () => {
  const s = loadScenario(join(SCENARIOS, 'good/stack-tenant.yaml'), { env: {} });
  assert.deepEqual({ ...s.stack!, file: resolve(s.stack!.file) }, { file: ONE_WORKER, name: 'one-worker', tenant: 'bench' });
});

test('an absolute stack path is used as it is; baseDir moves relative ones', () => {
  assert.equal(parse(`stack: ${ONE_WORKER}`).stack!.file, ONE_WORKER);
  const s = parseScenario(scenarioText('stack: one-worker.yaml'), '<inline>', { env: {}, baseDir: STACKS });
  assert.equal(s.stack!.file, ONE_WORKER);
});

test('no stack: no `stack` field (the default stack runs); an unset variable means no stack', () => {
  assert.equal('stack' in parse(''), false);
  assert.equal('stack' in parse('stack: ${STACK}'), false);
  assert.equal(parse('stack: ${STACK}', undefined, { env: { STACK: '../stacks/one-worker.yaml' } }).stack!.name, 'one-worker');
});

test('an invalid stack file: one line at the scenario\'s stack field, then the stack file\'s own problems at their positions', () => {
  const badStack = join(STACKS, 'bad/tenant-unknown-model.yaml');
  const issues = issuesOf(() => parse('stack: {file: ../stacks/bad/tenant-unknown-model.yaml, tenant: t}'));
  const [head, ...rest] = issues;
  assert.equal(head!.code, 'FG_SCENARIO_STACK_FILE');
  assert.deepEqual([head!.file, head!.line, head!.col, head!.path], [INLINE, 3, 15, 'stack.file']);
  assert.match(head!.message, /is not a valid stack file: 2 problems/);
  assert.equal(resolve(String(head!.value)), badStack);
  assert.ok(head!.allowed);
  // Exactly what loading the stack file alone reports (its fixture's `# expect:` lines).
  assert.deepEqual(rest.map(issueKey).sort(), expectations(badStack).sort());
  for (const i of rest) assert.equal(resolve(i.file), badStack);
  // Printed as `harness validate` prints them: each line at its own file.
  const lines = formatIssues(issues).split('\n');
  assert.match(lines[0]!, /inline\.yaml:3:15 {2}FG_SCENARIO_STACK_FILE {2}stack\.file: /);
  assert.match(lines[1]!, /tenant-unknown-model\.yaml:\d+:\d+ {2}FG_STACK_BAD_REFERENCE {2}tenants\[0\]\.allowed_models\[\d\]: /);
  assert.throws(() => parse('stack: ../stacks/bad/tenant-unknown-model.yaml'), { code: 'FG_CONFIG_INVALID' });
});

test('a stack file with a YAML syntax error is reported the same way', () => {
  const issues = issuesOf(() => parse(`stack: ${join(SCENARIOS, 'bad/yaml-syntax.yaml')}`));
  assert.equal(issues[0]!.code, 'FG_SCENARIO_STACK_FILE');
  assert.ok(issues.length >= 2);
  assert.ok(issues.slice(1).every((i) => i.code === 'FG_STACK_YAML_SYNTAX' && i.line > 0));
});

test('a missing stack file is one problem, at the field, naming the path it looked for', () => {
  const issues = issuesOf(() => parse('stack: ../stacks/nope.yaml'));
  assert.equal(issues.length, 1);
  assert.equal(issueKey(issues[0]!), 'FG_SCENARIO_STACK_FILE 3:8 stack');
  assert.equal(resolve(String(issues[0]!.value)), join(STACKS, 'nope.yaml'));
  assert.match(issues[0]!.message, /stack file ".*nope\.yaml" does not exist/);
  // A folder is not a stack file either.
  assert.equal(issuesOf(() => parse('stack: ../stacks'))[0]!.code, 'FG_SCENARIO_STACK_FILE');
});

test('stack must be a path or a map', () => {
  for (const v of ['5', '[a, b]', 'true']) {
    const issues = issuesOf(() => parse(`stack: ${v}`));
    assert.deepEqual(issues.map(issueKey), ['FG_SCENARIO_TYPE 3:8 stack'], v);
    assert.match(issues[0]!.allowed!, /stack file path.*\{file: <path>, tenant: <tenant name>\}/);
  }
  assert.deepEqual(issuesOf(() => parse('stack: ""')).map(issueKey), ['FG_SCENARIO_MISSING_FIELD 3:8 stack']);
  assert.deepEqual(issuesOf(() => parse('stack: {file: ""}')).map(issueKey), ['FG_SCENARIO_MISSING_FIELD 3:9 stack.file']);
});

test('stack with target.url is reported at the one written second, --target included', () => {
  // url first, stack second: at `stack` (the fixture bad/stack-with-target.yaml); stack first:
  const text = `name: s
stack: ../stacks/one-worker.yaml
target: {url: http://127.0.0.1:8000/v1, model: tiny-llama}
workload: {prompt_tokens: 64, output_tokens: 8}
load: {stages: [{duration: 1s, rate: 4}]}
`;
  assert.deepEqual(issuesOf(() => parseScenario(text, INLINE, { env: {} })).map(issueKey), ['FG_SCENARIO_STACK_WITH_TARGET 3:10 target.url']);
  // --target on the command line, with a stack in the file: at the command line.
  const issues = issuesOf(() => parse('stack: ../stacks/one-worker.yaml', undefined, { overrides: { 'target.url': 'http://127.0.0.1:9/v1' } }));
  assert.deepEqual(issues.map((i) => [i.code, i.file, i.path]), [['FG_SCENARIO_STACK_WITH_TARGET', COMMAND_LINE, 'target.url']]);
  assert.match(issues[0]!.allowed!, /--set stack=/);
  // ... and `--set stack=` drops the file's stack, as the message says.
  const s = parse('stack: ../stacks/one-worker.yaml', undefined, { overrides: { 'target.url': 'http://127.0.0.1:9/v1', stack: '' } });
  assert.equal(s.target.url, 'http://127.0.0.1:9/v1');
  assert.equal(s.stack, undefined);
  // An empty url is no url.
  assert.equal(parse('stack: ../stacks/one-worker.yaml', '{url: "", model: tiny-llama}').stack!.name, 'one-worker');
});

test('tenant: must exist and hold a development key; the message says which tenants do', () => {
  const unknown = issuesOf(() => parse('stack: {file: ../stacks/one-worker.yaml, tenant: bnech}'));
  assert.deepEqual(unknown.map(issueKey), ['FG_SCENARIO_STACK_TENANT 3:50 stack.tenant']);
  assert.match(unknown[0]!.message, /no tenant "bnech" \(did you mean "bench"\?\)/);
  assert.equal(unknown[0]!.allowed, 'a tenant of the stack with a development key: bench');

  const noKey = issuesOf(() => parse('stack: {file: ../stacks/one-worker.yaml, tenant: own-keys}'));
  assert.deepEqual(noKey.map(issueKey), ['FG_SCENARIO_STACK_TENANT 3:50 stack.tenant']);
  assert.match(noKey[0]!.message, /tenant "own-keys" of stack "one-worker" has no development key/);
  assert.match(noKey[0]!.allowed!, /\(bench\).*target\.api_key/);
});

test('a stack whose tenants hold no development key needs target.api_key, and the key must be a tenant\'s', () => {
  const none = issuesOf(() => parse('stack: ../stacks/no-dev-keys.yaml', '{model: m}'));
  assert.deepEqual(none.map(issueKey), ['FG_SCENARIO_STACK_TENANT 3:8 stack']);
  assert.match(none[0]!.message, /no tenant of stack "no-dev-keys" \(team\) holds a development key/);
  assert.match(none[0]!.allowed!, /target\.api_key/);
  // With the tenant's own key (its SHA-256 is in the stack), it loads; no tenant is named.
  const s = parse('stack: ../stacks/no-dev-keys.yaml', '{model: m, api_key: "${KEY}"}', { env: { KEY: 'not-a-dev-key' } });
  assert.equal(s.target.apiKey, 'not-a-dev-key');
  assert.equal(s.stack!.tenant, undefined);
  // A key no tenant holds is refused at load time, without quoting the key.
  const wrong = issuesOf(() => parse('stack: ../stacks/no-dev-keys.yaml', '{model: m, api_key: "${KEY}"}', { env: { KEY: 'some-other-key' } }));
  assert.deepEqual(wrong.map((i) => [i.code, i.path]), [['FG_SCENARIO_STACK_TENANT', 'target.api_key']]);
  assert.equal(wrong[0]!.value, undefined);
  assert.ok(!wrong[0]!.message.includes('some-other-key'));
});

test('a stack without tenants cannot be run against', () => {
  const issues = issuesOf(() => parse('stack: ../stacks/no-tenants.yaml', '{model: m}'));
  assert.deepEqual(issues.map(issueKey), ['FG_SCENARIO_STACK_TENANT 3:8 stack']);
  assert.match(issues[0]!.message, /has no tenants/);
});

test('stack problems come with every other problem of the file, at once', () => {
  const text = `name: s
target: {model: tiny-llama, endpiont: chat}
stack: {file: ../stacks/one-worker.yaml, tenant: nobody}
workload: {prompt_tokens: 0, output_tokens: 8}
load: {stages: [{duration: 1s, rate: 4}]}
`;
  const codes = issuesOf(() => parseScenario(text, INLINE, { env: {} })).map((i) => i.code).sort();
  assert.deepEqual(codes, ['FG_SCENARIO_BAD_VALUE', 'FG_SCENARIO_STACK_TENANT', 'FG_SCENARIO_UNKNOWN_KEY']);
  // With target.url as well, the key checks are moot (the key would go to that server): one
  // problem, the conflict, and the stack file is still checked.
  const withUrl = issuesOf(() => parse('stack: ../stacks/no-dev-keys.yaml', '{url: http://127.0.0.1:8000/v1, model: m, api_key: k}'));
  assert.deepEqual(withUrl.map((i) => i.code), ['FG_SCENARIO_STACK_WITH_TARGET']);
  const withUrlBadFile = issuesOf(() => parse('stack: ../stacks/nope.yaml', '{url: http://127.0.0.1:8000/v1, model: m}'));
  assert.deepEqual(withUrlBadFile.map((i) => i.code).sort(), ['FG_SCENARIO_STACK_FILE', 'FG_SCENARIO_STACK_WITH_TARGET']);
});

test('variables in the stack file come from the scenario\'s LoadOptions.env', () => {
  // The stack file's own `${...}` are interpolated with the env given to loadScenario.
  const file = join(STACKS, 'bad/env-interpolation.yaml');
  const expected = expectations(file);
  assert.equal(expected.length, 2);
  const unset = issuesOf(() => parse(`stack: ${file}`));
  assert.deepEqual(unset.slice(1).map(issueKey).sort(), [...expected].sort());
  // With the variable set to a valid hash, only the malformed reference is left.
  const env = { FG_TEST_UNSET_KEY_HASH: `sha256:${'ab'.repeat(32)}` };
  const set = issuesOf(() => parse(`stack: ${file}`, undefined, { env }));
  assert.deepEqual(set.slice(1).map(issueKey), expected.filter((e) => e.endsWith('api_key_hashes[1]')));
});
