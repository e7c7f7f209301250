/**
 * The long form of the hostile-load suite: every probe at its soak size, against wsup and ws,
 * one after the other on fresh server processes, then a markdown table on stdout (progress on
 * stderr). `pnpm soak`, or with options:
 *
 *   pnpm soak -- --only ping-flood,slowloris   # some probes
 *   pnpm soak -- --impl wsup                   # one server
 *   pnpm soak -- --json soak.json              # also every figure, as JSON
 *   pnpm soak -- --scale ci                    # the CI sizes, for a quick look
 *
 * Rows whose wsup result breaks the probe's expectations are marked ⚠ and listed below the
 * table; the exit code stays 0 (it is a report), unless a run could not be carried out.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  type Impl,
  LegitClient,
  legitCell,
  markdownTable,
  type ProbeResult,
  runProbe,
  type Scale,
  ServerPool,
  SCALES,
  wsupViolations,
} from './harness.js';
import { PROBES } from './probes/index.js';
import { mib } from './wire.js';

const { values } = parseArgs({
  // `pnpm soak -- --only x` passes the `--` through.
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    only: { type: 'string' },
    impl: { type: 'string' },
    json: { type: 'string' },
    scale: { type: 'string', default: 'soak' },
  },
});
const scale = values.scale as Scale;
if (!(scale in SCALES)) throw new Error(`--scale must be ci or soak, not ${values.scale}`);
const only = values.only?.split(',').map((s) => s.trim());
const probes = only ? PROBES.filter((p) => only.includes(p.id)) : PROBES;
if (only && probes.length !== only.length) {
  throw new Error(`unknown probe in --only; the probes are: ${PROBES.map((p) => p.id).join(', ')}`);
}
const impls: Impl[] = values.impl ? [values.impl as Impl] : ['wsup', 'ws'];

const log = (line: string): void => void process.stderr.write(`${line}\n`);

const started = performance.now();
const legit = await LegitClient.start();
// No prefetch: nothing but the probe runs while a server is measured.
const pool = new ServerPool(SCALES[scale].server, 0);
const rows: { probe: (typeof PROBES)[number]; wsup?: ProbeResult; ws?: ProbeResult }[] = [];
const infos = new Set<string>();
let failed = false;
try {
  for (const probe of probes) {
    const row: (typeof rows)[number] = { probe };
    for (const impl of impls) {
      log(`${probe.id} × ${impl} …`);
      try {
        const result = await runProbe(probe, impl, scale, legit, pool);
        row[impl] = result;
        infos.add(result.info);
        log(`  ${result.crashed ? `CRASHED ${result.crashed} — ` : ''}${result.outcome.summary}`);
        log(
          `  peak RSS +${mib(result.peakRssGrowth)}, legit ${legitCell(result)}, ` +
            `server event loop blocked ≤ ${result.server?.loopDelayMaxMs ?? '?'} ms, ${(result.durationMs / 1000).toFixed(1)} s`,
        );
      } catch (err) {
        failed = true;
        log(`  run failed: ${(err as Error).stack ?? err}`);
      }
    }
    rows.push(row);
  }
} finally {
  await pool.close();
  await legit.close();
}

const minutes = ((performance.now() - started) / 60_000).toFixed(1);
const { server, holdMs, legitMaxLatencyMs, legitMedianLatencyMs } = SCALES[scale];
const out = [
  `Hostile-load ${scale} run, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, Node ${process.version}, ${minutes} min. Servers: ${[...infos].join('; ')}.`,
  `Both servers: node:http on 127.0.0.1, echo route, permessage-deflate on, handshake (request head) limit ${server.handshakeTimeout} s checked every ${server.connectionsCheckingInterval} ms, ` +
    `16 MiB maxPayload; wsup otherwise at its defaults. Peak RSS growth: the server process's highest RSS during the probe (sampled every 20 ms and the kernel's VmHWM) minus its RSS after a GC before it. ` +
    `Attacks are held ${holdMs / 1000} s once set up. Legit client: one separate connection doing echo round trips every 10 ms throughout; served = still open, the median round trip within ${legitMedianLatencyMs} ms and none over ${legitMaxLatencyMs} ms.`,
  '',
  markdownTable(rows),
];
const flagged = rows.flatMap(({ probe, wsup }) => (wsup ? wsupViolations(probe, wsup).map((v) => `- ⚠ ${probe.title}: ${v}`) : []));
if (flagged.length) out.push('', 'wsup expectations broken:', ...flagged);
process.stdout.write(`${out.join('\n')}\n`);
if (values.json)
  writeFileSync(
    values.json,
    `${JSON.stringify(
      rows.map((r) => ({ probe: r.probe.id, wsup: r.wsup, ws: r.ws })),
      null,
      2,
    )}\n`,
  );
process.exitCode = failed ? 1 : 0;
