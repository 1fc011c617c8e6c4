/** `harness validate FILE...`: load each scenario, print every problem, send nothing. */
import { loadScenario } from '../scenario/load-scenario.ts';
import { ConfigError, ExitCode, formatIssues } from '../errors.ts';

export function validateCommand(files: string[]): number {
  let bad = 0;
  for (const f of files) {
    try {
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
