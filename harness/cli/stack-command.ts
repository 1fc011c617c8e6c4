/**
 * `harness stack worker`: start simulated vLLM workers (an OpenAI-compatible API with vLLM's
 * /tokenize and /metrics, on a simulated GPU) and run until Ctrl-C. `--count N` starts N workers
 * in this process on consecutive ports.
 * `harness stack render`: the deployment files of a stack file (Docker Compose for one GPU box,
 * or Kubernetes manifests), written to a folder (reference-stack/deploy/render/).
 */
import type { Command } from 'commander';
import { UsageError, ExitCode } from '../errors.ts';
import { nearest } from '../util/did-you-mean.ts';
import { parseDuration } from '../util/duration.ts';
import fs from 'node:fs';
import path from 'node:path';
import { loadStack } from '../../reference-stack/stack/load-stack.ts';
import { startStack, stackPath } from '../../reference-stack/stack/start-stack.ts';
import { parse as parseYaml } from 'yaml';
import { GPUS, customGpu } from '../../reference-stack/worker-sim/gpu-catalog.ts';
import { MODELS, getModel, customModel } from '../../reference-stack/worker-sim/model-catalog.ts';
import { startSimWorker, type SimWorker } from '../../reference-stack/worker-sim/start-worker.ts';
import { SimConfigError, type SimEngineOptions } from '../../reference-stack/worker-sim/sim-engine.ts';
import type { FaultConfig } from '../../reference-stack/worker-sim/fault-injection.ts';
import type { GpuSpec, KvCacheDtype, ModelSpec, WeightQuant } from '../../reference-stack/worker-sim/sim-types.ts';
import { renderFormat, renderStack, writeRendered } from '../../reference-stack/deploy/render/render-files.ts';
import { REPO_ROOT } from '../../reference-stack/deploy/render/render-common.ts';

const QUANTS: readonly WeightQuant[] = ['bf16', 'fp16', 'fp8', 'int8', 'awq', 'gptq'];
const KV_DTYPES: readonly KvCacheDtype[] = ['auto', 'fp8'];

