/**
 * The hostile-load harness: runs one probe against one server (wsup or ws) and measures it.
 *
 * For every run: a fresh server child process (so its RSS is the server's alone: the attacker,
 * the legitimate client and the test runner live in other processes), the legitimate client
 * connected and warmed up, a forced GC and a baseline RSS, then the attack while the server's
 * RSS is sampled from /proc/<pid>/status every 20 ms (and its kernel-kept peak, VmHWM, reset
 * at the baseline, so a peak between two samples is not missed), then the legitimate client's
 * report, the server's own counters, and everything torn down.
 *
 * A probe is one small module (see probes/): an id, a title, its sizes for the two scales, the
 * attack (`run`, which returns what happened in a line and as facts) and what wsup must do
 * (`expectWsup`, used by the CI test and flagged in the soak table).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FromLegit, LegitStats, ToLegit } from './legit-client.js';
import { CONFIG_ENV, type FromServer, type ServerConfig, type ServerStats, type ToServer } from './servers/child-kit.js';
import { mib } from './wire.js';

export type Impl = 'wsup' | 'ws';
export type Scale = 'ci' | 'soak';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SERVER_FILES: Record<Impl, string> = {
  wsup: fileURLToPath(new URL('./servers/wsup-server.ts', import.meta.url)),
  ws: fileURLToPath(new URL('./servers/ws-server.ts', import.meta.url)),
};
const LEGIT_FILE = fileURLToPath(new URL('./legit-client.ts', import.meta.url));
/** How every child starts: TypeScript through tsx, wsup from the workspace sources. */
const NODE_ARGS = ['--conditions=@wsup/source', '--import', 'tsx'];

export interface ScaleSettings {
  server: ServerConfig;
  /** How long a probe keeps its attack in place (sockets open, stalled) once it is set up. */
  holdMs: number;
  /** The legitimate client counts as served if no round trip took longer than this… */
  legitMaxLatencyMs: number;
  /** …and the median round trip no longer than this. */
  legitMedianLatencyMs: number;
}

export const SCALES: Record<Scale, ScaleSettings> = {
  // Short: a slowloris is cut after 1 s, checked every 250 ms.
  ci: {
    server: { handshakeTimeout: 1, connectionsCheckingInterval: 250 },
    holdMs: 250,
    legitMaxLatencyMs: 2000,
    legitMedianLatencyMs: 200,
  },
  // wsup's default handshakeTimeout (10 s), given to ws too; Node's check every second.
  soak: {
    server: { handshakeTimeout: 10, connectionsCheckingInterval: 1000 },
    holdMs: 2000,
    legitMaxLatencyMs: 2000,
    legitMedianLatencyMs: 200,
  },
};

/** What a probe reports: one line for the table, and facts for the checks. */
export interface ProbeOutcome {
  summary: string;
  facts: Record<string, unknown>;
}

export interface ProbeContext {
  impl: Impl;
  scale: Scale;
  settings: ScaleSettings;
  port: number;
  /** The attack should be over by then (ms since the epoch); the harness stops waiting at deadline + 10 s. */
  deadline: number;
  /** Registers an attacker socket, destroyed when the run ends. */
  track(socket: Socket): void;
  /** Keeps the attack in place for the scale's hold time while the server's RSS is sampled. */
  hold(): Promise<void>;
  /** The server's counters since the attack began: WebSockets opened, how they ended, and how many are open now. */
  serverDelta(): Promise<ServerDelta>;
  /** The server's RSS now minus its baseline, from /proc. */
  rssGrowth(): number;
  /** Waits until the server has at most `live` WebSockets open, up to `ms`; returns the count. */
  waitForLive(live: number, ms: number): Promise<number>;
  /** Whether the server process is still running. */
  serverAlive(): boolean;
}

export interface Probe {
  id: string;
  title: string;
  /** Upper bound on the attack's duration, per scale, in ms. */
  budgetMs: Record<Scale, number>;
  /** wsup's peak RSS growth must stay below this, per scale, in bytes. */
  rssBound: Record<Scale, number>;
  run(ctx: ProbeContext): Promise<ProbeOutcome>;
  /** What wsup must have done, beyond the RSS bound and the legit client: the broken expectations. */
  expectWsup(outcome: ProbeOutcome, scale: Scale): string[];
  /**
   * Set when wsup is known to fail this probe: names the hole. The CI test then runs the probe as
   * `it.fails`, so the suite stays green and the hole stays visible until it is fixed.
   */
  knownHole?: string;
}

