/** `harness validate FILE...`: load each scenario or sweep file, print every problem, send nothing. */
import { loadScenario } from '../scenario/load-scenario.ts';
import { isSweepFile, loadSweep } from '../sweep/sweep-file.ts';
import { ConfigError, ExitCode, formatIssues } from '../errors.ts';

export function validateCommand(files: string[]): number {
  let bad = 0;
  for (const f of files) {
    try {
      if (isSweepFile(f)) {
        const w = loadSweep(f);
        const load = w.load.kind === 'rates' ? `${w.load.rates.length} rate(s)` : 'a saturation search';
        process.stdout.write(`${f}: ok (sweep "${w.name}", ${w.cells.length} cell${w.cells.length === 1 ? '' : 's'} x ${load}, scenario ${w.scenario.name})\n`);
        continue;
      }
      const s = loadScenario(f);
      const stages = s.load.stages.length;
      const stack = s.stack ? `, stack "${s.stack.name}" (${s.stack.file})${s.stack.tenant !== undefined ? ` as tenant ${s.stack.tenant}` : ''}` : '';
      process.stdout.write(`${f}: ok (scenario "${s.name}", ${stages} stage${stages === 1 ? '' : 's'}${stack})\n`);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      bad++;
      process.stderr.write(`${formatIssues(e.issues)}\n`);
    }
  }
  return bad ? ExitCode.INVALID : ExitCode.OK;
}
