/**
 * `harness export k6 <scenario> [--out FILE]`: write the scenario as a k6 script (xk6-sse) to
 * FILE, or to stdout; what the script cannot express goes to stderr. With --out, the ambient
 * types of k6/x/sse (k6-sse.d.ts) are written beside it. Exit 0; 2 for a bad scenario or one
 * that cannot be exported (FG_EXPORT_UNSUPPORTED); 3 when FILE cannot be written (FG_EXPORT_WRITE).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { loadScenario } from '../scenario/load-scenario.ts';
import { exportK6 } from '../export/k6-script.ts';
import { ExitCode, RunError } from '../errors.ts';
import { reportError } from './main.ts';

export function exportK6Command(file: string, o: { out?: string; target?: string; set?: string[] }): number {
  try {
    const overrides: Record<string, unknown> = {};
    if (typeof o.target === 'string') overrides['target.url'] = o.target;
    for (const kv of o.set ?? []) {
      const i = kv.indexOf('=');
      if (i <= 0) {
        process.stderr.write(`error FG_USAGE_BAD_SET: --set takes path=value, got "${kv}"\n`);
        return ExitCode.INVALID;
      }
      overrides[kv.slice(0, i)] = kv.slice(i + 1);
    }
    const scenario = loadScenario(file, { overrides });
    const { script, unsupported } = exportK6(scenario);
    if (o.out) {
      try {
        mkdirSync(dirname(o.out), { recursive: true });
        writeFileSync(o.out, script);
        writeFileSync(join(dirname(o.out), 'k6-sse.d.ts'), readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../export/k6-sse.d.ts'), 'utf8'));
      } catch (e) {
        throw new RunError('FG_EXPORT_WRITE', `cannot write ${o.out}: ${e instanceof Error ? e.message : String(e)}`);
      }
      process.stderr.write(`wrote ${o.out} (k6 script for scenario "${scenario.name}") and k6-sse.d.ts beside it\n`);
    } else process.stdout.write(script);
    if (unsupported.length) process.stderr.write(`not expressed in k6 (approximated or left out):\n${unsupported.map((u) => `  - ${u}\n`).join('')}`);
    return ExitCode.OK;
  } catch (e) {
    return reportError(e);
  }
}

export function registerExportCommand(program: Command, setCode: (c: number) => void): void {
  const exp = program.command('export').description('export a scenario to another load tool');
  exp
    .command('k6')
    .description('write the scenario as a k6 script (needs k6 built with xk6-sse); what k6 cannot express is listed on stderr')
    .argument('<scenario>', 'scenario file (YAML)')
    .option('-o, --out <file>', 'write the script here (and k6-sse.d.ts beside it) instead of stdout')
    .option('-t, --target <url>', 'base URL to write into the script (overrides target.url; FLOODGATE_TARGET_URL still wins at run time)')
    .option('--set <path=value...>', 'override any scenario field, e.g. --set load.stages[0].rate=10', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .action((file: string, o: { out?: string; target?: string; set?: string[] }) => {
      setCode(exportK6Command(file, o));
    });
}
