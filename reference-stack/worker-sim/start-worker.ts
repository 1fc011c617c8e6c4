/**
 * startSimWorker: one simulated vLLM worker (engine + HTTP server) in this process. Call it
 * several times for several workers; each has its own engine, registry and port.
 */
import { createSimEngine, type SimEngine, type SimEngineOptions } from './sim-engine.ts';
import { startWorkerServer } from './worker-server.ts';

export interface SimWorker {
  engine: SimEngine;
  /** Base URL of the OpenAI API, including /v1. */
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startSimWorker(options: SimEngineOptions & { port?: number; host?: string }): Promise<SimWorker> {
  const { port, host, ...engineOptions } = options;
  const engine = createSimEngine(engineOptions);
  const server = await startWorkerServer({ engine, port: port ?? 0, host: host ?? '127.0.0.1' });
  return {
    engine,
    url: `${server.url}/v1`,
    port: server.port,
    async close() {
      engine.close();
      await server.close();
    },
  };
}
