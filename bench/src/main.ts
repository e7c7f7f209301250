/**
 * `pnpm bench`: runs every scenario against every server, interleaved round by round, prints the
 * tables, and writes bench/results/. See bench/README.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, platform, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { AbortBench, BENCH_DIR, GeneratorProcess, pinning, ServerProcess, serverSettings } from './processes.js';
import { profile } from './profile.js';
import { rateJob, rateServers, wantsDeflate } from './jobs.js';
import type { IdleResult } from './protocol.js';
import { runH2 } from './h2-bench.js';
import { type H2ScenarioResult, h2Table, pairLines } from './h2-report.js';
import { runMultinode } from './multinode.js';
import { isMultinodeResult, multinodeTable } from './multinode-report.js';
import {
  echoTable,
  finishEcho,
  finishIdle,
  generatorProof,
  idleTable,
  isVsWs,
  ratiosSvg,
  type BenchReport,
  type EchoRound,
  type IdleRound,
  type Machine,
  type ScenarioResult,
  type ServerEntry,
} from './report.js';
import { disturbance, int, log, QUIET, quiet, rateLine, steadyRateRun } from './runs.js';
import { H2_GROUP, isH2, isMultinode, SCENARIOS, type IdleScenario } from './scenarios.js';
import { BASELINE, SERVERS, SUBJECT, type ServerSpec } from './servers.js';
import { BROKER_NAMES } from './multinode-brokers.js';
import { benchCert } from './tls-cert.js';

const HELP = `pnpm bench [-- options]

  --scenario, -s NAME[,NAME]  scenarios to run (${SCENARIOS.map((s) => s.name).join(', ')};
                              ${H2_GROUP} = every h2-* one); default all but multinode   [BENCH_SCENARIOS]
  --server NAME[,NAME]        servers to run (${SERVERS.map((s) => s.name).join(', ')}); default all   [BENCH_SERVERS]
  --rounds, -r N              rounds per scenario, medians reported; default 3 (multinode: 2)      [BENCH_ROUNDS]
  --duration, -d SECONDS      measured time per echo or broadcast run; default 2                     [BENCH_DURATION]
  --warmup, -w SECONDS        unmeasured load before each of those runs; default 0.75               [BENCH_WARMUP]
  --idle-connections N        connections for the idle scenario; default 10000                      [BENCH_IDLE_CONNECTIONS]
  --subscribers N             subscribers in the broadcast scenario; default 1000                   [BENCH_SUBSCRIBERS]
  --h2-websockets N           WebSockets per run of h2-open; default 1000                           [BENCH_H2_WEBSOCKETS]
  --broker NAME[,NAME]        brokers of the multinode group (redis, redis-cluster, nats); default all [BENCH_BROKERS]
  --out FILE                  write the results to FILE (from bench/) and the chart next to it, instead of
                              results/latest.json and results/ratios.svg (a partial run, say)   [BENCH_OUT]
  --no-save                   print only; leave bench/results/ alone
  --profile                   CPU-profile wsup in the small, medium and broadcast scenarios instead (see README)
  --no-pin                    do not pin server and generator to cores with taskset                [BENCH_NO_PIN=1]
  --app-heap MB               MB of live objects every server process holds from its start in the echo
                              and broadcast scenarios, standing in for an application's own heap (V8's
                              collection heuristics depend on it: see README); default 16, 0 for none [BENCH_APP_HEAP]

  BENCH_SERVER_FLAGS='--trace-gc …'  extra Node flags for every server process (environment only)`;

/**
 * A bench server holds little but the library under test (6–9 MB of V8 heap), less than any
 * application; at that size V8 runs full collections back to back under a stream of Buffers for
 * some servers and not others, depending on a megabyte either way (README, medium messages).
 */
