/**
 * Prompt datasets end to end (docs/scenarios.md, "Prompt datasets"): runScenario against an
 * in-process simulated vLLM worker (sped up) with the fixture datasets, on client worker threads.
 * Every request succeeds; the prompt tokens the worker reports are exactly its tokenizer's count
 * of the entry's messages under its chat template (the messages went out as they are); and no
 * dataset text (a canary string) reaches the records or any file of the run folder.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSimWorker, type SimWorker } from '../../reference-stack/worker-sim/start-worker.ts';
import { SimTokenizer } from '../../reference-stack/worker-sim/sim-tokenizer.ts';
import { parseScenario } from '../../harness/scenario/load-scenario.ts';
import { runScenario } from '../../harness/run/run-scenario.ts';
import { buildPlan } from '../../harness/workload/plan.ts';
import { readDataset, type DatasetFormat } from '../../harness/workload/dataset.ts';
import type { RequestRecord } from '../../harness/metrics/request-record.ts';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/datasets');
const CANARY = 'FLOODGATE-CANARY-7f3a';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-dataset-'));
let w: SimWorker | undefined;
after(async () => {
  await w?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function filesUnder(d: string): string[] {
  return fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(d, e.name)) : [path.join(d, e.name)]));
}

for (const [format, file, stage] of [
  ['sharegpt', 'sharegpt-small.json', '{duration: 1s, rate: 15}'],
  ['jsonl', 'messages-small.jsonl', '{duration: 1s, users: 3}'],
] as Array<[DatasetFormat, string, string]>) {
  test(`${format}: real prompts sent as they are, counted exactly by the server, never written`, async () => {
    w ??= await startSimWorker({ gpu: 'h100-sxm', model: 'llama-3.1-8b', timeScale: 50 });
    const sc = parseScenario(
      `name: ds-${format}\nseed: 3\ntarget: {url: "${w.url}", model: ${w.engine.modelName}}\n` +
        `workload: {dataset: {format: ${format}, file: ${file}}}\nload: {drain: 20s, stages: [${stage}]}\n`,
      path.join(dir, 'scenario.yaml'),
      { env: {} },
    );
    const read = readDataset(path.join(dir, file), { format, outputFromData: true });
    const entries = read.entries;
    const plan = buildPlan(sc);
    const records: RequestRecord[] = [];
    const outDir = path.join(tmp, `run-${format}`);
    const out = await runScenario(sc, { threads: 2, allowSaturated: true, outDir, onRecord: (r) => records.push(r) });
    assert.equal(out.summary.requests.failed, 0, out.reasons.join('; '));
    assert.ok(records.length >= 5, `${records.length} requests`);
    assert.ok(records.every((r) => r.ok), 'every request succeeded');

    const tok = new SimTokenizer(128_256);
    const expected = entries.map((e) => tok.encodeChat(e.messages, true).length);
    const planned = entries.map((e) => e.promptTokens);
    assert.equal(new Set(planned).size, planned.length, 'the fixture entries have distinct lengths');
    const seen = new Set<number>();
    for (const r of records) {
      // Open loop: the plan's entry by id. Closed loop: the entry whose planned length it has.
      const k = r.id < plan.open.length ? plan.open[r.id]!.dataset! : planned.indexOf(r.plannedPromptTokens);
      assert.ok(k >= 0, 'every request is an entry of the dataset');
      assert.equal(r.plannedPromptTokens, planned[k]);
      assert.equal(r.promptTokens, expected[k], `entry ${k}: the server counts the entry's messages`);
      assert.equal(r.plannedOutputTokens, entries[k]!.outputTokens);
      seen.add(k);
    }
    assert.ok(seen.size >= 2, 'several entries were sent');
    // summary.json's dataset block: the file's name and the reader's counts (the fixtures hold unusable entries).
    assert.ok(read.skipped > 0, 'the fixture has unusable entries');
    assert.deepEqual(out.summary.dataset, { file, format, order: 'random', entries_used: entries.length, skipped: read.skipped });
    const onDisk = JSON.parse(fs.readFileSync(path.join(outDir, 'summary.json'), 'utf8')) as { dataset?: unknown };
    assert.deepEqual(onDisk.dataset, out.summary.dataset);
    const md = fs.readFileSync(path.join(outDir, 'summary.md'), 'utf8');
    assert.ok(md.includes(`**Dataset**: \`${file}\` (${format}, random order): ${entries.length} usable entries, ${read.skipped} skipped as unusable`), md);
    const html = fs.readFileSync(path.join(outDir, 'report.html'), 'utf8');
    assert.match(html, new RegExp(`<span data-metric="dataset.entries_used">${entries.length}</span> usable entries, <span data-metric="dataset.skipped">${read.skipped}</span> skipped`));
    assert.ok(!JSON.stringify(records).includes(CANARY), 'no dataset text in the records');
    const files = filesUnder(outDir);
    assert.ok(files.some((f) => f.endsWith('summary.json')));
    for (const f of files) assert.ok(!fs.readFileSync(f, 'utf8').includes(CANARY), `no dataset text in ${path.relative(outDir, f)}`);
  });
}