export interface ServerDelta {
  opened: number;
  closes: Record<string, number>;
  errors: Record<string, number>;
  live: number;
  /** The server's longest event-loop block since the baseline, in ms. */
  loopDelayMaxMs: number;
}

export interface LegitReport extends Omit<LegitStats, 'type'> {
  served: boolean;
}

export interface ProbeResult {
  probe: string;
  impl: Impl;
  scale: Scale;
  info: string;
  outcome: ProbeOutcome;
  baselineRss: number;
  peakRssGrowth: number;
  /** RSS growth at the end of the run (after the hold, before teardown). */
  endRssGrowth: number;
  legit: LegitReport;
  /** Set if the server process died during the run. */
  crashed?: string;
  durationMs: number;
  /** The server's counters over the run (opened, closes and errors since the baseline; live at the end). */
  server?: ServerDelta;
}

/** Resolves with the first IPC message `pick` accepts; rejects if the child exits or `ms` passes. */
function nextMessage<M, T>(child: ChildProcess, what: string, pick: (msg: M) => T | undefined, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (msg: M): void => {
      const picked = pick(msg);
      if (picked === undefined) return;
      cleanup();
      resolve(picked);
    };
    const onExit = (code: number | null, signal: string | null): void => {
      cleanup();
      reject(new Error(`${what} exited (${signal ?? `code ${code}`})`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what} did not answer within ${ms} ms`));
    }, ms);
    function cleanup(): void {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

function spawnChild(file: string, env: NodeJS.ProcessEnv, extraArgs: string[] = []): { child: ChildProcess; stderr: () => string } {
  const child = spawn(process.execPath, [...NODE_ARGS, ...extraArgs, file], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let tail = '';
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, stderr: () => tail };
}

/** A server child: wsup or ws, on 127.0.0.1 and an ephemeral port. */
export class ServerChild {
  exit: string | undefined;
  private peakResetWorked = false;

  private constructor(
    readonly impl: Impl,
    readonly child: ChildProcess,
    readonly port: number,
    readonly info: string,
    private readonly output: () => string,
  ) {
    child.on('exit', (code, signal) => {
      this.exit = signal ?? `code ${code}`;
    });
  }

  static async start(impl: Impl, config: ServerConfig): Promise<ServerChild> {
    const { child, stderr } = spawnChild(SERVER_FILES[impl], { [CONFIG_ENV]: JSON.stringify(config) }, ['--expose-gc']);
    try {
      const ready = await nextMessage(child, `${impl} server`, (m: FromServer) => (m.type === 'ready' ? m : undefined), 30_000);
      return new ServerChild(impl, child, ready.port, ready.info, stderr);
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`${(err as Error).message}: ${stderr()}`);
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The last lines the child printed (for crash reports). */
  lastOutput(): string {
    return this.output().trim().split('\n').slice(-6).join('\n');
  }

  /** Current and peak RSS in bytes, from /proc (0 when the process is gone). */
  memory(): { rss: number; hwm: number } {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'latin1');
      const kib = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
      return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
    } catch {
      return { rss: 0, hwm: 0 };
    }
  }

  /** Resets the kernel's peak RSS (VmHWM) to the current RSS (Linux: `5` to clear_refs). */
  resetPeak(): void {
    try {
      writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
      this.peakResetWorked = true;
    } catch {
      this.peakResetWorked = false;
    }
  }

  /** The kernel's peak RSS since `resetPeak`, if the reset worked. */
  peakSinceReset(): number {
    return this.peakResetWorked ? this.memory().hwm : 0;
  }

  async stats(): Promise<ServerStats> {
    const reply = nextMessage(this.child, `${this.impl} server`, (m: FromServer) => (m.type === 'stats' ? m : undefined), 10_000);
    this.child.send({ type: 'stats' } satisfies ToServer);
    return reply;
  }

  async gc(): Promise<void> {
    const reply = nextMessage(this.child, `${this.impl} server`, (m: FromServer) => (m.type === 'gc-done' ? true : undefined), 10_000);
    this.child.send({ type: 'gc' } satisfies ToServer);
    await reply;
  }

  async stop(): Promise<void> {
    if (this.exit !== undefined) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    await gone;
  }
}

/** The legitimate client's process, shared by every run of a suite. */
export class LegitClient {
  private constructor(private readonly child: ChildProcess) {}

  static async start(): Promise<LegitClient> {
    const { child, stderr } = spawnChild(LEGIT_FILE, {});
    try {
      await nextMessage(child, 'legit client', (m: FromLegit) => (m.type === 'ready' ? true : undefined), 30_000);
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`${(err as Error).message}: ${stderr()}`);
    }
    return new LegitClient(child);
  }

  /** Connects to the server's echo route and waits for a few round trips. */
  async connect(port: number): Promise<void> {
    const reply = nextMessage(this.child, 'legit client', (m: FromLegit) => (m.type === 'started' ? m : undefined), 10_000);
    this.send({ type: 'start', port });
    const started = await reply;
    if (!started.ok) throw new Error(`the legitimate client could not start: ${started.error}`);
  }

  /** The attack starts now: counters restart. */
  mark(): void {
    this.send({ type: 'mark' });
  }

  async stop(maxLatencyMs: number, medianLatencyMs: number): Promise<LegitReport> {
    const reply = nextMessage(this.child, 'legit client', (m: FromLegit) => (m.type === 'stats' ? m : undefined), 10_000);
    this.send({ type: 'stop' });
    const { type: _, ...stats } = await reply;
    const served = stats.open && stats.roundTrips > 0 && stats.maxLatencyMs <= maxLatencyMs && stats.medianLatencyMs <= medianLatencyMs;
    return { ...stats, served };
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    await gone;
  }

  private send(msg: ToLegit): void {
    this.child.send(msg);
  }
}

/** How long the harness waits past a probe's deadline before giving up on it. */
const GRACE_MS = 10_000;

function diff(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) > 0) out[k] = v - (before[k] ?? 0);
  return out;
}

function delta(after: ServerStats, before: ServerStats): ServerDelta {
  return {
    opened: after.opened - before.opened,
    closes: diff(after.closes, before.closes),
    errors: diff(after.errors, before.errors),
    live: after.live,
    loopDelayMaxMs: after.loopDelayMaxMs,
  };
}

/**
 * Starts server children ahead of time, so a run does not wait for tsx and the sources to load
 * (0.7 s on an idle machine, seconds on a busy one). With `prefetch` > 0, that many children of
 * each implementation boot while other runs go on (the CI form); the soak uses 0, so nothing else
 * runs during its measurements. Every child serves one run only.
 */
export class ServerPool {
  private readonly warm = new Map<Impl, Promise<ServerChild>[]>();
  /** Children boot one at a time, so the first is ready soonest and boots do not pile up. */
  private booting: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly config: ServerConfig,
    private readonly prefetch: number,
  ) {}

  async take(impl: Impl): Promise<ServerChild> {
    return this.warm.get(impl)?.shift() ?? this.boot(impl);
  }

  /** Tops up the implementation's warm children to `prefetch`. */
  refill(impl: Impl): void {
    const queue = this.warm.get(impl) ?? [];
    this.warm.set(impl, queue);
    while (queue.length < this.prefetch) {
      const next = this.boot(impl);
      next.catch(() => undefined); // reported when taken
      queue.push(next);
    }
  }

  private boot(impl: Impl): Promise<ServerChild> {
    const child = this.booting.then(() => ServerChild.start(impl, this.config));
    this.booting = child.catch(() => undefined);
    return child;
  }

  async close(): Promise<void> {
    const children = [...this.warm.values()].flat();
    this.warm.clear();
    await Promise.all(
      children.map((c) =>
        c.then(
          (s) => s.stop(),
          () => undefined,
        ),
      ),
    );
  }
}

/** Runs `probe` against a fresh `impl` server. */
export async function runProbe(probe: Probe, impl: Impl, scale: Scale, legit: LegitClient, pool: ServerPool): Promise<ProbeResult> {
  const settings = SCALES[scale];
  const server = await pool.take(impl);
  const sockets = new Set<Socket>();
  let sampler: NodeJS.Timeout | undefined;
  try {
    await legit.connect(server.port);
    await server.gc();
    await sleep(50);
    const baselineRss = server.memory().rss;
    server.resetPeak();
    let peak = baselineRss;
    sampler = setInterval(() => {
      peak = Math.max(peak, server.memory().rss);
    }, 20);
    const before = await server.stats();
    legit.mark();
    const started = performance.now();
    const deadline = Date.now() + probe.budgetMs[scale];
    const ctx: ProbeContext = {
      impl,
      scale,
      settings,
      port: server.port,
      deadline,
      track: (socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      },
      hold: () => sleep(Math.max(0, Math.min(settings.holdMs, deadline - Date.now()))),
      serverDelta: async () => delta(await server.stats(), before),
      rssGrowth: () => server.memory().rss - baselineRss,
      waitForLive: async (live, ms) => {
        const until = Date.now() + ms;
        for (;;) {
          const now = server.exit === undefined ? (await server.stats()).live : 0;
          if (now <= live || Date.now() >= until) return now;
          await sleep(50);
        }
      },
      serverAlive: () => server.exit === undefined,
    };

    let outcome: ProbeOutcome;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the probe did not finish within ${probe.budgetMs[scale] + GRACE_MS} ms`)),
          probe.budgetMs[scale] + GRACE_MS,
        );
      });
      outcome = await Promise.race([probe.run(ctx), timeout]);
    } catch (err) {
      outcome = { summary: `probe error: ${(err as Error).message}`, facts: { probeError: String(err) } };
    } finally {
      clearTimeout(timer);
    }
    const durationMs = Math.round(performance.now() - started);
    const legitReport = await legit.stop(settings.legitMaxLatencyMs, settings.legitMedianLatencyMs);
    clearInterval(sampler);
    sampler = undefined;
    const endRss = server.memory().rss;
    peak = Math.max(peak, endRss, server.peakSinceReset());

    const result: ProbeResult = {
      probe: probe.id,
      impl,
      scale,
      info: server.info,
      outcome,
      baselineRss,
      peakRssGrowth: Math.max(0, peak - baselineRss),
      endRssGrowth: endRss > 0 ? endRss - baselineRss : 0,
      legit: legitReport,
      durationMs,
    };
    if (server.exit !== undefined) {
      result.crashed = `${server.exit}: ${server.lastOutput()}`;
      result.legit.served = false;
    } else {
      result.server = delta(await server.stats(), before);
    }
    return result;
  } finally {
    if (sampler) clearInterval(sampler);
    for (const socket of sockets) socket.destroy();
    await server.stop();
    pool.refill(impl);
  }
}

