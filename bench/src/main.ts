/**
 * `pnpm bench`: runs every scenario against every server, interleaved round by round, prints the
 * tables, and writes bench/results/. See bench/README.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AbortBench, BENCH_DIR, GeneratorProcess, pinning, ServerProcess } from './processes.js';
import { busyCores, sampleCpu, waitForQuiet, type CpuSample } from './load.js';
import { profile } from './profile.js';
import { rateJob, rateServers, wantsDeflate } from './jobs.js';
import type { BroadcastResult, EchoResult, IdleResult } from './protocol.js';
import {
  echoTable,
  finishEcho,
  finishIdle,
  generatorProof,
  idleTable,
  ratiosSvg,
  type BenchReport,
  type EchoRound,
  type IdleRound,
  type Machine,
  type ScenarioResult,
  type ServerEntry,
} from './report.js';
import { SCENARIOS, type IdleScenario, type RateScenario } from './scenarios.js';
import { BASELINE, SERVERS, SUBJECT, type ServerSpec } from './servers.js';

const HELP = `pnpm bench [-- options]

  --scenario, -s NAME[,NAME]  scenarios to run (${SCENARIOS.map((s) => s.name).join(', ')}); default all   [BENCH_SCENARIOS]
  --server NAME[,NAME]        servers to run (${SERVERS.map((s) => s.name).join(', ')}); default all   [BENCH_SERVERS]
  --rounds, -r N              rounds per scenario, medians reported; default 3                      [BENCH_ROUNDS]
  --duration, -d SECONDS      measured time per echo or broadcast run; default 2                     [BENCH_DURATION]
  --warmup, -w SECONDS        unmeasured load before each of those runs; default 0.75               [BENCH_WARMUP]
  --idle-connections N        connections for the idle scenario; default 10000                      [BENCH_IDLE_CONNECTIONS]
  --subscribers N             subscribers in the broadcast scenario; default 1000                   [BENCH_SUBSCRIBERS]
  --no-save                   print only; leave bench/results/ alone
  --profile                   CPU-profile wsup in the small, medium and broadcast scenarios instead (see README)
  --no-pin                    do not pin server and generator to cores with taskset                [BENCH_NO_PIN=1]`;

function list(value: string | undefined): string[] | undefined {
  return value
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function positive(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new AbortBench(`${name} must be a positive number, got ${value}`);
  return n;
}

function options() {
  // pnpm forwards a literal `--` on some paths (`pnpm bench -- --rounds 1`); it separates nothing here.
  const args = process.argv.slice(2).filter((a) => a !== '--');
  const { values } = parseArgs({
    args,
    options: {
      scenario: { type: 'string', short: 's', multiple: true },
      server: { type: 'string', multiple: true },
      rounds: { type: 'string', short: 'r' },
      duration: { type: 'string', short: 'd' },
      warmup: { type: 'string', short: 'w' },
      'idle-connections': { type: 'string' },
      subscribers: { type: 'string' },
      'no-save': { type: 'boolean' },
      'no-pin': { type: 'boolean' },
      profile: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const env = process.env;
  const scenarioNames = values.scenario?.flatMap((s) => list(s) ?? []) ?? list(env.BENCH_SCENARIOS);
  const serverNames = values.server?.flatMap((s) => list(s) ?? []) ?? list(env.BENCH_SERVERS);
  for (const n of scenarioNames ?? []) if (!SCENARIOS.some((s) => s.name === n)) throw new AbortBench(`unknown scenario ${n}`);
  for (const n of serverNames ?? []) if (!SERVERS.some((s) => s.name === n)) throw new AbortBench(`unknown server ${n}`);
  if (values['no-pin']) process.env.BENCH_NO_PIN = '1';
  const subscribersArg = values.subscribers ?? env.BENCH_SUBSCRIBERS;
  const subscribers = subscribersArg === undefined ? undefined : Math.round(positive(subscribersArg, 'subscribers', 1000));
  return {
    help: values.help === true,
    profile: values.profile === true,
    save: values['no-save'] !== true,
    scenarios: (scenarioNames ? SCENARIOS.filter((s) => scenarioNames.includes(s.name)) : SCENARIOS).map((s) =>
      s.kind === 'broadcast' && subscribers !== undefined
        ? { ...s, subscribers, title: s.title.replace(/[\d,]+ subscribers/, `${subscribers.toLocaleString('en-US')} subscribers`) }
        : s,
    ),
    servers: serverNames ? SERVERS.filter((s) => serverNames.includes(s.name)) : SERVERS,
    rounds: Math.round(positive(values.rounds ?? env.BENCH_ROUNDS, 'rounds', 3)),
    // Short enough that every server runs every scenario three times within ten minutes.
    durationMs: positive(values.duration ?? env.BENCH_DURATION, 'duration', 2) * 1000,
    warmupMs: positive(values.warmup ?? env.BENCH_WARMUP, 'warmup', 0.75) * 1000,
    idleConnections: Math.round(positive(values['idle-connections'] ?? env.BENCH_IDLE_CONNECTIONS, 'idle connections', 10_000)),
  };
}

type Options = ReturnType<typeof options>;

export function machine(pin: ReturnType<typeof pinning>): Machine {
  const c = cpus();
  return {
    cpu: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    node: process.version,
    os: `${platform()} ${release()}`,
    pinning: pin
      ? `taskset: server on core ${pin.server}, generator on core ${pin.generator}`
      : 'none (taskset unavailable or disabled): server and generator share the cores',
  };
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');

/** More than this many cores busy outside the bench before a run: wait for the machine to calm down. */
const QUIET = 0.3;
let busyRuns = 0;
let retriesLeft = 12;