export function registerStackCommands(program: Command, setCode: (c: number) => void, reportError: (e: unknown) => number): void {
  const stack = program.command('stack').description('the reference serving stack: gateway and (simulated) vLLM workers');
  stack
    .command('up')
    .description('start the stack of a stack file (default: the shipped default stack): workers and gateway; prints URLs and dev keys; Ctrl-C stops')
    .argument('[stack]', 'stack file (YAML); default reference-stack/stacks/default.yaml')
    .option('--port <n>', "gateway port (default: the stack's; 0 = any free port)")
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--usage-db <path>', "usage ledger file (default: the stack's; :memory: keeps none)")
    .option('--time-scale <x>', 'make every simulated GPU x times faster', '1')
    .option('--access-log', "the gateway's JSON access log on stdout (one line per request; never prompts or completions)")
    .action(async (file: string | undefined, o: Record<string, unknown>) => {
      try {
        setCode(await runStackUp(file, o));
      } catch (e) {
        setCode(reportError(e));
      }
    });
  stack
    .command('render')
    .description('write deployment files of a stack file: a Docker Compose project for one GPU box, or Kubernetes manifests (docs/gpu-box.md)')
    .argument('[stack]', 'stack file (YAML); default reference-stack/stacks/default.yaml')
    .option('--format <format>', 'compose or k8s')
    .option('--out <dir>', 'folder to write: absent, empty, or rendered before (it then holds .floodgate-render)')
    .option('--namespace <ns>', 'k8s: namespace of every object', 'floodgate')
    .option('--vllm-image <image>', 'vLLM image of the workers (default a pinned vllm/vllm-openai tag)')
    .option('--scenario <file>', 'k8s: scenario of the load Job (default scenarios/spike.yaml)')
    .option('--shards <n>', 'k8s: pods of the load Job', '4')
    .action((file: string | undefined, o: Record<string, unknown>) => {
      try {
        setCode(runStackRender(file, o));
      } catch (e) {
        setCode(reportError(e));
      }
    });
  stack
    .command('worker')
    .description('start simulated vLLM worker(s): OpenAI API, /tokenize, /metrics (vLLM and DCGM names), on a simulated GPU')
    .option('--gpu <id>', `simulated GPU: ${Object.keys(GPUS).join(', ')}`, 'h100-sxm')
    .option('--gpu-spec <file>', 'a GPU of your own: YAML or JSON with the fields of docs/simulator.md (overrides --gpu)')
    .option('--model <id>', `model: ${Object.keys(MODELS).join(', ')} (or a Hugging Face name of one)`, 'llama-3.1-8b')
    .option('--model-spec <file>', 'a model of your own: YAML or JSON with its config.json shape (overrides --model)')
    .option('--served-model-name <name>', 'model name served (default the Hugging Face name)')
    .option('--quantization <q>', `weights: ${QUANTS.join(', ')}`, 'bf16')
    .option('--kv-cache-dtype <d>', `KV cache: ${KV_DTYPES.join(', ')}`, 'auto')
    .option('--tensor-parallel-size <n>', 'GPUs per worker', '1')
    .option('--max-num-seqs <n>', "running sequences at most (default: vLLM's for the GPU, 1024 on H100-class, else 256)")
    .option('--max-num-batched-tokens <n>', "tokens per engine step at most (default: vLLM's for the GPU, 8192 on H100-class, else 2048)")
    .option('--no-enable-chunked-prefill', 'prefill prompts whole')
    .option('--no-enable-prefix-caching', 'no prefix cache')
    .option('--gpu-memory-utilization <f>', 'share of GPU memory vLLM may use', '0.9')
    .option('--max-model-len <n>', 'context length (default: the model\'s, capped to the KV cache)')
    .option('--scheduling-policy <p>', 'fcfs or priority', 'fcfs')
    .option('--time-scale <x>', 'make the simulated GPU x times faster (1 = real time)', '1')
    .option('--seed <n>', 'seed of generated text and faults', '0')
    .option('--port <n>', 'port (0 = any free port)', '8000')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--count <n>', 'workers in this process, on consecutive ports', '1')
    .option('--oom-above <tokens>', 'fault: CUDA out of memory for prompts longer than this')
    .option('--oom-rate <f>', 'fault: CUDA out of memory for this share of requests')
    .option('--die-after <duration>', 'fault: the engine dies after this long (e.g. 60s)')
    .option('--restart-after <duration>', 'fault: a dead engine restarts after this long')
    .option('--slowdown <factor>', 'fault: every step takes this many times longer (thermal throttling)')
    .option('--error-rate <status:rate>', 'fault: answer with this status at this rate, e.g. 503:0.05')
    .action(async (o: Record<string, unknown>) => {
      try {
        setCode(await runWorkers(o));
      } catch (e) {
        setCode(reportError(e));
      }
    });
}

