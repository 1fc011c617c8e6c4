/**
 * harness export k6: every shipped scenario and a few written here are exported, type-checked
 * against @types/k6 + harness/export/k6-sse.d.ts (tsc API, checkJs, strict), and their options
 * checked against the scenario's stages and thresholds. No k6 binary here: these checks only.
 */
import { isSweepFile } from '../../harness/sweep/sweep-file.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parse } from 'yaml';
import { loadScenario, parseScenario } from '../../harness/scenario/load-scenario.ts';
import { exportK6, OPTIONS_BEGIN, OPTIONS_END } from '../../harness/export/k6-script.ts';
import type { Scenario } from '../../harness/scenario/scenario-types.ts';
import { typeCheckK6Scripts } from './k6-typecheck.ts';

const ROOT = resolve(import.meta.dirname, '../..');

interface K6Options {
  scenarios: Record<string, Record<string, any>>;
  thresholds: Record<string, Array<string | { threshold: string; abortOnFail: boolean; delayAbortEval?: string }>>;
}
function optionsOf(script: string): K6Options {
  const a = script.indexOf(OPTIONS_BEGIN);
  const b = script.indexOf(OPTIONS_END);
  assert.ok(a > 0 && b > a, 'options markers');
  return JSON.parse(script.slice(a + OPTIONS_BEGIN.length, b)) as K6Options;
}
const msOf = (d: string): number => {
  const m = /^(\d+)ms$/.exec(d);
  assert.ok(m, `duration ${d}`);
  return Number(m[1]);
};
const unitS = (u: string): number => ({ '1s': 1, '60s': 60, '3600s': 3600 })[u] ?? NaN;

/** Rate (req/s) at time t (ms from the run's start) summed over the arrival-rate k6 scenarios, of a phase or all. */
function k6RateAt(o: K6Options, t: number): number {
  let sum = 0;
  for (const sc of Object.values(o.scenarios)) {
    if (sc.executor !== 'ramping-arrival-rate') continue;
    let at = msOf(sc.startTime);
    let r = sc.startRate / unitS(sc.timeUnit);
    for (const st of sc.stages as Array<{ duration: string; target: number }>) {
      const d = msOf(st.duration);
      const to = st.target / unitS(sc.timeUnit);
      if (t >= at && t < at + d) {
        sum += r + ((to - r) * (t - at)) / d;
        r = NaN;
        break;
      }
      at += d;
      r = to;
    }
  }
  return sum;
}

function scenarioFile(text: string, name = 'inline.yaml'): Scenario {
  return parseScenario(text, join(ROOT, 'scenarios', name), { env: {} });
}

const shipped = readdirSync(join(ROOT, 'scenarios'))
  .filter((f) => f.endsWith('.yaml'))
  .filter((f) => !isSweepFile(join(ROOT, 'scenarios', f)));