/**
 * Time the whole invocation may spend waiting for quiet: on a machine that never calms down the
 * waits would otherwise add minutes.
 */
let waitBudgetMs = 60_000;

async function quiet(what: string): Promise<boolean> {
  const t = Date.now();
  const busy = await waitForQuiet(QUIET, Math.min(20_000, waitBudgetMs));
  waitBudgetMs = Math.max(0, waitBudgetMs - (Date.now() - t));
  if (busy !== null && busy >= QUIET) {
    log(`  (machine busy before ${what}: other processes use ${busy.toFixed(2)} cores; running anyway)`);
    return false;
  }
  return true;
}

/** One run of an echo or broadcast scenario against one server. */
async function rateRun(
  spec: ServerSpec,
  s: RateScenario,
  round: number,
  gen: GeneratorProcess,
  o: Options,
  pin: ReturnType<typeof pinning>,
) {
  await quiet(`${s.name} ${spec.name}`);
  const server = await ServerProcess.start(spec, wantsDeflate(s), pin?.server);
  try {
    let start: Promise<import('./protocol.js').ServerStats> | undefined;
    let end: Promise<import('./protocol.js').ServerStats> | undefined;
    let cpuStart: CpuSample | null = null;
    let cpuEnd: CpuSample | null = null;
    const result = (await gen.run(rateJob(s, server.port, o), {
      onMark: (phase) => {
        if (phase === 'measure-start') {
          cpuStart = sampleCpu();
          start = server.stats();
        } else {
          cpuEnd = sampleCpu();
          end = server.stats();
        }
      },
    })) as EchoResult | BroadcastResult;
    const after = await server.stats();
    if (!result.negotiated) return { server, result, round: undefined };
    const [a, b] = await Promise.all([start!, end!]);
    const serverCpu = (b.cpuMicros - a.cpuMicros) / 1000 / (b.at - a.at);
    const machineBusy = busyCores(cpuStart, cpuEnd);
    const row: EchoRound = {
      round,
      msgsPerSec: result.msgsPerSec,
      mbPerSec: result.mbPerSec,
      p50Ms: result.p50Ms,
      p99Ms: result.p99Ms,
      peakRss: after.peakRss,
      serverCpu,
      genCpu: result.genCpu,
      genBusy: result.genBusy,
      // Whatever else ran: other processes, and kernel work charged to no process.
      otherCpu: machineBusy === null ? 0 : Math.max(0, machineBusy - serverCpu - result.genCpu),
      verified: result.verified,
      msgsPerWrite: result.msgsPerWrite,
      msgsPerRead: result.msgsPerRead,
    };
    return { server, result, round: row };
  } finally {
    await server.stop();
  }
}

async function idleRun(
  spec: ServerSpec,
  s: IdleScenario,
  connections: number,
  round: number,
  gen: GeneratorProcess,
  pin: ReturnType<typeof pinning>,
) {
  // Memory per connection does not care about other load; the accept time does.
  const calm = await quiet(`${s.name} ${spec.name}`);
  const server = await ServerProcess.start(spec, false, pin?.server);
  try {
    const before = await server.stats(true);
    let opened: Promise<import('./protocol.js').ServerStats> | undefined;
    let openedSignal!: () => void;
    const openedSeen = new Promise<void>((resolve) => (openedSignal = resolve));
    const run = gen.run(
      { kind: 'idle', port: server.port, connections, concurrency: s.concurrency },
      {
        onIdleOpen: () => {
          // A moment for the server to finish whatever it does after the 101 went out.
          opened = new Promise((resolve) => setTimeout(resolve, 300)).then(() => server.stats(true));
          openedSignal();
        },
      },
    );
    await Promise.race([openedSeen, run]);
    const after = await opened!;
    gen.release();
    const result = (await run) as IdleResult;
    const n = Math.max(1, result.opened);
    const row: IdleRound = {
      round,
      opened: result.opened,
      acceptMs: result.acceptMs,
      rssPerConn: (after.rss - before.rss) / n,
      heapPerConn: (after.heapUsed - before.heapUsed) / n,
      peakRss: after.peakRss,
      ...(result.shortfall ? { shortfall: result.shortfall } : {}),
    };
    return { server, row, calm };
  } finally {
    await server.stop();
  }
}

