/**
 * loadRunData (harness/report/run-data.ts): a run folder read back, and every coded refusal:
 * a missing folder or summary.json, bad JSON naming the file, a bad requests.jsonl line naming
 * its number, a schema_version this harness does not read.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadRunData, readRequestLines } from '../../harness/report/run-data.ts';
import { fixtureRunData, writeRunFolder } from '../fixtures/run-data.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-rundata-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function folder(name: string, o: Parameters<typeof fixtureRunData>[0] = {}): string {
  const dir = path.join(tmp, name);
  writeRunFolder(dir, fixtureRunData({ thresholds: ['error_rate < 1%'], server: true, ...o }));
  return dir;
}

test('a good folder: summary, time series, server points and request lines', () => {
  const dir = folder('good');
  const d = loadRunData(dir);
  assert.equal(d.dir, dir);
  assert.equal(d.summary.scenario.name, 'fixture-run');
  assert.equal(d.summary.thresholds[0]!.expr, 'error_rate < 1%');
  assert.equal(d.summary.thresholds[0]!.unit, 'ratio');
  assert.ok(d.timeseries.length > 0);
  assert.equal(d.server!.length, 3);
  assert.equal(d.requests.length, 10);
  assert.equal(d.requests.filter((r) => !r.ok).length, 2);
  assert.equal(loadRunData(dir, { requests: false }).requests.length, 0);
});

test('optional files: no server.json is null, no timeseries.json an empty series', () => {
  const dir = folder('minimal');
  fs.rmSync(path.join(dir, 'server.json'));
  fs.rmSync(path.join(dir, 'timeseries.json'));
  fs.rmSync(path.join(dir, 'requests.jsonl'));
  const d = loadRunData(dir);
  assert.equal(d.server, null);
  assert.deepEqual(d.timeseries, []);
  assert.deepEqual(d.requests, []);
});

test('no such folder, or no summary.json: FG_REPORT_NOT_A_RUN', () => {
  assert.throws(() => loadRunData(path.join(tmp, 'nope')), (e: Error & { code?: string }) => e.code === 'FG_REPORT_NOT_A_RUN' && /no such folder/.test(e.message));
  const dir = folder('unfinished');
  fs.rmSync(path.join(dir, 'summary.json'));
  assert.throws(() => loadRunData(dir), (e: Error & { code?: string }) => e.code === 'FG_REPORT_NOT_A_RUN' && /no summary\.json/.test(e.message));
});

test('bad JSON names the file: FG_REPORT_BAD_FILE', () => {
  for (const file of ['summary.json', 'timeseries.json', 'server.json']) {
    const dir = folder(`bad-${file}`);
    fs.writeFileSync(path.join(dir, file), '{"schema_version": 1,');
    assert.throws(() => loadRunData(dir), (e: Error & { code?: string }) => e.code === 'FG_REPORT_BAD_FILE' && e.message.includes(path.join(dir, file)) && /not valid JSON/.test(e.message), file);
  }
  const dir = folder('not-object');
  fs.writeFileSync(path.join(dir, 'summary.json'), '[1,2]');
  assert.throws(() => loadRunData(dir), { code: 'FG_REPORT_BAD_FILE' });
  const dir2 = folder('series-object');
  fs.writeFileSync(path.join(dir2, 'timeseries.json'), '{}');
  assert.throws(() => loadRunData(dir2), (e: Error & { code?: string }) => e.code === 'FG_REPORT_BAD_FILE' && /not a JSON array/.test(e.message));
});

test('a bad requests.jsonl line is FG_REPORT_BAD_FILE with its line number', () => {
  const dir = folder('bad-line');
  const file = path.join(dir, 'requests.jsonl');
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  lines.splice(3, 0, '{"id": 99, "ok": tru');
  fs.writeFileSync(file, lines.join('\n') + '\n');
  assert.throws(() => loadRunData(dir), (e: Error & { code?: string }) => e.code === 'FG_REPORT_BAD_FILE' && e.message.startsWith(`${file}:4: not valid JSON`));
  fs.writeFileSync(file, '\n{"id": 1, "ok": true}\n["x"]\n');
  assert.throws(() => readRequestLines(file), (e: Error & { code?: string }) => e.code === 'FG_REPORT_BAD_FILE' && e.message.startsWith(`${file}:3: not a request line`));
  // requests: false does not read it at all.
  assert.equal(loadRunData(dir, { requests: false }).summary.scenario.name, 'fixture-run');
});

test('a schema_version this harness does not read: FG_REPORT_SCHEMA', () => {
  for (const v of [2, '1', null]) {
    const dir = folder(`schema-${String(v)}`);
    const file = path.join(dir, 'summary.json');
    const s = JSON.parse(fs.readFileSync(file, 'utf8'));
    s.schema_version = v;
    fs.writeFileSync(file, JSON.stringify(s));
    assert.throws(() => loadRunData(dir), (e: Error & { code?: string }) => e.code === 'FG_REPORT_SCHEMA' && e.message.includes(file), String(v));
  }
});
