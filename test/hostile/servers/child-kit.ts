/**
 * What the hostile-load server children share: their configuration (from the harness, in an
 * environment variable), the tally of how their WebSockets ended, and the IPC that reports the
 * port, the counters and `process.memoryUsage()` to the harness. Nothing here knows wsup or ws, so
 * each child loads only its own library.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Limits both servers are given, so that they are compared under the same ones. */
export interface ServerConfig {
  /** Seconds for a complete request head: wsup's `handshakeTimeout`, ws's server `headersTimeout`. */
  handshakeTimeout: number;
  /** How often Node checks that limit (a `createServer` option, 30 s by default). */
  connectionsCheckingInterval: number;
}

export const CONFIG_ENV = 'WSUP_HOSTILE_SERVER_CONFIG';

/** Harness → child. */
/** `gc` also restarts the event-loop delay measurement: it is sent just before a probe's baseline. */
export type ToServer = { type: 'stats' } | { type: 'gc' };

/** Child → harness. */
export type FromServer = { type: 'ready'; port: number; info: string } | ServerStats | { type: 'gc-done' };

export interface ServerStats {
  type: 'stats';
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** WebSockets open now. */
  live: number;
  /** TCP connections the HTTP server holds now (upgraded ones included). */
  sockets: number;
  /** WebSockets opened since the start. */
  opened: number;
  /** How WebSockets ended, by close code (as the server reports it). */
  closes: Record<string, number>;
  /** Errors the server reported on WebSockets, by error code. */
  errors: Record<string, number>;
  /** The longest the event loop was blocked since the last `gc` message, in ms (10 ms resolution). */
  loopDelayMaxMs: number;
}

export function readConfig(): ServerConfig {
  const raw = process.env[CONFIG_ENV];
  if (!raw) throw new Error(`${CONFIG_ENV} is not set: this file is started by test/hostile/harness.ts`);
  return JSON.parse(raw) as ServerConfig;
}

/** Counts openings, close codes and errors for the harness. */
export class Tally {
  opened = 0;
  readonly closes: Record<string, number> = {};
  readonly errors: Record<string, number> = {};

  open(): void {
    this.opened++;
  }

  closed(code: number | undefined, error?: string): void {
    const key = String(code ?? 'none');
    this.closes[key] = (this.closes[key] ?? 0) + 1;
    if (error) this.error(error);
  }

  error(code: string): void {
    this.errors[code] = (this.errors[code] ?? 0) + 1;
  }
}

/**
 * Listens on 127.0.0.1 and an ephemeral port, answers the harness over IPC, and exits when the
 * harness goes away (so no child outlives a killed test run).
 */
export function serve(server: Server, tally: Tally, live: () => number, info: string): void {
  const send = (msg: FromServer): void => {
    if (process.connected) process.send?.(msg);
  };
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  process.on('disconnect', () => process.exit(0));
  process.on('message', (msg: ToServer) => {
    if (msg.type === 'gc') {
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      gc?.();
      loop.reset();
      send({ type: 'gc-done' });
    } else if (msg.type === 'stats') {
      server.getConnections((_err, sockets) => {
        const mem = process.memoryUsage();
        send({
          type: 'stats',
          rss: mem.rss,
          heapUsed: mem.heapUsed,
          external: mem.external,
          arrayBuffers: mem.arrayBuffers,
          live: live(),
          sockets: sockets ?? -1,
          opened: tally.opened,
          closes: { ...tally.closes },
          errors: { ...tally.errors },
          loopDelayMaxMs: Math.round(loop.max / 1e6),
        });
      });
    }
  });
  server.listen(0, '127.0.0.1', () => {
    send({ type: 'ready', port: (server.address() as AddressInfo).port, info });
  });
}