/** A custom GPU or model from a YAML/JSON file, validated by the catalogue's own checks. */
function readSpec<T>(file: string, check: (p: Record<string, unknown>) => { ok: true; gpu?: T; model?: T } | { ok: false; problems: string[] }, what: string): T {
  let doc: unknown;
  try {
    doc = parseYaml(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError('FG_SIM_BAD_SPEC', `cannot read the ${what} spec ${file}: ${(e as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new UsageError('FG_SIM_BAD_SPEC', `${file}: a ${what} spec is a map of fields`);
  const r = check(doc as Record<string, unknown>);
  if (!r.ok) throw new UsageError('FG_SIM_BAD_SPEC', `${file}: ${r.problems.join('; ')}`);
  return (r.gpu ?? r.model)!;
}

function int(flag: string, v: unknown, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError('FG_USAGE_BAD_NUMBER', `--${flag} takes a whole number >= ${min}, got "${String(v)}"`);
  return n;
}

function num(flag: string, v: unknown, min: number, max = Infinity): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError('FG_USAGE_BAD_NUMBER', `--${flag} takes a number in [${min}, ${max}], got "${String(v)}"`);
  return n;
}

function oneOf<T extends string>(flag: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
  const hint = typeof v === 'string' ? nearest(v, allowed) : undefined;
  throw new UsageError('FG_SIM_BAD_OPTION', `--${flag} "${String(v)}" is not one of ${allowed.join(', ')}${hint ? ` (did you mean "${hint}"?)` : ''}`);
}

function seconds(flag: string, v: unknown): number {
  const ms = parseDuration(v);
  if (ms === undefined) throw new UsageError('FG_USAGE_BAD_DURATION', `--${flag} takes a duration like 30s or 2m, got "${String(v)}"`);
  return ms / 1000;
}

/** The engine options a `stack worker` command line describes (validated; nothing started). */
export function workerOptionsFrom(o: Record<string, unknown>): SimEngineOptions {
  const gpu: string | GpuSpec = typeof o.gpuSpec === 'string' ? readSpec(o.gpuSpec, customGpu, 'GPU') : String(o.gpu);
  const model: string | ModelSpec = typeof o.modelSpec === 'string' ? readSpec(o.modelSpec, customModel, 'model') : String(o.model);
  if (typeof gpu === 'string' && !GPUS[gpu]) {
    const hint = nearest(gpu, Object.keys(GPUS));
    throw new UsageError('FG_SIM_UNKNOWN_GPU', `unknown GPU "${gpu}"${hint ? ` (did you mean "${hint}"?)` : ''}; one of ${Object.keys(GPUS).join(', ')}`);
  }
  if (typeof model === 'string' && !getModel(model)) {
    const hint = nearest(model, Object.keys(MODELS));
    throw new UsageError('FG_SIM_UNKNOWN_MODEL', `unknown model "${model}"${hint ? ` (did you mean "${hint}"?)` : ''}; one of ${Object.keys(MODELS).join(', ')}`);
  }
  const faults: FaultConfig = {};
  if (o.oomAbove !== undefined || o.oomRate !== undefined) {
    faults.oom = {
      ...(o.oomAbove !== undefined ? { abovePromptTokens: int('oom-above', o.oomAbove, 1) } : {}),
      ...(o.oomRate !== undefined ? { rate: num('oom-rate', o.oomRate, 0, 1) } : {}),
    };
  }
  if (o.dieAfter !== undefined) {
    faults.death = { afterS: seconds('die-after', o.dieAfter), ...(o.restartAfter !== undefined ? { restartAfterS: seconds('restart-after', o.restartAfter) } : {}) };
  } else if (o.restartAfter !== undefined) {
    throw new UsageError('FG_SIM_BAD_OPTION', '--restart-after needs --die-after');
  }
  if (o.slowdown !== undefined) faults.slowdown = { factor: num('slowdown', o.slowdown, 1) };
  if (o.errorRate !== undefined) {
    const m = /^(\d{3}):([0-9.]+)$/.exec(String(o.errorRate));
    if (!m) throw new UsageError('FG_SIM_BAD_OPTION', `--error-rate takes STATUS:RATE, e.g. 503:0.05, got "${String(o.errorRate)}"`);
    faults.errors = { status: int('error-rate status', m[1], 400), rate: num('error-rate rate', m[2], 0, 1) };
  }
  return {
    gpu,
    model,
    ...(typeof o.servedModelName === 'string' ? { servedModelName: o.servedModelName } : {}),
    quantization: oneOf('quantization', o.quantization, QUANTS),
    kvCacheDtype: oneOf('kv-cache-dtype', o.kvCacheDtype, KV_DTYPES),
    tensorParallelSize: int('tensor-parallel-size', o.tensorParallelSize, 1),
    ...(o.maxNumSeqs !== undefined ? { maxNumSeqs: int('max-num-seqs', o.maxNumSeqs, 1) } : {}),
    ...(o.maxNumBatchedTokens !== undefined ? { maxNumBatchedTokens: int('max-num-batched-tokens', o.maxNumBatchedTokens, 1) } : {}),
    enableChunkedPrefill: o.enableChunkedPrefill !== false,
    enablePrefixCaching: o.enablePrefixCaching !== false,
    gpuMemoryUtilization: num('gpu-memory-utilization', o.gpuMemoryUtilization, 0.05, 1),
    ...(o.maxModelLen !== undefined ? { maxModelLen: int('max-model-len', o.maxModelLen, 1) } : {}),
    schedulingPolicy: oneOf('scheduling-policy', o.schedulingPolicy, ['fcfs', 'priority'] as const),
    timeScale: num('time-scale', o.timeScale, 0.001),
    seed: int('seed', o.seed, 0),
    faults,
  };
}

async function runStackUp(file: string | undefined, o: Record<string, unknown>): Promise<number> {
  const stackFile = stackPath(file);
  const config = loadStack(stackFile);
  let running;
  try {
    running = await startStack(config, {
      ...(o.port !== undefined ? { port: int('port', o.port, 0) } : {}),
      host: String(o.host),
      ...(typeof o.usageDb === 'string' ? { usageDbPath: o.usageDb } : {}),
      timeScale: num('time-scale', o.timeScale, 0.001),
      ...(o.accessLog ? { log: process.stdout } : {}),
    });
  } catch (e) {
    if (e instanceof SimConfigError) throw new UsageError('FG_SIM_CONFIG', e.message);
    throw e;
  }
  process.stdout.write(`floodgate stack "${config.name}" (${path.relative(process.cwd(), stackFile) || stackFile}): gateway ${running.url}\n`);
  for (const w of running.workers) process.stdout.write(`  worker ${w.name}  ${w.url}\n`);
  for (const k of running.devKeys) process.stdout.write(`  dev key for tenant ${k.tenant}: ${k.key}\n`);
  process.stdout.write('Ctrl-C to stop\n');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await running.close();
  return ExitCode.OK;
}

function runStackRender(file: string | undefined, o: Record<string, unknown>): number {
  const format = renderFormat(o.format);
  if (typeof o.out !== 'string' || o.out === '') throw new UsageError('FG_RENDER_BAD_OPTION', '--out is required: the folder to write the files to (absent, empty, or rendered before)');
  const stackFile = stackPath(file);
  const config = loadStack(stackFile);
  let scenario: { file: string; text: string } | undefined;
  if (typeof o.scenario === 'string') {
    try {
      scenario = { file: path.basename(o.scenario), text: fs.readFileSync(o.scenario, 'utf8') };
    } catch (e) {
      throw new UsageError('FG_RENDER_BAD_OPTION', `--scenario ${o.scenario} cannot be read: ${(e as Error).message}; allowed: a scenario file (YAML)`);
    }
  }
  const shards = Number(o.shards);
  const label = path.relative(process.cwd(), stackFile) || stackFile;
  const outDir = path.resolve(String(o.out));
  const command = [
    'harness stack render', label, `--format ${format}`,
    ...(format === 'k8s' ? [`--namespace ${String(o.namespace)}`] : []),
    ...(typeof o.vllmImage === 'string' ? [`--vllm-image ${o.vllmImage}`] : []),
    ...(format === 'k8s' && scenario ? [`--scenario ${String(o.scenario)}`] : []),
    ...(format === 'k8s' && shards !== 4 ? [`--shards ${String(o.shards)}`] : []),
  ].join(' ');
  let files;
  try {
    files = renderStack(config, format, {
      stackLabel: label,
      command,
      namespace: String(o.namespace),
      ...(typeof o.vllmImage === 'string' ? { vllmImage: o.vllmImage } : {}),
      buildContext: path.relative(outDir, REPO_ROOT).split(path.sep).join('/') || '.',
      ...(scenario ? { scenario } : {}),
      shards,
    });
  } catch (e) {
    if (e instanceof SimConfigError) throw new UsageError('FG_SIM_CONFIG', e.message);
    throw e;
  }
  const written = writeRendered(outDir, files);
  for (const rel of written) process.stdout.write(`${path.join(String(o.out), rel)}\n`);
  process.stdout.write(`${written.length} files written (${format}) for stack "${config.name}"\n`);
  return ExitCode.OK;
}

async function runWorkers(o: Record<string, unknown>): Promise<number> {
  const options = workerOptionsFrom(o);
  const count = int('count', o.count, 1);
  const port = int('port', o.port, 0);
  const workers: SimWorker[] = [];
  try {
    for (let i = 0; i < count; i++) {
      workers.push(await startSimWorker({ ...options, seed: (options.seed ?? 0) + i, port: port === 0 ? 0 : port + i, host: String(o.host) }));
    }
  } catch (e) {
    await Promise.all(workers.map((w) => w.close()));
    if (e instanceof SimConfigError) throw new UsageError('FG_SIM_CONFIG', e.message);
    throw e;
  }
  const c = workers[0]!.engine.config;
  process.stdout.write(
    `simulated vLLM: ${c.servedModelName} (${c.model.id}, ${c.quantization}, KV ${c.kvCacheDtype}) on ${c.tensorParallelSize} x ${c.gpu.name}, ` +
      `max_num_seqs ${c.maxNumSeqs}, max_num_batched_tokens ${c.maxNumBatchedTokens}, KV cache ${c.kv.numBlocks} blocks (${c.kv.maxTokens} tokens), ` +
      `max_model_len ${c.maxModelLen}, time_scale ${c.timeScale}\n`,
  );
  for (const w of workers) process.stdout.write(`  ${w.url}   (metrics: ${w.url.replace(/\/v1$/, '')}/metrics)\n`);
  process.stdout.write('Ctrl-C to stop\n');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await Promise.all(workers.map((w) => w.close()));
  return ExitCode.OK;
}