const DEFAULT_APP_HEAP_MB = 16;

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
      'h2-websockets': { type: 'string' },
      broker: { type: 'string', multiple: true },
      out: { type: 'string' },
      'no-save': { type: 'boolean' },
      'no-pin': { type: 'boolean' },
      'app-heap': { type: 'string' },
      profile: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const env = process.env;
  // The group name stands for its scenarios.
  const scenarioNames = (values.scenario?.flatMap((s) => list(s) ?? []) ?? list(env.BENCH_SCENARIOS))?.flatMap((n) =>
    n === H2_GROUP ? SCENARIOS.filter(isH2).map((s) => s.name) : [n],
  );
  const serverNames = values.server?.flatMap((s) => list(s) ?? []) ?? list(env.BENCH_SERVERS);
  for (const n of scenarioNames ?? []) if (!SCENARIOS.some((s) => s.name === n)) throw new AbortBench(`unknown scenario ${n}`);
  for (const n of serverNames ?? []) if (!SERVERS.some((s) => s.name === n)) throw new AbortBench(`unknown server ${n}`);
  const brokers = values.broker?.flatMap((s) => list(s) ?? []) ?? list(env.BENCH_BROKERS);
  for (const n of brokers ?? []) if (!BROKER_NAMES.includes(n as never)) throw new AbortBench(`unknown broker ${n}`);
  if (values['no-pin']) process.env.BENCH_NO_PIN = '1';
  const appHeapArg = values['app-heap'] ?? env.BENCH_APP_HEAP;
  let appHeapMb = DEFAULT_APP_HEAP_MB;
  if (appHeapArg !== undefined) appHeapMb = Number(appHeapArg) === 0 ? 0 : positive(appHeapArg, 'app-heap', 0);
  serverSettings.appHeapMb = appHeapMb;
  const subscribersArg = values.subscribers ?? env.BENCH_SUBSCRIBERS;
  const subscribers = subscribersArg === undefined ? undefined : Math.round(positive(subscribersArg, 'subscribers', 1000));
  const websocketsArg = values['h2-websockets'] ?? env.BENCH_H2_WEBSOCKETS;
  const websockets = websocketsArg === undefined ? undefined : Math.round(positive(websocketsArg, 'h2-websockets', 1000));
  return {
    help: values.help === true,
    profile: values.profile === true,
    save: values['no-save'] !== true,
    // The multinode group runs only when named: it adds about two minutes.
    scenarios: (scenarioNames ? SCENARIOS.filter((s) => scenarioNames.includes(s.name)) : SCENARIOS.filter((s) => !isMultinode(s))).map(
      (s) =>
        s.kind === 'broadcast' && subscribers !== undefined
          ? { ...s, subscribers, title: s.title.replace(/[\d,]+ subscribers/, `${subscribers.toLocaleString('en-US')} subscribers`) }
          : s.kind === 'h2-open' && websockets !== undefined
            ? { ...s, websockets, title: s.title.replace(/[\d,]+ WebSockets/, `${websockets.toLocaleString('en-US')} WebSockets`) }
            : s,
    ),
    servers: serverNames ? SERVERS.filter((s) => serverNames.includes(s.name)) : SERVERS,
    rounds: Math.round(positive(values.rounds ?? env.BENCH_ROUNDS, 'rounds', 3)),
    // The multinode group's own default: 2 rounds keep it near two and a half minutes.
    multinodeRounds: Math.round(positive(values.rounds ?? env.BENCH_ROUNDS, 'rounds', 2)),
    // Short enough that every server runs every scenario three times within ten minutes.
    durationMs: positive(values.duration ?? env.BENCH_DURATION, 'duration', 2) * 1000,
    warmupMs: positive(values.warmup ?? env.BENCH_WARMUP, 'warmup', 0.75) * 1000,
    idleConnections: Math.round(positive(values['idle-connections'] ?? env.BENCH_IDLE_CONNECTIONS, 'idle connections', 10_000)),
    out: values.out ?? env.BENCH_OUT,
    brokers,
    appHeapMb,
  };
}

type Options = ReturnType<typeof options>;

function isH2Result(r: ScenarioResult): r is H2ScenarioResult {
  return isH2(r.scenario as never);
}

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