const INLINE: Record<string, string> = {
  closed: `name: closed
target: {url: http://10.1.2.3:8000/v1, model: m, endpoint: completions}
workload: {prompt_tokens: {dist: normal, mean: 500, stddev: 50, min: 100, max: 900}, output_tokens: {dist: uniform, min: 10, max: 20}}
load:
  warmup: 10s
  cooldown: 5s
  stages:
    - {name: a, duration: 30s, users: 8, ramp: 20s, think_time: {min: 1s, max: 2s}}
    - {name: b, duration: 20s, users: 4}
slo: {ttft: 1s, itl: 40ms, e2e: 5s}
thresholds: ["ttft.p95 < 800ms", "stages.b.itl.p99 < 50ms", "errors.http_429 == 0", "server.kv_cache_usage.max < 90%", "send_lag.p99 < 5ms"]
`,
  ramps: `name: ramps
target: {url: http://127.0.0.1:8000/v1, model: m, ignore_eos: true}
workload: {prompt_tokens: 100, output_tokens: {dist: lognormal, mu: 4, sigma: 0.5, max: 500}}
load:
  arrival: constant
  warmup: 5s
  stages:
    - {name: up, duration: 20s, rate: 2.5, ramp: 10s}
    - {name: hold, duration: 10s, rate: 7}
    - {name: down, duration: 10s, rate: 1, ramp: 4s}
slo: {ttft: 500ms, tpot: 50ms}
thresholds:
  - "stages.hold.ttft.p90 < 1s"
  - {threshold: "error_rate < 2%", abort_on_fail: true, delay_abort_eval: 10s}
  - "ttft_intended.p95 < 1s"
  - "throughput.requests_per_s > 3"
`,
  mixClosed: `name: mix-closed
target: {url: http://127.0.0.1:8000/v1, model: m}
workload: {prompt_tokens: 100, output_tokens: 20}
load: {arrival: constant, warmup: 5s}
mix:
  - {name: chat, tenant: pro, load: {stages: [{duration: 30s, users: 20, ramp: 10s, think_time: {min: 1s, max: 3s}}]}}
  - {name: spike, tenant: free, load: {stages: [{duration: 10s, rate: 2}, {duration: 10s, rate: 40}, {duration: 5s, users: 3}]}}
`,
  secrets: `name: secrets
target:
  url: http://127.0.0.1:8000/v1
  model: m
  api_key: \${FG_K6_KEY}
  headers: {Authorization: "Bearer \${FG_K6_TOKEN}", x-api-key: "\${FG_K6_TOKEN}", x-run: plain-value}
workload:
  output_tokens: 32
  dataset: {format: jsonl, file: DATASET}
load:
  stages: [{duration: 10s, rate: 1}]
`,
};

