/**
 * `pnpm bench -- --profile`: runs wsup under `node --cpu-prof` in the small and medium scenarios
 * (or those named with --scenario) and summarises self time over the measured window only, so
 * start-up and TypeScript compilation do not dilute the picture.
 */
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatSummary, summarise } from './cpuprofile.js';
import { BENCH_DIR, GeneratorProcess, pinning, ServerProcess } from './processes.js';
import type { EchoResult, ServerStats } from './protocol.js';
import { SCENARIOS, type EchoScenario, type Scenario } from './scenarios.js';
import { SERVERS, SUBJECT } from './servers.js';

export async function profile(o: { scenarios: Scenario[]; servers: { name: string }[]; durationMs: number; warmupMs: number }): Promise<void> {
  const explicit = o.scenarios.length !== SCENARIOS.length;
  const scenarios = (explicit ? o.scenarios : SCENARIOS.filter((s) => s.name === 'small' || s.name === 'medium')).filter(
    (s): s is EchoScenario => s.kind === 'echo',
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
        const server = await ServerProcess.start(spec, s.deflate, pin?.server, ['--cpu-prof', `--cpu-prof-dir=${scratch}`]);
        let start: Promise<ServerStats> | undefined;
        let end: Promise<ServerStats> | undefined;
        let result: EchoResult;
        try {
          result = (await gen.run(
            {
              kind: 'echo',
              port: server.port,
              connections: s.connections,
              inflight: s.inflight,
              payloadBytes: s.payloadBytes,
              binary: s.binary,
              content: s.content,
              deflate: s.deflate,
              warmupMs: o.warmupMs,
              durationMs: o.durationMs,
            },
            {
              onMark: (phase) => {
                if (phase === 'measure-start') start = server.stats();
                else end = server.stats();
              },
            },
          )) as EchoResult;
        } finally {
          await server.stop(); // a clean exit is what makes --cpu-prof write the file
        }
        const [a, b] = await Promise.all([start!, end!]);
        const main = readdirSync(scratch).find((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f));
        if (!main) throw new Error(`no main-thread profile written for ${name} in ${scratch}`);
        renameSync(join(scratch, main), join(dir, profName));
        rmSync(scratch, { recursive: true, force: true });
        const summary = summarise(join(dir, profName), { from: a.monotonicMicros, to: b.monotonicMicros });
        const head = `${name}, ${s.name} (${s.title}, ${s.connections} × ${s.inflight} in flight): ${Math.round(result.msgsPerSec).toLocaleString('en-US')} msgs/s under the profiler`;
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
