/**
 * The server side of the IPC protocol, so that each file in servers/ is only the echo server
 * itself: call `serve()` with a function that starts listening and returns the port.
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { constants as perfConstants, PerformanceObserver, performance } from 'node:perf_hooks';
import type { ServerOptions, ServerReady, ServerStats, ToServer } from './protocol.js';

export type { ServerOptions };

export interface Listening {
  port: number;
  info?: string;
}

/** Peak RSS from the kernel's high-water mark, which sees spikes a sampler would miss. */
function kernelPeakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'latin1'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // Not Linux: fall back to sampling.
  }
  return 0;
}

let sampledPeak = 0;
/** Full (mark-compact) collections so far, as Node reports them. */
let majorGcs = 0;

function stats(gc: boolean): ServerStats {
  if (gc && typeof globalThis.gc === 'function') {
    // Twice: the first pass can leave finalisation work that the second one collects.
    globalThis.gc();
    globalThis.gc();
  }
  const mem = process.memoryUsage();
  sampledPeak = Math.max(sampledPeak, mem.rss);
  const cpu = process.cpuUsage();
  return {
    type: 'stats',
    rss: mem.rss,
    heapUsed: mem.heapUsed,
    peakRss: Math.max(kernelPeakRss(), sampledPeak),
    cpuMicros: cpu.user + cpu.system,
    majorGcs,
    at: performance.now(),
    monotonicMicros: Number(process.hrtime.bigint() / 1000n),
  };
}

/** Listens on an ephemeral loopback port and resolves with it (an HTTP server or a plain TCP one). */
export function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : 0);
    });
  });
}

/** Live for the process's life: what `--app-heap` gives a server before it starts. */
const appHeap: object[][] = [];

/**
 * Allocates `mb` MB of small live objects (measured by heapUsed after a full collection), standing in
 * for an application's own heap: a bench server holds little besides the library under test, and
 * V8 collects a 7 MB heap differently from a 12 MB one (see the README's medium-message figures).
 */
function holdAppHeap(mb: number): void {
  const gc = globalThis.gc;
  gc?.();
  const base = process.memoryUsage().heapUsed;
  const target = base + mb * 1024 * 1024;
  for (let i = 0; process.memoryUsage().heapUsed < target; i++) {
    appHeap.push(Array.from({ length: 4096 }, (_, j) => ({ id: i * 4096 + j, name: `item ${j}`, next: null })));
    if ((i & 15) === 15) gc?.();
  }
  gc?.();
}

export function serve(start: (options: ServerOptions) => Promise<number | Listening>): void {
  if (!process.send) throw new Error('run echo servers through the bench orchestrator (they report over IPC)');
  const appHeapMb = Number(process.env.BENCH_APP_HEAP ?? 0);
  if (appHeapMb > 0) holdAppHeap(appHeapMb);
  new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      if ((e as { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) majorGcs++;
  }).observe({ entryTypes: ['gc'] });
  const options: ServerOptions = { deflate: process.env.BENCH_DEFLATE === '1' };
  // A server that dies must take its process with it, loudly, rather than leave the generator
  // waiting for echoes that will never come.
  process.on('uncaughtException', (err) => {
    console.error(`[server ${process.env.BENCH_SERVER}] uncaught:`, err);
    process.exit(70);
  });
  process.on('message', (msg: ToServer) => {
    if (msg.type === 'stats') process.send!(stats(msg.gc === true));
    else if (msg.type === 'exit') process.exit(0);
  });
  // Parent gone (orchestrator killed): do not linger holding the port and a core.
  process.on('disconnect', () => process.exit(0));
  const sampler = setInterval(() => {
    sampledPeak = Math.max(sampledPeak, process.memoryUsage.rss());
  }, 100);
  sampler.unref();

  start(options).then(
    (r) => {
      const ready: ServerReady = typeof r === 'number' ? { type: 'ready', port: r } : { type: 'ready', ...r };
      process.send!(ready);
    },
    (err) => {
      console.error(`[server ${process.env.BENCH_SERVER}] failed to start:`, err);
      process.exit(71);
    },
  );
}
