/**
 * `pnpm bench -- --profile`: runs wsup under `node --cpu-prof` in the small, medium and broadcast scenarios
 * (or those named with --scenario) and summarises self time over the measured window only, so
 * start-up and TypeScript compilation do not dilute the picture.
 */
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatSummary, summarise } from './cpuprofile.js';
import { BENCH_DIR, GeneratorProcess, pinning, ServerProcess } from './processes.js';
import { rateJob, wantsDeflate } from './jobs.js';
import type { BroadcastResult, EchoResult, ServerStats } from './protocol.js';
import { SCENARIOS, type RateScenario, type Scenario } from './scenarios.js';
import { SERVERS, SUBJECT } from './servers.js';

export async function profile(o: {
  scenarios: Scenario[];
  servers: { name: string }[];
  durationMs: number;
  warmupMs: number;
}): Promise<void> {
  const explicit = o.scenarios.length !== SCENARIOS.length;
  const scenarios = (explicit ? o.scenarios : SCENARIOS.filter((s) => ['small', 'medium', 'broadcast'].includes(s.name))).filter(
    (s): s is RateScenario => s.kind === 'echo' || s.kind === 'broadcast',
  );
  const servers = o.servers.length !== SERVERS.length ? o.servers.map((s) => s.name) : [SUBJECT];
  const pin = pinning();
  const dir = join(BENCH_DIR, 'results', 'profiles');
  mkdirSync(dir, { recursive: true });
  const gen = await GeneratorProcess.start(pin?.generator);
  const report: string[] = [];
  try {
    for (const s of scenarios) {
      for (const name of servers) {
        const spec = SERVERS.find((x) => x.name === name)!;
        const profName = `${name}-${s.name}.cpuprofile`;
        // tsx runs a loader thread that writes a profile of its own, so each run gets a scratch
        // directory and keeps the main thread's file (thread id 0 in Node's default name).
        const scratch = join(dir, `${name}-${s.name}.tmp`);
        rmSync(scratch, { recursive: true, force: true });
        const server = await ServerProcess.start(spec, wantsDeflate(s), pin?.server, ['--cpu-prof', `--cpu-prof-dir=${scratch}`], true);
        let start: Promise<ServerStats> | undefined;
        let end: Promise<ServerStats> | undefined;
        let result: EchoResult | BroadcastResult;
        try {
          result = (await gen.run(rateJob(s, server.port, o), {
            onMark: (phase) => {
              if (phase === 'measure-start') start = server.stats();
              else end = server.stats();
            },
          })) as EchoResult | BroadcastResult;
        } finally {
          await server.stop(); // a clean exit is what makes --cpu-prof write the file
        }
        const [a, b] = await Promise.all([start!, end!]);
        const main = readdirSync(scratch).find((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f));
        if (!main) throw new Error(`no main-thread profile written for ${name} in ${scratch}`);
        renameSync(join(scratch, main), join(dir, profName));
        rmSync(scratch, { recursive: true, force: true });
        const summary = summarise(join(dir, profName), { from: a.monotonicMicros, to: b.monotonicMicros });
        const load = s.kind === 'broadcast' ? `${s.inflight} in flight` : `${s.connections} × ${s.inflight} in flight`;
        const unit = s.kind === 'broadcast' ? 'deliveries/s' : 'msgs/s';
        const head = `${name}, ${s.name} (${s.title}, ${load}): ${Math.round(result.msgsPerSec).toLocaleString('en-US')} ${unit} under the profiler`;
        const text = `${head}\n${'-'.repeat(head.length)}\n${formatSummary(summary)}\n`;
        report.push(text);
        process.stdout.write(`${text}\n`);
      }
    }
  } finally {
    await gen.stop();
  }
  writeFileSync(join(BENCH_DIR, 'results', 'profile.txt'), `${report.join('\n')}`);
  process.stdout.write(`written: bench/results/profile.txt, profiles in bench/results/profiles/\n`);
}
