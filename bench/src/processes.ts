/** Child processes of the orchestrator: the echo servers and the load generator. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type {
  BroadcastResult,
  EchoResult,
  FromGenerator,
  H2OpenResult,
  IdleResult,
  Job,
  ServerReady,
  ServerStats,
  ToGenerator,
  ToServer,
} from './protocol.js';
import type { ServerSpec } from './servers.js';

export const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));

/**
 * How every TypeScript child is started: the bench's own files compiled on load by tsx, the wsup
 * packages from their built `dist/` (run.sh builds them first), as users run them. tsx compiles
 * with esbuild's keepNames, which wraps every function created at run time in a
 * `defineProperty(fn, 'name')`: measured from source, each closure a handshake or a `receive()`
 * creates costs several microseconds that no build of wsup has.
 */
const NODE_ARGS = ['--import', 'tsx'];

/** Cores for the server and the generator, or null when they cannot be pinned. */
export function pinning(): { server: string; generator: string } | null {
  if (process.env.BENCH_NO_PIN === '1') return null;
  const probe = spawnSync('taskset', ['-c', '0', 'true']);
  if (probe.error || probe.status !== 0) return null;
  return { server: '0', generator: '1' };
}

function launch(cores: string | undefined, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const stdio: ['ignore', 'inherit', 'inherit', 'ipc'] = ['ignore', 'inherit', 'inherit', 'ipc'];
  // taskset execs node in place, so the IPC descriptor Node set up for the child survives.
  if (cores) return spawn('taskset', ['-c', cores, process.execPath, ...args], { cwd: BENCH_DIR, env, stdio });
  return spawn(process.execPath, args, { cwd: BENCH_DIR, env, stdio });
}

export class AbortBench extends Error {}

/** Set once from the command line: MB of live objects a server holds in the throughput scenarios. */
export const serverSettings = { appHeapMb: 0 };

/** Resolves with the next IPC message matching `pick`, rejects if the child dies first. */
function nextMessage<M, T>(child: ChildProcess, what: string, pick: (msg: M) => T | undefined, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (msg: M): void => {
      const picked = pick(msg);
      if (picked === undefined) return;
      cleanup();
      resolve(picked);
    };
    const onExit = (code: number | null, signal: string | null): void => {
      cleanup();
      reject(new AbortBench(`${what} exited (${signal ?? `code ${code}`}) while the harness waited for it`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new AbortBench(`${what} did not answer within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    function cleanup(): void {
      clearTimeout(timer);
      child.removeListener('message', onMessage);
      child.removeListener('exit', onExit);
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

export class ServerProcess {
  private exited = false;

  private constructor(
    readonly spec: ServerSpec,
    readonly child: ChildProcess,
    readonly port: number,
    readonly info: string | undefined,
  ) {
    child.on('exit', () => {
      this.exited = true;
    });
  }

  /**
   * Starts a server. `appHeap`: give it the application heap of `--app-heap` first (the
   * throughput scenarios do; the memory ones measure per-connection deltas without it).
   */
  static async start(
    spec: ServerSpec,
    deflate: boolean,
    cores: string | undefined,
    extraNodeArgs: string[] = [],
    appHeap = false,
  ): Promise<ServerProcess> {
    const env = {
      ...process.env,
      ...spec.env,
      BENCH_SERVER: spec.name,
      BENCH_DEFLATE: deflate ? '1' : '0',
      BENCH_APP_HEAP: appHeap ? String(serverSettings.appHeapMb) : '0',
    };
    // BENCH_SERVER_FLAGS: Node flags to look inside a server with (--trace-gc, say).
    const flags = process.env.BENCH_SERVER_FLAGS?.split(' ').filter(Boolean) ?? [];
    const child = launch(cores, [...NODE_ARGS, '--expose-gc', ...flags, ...extraNodeArgs, spec.file], env);
    const ready = await nextMessage(child, `server ${spec.name}`, (m: ServerReady) => (m.type === 'ready' ? m : undefined), 30_000);
    return new ServerProcess(spec, child, ready.port, ready.info);
  }

  /** Memory and CPU counters; `gc` collects garbage first (for the idle measurements). */
  stats(gc = false): Promise<ServerStats> {
    const reply = nextMessage(this.child, `server ${this.spec.name}`, (m: ServerStats) => (m.type === 'stats' ? m : undefined), 30_000);
    this.child.send({ type: 'stats', gc } satisfies ToServer);
    return reply;
  }

  /** Asks the server to exit (so --cpu-prof can write its profile), then makes sure it has. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ type: 'exit' } satisfies ToServer);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

export interface RunHooks {
  onMark?: (phase: 'measure-start' | 'measure-end') => void;
  onIdleOpen?: (opened: number, acceptMs: number, shortfall: string | undefined) => void;
}

export class GeneratorProcess {
  private constructor(readonly child: ChildProcess) {}

  static async start(cores: string | undefined): Promise<GeneratorProcess> {
    // BENCH_GENERATOR_NODE_ARGS (e.g. "--cpu-prof") is for checking the generator itself.
    const extra = process.env.BENCH_GENERATOR_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    // --expose-gc: the HTTP/2 open run measures the client's own memory per WebSocket, after GCs.
    const child = launch(cores, [...NODE_ARGS, '--expose-gc', ...extra, 'src/loadgen.ts'], process.env);
    await nextMessage(child, 'load generator', (m: FromGenerator) => (m.type === 'ready' ? m : undefined), 30_000);
    return new GeneratorProcess(child);
  }

  run(job: Job, hooks: RunHooks = {}): Promise<EchoResult | IdleResult | BroadcastResult | H2OpenResult> {
    const result = nextMessage(
      this.child,
      'load generator',
      (m: FromGenerator) => {
        if (m.type === 'mark') hooks.onMark?.(m.phase);
        else if (m.type === 'idle-open') hooks.onIdleOpen?.(m.opened, m.acceptMs, m.shortfall);
        else if (m.type === 'result') return { ok: true as const, result: m.result };
        else if (m.type === 'error') return { ok: false as const, message: m.message };
        return undefined;
      },
      // Generous: a run is seconds long, a stuck one is a failure either way.
      job.kind === 'idle' || job.kind === 'h2-open' ? 600_000 : job.warmupMs + job.durationMs + 60_000,
    );
    this.child.send({ type: 'run', job } satisfies ToGenerator);
    return result.then((r) => {
      if (!r.ok) throw new AbortBench(`load generator: ${r.message}`);
      return r.result;
    });
  }

  release(): void {
    this.child.send({ type: 'release' } satisfies ToGenerator);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ type: 'exit' } satisfies ToGenerator);
    await gone;
  }
}