/** What wsup broke in a result: the probe's own expectations, its RSS bound, the legit client, no crash. */
export function wsupViolations(probe: Probe, result: ProbeResult): string[] {
  const out: string[] = [];
  if (result.crashed) out.push(`the server crashed: ${result.crashed}`);
  if (result.outcome.facts.probeError) out.push(result.outcome.summary);
  const bound = probe.rssBound[result.scale];
  if (result.peakRssGrowth > bound) out.push(`peak RSS growth ${mib(result.peakRssGrowth)} > bound ${mib(bound)}`);
  if (!result.legit.served) out.push(`the legitimate client was not served: ${legitCell(result)}`);
  out.push(...probe.expectWsup(result.outcome, result.scale));
  return out;
}

export function legitCell(result: ProbeResult): string {
  const l = result.legit;
  const fmt = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms} ms`);
  const rts = `${l.roundTrips} RTs, median ${fmt(l.medianLatencyMs)}, max ${fmt(l.maxLatencyMs)}`;
  if (result.crashed) return 'no (server crashed)';
  if (l.served) return `yes (${rts})`;
  if (!l.open) return `no: ${l.ended ?? 'closed'} after ${l.roundTrips} RTs`;
  if (l.roundTrips === 0) return `no: 0 RTs (stuck ${fmt(l.maxLatencyMs)})`;
  return `no (${rts})`;
}

export function outcomeCell(result: ProbeResult): string {
  return result.crashed ? `**CRASHED** (${result.crashed.split('\n')[0]}) — ${result.outcome.summary}` : result.outcome.summary;
}

/** The comparison table: one row per probe, wsup and ws side by side. */
export function markdownTable(rows: { probe: Probe; wsup?: ProbeResult; ws?: ProbeResult }[]): string {
  const lines = [
    '| probe | wsup outcome | wsup peak RSS growth | wsup legit client served | ws outcome | ws peak RSS growth | ws legit client served |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  const esc = (s: string): string => s.replaceAll('|', '\\|').replaceAll('\n', ' ');
  for (const { probe, wsup, ws } of rows) {
    const cells = (r: ProbeResult | undefined, flag: string): string[] =>
      r ? [esc(outcomeCell(r)) + flag, mib(r.peakRssGrowth), esc(legitCell(r))] : ['not run', '', ''];
    const broken = wsup ? wsupViolations(probe, wsup) : [];
    lines.push(`| ${probe.title} | ${[...cells(wsup, broken.length > 0 ? ' ⚠' : ''), ...cells(ws, '')].join(' | ')} |`);
  }
  return lines.join('\n');
}
