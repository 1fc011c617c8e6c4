/**
 * Type-checks exported k6 scripts (JavaScript with // @ts-check) with the TypeScript compiler API
 * against @types/k6 and harness/export/k6-sse.d.ts: allowJs, checkJs, strict, noEmit.
 */
import ts from 'typescript';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const K6_TYPES = join(ROOT, 'node_modules/@types/k6');
const SSE_TYPES = join(ROOT, 'harness/export/k6-sse.d.ts');

/** Diagnostics (as `file:line: message` lines) of each script; an empty list means it type-checks. */
export function typeCheckK6Scripts(scripts: Record<string, string>): Record<string, string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'fg-k6-'));
  try {
    const files = Object.entries(scripts).map(([name, text]) => {
      const f = join(dir, `${name.replace(/[^A-Za-z0-9_-]/g, '_')}.js`);
      writeFileSync(f, text);
      return [name, f] as const;
    });
    const program = ts.createProgram([...files.map(([, f]) => f), SSE_TYPES], {
      allowJs: true,
      checkJs: true,
      noEmit: true,
      strict: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ['lib.es2022.d.ts'],
      types: [],
      baseUrl: dir,
      paths: { k6: [join(K6_TYPES, 'index.d.ts')], 'k6/*': [join(K6_TYPES, '*')] },
      skipLibCheck: true,
    });
    const out: Record<string, string[]> = {};
    const all = ts.getPreEmitDiagnostics(program);
    for (const [name, f] of files) {
      out[name] = all
        .filter((d) => d.file?.fileName === f || d.file === undefined)
        .map((d) => {
          const msg = ts.flattenDiagnosticMessageText(d.messageText, '\n');
          if (!d.file || d.start === undefined) return msg;
          const { line } = d.file.getLineAndCharacterOfPosition(d.start);
          return `${name}:${line + 1}: ${msg}`;
        });
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
