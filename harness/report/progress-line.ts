/**
 * The live progress line: rewritten in place on a terminal, printed as plain periodic lines
 * otherwise (CI logs).
 */
import type { ProgressSnapshot } from '../engine/engine.ts';
import { fmtMs, fmtNum } from './console-summary.ts';

export function formatProgress(p: ProgressSnapshot): string {
  const el = Math.min(p.elapsedMs, p.totalMs) / 1000;
  const tot = p.totalMs / 1000;
  const rate = p.targetRps === null ? `closed loop` : `target ${fmtNum(p.targetRps, 1)} rps`;
  return (
    `${p.draining ? 'draining' : `${fmtNum(el, 0)}s/${fmtNum(tot, 0)}s`}  stage ${p.stage}  ${rate}  sent ${fmtNum(p.achievedRps, 1)} rps  ` +
    `in-flight ${p.inFlight}  ok ${p.ok}  failed ${p.failed}${p.dropped ? `  dropped ${p.dropped}` : ''}  ` +
    `TTFT p50 ${fmtMs(p.ttftP50Ms)}ms p95 ${fmtMs(p.ttftP95Ms)}ms  lag p99 ${fmtMs(p.sendLagP99Ms)}ms`
  );
}

export interface ProgressPrinter {
  update(p: ProgressSnapshot): void;
  done(): void;
}

/** On a TTY: one line rewritten every update. Otherwise: a plain line every `plainEveryMs`. */
export function createProgressPrinter(stream: NodeJS.WriteStream, plainEveryMs = 10_000): ProgressPrinter {
  if (stream.isTTY) {
    return {
      update(p) {
        const line = formatProgress(p);
        const width = stream.columns ?? 120;
        stream.write(`\r\x1b[2K${line.length > width - 1 ? line.slice(0, width - 1) : line}`);
      },
      done() {
        stream.write('\r\x1b[2K');
      },
    };
  }
  let last = -Infinity;
  return {
    update(p) {
      if (p.elapsedMs - last >= plainEveryMs) {
        last = p.elapsedMs;
        stream.write(`${formatProgress(p)}\n`);
      }
    },
    done() {},
  };
}