/** How long the idle scenario watches the server's CPU with every connection open and idle. */
const IDLE_CPU_WINDOW_MS = 1500;

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
    let acceptCpu: Promise<import('./protocol.js').ServerStats> | undefined;
    let openedSignal!: () => void;
    const openedSeen = new Promise<void>((resolve) => (openedSignal = resolve));
    const run = gen.run(
      { kind: 'idle', port: server.port, connections, concurrency: s.concurrency },
      {
        onIdleOpen: () => {
          // The server's CPU time for the handshakes, read at once (before the forced GCs below).
          acceptCpu = server.stats(false);
          // A moment for the server to finish whatever it does after the 101 went out.
          opened = acceptCpu.then(() => new Promise((resolve) => setTimeout(resolve, 300))).then(() => server.stats(true));
          openedSignal();
        },
      },
    );
    await Promise.race([openedSeen, run]);
    const after = await opened!;
    const accepted = await acceptCpu!;
    // What the server spends while every connection sits idle (its timers and periodic checks):
    // nothing grows with the connections if nothing walks them.
    const idleFrom = await server.stats(false);
    await new Promise((resolve) => setTimeout(resolve, IDLE_CPU_WINDOW_MS));
    const idleTo = await server.stats(false);
    gen.release();
    const result = (await run) as IdleResult;
    const n = Math.max(1, result.opened);
    const row: IdleRound = {
      round,
      opened: result.opened,
      acceptMs: result.acceptMs,
      cpuPerHandshakeUs: (accepted.cpuMicros - before.cpuMicros) / n,
      rssPerConn: (after.rss - before.rss) / n,
      heapPerConn: (after.heapUsed - before.heapUsed) / n,
      idleCpu: (idleTo.cpuMicros - idleFrom.cpuMicros) / 1000 / (idleTo.at - idleFrom.at),
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
  // Made once, and only when a TLS run needs it.
  const cert = o.scenarios.some(isH2) ? benchCert() : { error: 'not needed' };
  try {
    for (const s of o.scenarios) {
      if (isMultinode(s)) {
        results.push(await runMultinode(s, { ...o, rounds: o.multinodeRounds, pin }));
      } else if (isH2(s)) {
        if (!o.servers.some((spec) => spec.name === SUBJECT)) {
          log(`  ${s.name}: skipped (the HTTP/2 group runs ${SUBJECT}, which is not in the server list)`);
          continue;
        }
        results.push(await runH2(s, { ...o, pin, gen, cert }));
      } else if (s.kind !== 'idle') {
        const servers = rateServers(s, o.servers);
        const entries = new Map<string, ServerEntry<EchoRound>>(
          servers.map((spec) => [spec.name, { name: spec.name, about: spec.about, status: 'ok', rounds: [] }]),
        );
        for (let round = 1; round <= o.rounds; round++) {
          for (const spec of servers) {
            const entry = entries.get(spec.name)!;
            if (entry.status === 'n/a') continue; // it will not negotiate next round either
            const began = Date.now();
            const label = `${s.name} r${round} ${spec.name.padEnd(12)}`;
            const {
              server,
              result,
              round: row,
            } = await steadyRateRun(spec, (port) => rateJob(s, port, o), wantsDeflate(s), round, gen, pin, label);
            if (server.info) infos.set(spec.name, server.info);
            if (!row) {
              entry.status = 'n/a';
              entry.note = 'no permessage-deflate negotiated';
              log(`  ${label} n/a: server did not negotiate permessage-deflate (${result.extensions || 'no extensions'})`);
              continue;
            }
            entry.rounds.push(row);
            log(rateLine(label, row, s.kind === 'broadcast', s.kind === 'echo' && s.deflate ? result.extensions : undefined, began));
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
                `RSS ${(row.rssPerConn / 1024).toFixed(1)} KiB/conn  heap ${(row.heapPerConn / 1024).toFixed(1)} KiB/conn  idle CPU ${((row.idleCpu ?? 0) * 100).toFixed(2)}%  ${((Date.now() - began) / 1000).toFixed(1)} s`,
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
      ...(o.appHeapMb > 0 ? { appHeapMb: o.appHeapMb } : {}),
    },
    scenarios: results,
    elapsedSeconds: Math.round((Date.now() - t0) / 1000),
    disturbedRuns: disturbance.busyRuns,
  };

  log('='.repeat(100));
  log(`wsup bench results — ${date} — ${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.os}`);
  log(
    `${m.pinning}; medians of ${o.rounds} rounds; ratios are each server ÷ ws (pure JS) from this run` +
      `${o.appHeapMb > 0 ? `; in the echo and broadcast scenarios every server holds a ${o.appHeapMb} MB application heap` : ''}` +
      `${results.some(isH2Result) ? '; in the HTTP/2 group, wsup over HTTP/2 ÷ wsup over HTTP/1.1' : ''}\n`,
  );
  const vsWs = results.filter(isVsWs);
  if (vsWs.length > 0) {
    log('servers:');
    for (const spec of o.servers) log(`  ${spec.name.padEnd(12)} ${spec.about}${infos.has(spec.name) ? ` [${infos.get(spec.name)}]` : ''}`);
    log('');
  }
  for (const r of results) {
    const text = isVsWs(r)
      ? r.scenario.kind === 'idle'
        ? idleTable(r as never, o.rounds)
        : echoTable(r as never, o.rounds)
      : isMultinodeResult(r)
        ? multinodeTable(r, o.multinodeRounds)
        : h2Table(r, o.rounds);
    log(`${text}\n`);
  }
  if (vsWs.length > 0) {
    log('targets (wsup ÷ ws):');
    for (const r of vsWs) log(`  ${r.scenario.name.padEnd(11)} ${r.target.text.replace(/^target /, '')}`);
  }
  const h2 = results.filter(isH2Result);
  if (h2.length > 0) {
    log(`${vsWs.length > 0 ? '\n' : ''}HTTP/2 ÷ HTTP/1.1 (wsup, same run):`);
    for (const r of h2) for (const line of pairLines(r)) log(`  ${r.scenario.name.padEnd(11)} ${line}`);
  }
  const proof = generatorProof(results);
  if (proof.length) {
    log('\ngenerator headroom (the same generator against the raw node:net ceiling and each server):');
    for (const p of proof) log(`  ${p}`);
  }
  if (disturbance.busyRuns > 0) {
    log(
      `\nWARNING: in ${disturbance.busyRuns} run(s) something else used over ${QUIET} of a core (column "other"): those numbers are noisy`,
    );
  }
  log(`\ntotal time ${report.elapsedSeconds} s`);

  if (o.save) {
    const json = `${JSON.stringify(report, null, 2)}\n`;
    // Only the latest run and its chart: earlier runs live in git's history of these two files.
    // --out sends a partial run elsewhere, so that it does not replace the committed full one.
    const file = o.out ? resolve(BENCH_DIR, o.out) : join(BENCH_DIR, 'results', 'latest.json');
    const svg = o.out ? file.replace(/(\.json)?$/, '.svg') : join(BENCH_DIR, 'results', 'ratios.svg');
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, json);
    writeFileSync(svg, ratiosSvg(report));
    log(`written: ${file}, ${svg}`);
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
