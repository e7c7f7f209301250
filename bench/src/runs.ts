/**
 * One measured run of a rate (echo or broadcast) job against a fresh server process, and the
 * waiting for a quiet machine around it: shared by the main scenarios (main.ts) and the HTTP/2
 * group (h2-bench.ts).
 */
import { busyCores, sampleCpu, waitForQuiet, type CpuSample } from './load.js';
import type { GeneratorProcess, pinning } from './processes.js';
import { ServerProcess } from './processes.js';
import type { BroadcastResult, EchoResult, Job, ServerStats } from './protocol.js';
import { cpuPerMessageUs, type EchoRound } from './report.js';
import type { ServerSpec } from './servers.js';

export function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

export const int = (n: number): string => Math.round(n).toLocaleString('en-US');

/** More than this many cores busy outside the bench before a run: wait for the machine to calm down. */
export const QUIET = 0.3;

/** How much the invocation has been disturbed, and what it may still spend on that. */
export const disturbance = {
  /** Kept runs during which something else used more than QUIET of a core. */
  busyRuns: 0,
  /** Disturbed runs that may still be run once more. */
  retriesLeft: 12,
  /**
   * Time the whole invocation may spend waiting for quiet: on a machine that never calms down the
   * waits would otherwise add minutes.
   */
  waitBudgetMs: 60_000,
};

/** Waits (within the budget) for the machine to be quiet; false if it was still busy. */
export async function quiet(what: string): Promise<boolean> {
  const t = Date.now();
  const busy = await waitForQuiet(QUIET, Math.min(20_000, disturbance.waitBudgetMs));
  disturbance.waitBudgetMs = Math.max(0, disturbance.waitBudgetMs - (Date.now() - t));
  if (busy !== null && busy >= QUIET) {
    log(`  (machine busy before ${what}: other processes use ${busy.toFixed(2)} cores; running anyway)`);
    return false;
  }
  return true;
}

export type Pinning = ReturnType<typeof pinning>;

/** One run of a rate job against one server: `round` is undefined when deflate was not negotiated. */
export async function rateRun(
  spec: ServerSpec,
  jobFor: (port: number) => Job,
  deflate: boolean,
  round: number,
  gen: GeneratorProcess,
  pin: Pinning,
  what: string,
): Promise<{ server: ServerProcess; result: EchoResult | BroadcastResult; round: EchoRound | undefined }> {
  await quiet(what);
  const server = await ServerProcess.start(spec, deflate, pin?.server, [], true);
  try {
    let start: Promise<ServerStats> | undefined;
    let end: Promise<ServerStats> | undefined;
    let cpuStart: CpuSample | null = null;
    let cpuEnd: CpuSample | null = null;
    const result = (await gen.run(jobFor(server.port), {
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
      majorGcs: b.majorGcs - a.majorGcs,
    };
    return { server, result, round: row };
  } finally {
    await server.stop();
  }
}

/**
 * {@link rateRun}, once more if something else disturbed it (within a budget that keeps the whole
 * bench inside its time even on a machine that never calms down). Counts the disturbed runs kept.
 */
export async function steadyRateRun(
  spec: ServerSpec,
  jobFor: (port: number) => Job,
  deflate: boolean,
  round: number,
  gen: GeneratorProcess,
  pin: Pinning,
  label: string,
): ReturnType<typeof rateRun> {
  let run = await rateRun(spec, jobFor, deflate, round, gen, pin, label);
  if (run.round && run.round.otherCpu > QUIET && disturbance.retriesLeft > 0) {
    disturbance.retriesLeft--;
    log(`  ${label} disturbed (other processes ${Math.round(run.round.otherCpu * 100)}% of a core): once more`);
    run = await rateRun(spec, jobFor, deflate, round, gen, pin, label);
  }
  if (run.round && run.round.otherCpu > QUIET) disturbance.busyRuns++;
  return run;
}

/** The line printed for one echo or broadcast run. */
export function rateLine(label: string, row: EchoRound, fanout: boolean, extensions: string | undefined, began: number): string {
  return (
    `  ${label} ${int(row.msgsPerSec).padStart(10)} ${fanout ? 'deliveries' : 'msgs'}/s  p99 ${row.p99Ms.toFixed(2)} ms  ` +
    `server CPU ${Math.round(row.serverCpu * 100)}% (${cpuPerMessageUs(row).toFixed(2)} µs/${fanout ? 'delivery' : 'msg'}, ${row.majorGcs ?? 0} full GCs)  generator CPU ${Math.round(row.genCpu * 100)}% busy ${Math.round(row.genBusy * 100)}%  other ${Math.round(row.otherCpu * 100)}%  ` +
    (fanout
      ? `published/write ${row.msgsPerWrite.toFixed(1)} deliveries/read ${row.msgsPerRead.toFixed(1)}  (${int(row.verified)} deliveries verified)`
      : `msgs/write ${row.msgsPerWrite.toFixed(1)} msgs/read ${row.msgsPerRead.toFixed(1)}  (${int(row.verified)} echoes verified)`) +
    (extensions ? `  [${extensions}]` : '') +
    `  ${((Date.now() - began) / 1000).toFixed(1)} s`
  );
}
