/**
 * The multinode group (`--scenario multinode`): three wsup server processes, each with
 * `handleUpgrades(server, { hub })` and a hub whose broker is a deployment the bench starts itself
 * (Redis standalone, Redis Cluster, NATS), with subscribers spread over the nodes and publishers on
 * every node. Beside each broker, the broker's own pub/sub rate for the same fan-out (the raw
 * client, no WebSocket server), and on Redis, Socket.IO with its Redis adapter doing the same
 * work. Generator side in src/loadgen-multinode.ts, tables in src/multinode-report.ts.
 *
 * Pinning: the three servers and the broker are the system under test and share the server core;
 * the generator has the other one. Every run has fresh server and generator processes; the broker
 * deployments live for the whole group.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { busyCores, type CpuSample, sampleCpu } from './load.js';
import type { FromMultinodeGen, MultinodeJob, MultinodeResult, SystemKind, ToMultinodeGen } from './loadgen-multinode.js';
import { BROKER_NAMES, type BrokerName, type Deployment, deploy, unavailable } from './multinode-brokers.js';
import {
  finishMultinode,
  type MultinodeEntry,
  type MultinodeRound,
  type MultinodeScenarioResult,
  multinodeTable,
} from './multinode-report.js';
import { AbortBench, BENCH_DIR, ServerProcess } from './processes.js';
import { int, log, type Pinning, quiet } from './runs.js';
import type { MultinodeScenario } from './scenarios.js';
import type { ServerSpec } from './servers.js';

export interface MultinodeContext {
  rounds: number;
  warmupMs: number;
  durationMs: number;
  pin: Pinning;
  /** Brokers to run (default all). */
  brokers?: string[];
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** CPU time (user + system, all threads) of a process so far, in ms; 0 once it is gone. */
function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat(5); fields[0] is field 3.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return 0;
  }
}

const sumCpu = (pids: number[]): number => pids.reduce((a, pid) => a + processCpuMs(pid), 0);

/** Builds a broker package's dist/ (the servers load it as users do); the error text if it fails. */
function build(pkg: string): string | null {
  const r = spawnSync(
    process.execPath,
    [join(BENCH_DIR, '../node_modules/typescript/bin/tsc'), '-p', `../packages/${pkg}/tsconfig.build.json`],
    {
      cwd: BENCH_DIR,
      encoding: 'utf8',
    },
  );
  if (r.error) return r.error.message;
  if (r.status !== 0) return `${pkg} does not build: ${(r.stdout || r.stderr).split('\n').find((l) => l.trim()) ?? `tsc exit ${r.status}`}`;
  return null;
}

/** Whether a package exports a class: null when it does, else why not. */
async function exported(pkg: string, name: string): Promise<string | null> {
  try {
    const mod = (await import(pkg)) as Record<string, unknown>;
    return typeof mod[name] === 'function' ? null : `${pkg} has no ${name} yet`;
  } catch (err) {
    return `${pkg} does not load: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
  }
}

/**
 * Whether wsup can run on this broker, or why not. Redis Cluster needs a RedisBroker that takes
 * the cluster's nodes (`cluster` option, being added): probed by constructing one and closing it.
 */
async function wsupSupport(broker: BrokerName, built: Map<string, string | null>): Promise<string | null> {
  const pkg = broker === 'nats' ? 'nats' : 'redis';
  if (!built.has(pkg)) built.set(pkg, build(pkg));
  if (built.get(pkg)) return built.get(pkg)!;
  const missing = await exported(`@wsup/${pkg}`, broker === 'nats' ? 'NatsBroker' : 'RedisBroker');
  if (missing || broker !== 'redis-cluster') return missing;
  const src = readFileSync(join(BENCH_DIR, '../packages/redis/src/options.ts'), 'utf8');
  return /\bcluster\??:/.test(src) ? null : '@wsup/redis has no Redis Cluster option yet';
}

class MultinodeGenerator {
  private constructor(readonly child: ChildProcess) {}

  static async start(cores: string | undefined): Promise<MultinodeGenerator> {
    const args = ['--import', 'tsx', 'src/loadgen-multinode.ts'];
    const stdio: ['ignore', 'inherit', 'inherit', 'ipc'] = ['ignore', 'inherit', 'inherit', 'ipc'];
    const child = cores
      ? spawn('taskset', ['-c', cores, process.execPath, ...args], { cwd: BENCH_DIR, stdio })
      : spawn(process.execPath, args, { cwd: BENCH_DIR, stdio });
    const gen = new MultinodeGenerator(child);
    await gen.next((m) => (m.type === 'ready' ? true : undefined), 30_000);
    return gen;
  }

  private next<T>(pick: (m: FromMultinodeGen) => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: FromMultinodeGen): void => {
        const v = pick(m);
        if (v === undefined) return;
        cleanup();
        resolve(v);
      };
      const onExit = (code: number | null, signal: string | null): void => {
        cleanup();
        reject(new AbortBench(`multinode generator exited (${signal ?? `code ${code}`})`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new AbortBench(`multinode generator did not answer within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
      };
      this.child.on('message', onMessage);
      this.child.on('exit', onExit);
    });
  }

  run(job: MultinodeJob, onMark: (phase: 'measure-start' | 'measure-end') => void): Promise<MultinodeResult> {
    const done = this.next(
      (m) => {
        if (m.type === 'mark') onMark(m.phase);
        else if (m.type === 'result') return { ok: true as const, result: m.result };
        else if (m.type === 'error') return { ok: false as const, message: m.message };
        return undefined;
      },
      job.warmupMs + job.durationMs + 90_000,
    );
    this.child.send({ type: 'run', job } satisfies ToMultinodeGen);
    return done.then((r) => {
      if (!r.ok) throw new Error(r.message);
      return r.result;
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ type: 'exit' } satisfies ToMultinodeGen);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  }
}

