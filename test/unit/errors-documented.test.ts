/**
 * Every error code the code base can produce is documented in docs/errors.md: the `FG_...`
 * codes thrown anywhere under harness/ (found in the source), the scenario registry, and the
 * request error codes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCENARIO_ERROR_CODES } from '../../harness/scenario/scenario-error-codes.ts';
import { REQUEST_ERROR_CODES } from '../../harness/client/request-error-codes.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const doc = fs.readFileSync(path.join(root, 'docs/errors.md'), 'utf8');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : /\.(ts|mjs|js)$/.test(e.name) ? [p] : [];
  });
}

function documented(code: string): boolean {
  return doc.includes(`\`${code}\``);
}

test('every FG_ code in the source is documented in docs/errors.md', () => {
  const codes = new Set<string>();
  for (const f of [...sourceFiles(path.join(root, 'harness')), ...sourceFiles(path.join(root, 'bin')), ...sourceFiles(path.join(root, 'reference-stack'))]) {
    for (const m of fs.readFileSync(f, 'utf8').matchAll(/['"`](FG_[A-Z0-9_]+)['"`]/g)) codes.add(m[1]!);
  }
  assert.ok(codes.size >= 15, `found ${codes.size} codes in the source`);
  const missing = [...codes].filter((c) => !documented(c));
  assert.deepEqual(missing, []);
});

test('every scenario and request error code is documented', () => {
  const missing = [...Object.keys(SCENARIO_ERROR_CODES), ...Object.keys(REQUEST_ERROR_CODES)].filter((c) => !documented(c));
  assert.deepEqual(missing, []);
});

test('docs/errors.md documents no code that no longer exists', () => {
  const source = [...sourceFiles(path.join(root, 'harness')), ...sourceFiles(path.join(root, 'reference-stack'))].map((f) => fs.readFileSync(f, 'utf8')).join('\n');
  const stale = [...doc.matchAll(/`(FG_[A-Z0-9_]+)`/g)].map((m) => m[1]!).filter((c) => !source.includes(c));
  assert.deepEqual(stale, []);
});

test('every error code the gateway can answer with is documented', () => {
  const src = ['gateway-server.ts', 'limits.ts'].map((f) => fs.readFileSync(path.join(root, 'reference-stack/gateway', f), 'utf8')).join('\n');
  const codes = new Set<string>();
  for (const m of src.matchAll(/GatewayError\(\s*[^,]+,\s*'([a-z_]+)'/g)) codes.add(m[1]!);
  for (const m of src.matchAll(/code: '([a-z_]+)'/g)) codes.add(m[1]!);
  for (const m of src.matchAll(/'(upstream_[a-z_]+|invalid_request|oom|engine_dead|context_length)'/g)) codes.add(m[1]!);
  assert.ok(codes.size >= 20, `found ${codes.size} gateway codes`);
  const missing = [...codes].filter((c) => !documented(c));
  assert.deepEqual(missing, []);
});
