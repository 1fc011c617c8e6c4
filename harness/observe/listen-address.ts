/**
 * `observe.metrics_listen` and `harness run --metrics-listen`: where the harness serves its own
 * /metrics during a run. `host:port` (`127.0.0.1:9464`, `[::1]:9464`, `0.0.0.0:9464`; port 0 =
 * any free port), a bare port (on 127.0.0.1), or `off` / `false` to serve nothing.
 */

export interface ListenAddress {
  host: string;
  port: number;
}

/** The default for `harness run`. */
export const DEFAULT_METRICS_LISTEN: ListenAddress = { host: '127.0.0.1', port: 9464 };

export const LISTEN_ALLOWED = 'host:port (e.g. 127.0.0.1:9464, [::1]:9464; port 0 picks a free one), a port number, or off / false';

/** The address, `false` for off, or an error message. */
export function parseListen(v: string | number | boolean): ListenAddress | false | string {
  if (v === false) return false;
  if (v === true) return { ...DEFAULT_METRICS_LISTEN };
  if (typeof v === 'number') return portOk(v) ? { host: '127.0.0.1', port: v } : `${v} is not a port (0 to 65535)`;
  const s = v.trim();
  if (s === 'off' || s === 'false') return false;
  if (/^\d+$/.test(s)) return parseListen(Number(s));
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]+)):(\d+)$/.exec(s);
  if (!m) return `${JSON.stringify(s)} is not host:port`;
  const port = Number(m[3]);
  if (!portOk(port)) return `${JSON.stringify(s)}: port ${m[3]} is not in 0 to 65535`;
  return { host: m[1] ?? m[2]!, port };
}

function portOk(p: number): boolean {
  return Number.isInteger(p) && p >= 0 && p <= 65535;
}

export function formatListen(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