interface System {
  entry: MultinodeEntry;
  deployment: Deployment;
  /** The node processes, or none for the raw broker. */
  spec?: ServerSpec;
}

async function oneRun(s: MultinodeScenario, sys: System, round: number, ctx: MultinodeContext): Promise<MultinodeRound> {
  await quiet(`${s.name} ${sys.entry.name}`);
  const servers: ServerProcess[] = [];
  let gen: MultinodeGenerator | undefined;
  try {
    if (sys.spec) {
      // All at once, with the generator: each start is mostly tsx compiling the same files.
      const spec = sys.spec;
      const starting = Array.from({ length: s.nodes }, (_, i) =>
        ServerProcess.start({ ...spec, name: `${spec.name}#${i + 1}` }, false, ctx.pin?.server),
      );
      const started = await Promise.allSettled(starting);
      for (const r of started) if (r.status === 'fulfilled') servers.push(r.value);
      const failed = started.find((r) => r.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    }
    gen = await MultinodeGenerator.start(ctx.pin?.generator);
    const brokerPids = sys.deployment.pids();
    const serverPids = servers.map((p) => p.child.pid!);
    let at0: { machine: CpuSample | null; servers: number; broker: number; t: number } | undefined;
    let at1: typeof at0;
    const sample = () => ({ machine: sampleCpu(), servers: sumCpu(serverPids), broker: sumCpu(brokerPids), t: performance.now() });
    const result = await gen.run(
      {
        system: sys.entry.system,
        broker: sys.deployment.name,
        address: sys.deployment.address,
        ports: servers.map((p) => p.port),
        nodes: s.nodes,
        subscribersPerNode: s.subscribersPerNode,
        publishersPerNode: s.publishersPerNode,
        topics: s.topics,
        window: s.window,
        payloadBytes: s.payloadBytes,
        concurrency: s.concurrency,
        warmupMs: ctx.warmupMs,
        durationMs: ctx.durationMs,
      },
      (phase) => {
        if (phase === 'measure-start') at0 = sample();
        else at1 = sample();
      },
    );
    const stats = await Promise.all(servers.map((p) => p.stats()));
    const wall = at1!.t - at0!.t;
    const serversCpu = (at1!.servers - at0!.servers) / wall;
    const brokerCpu = (at1!.broker - at0!.broker) / wall;
    const sutCpu = serversCpu + brokerCpu;
    const machine = busyCores(at0!.machine, at1!.machine);
    return {
      round,
      deliveriesPerSec: result.deliveriesPerSec,
      messagesPerSec: result.messagesPerSec,
      p50Ms: result.p50Ms,
      p99Ms: result.p99Ms,
      peakRss: Math.max(0, ...stats.map((x) => x.peakRss)),
      sutCpu,
      serversCpu,
      brokerCpu,
      cpuUsPerDelivery: result.deliveriesPerSec > 0 ? (sutCpu * 1e6) / result.deliveriesPerSec : 0,
      genCpu: result.genCpu,
      genBusy: result.genBusy,
      otherCpu: machine === null ? 0 : Math.max(0, machine - sutCpu - result.genCpu),
      deliveriesPerRead: result.deliveriesPerRead,
    };
  } finally {
    await gen?.stop();
    await Promise.all(servers.map((p) => p.stop()));
  }
}

const SYSTEM_TEXT: Record<SystemKind, string> = { raw: 'raw', wsup: 'wsup', socketio: 'socket.io' };

export async function runMultinode(s: MultinodeScenario, ctx: MultinodeContext): Promise<MultinodeScenarioResult> {
  const wanted = (ctx.brokers ?? BROKER_NAMES).filter((b): b is BrokerName => (BROKER_NAMES as string[]).includes(b));
  const brokers: MultinodeScenarioResult['brokers'] = [];
  const entries: MultinodeEntry[] = [];
  const systems: System[] = [];
  const deployments: Deployment[] = [];
  const built = new Map<string, string | null>();
  const notes: string[] = [
    ctx.pin
      ? `pinning: the ${s.nodes} nodes and the broker on core ${ctx.pin.server}, the generator on core ${ctx.pin.generator}`
      : 'no pinning: nodes, broker and generator share the cores',
    'raw: the broker alone through its client (ioredis SSUBSCRIBE/SPUBLISH, NATS subscribe/publish); 3 subscribing connections stand for the nodes, each arrival counting as many deliveries as that node has subscribers of the topic',
    `each publisher keeps at most ${s.window} messages in flight (published, not yet at every subscriber of its topic); latency is publish timestamp to receipt, every delivery`,
  ];
  try {
    for (const name of wanted) {
      const why = unavailable(name);
      if (why) {
        brokers.push({ name, skipped: why });
        log(`  ${s.name} ${name}: skipped (${why})`);
        continue;
      }
      let d: Deployment;
      try {
        d = await deploy(name, ctx.pin?.server);
      } catch (err) {
        const msg = err instanceof Error ? err.message.split('\n')[0]! : String(err);
        brokers.push({ name, skipped: `did not start: ${msg}` });
        log(`  ${s.name} ${name}: skipped (did not start: ${msg})`);
        continue;
      }
      deployments.push(d);
      brokers.push({ name, about: d.about });
      const env = { BENCH_BROKER: name, BENCH_BROKER_ADDRESS: JSON.stringify(d.address) };
      // Socket.IO on the standalone Redis: its sharded adapter cannot SSUBSCRIBE through an ioredis Cluster.
      const kinds: SystemKind[] = name === 'redis' ? ['raw', 'wsup', 'socketio'] : ['raw', 'wsup'];
      for (const system of kinds) {
        const entry: MultinodeEntry = { name: `${SYSTEM_TEXT[system]} ${name}`, broker: name, system, about: '', status: 'ok', rounds: [] };
        entries.push(entry);
        let spec: ServerSpec | undefined;
        if (system === 'raw') entry.about = `${d.address.kind === 'redis' ? 'ioredis' : '@nats-io/transport-node'} alone`;
        else if (system === 'wsup') {
          entry.about = `wsup on node:http, handleUpgrades(server, { hub }), ${name === 'nats' ? 'NatsBroker' : 'RedisBroker'}`;
          const missing = await wsupSupport(name, built);
          if (missing) {
            entry.status = 'skipped';
            entry.note = missing;
            log(`  ${s.name} ${entry.name}: skipped (${missing})`);
            continue;
          }
          spec = { name: entry.name, file: 'servers/multinode-wsup.ts', about: entry.about, env };
        } else {
          entry.about = 'socket.io 4 with @socket.io/redis-adapter (sharded), io.to(room).emit';
          spec = { name: entry.name, file: 'servers/multinode-socketio.ts', about: entry.about, env };
        }
        systems.push({ entry, deployment: d, ...(spec ? { spec } : {}) });
      }
    }
    for (let round = 1; round <= ctx.rounds; round++) {
      for (const sys of systems) {
        const e = sys.entry;
        if (e.status !== 'ok') continue;
        const began = Date.now();
        const label = `${s.name} r${round} ${e.name.padEnd(23)}`;
        try {
          const row = await oneRun(s, sys, round, ctx);
          e.rounds.push(row);
          log(
            `  ${label} ${int(row.deliveriesPerSec).padStart(10)} deliveries/s  p50 ${row.p50Ms.toFixed(2)} ms  p99 ${row.p99Ms.toFixed(2)} ms  ` +
              `nodes CPU ${Math.round(row.serversCpu * 100)}%  broker CPU ${Math.round(row.brokerCpu * 100)}%  ${row.cpuUsPerDelivery.toFixed(2)} µs/delivery  ` +
              `generator CPU ${Math.round(row.genCpu * 100)}% busy ${Math.round(row.genBusy * 100)}%  other ${Math.round(row.otherCpu * 100)}%  ` +
              `${row.deliveriesPerRead.toFixed(1)} deliveries/read  ${((Date.now() - began) / 1000).toFixed(1)} s`,
          );
        } catch (err) {
          // One system failing (a broker adapter that loses messages, say) does not stop the others.
          e.status = 'failed';
          e.note = err instanceof Error ? err.message.split('\n')[0]! : String(err);
          log(`  ${label} FAILED: ${e.note}`);
        }
      }
    }
  } finally {
    for (const d of deployments) await d.stop();
  }
  const r = finishMultinode(s, entries, brokers, notes, ctx.rounds);
  log(`\n${multinodeTable(r, ctx.rounds)}\n`);
  return r;
}