async function bench(o: Options): Promise<void> {
  const t0 = Date.now();
  const pin = pinning();
  const m = machine(pin);
  const date = new Date().toISOString();
  log(`wsup bench — ${date}`);
  log(`machine: ${m.cpu}, ${m.cores} cores, ${m.memory}, Node ${m.node}, ${m.os}`);
  log(`pinning: ${m.pinning}`);
  log(`rounds: ${o.rounds}, warm-up ${o.warmupMs / 1000} s + measured ${o.durationMs / 1000} s per echo and broadcast run`);
  if (!o.servers.some((s) => s.name === BASELINE) || !o.servers.some((s) => s.name === SUBJECT)) {
    log(`note: ratios need both ${SUBJECT} and ${BASELINE} in the server list`);
  }
  log('');

  const gen = await GeneratorProcess.start(pin?.generator);
  const results: ScenarioResult[] = [];
  const infos = new Map<string, string>();
  try {
    for (const s of o.scenarios) {
      if (s.kind !== 'idle') {
        const servers = rateServers(s, o.servers);
        const entries = new Map<string, ServerEntry<EchoRound>>(
          servers.map((spec) => [spec.name, { name: spec.name, about: spec.about, status: 'ok', rounds: [] }]),
        );
        for (let round = 1; round <= o.rounds; round++) {
          for (const spec of servers) {
            const entry = entries.get(spec.name)!;
            if (entry.status === 'n/a') continue; // it will not negotiate next round either
            const began = Date.now();
            let run = await rateRun(spec, s, round, gen, o, pin);
            // A run that something else disturbed is worth one more try, within a budget that
            // keeps the whole bench inside its time even on a machine that never calms down.
            if (run.round && run.round.otherCpu > QUIET && retriesLeft > 0) {
              retriesLeft--;
              log(
                `  ${s.name} r${round} ${spec.name.padEnd(12)} disturbed (other processes ${Math.round(run.round.otherCpu * 100)}% of a core): once more`,
              );
              run = await rateRun(spec, s, round, gen, o, pin);
            }
            const { server, result, round: row } = run;
            if (server.info) infos.set(spec.name, server.info);
            if (!row) {
              entry.status = 'n/a';
              entry.note = 'no permessage-deflate negotiated';
              log(
                `  ${s.name} r${round} ${spec.name.padEnd(12)} n/a: server did not negotiate permessage-deflate (${result.extensions || 'no extensions'})`,
              );
              continue;
            }
            entry.rounds.push(row);
            if (row.otherCpu > QUIET) busyRuns++;
            const fanout = s.kind === 'broadcast';
            log(
              `  ${s.name} r${round} ${spec.name.padEnd(12)} ${int(row.msgsPerSec).padStart(10)} ${fanout ? 'deliveries' : 'msgs'}/s  p99 ${row.p99Ms.toFixed(2)} ms  ` +
                `server CPU ${Math.round(row.serverCpu * 100)}%  generator CPU ${Math.round(row.genCpu * 100)}% busy ${Math.round(row.genBusy * 100)}%  other ${Math.round(row.otherCpu * 100)}%  ` +
                (fanout
                  ? `published/write ${row.msgsPerWrite.toFixed(1)} deliveries/read ${row.msgsPerRead.toFixed(1)}  (${int(row.verified)} deliveries verified)`
                  : `msgs/write ${row.msgsPerWrite.toFixed(1)} msgs/read ${row.msgsPerRead.toFixed(1)}  (${int(row.verified)} echoes verified)`) +
                (s.kind === 'echo' && s.deflate ? `  [${result.extensions}]` : '') +
                `  ${((Date.now() - began) / 1000).toFixed(1)} s`,
            );
          }
        }
        const r = finishEcho(s, [...entries.values()]);
        for (const e of r.servers) if (infos.has(e.name)) e.info = infos.get(e.name)!;
        results.push(r);
        log(`\n${echoTable(r, o.rounds)}\n`);
      } else {
        const notes: string[] = [];
        // Both ends hold one descriptor per connection, plus what Node itself keeps open.
        const nofile = Number(process.env.BENCH_NOFILE ?? 0);
        let connections = o.idleConnections;
        if (nofile > 0 && nofile - 256 < connections) {
          connections = Math.max(100, nofile - 256);
          notes.push(
            `open-file limit is ${nofile} (ulimit -n could not go higher): ${connections} connections instead of ${o.idleConnections}`,
          );
        }
        let busyIdle = 0;
        const entries = new Map<string, ServerEntry<IdleRound>>(
          o.servers.map((spec) => [spec.name, { name: spec.name, about: spec.about, status: 'ok', rounds: [] }]),
        );
        for (let round = 1; round <= o.rounds; round++) {
          for (const spec of o.servers) {
            const began = Date.now();
            const { server, row, calm } = await idleRun(spec, s, connections, round, gen, pin);
            if (!calm) busyIdle++;
            if (server.info) infos.set(spec.name, server.info);
            entries.get(spec.name)!.rounds.push(row);
            if (row.shortfall)
              notes.push(
                `${spec.name} round ${round}: the OS refused more connections (${row.shortfall}); per-connection figures use the ${row.opened} opened`,
              );
            log(
              `  ${s.name} r${round} ${spec.name.padEnd(12)} ${int(row.opened)} connections in ${int(row.acceptMs)} ms  ` +
                `RSS ${(row.rssPerConn / 1024).toFixed(1)} KiB/conn  heap ${(row.heapPerConn / 1024).toFixed(1)} KiB/conn  ${((Date.now() - began) / 1000).toFixed(1)} s`,
            );
          }
        }
        if (busyIdle > 0)
          notes.push(
            `${busyIdle} of ${o.rounds * o.servers.length} runs started while other processes were busy: their accept times are noisy`,
          );
        const r = finishIdle(s, [...entries.values()], notes);
        for (const e of r.servers) if (infos.has(e.name)) e.info = infos.get(e.name)!;
        results.push(r);
        log(`\n${idleTable(r, o.rounds)}\n`);
      }
    }
  } finally {
    await gen.stop();
  }

  const report: BenchReport = {
    date,
    machine: m,
    config: {
      rounds: o.rounds,
      warmupMs: o.warmupMs,
      durationMs: o.durationMs,
      scenarios: o.scenarios.map((s) => s.name),
      servers: o.servers.map((s) => s.name),
    },
    scenarios: results,
    elapsedSeconds: Math.round((Date.now() - t0) / 1000),
    disturbedRuns: busyRuns,
  };

  log('='.repeat(100));
  log(`wsup bench results — ${date} — ${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.os}`);
  log(`${m.pinning}; medians of ${o.rounds} rounds; ratios are each server ÷ ws (pure JS) from this run\n`);
  log('servers:');
  for (const spec of o.servers) log(`  ${spec.name.padEnd(12)} ${spec.about}${infos.has(spec.name) ? ` [${infos.get(spec.name)}]` : ''}`);
  log('');
  for (const r of results) log(`${r.scenario.kind === 'idle' ? idleTable(r as never, o.rounds) : echoTable(r as never, o.rounds)}\n`);
  log('targets (wsup ÷ ws):');
  for (const r of results) log(`  ${r.scenario.name.padEnd(11)} ${r.target.text.replace(/^target /, '')}`);
  const proof = generatorProof(results);
  if (proof.length) {
    log('\ngenerator headroom (the same generator against the raw node:net ceiling and each server):');
    for (const p of proof) log(`  ${p}`);
  }
  if (busyRuns > 0) {
    log(`\nWARNING: in ${busyRuns} run(s) something else used over ${QUIET} of a core (column "other"): those numbers are noisy`);
  }
  log(`\ntotal time ${report.elapsedSeconds} s`);

  if (o.save) {
    const dir = join(BENCH_DIR, 'results');
    mkdirSync(dir, { recursive: true });
    const json = `${JSON.stringify(report, null, 2)}\n`;
    // Only the latest run and its chart: earlier runs live in git's history of these two files.
    writeFileSync(join(dir, 'latest.json'), json);
    writeFileSync(join(dir, 'ratios.svg'), ratiosSvg(report));
    log('written: bench/results/latest.json, bench/results/ratios.svg');
  }
}

async function main(): Promise<void> {
  const o = options();
  if (o.help) return log(HELP);
  if (o.profile) return profile(o);
  await bench(o);
}

main().catch((err) => {
  console.error(
    `\nBENCH FAILED: ${err instanceof AbortBench ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
  );
  process.exit(1);
});
