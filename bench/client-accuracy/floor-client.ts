/**
 * The floor: the least a Node client can do to measure the same streams. node:http, one request
 * per stream on the same open-loop schedule, and a timestamp in each 'data' callback; no
 * parsing, no records, no aggregation. What it measures is the machine (loopback delivery,
 * scheduling, timers), so the harness's own error is the difference between the two.
 */
import http from 'node:http';

export interface FloorResult {
  /** Per stream: request id (x-request-id) and the arrival time (ns) of each body read. */
  streams: Array<{ id: string; times: bigint[] }>;
  /** Schedule lag of each send (ms). */
  lagMs: number[];
}

export async function runFloor(baseUrl: string, rate: number, seconds: number): Promise<FloorResult> {
  const u = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const streams: FloorResult['streams'] = [];
  const lagMs: number[] = [];
  const total = Math.floor(rate * seconds);
  const t0 = process.hrtime.bigint() + 50_000_000n;
  await new Promise<void>((done) => {
    let finished = 0;
    const send = (i: number) => {
      const intended = t0 + BigInt(Math.round((i / rate) * 1e9));
      lagMs.push(Number(process.hrtime.bigint() - intended) / 1e6);
      const times: bigint[] = [];
      const req = http.request({ host: u.hostname, port: u.port, path: '/v1/chat/completions', method: 'POST', agent }, (res) => {
        const id = String(res.headers['x-request-id']);
        res.on('data', () => times.push(process.hrtime.bigint()));
        res.on('end', () => {
          streams.push({ id, times });
          if (++finished === total) done();
        });
      });
      req.end('{"model":"bench"}');
    };
    // Absolute deadlines, like the harness: each timer is set from t0, not from the last send.
    for (let i = 0; i < total; i++) {
      const due = t0 + BigInt(Math.round((i / rate) * 1e9));
      setTimeout(() => send(i), Math.max(0, Number(due - process.hrtime.bigint()) / 1e6));
    }
  });
  agent.destroy();
  return { streams, lagMs };
}