test('every shipped scenario (not sweep files) exports a script that type-checks against @types/k6 and k6/x/sse', () => {
  assert.ok(shipped.length >= 5, `found ${shipped.length} scenarios`);
  const scripts: Record<string, string> = {};
  for (const f of shipped) {
    const s = loadScenario(join(ROOT, 'scenarios', f), { env: {} });
    const { script, unsupported } = exportK6(s);
    assert.match(script, new RegExp(`from scenario "${s.name}"`));
    assert.match(script, /import sse from 'k6\/x\/sse'/);
    assert.ok(unsupported.length > 0);
    for (const u of unsupported) assert.ok(script.includes(u.replace(/\*\//g, '*\\/')), `header lists "${u}"`);
    scripts[f] = script;
  }
  const diags = typeCheckK6Scripts(scripts);
  for (const f of shipped) assert.deepEqual(diags[f], [], `${f} type-checks`);
});

test('the type check finds errors: a broken script and a generated script with an error put in', () => {
  const good = exportK6(scenarioFile(INLINE.ramps!)).script;
  const diags = typeCheckK6Scripts({
    broken: "// @ts-check\nimport http from 'k6/http';\n/** @type {import('k6/options').Options} */\nexport const options = {scenarios: {a: {executor: 'nope', exec: 'x'}}};\nhttp.post(1);\n",
    injected: good.replace("const message = prompt(sample(CONFIG.promptTokens));", "const message = prompt(sample('lognormal'));"),
    badSse: good.replace("client.on('event', (event) => {", "client.on('event', (/** @type {number} */ event) => {"),
  });
  assert.ok(diags.broken!.length >= 2, diags.broken!.join('\n'));
  assert.ok(diags.injected!.length >= 1, 'wrong argument type found');
  assert.ok(diags.badSse!.length >= 1, 'k6/x/sse declaration is used');
});

test('open-loop stages become ramping-arrival-rate scenarios with the scenario\'s rates, ramps, warmup and durations', () => {
  const s = scenarioFile(INLINE.ramps!);
  const o = optionsOf(exportK6(s).script);
  const names = Object.keys(o.scenarios);
  assert.deepEqual(names, ['warmup_up', 'up', 'hold', 'down']);
  for (const sc of Object.values(o.scenarios)) {
    assert.equal(sc.executor, 'ramping-arrival-rate');
    assert.equal(sc.exec, 'floodgate');
    assert.ok(sc.preAllocatedVUs >= 1 && sc.maxVUs >= sc.preAllocatedVUs);
  }
  assert.equal(o.scenarios.warmup_up!.tags.phase, 'warmup');
  assert.equal(o.scenarios.up!.tags.phase, 'measure');
  assert.equal(o.scenarios.hold!.tags.stage, 'hold');
  // Rates at sample times: ramp 0 -> 2.5 over 10 s, hold 2.5, step to 7, ramp 7 -> 1 over 4 s.
  const expect = (t: number): number => (t < 10000 ? (2.5 * t) / 10000 : t < 20000 ? 2.5 : t < 30000 ? 7 : t < 34000 ? 7 - (6 * (t - 30000)) / 4000 : 1);
  for (let t = 0; t < 40000; t += 500) assert.ok(Math.abs(k6RateAt(o, t) - expect(t)) < 0.01, `rate at ${t} ms: ${k6RateAt(o, t)} vs ${expect(t)}`);
  // Durations add up to the stages' total, each window starting where the previous ended.
  let end = 0;
  for (const sc of Object.values(o.scenarios)) {
    assert.equal(msOf(sc.startTime), end);
    end += (sc.stages as Array<{ duration: string }>).reduce((a, st) => a + msOf(st.duration), 0);
  }
  assert.equal(end, 40000);
  assert.equal(msOf(o.scenarios.down!.gracefulStop), s.load.drainMs);
});

test('closed-loop users become constant-vus / ramping-vus, with warmup and cooldown scenarios tagged by phase', () => {
  const o = optionsOf(exportK6(scenarioFile(INLINE.closed!)).script);
  const sc = o.scenarios;
  assert.deepEqual(Object.keys(sc), ['warmup_a', 'a', 'b', 'cooldown_b']);
  assert.equal(sc.warmup_a!.executor, 'ramping-vus');
  assert.equal(sc.warmup_a!.startVUs, 0);
  assert.deepEqual(sc.warmup_a!.stages, [{ duration: '10000ms', target: 4 }]);
  assert.equal(sc.a!.executor, 'ramping-vus');
  assert.equal(sc.a!.startVUs, 4);
  assert.deepEqual(sc.a!.stages, [{ duration: '10000ms', target: 8 }, { duration: '10000ms', target: 8 }]);
  assert.equal(sc.b!.executor, 'constant-vus');
  assert.equal(sc.b!.vus, 4);
  assert.equal(sc.b!.duration, '15000ms');
  assert.equal(sc.cooldown_b!.tags.phase, 'cooldown');
  assert.equal(sc.cooldown_b!.startTime, '45000ms');
});

test('thresholds: mapped ones read {phase:measure}; the others are listed as unsupported', () => {
  const c = exportK6(scenarioFile(INLINE.closed!));
  const oc = optionsOf(c.script);
  assert.deepEqual(oc.thresholds, {
    'ttft{phase:measure}': ['p(95)<800'],
    'itl{phase:measure,stage:b}': ['p(99)<50'],
    'requests_failed{phase:measure,error:http_429}': ['count==0'],
  });
  assert.ok(c.unsupported.some((u) => u.startsWith('threshold "server.kv_cache_usage.max < 90%"')));
  assert.ok(c.unsupported.some((u) => u.startsWith('threshold "send_lag.p99 < 5ms"')));
  const r = exportK6(scenarioFile(INLINE.ramps!));
  const or = optionsOf(r.script);
  assert.deepEqual(or.thresholds, {
    'ttft{phase:measure,stage:hold}': ['p(90)<1000'],
    'error_rate{phase:measure}': [{ threshold: 'rate<0.02', abortOnFail: true, delayAbortEval: '10000ms' }],
  });
  assert.ok(r.unsupported.some((u) => u.startsWith('threshold "ttft_intended.p95 < 1s"')));
  // A rate over the measured window cannot be a k6 Counter rate when there is a warmup.
  assert.ok(r.unsupported.some((u) => u.startsWith('threshold "throughput.requests_per_s > 3"')));
  // constant arrivals are expressible; poisson is not.
  assert.ok(!r.unsupported.some((u) => u.startsWith('load.arrival')));
  assert.ok(c.script.includes('"endpoint": "completions"'));
  assert.ok(r.script.includes('"ignoreEos": true'));
});

test('a mix maps each stream to its own k6 scenarios, tagged, with tenant thresholds', () => {
  const s = loadScenario(join(ROOT, 'scenarios/noisy-neighbour.yaml'), { env: {} });
  const { script } = exportK6(s);
  const o = optionsOf(script);
  const streams = Object.values(o.scenarios).map((x) => x.tags.stream).sort();
  assert.deepEqual(streams, ['free', 'pro']);
  assert.ok(Math.abs(k6RateAt(o, 25000) - 44) < 1e-9, 'pro 4 + free 40 in the spike');
  assert.ok(Math.abs(k6RateAt(o, 5000) - 6) < 1e-9);
  assert.ok(o.thresholds['ttft{phase:measure,tenant:pro}']);
  assert.match(script, /FLOODGATE_API_KEY_FREE/);
});

test('closed-loop mix streams become VU scenarios sending as their stream; weighted closed stages are listed as unsupported', () => {
  const { script, unsupported } = exportK6(scenarioFile(INLINE.mixClosed!));
  const o = optionsOf(script);
  const sc = o.scenarios;
  assert.deepEqual(Object.keys(sc).sort(), ['mix_chat', 'mix_spike', 'mix_spike_2', 'warmup_mix_chat', 'warmup_mix_spike']);
  // chat: 20 users ramped over 10 s, cut at the warmup's end
  assert.equal(sc.warmup_mix_chat!.executor, 'ramping-vus');
  assert.equal(sc.warmup_mix_chat!.startVUs, 0);
  assert.deepEqual(sc.warmup_mix_chat!.stages, [{ duration: '5000ms', target: 10 }]);
  assert.deepEqual([sc.mix_chat!.executor, sc.mix_chat!.startVUs, sc.mix_chat!.startTime], ['ramping-vus', 10, '5000ms']);
  assert.deepEqual(sc.mix_chat!.stages, [{ duration: '5000ms', target: 20 }, { duration: '20000ms', target: 20 }]);
  assert.deepEqual(sc.mix_chat!.tags, { stage: 'mix', stage_index: '0', phase: 'measure', stream: 'chat' });
  // spike: its open stages at their rates, then 3 users for the stream's last 5 s
  assert.equal(sc.mix_spike!.executor, 'ramping-arrival-rate');
  assert.ok(Math.abs(k6RateAt(o, 15000) - 40) < 1e-9, 'spike 40 req/s; the users are VUs, not an arrival rate');
  assert.deepEqual([sc.mix_spike_2!.executor, sc.mix_spike_2!.vus, sc.mix_spike_2!.startTime, sc.mix_spike_2!.duration, sc.mix_spike_2!.tags.stream], ['constant-vus', 3, '20000ms', '5000ms', 'spike']);
  // the scenario table: VU scenarios are closed loop, with the stream's think time and traffic
  assert.match(script, /"mix_chat": \{\s*"closed": true,\s*"thinkMs": \[\s*1000,\s*3000\s*\],\s*"pick": \{\s*"kind": "stream",\s*"index": 0\s*\}/);
  assert.ok(!unsupported.some((u) => u.startsWith('closed-loop stages shared by weighted mix streams')));
  const w = exportK6(scenarioFile(`name: mix-weighted-closed
target: {url: http://127.0.0.1:8000/v1, model: m}
workload: {prompt_tokens: 100, output_tokens: 20}
load: {stages: [{duration: 10s, users: 4}]}
mix: [{name: a, weight: 3}, {name: b, weight: 1}]
`));
  assert.deepEqual(Object.values(optionsOf(w.script).scenarios).map((x) => [x.executor, x.vus]), [['constant-vus', 4]]);
  assert.ok(w.unsupported.some((u) => u.startsWith('closed-loop stages shared by weighted mix streams')));
});

test('no API key, secret header or dataset prompt text from the environment lands in the script', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-k6-ds-'));
  try {
    const ds = join(dir, 'd.jsonl');
    writeFileSync(ds, `{"messages":[{"role":"user","content":"CANARY-PROMPT-7731 tell me"}]}\n{"messages":[{"role":"user","content":"CANARY-PROMPT-7731 again please"}]}\n`);
    const env = { FG_K6_KEY: 'sk-CANARY-KEY-5519', FG_K6_TOKEN: 'CANARY-TOKEN-8830' };
    const s = parseScenario(INLINE.secrets!.replace('DATASET', ds), join(dir, 's.yaml'), { env });
    assert.equal(s.target.apiKey, env.FG_K6_KEY, 'the loaded scenario does hold the key');
    const { script, unsupported } = exportK6(s);
    for (const canary of ['CANARY-KEY-5519', 'CANARY-TOKEN-8830', 'CANARY-PROMPT-7731']) assert.ok(!script.includes(canary), `${canary} not in the script`);
    assert.match(script, /FLOODGATE_HEADER_AUTHORIZATION/);
    assert.match(script, /FLOODGATE_HEADER_X_API_KEY/);
    assert.match(script, /"x-run": "plain-value"/);
    assert.ok(unsupported.some((u) => u.startsWith('workload.dataset')));
    assert.deepEqual(typeCheckK6Scripts({ secrets: script }).secrets, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('harness export k6: stdout, --out with k6-sse.d.ts, exit 2 with a coded error for a bad scenario', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-k6-cli-'));
  try {
    const cli = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin/harness.js'), ...args], { encoding: 'utf8', cwd: ROOT });
    const r1 = cli(['export', 'k6', 'scenarios/spike.yaml']);
    assert.equal(r1.status, 0, r1.stderr);
    assert.ok(optionsOf(r1.stdout).scenarios.spike);
    assert.match(r1.stderr, /load\.arrival: poisson/);
    const out = join(dir, 'k6', 'spike.js'); // a folder that does not exist yet
    const r2 = cli(['export', 'k6', 'scenarios/spike.yaml', '--out', out]);
    assert.equal(r2.status, 0, r2.stderr);
    assert.equal(readFileSync(out, 'utf8'), r1.stdout);
    assert.ok(existsSync(join(dir, 'k6', 'k6-sse.d.ts')));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'name: bad\ntarget: {model: m}\nworkload: {prompt_tokens: 10, output_tokens: 10}\nload: {stages: [{duration: 10s, rat: 1}]}\n');
    const r3 = cli(['export', 'k6', bad]);
    assert.equal(r3.status, 2);
    assert.match(r3.stderr, /FG_SCENARIO_UNKNOWN_KEY/);
    assert.equal(r3.stdout, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('open-loop conversations are listed as unsupported (each arrival sends one request); closed-loop ones are not', () => {
  const text = (stages: string) => `name: conv
target: {url: http://127.0.0.1:8000/v1, model: m}
workload: {prompt_tokens: 100, output_tokens: 20, conversation: {turns: 3, think_time: 1s}}
load: {arrival: constant, stages: ${stages}}
`;
  const open = exportK6(scenarioFile(text('[{duration: 10s, rate: 2}, {duration: 10s, users: 3}]')));
  assert.ok(open.unsupported.some((u) => u.startsWith('workload.conversation with open-loop stages (rate)')));
  for (const u of open.unsupported) assert.ok(open.script.includes(u.replace(/\*\//g, '*\\/')), `header lists "${u}"`);
  const diags = typeCheckK6Scripts({ 'conv.js': open.script });
  assert.deepEqual(diags['conv.js'], [], 'the script type-checks');
  const closed = exportK6(scenarioFile(text('[{duration: 10s, users: 3}]')));
  assert.ok(!closed.unsupported.some((u) => u.startsWith('workload.conversation with open-loop stages')));
  assert.ok(closed.unsupported.some((u) => u.startsWith('workload.conversation: each k6 VU')));
});
