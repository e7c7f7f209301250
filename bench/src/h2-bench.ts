/**
 * The HTTP/2 group (`--scenario http2`): wsup's WebSockets over HTTP/2 (RFC 8441) against the same
 * over HTTP/1.1, from the same run. ws and uWebSockets.js do not speak RFC 8441, so wsup is alone
 * here and every figure is HTTP/2 ÷ HTTP/1.1, TLS against TLS and cleartext against cleartext.
 *
 * - h2-open: many WebSockets from one client process. Over HTTP/2 they are streams of one session
 *   (one TCP connection, one TLS handshake); over HTTP/1.1 each has a connection (and a TLS
 *   handshake) of its own. Opened by the bench's lean client, so the server is what is measured,
 *   and once more by wsup's own `connect()`, for what they cost a wsup client. Each open run has a
 *   fresh server and a fresh client process, so both memory deltas are that run's alone.
 * - h2-small, h2-medium: the small and medium echo scenarios' messages and load, with the
 *   generator's verified echo connections running on HTTP/2 streams or HTTP/1.1 sockets.
 */
import { rateLine, int, log, type Pinning, quiet, steadyRateRun } from './runs.js';
import { GeneratorProcess, ServerProcess } from './processes.js';
import { echoJob } from './jobs.js';
import type { H2OpenResult, JobTransport, ServerStats } from './protocol.js';
import {
  finishH2Echo,
  finishH2Open,
  type H2EchoRound,
  type H2Entry,
  type H2OpenRound,
  type H2ScenarioResult,
  h2Table,
  type OpenClient,
} from './h2-report.js';
import type { H2EchoScenario, H2OpenScenario, H2Scenario, Transport } from './scenarios.js';
import type { ServerSpec } from './servers.js';
import type { BenchCert } from './tls-cert.js';

export interface H2Context {
  rounds: number;
  warmupMs: number;
  durationMs: number;
  pin: Pinning;
  /** The long-lived generator of the bench, for the echo runs. */
  gen: GeneratorProcess;
  /** The certificate for the TLS runs, or why there is none (they are then left out). */
  cert: BenchCert | { error: string };
}

const OPEN_CLIENTS: OpenClient[] = ['bench', 'wsup'];

/** The scenario's transports this run can use: without a certificate, only the cleartext ones. */
function transports(s: H2Scenario, ctx: H2Context): Transport[] {
  return 'error' in ctx.cert ? s.transports.filter((t) => !t.tls) : s.transports;
}

function serverFor(t: Transport, ctx: H2Context): ServerSpec {
  const tls: Record<string, string> = !('error' in ctx.cert) && t.tls ? { BENCH_TLS_KEY: ctx.cert.key, BENCH_TLS_CERT: ctx.cert.cert } : {};
  return {
    name: `wsup ${t.name}`,
    file: 'servers/wsup-h2.ts',
    about: `wsup, ${t.listen} listener`,
    env: { BENCH_LISTEN: t.listen, ...tls },
  };
}

function jobTransport(t: Transport, ctx: H2Context): JobTransport {
  return {
    http2: t.http2,
    ...(t.sessionEach ? { sessionEach: true } : {}),
    tls: t.tls,
    ...(t.tls && !('error' in ctx.cert) ? { ca: ctx.cert.cert } : {}),
  };
}

/** What the tables should say about how the runs were made. */
function notesFor(s: H2Scenario, ctx: H2Context): string[] {
  const notes: string[] = [];
  if ('error' in ctx.cert) notes.push(`TLS runs left out: ${ctx.cert.error}`);
  else
    notes.push(
      'TLS: one createSecureServer({ allowHTTP1: true }) port for both protocols (ALPN picks), ECDSA P-256 certificate, TLS 1.3, full handshakes (no session resumption)',
    );
  if (s.transports.some((t) => !t.tls)) notes.push('cleartext: h2c (http2.createServer) against node:http');
  if (s.transports.some((t) => t.sessionEach)) notes.push('1:1: each WebSocket on an HTTP/2 session of its own, as from as many browsers');
  notes.push("the server keeps Node's HTTP/2 defaults (64 KiB flow-control windows); the bench client advertises browser-sized ones");
  return notes;
}

export async function runH2(s: H2Scenario, ctx: H2Context): Promise<H2ScenarioResult> {
  const r = s.kind === 'h2-open' ? await runOpen(s, ctx) : await runEcho(s, ctx);
  log(`\n${h2Table(r, ctx.rounds)}\n`);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Opening many WebSockets

async function openRun(
  s: H2OpenScenario,
  websockets: number,
  t: Transport,
  client: OpenClient,
  round: number,
  ctx: H2Context,
): Promise<{ row: H2OpenRound; calm: boolean }> {
  const calm = await quiet(`${s.name} ${t.name} ${client}`);
  const server = await ServerProcess.start(serverFor(t, ctx), false, ctx.pin?.server);
  // A fresh client process: its memory before and after is this run's alone.
  const gen = await GeneratorProcess.start(ctx.pin?.generator);
  try {
    const before = await server.stats(true);
    let atOpen: Promise<[ServerStats, ServerStats]> | undefined;
    let openedSignal!: () => void;
    const openedSeen = new Promise<void>((resolve) => (openedSignal = resolve));
    const run = gen.run(
      {
        kind: 'h2-open',
        port: server.port,
        websockets,
        concurrency: s.concurrency,
        transport: jobTransport(t, ctx),
        client,
      },
      {
        onIdleOpen: () => {
          // The client waited a moment for the last handshakes to settle before saying so. CPU
          // first, then memory after the GCs (which cost CPU of their own).
          atOpen = server.stats(false).then(async (cpu) => [cpu, await server.stats(true)]);
          openedSignal();
        },
      },
    );
    await Promise.race([openedSeen, run]);
    const [cpu, mem] = await atOpen!;
    gen.release();
    const result = (await run) as H2OpenResult;
    const n = Math.max(1, result.opened);
    const row: H2OpenRound = {
      round,
      opened: result.opened,
      openMs: result.openMs,
      opensPerSec: result.opened / (result.openMs / 1000),
      serverCpuUs: (cpu.cpuMicros - before.cpuMicros) / n,
      clientCpuUs: result.cpuMicros / n,
      serverRssPerWs: (mem.rss - before.rss) / n,
      serverHeapPerWs: (mem.heapUsed - before.heapUsed) / n,
      clientRssPerWs: result.rssDelta / n,
      clientHeapPerWs: result.heapDelta / n,
      peakRss: mem.peakRss,
      ...(result.shortfall ? { shortfall: result.shortfall } : {}),
    };
    return { row, calm };
  } finally {
    await gen.stop();
    await server.stop();
  }
}

async function runOpen(s: H2OpenScenario, ctx: H2Context): Promise<H2ScenarioResult> {
  const notes = notesFor(s, ctx);
  notes.push(
    'bench client: node:http2 (one session) or node:tls (one secure context) / node:net with the handshake by hand; wsup client: connect(url, { http2 })',
  );
  // Over HTTP/1.1 both ends hold a descriptor per WebSocket: like the idle scenario, stay under the
  // open-file limit run.sh could set.
  const nofile = Number(process.env.BENCH_NOFILE ?? 0);
  const websockets = nofile > 0 ? Math.min(s.websockets, Math.max(100, nofile - 256)) : s.websockets;
  if (websockets < s.websockets) notes.push(`open-file limit is ${nofile}: ${websockets} WebSockets per run instead of ${s.websockets}`);
  const ts = transports(s, ctx);
  const entries: H2Entry<H2OpenRound>[] = ts.flatMap((t) =>
    OPEN_CLIENTS.map((client) => ({
      name: `${t.name} ${client}`,
      about: serverFor(t, ctx).about,
      status: 'ok' as const,
      rounds: [],
      transport: t.name,
      client,
    })),
  );
  let busy = 0;
  for (let round = 1; round <= ctx.rounds; round++) {
    for (const t of ts) {
      for (const client of OPEN_CLIENTS) {
        const began = Date.now();
        const { row, calm } = await openRun(s, websockets, t, client, round, ctx);
        if (!calm) busy++;
        entries.find((e) => e.transport === t.name && e.client === client)!.rounds.push(row);
        if (row.shortfall) notes.push(`${t.name} ${client} round ${round}: only ${row.opened} opened (${row.shortfall})`);
        log(
          `  ${s.name} r${round} ${t.name.padEnd(6)} ${client.padEnd(5)} ${int(row.opened)} WebSockets in ${int(row.openMs)} ms (${int(row.opensPerSec)}/s)  ` +
            `CPU/WS server ${int(row.serverCpuUs)} µs client ${int(row.clientCpuUs)} µs  ` +
            `server RSS ${(row.serverRssPerWs / 1024).toFixed(1)} KiB/WS heap ${(row.serverHeapPerWs / 1024).toFixed(1)} KiB/WS  ` +
            `client RSS ${(row.clientRssPerWs / 1024).toFixed(1)} KiB/WS heap ${(row.clientHeapPerWs / 1024).toFixed(1)} KiB/WS  ${((Date.now() - began) / 1000).toFixed(1)} s`,
        );
      }
    }
  }
  if (busy > 0) notes.push(`${busy} open runs started while other processes were busy: their open times are noisy`);
  return finishH2Open(s, entries, notes);
}

// ---------------------------------------------------------------------------------------------
// Echo

async function runEcho(s: H2EchoScenario, ctx: H2Context): Promise<H2ScenarioResult> {
  const ts = transports(s, ctx);
  const entries: H2Entry<H2EchoRound>[] = ts.map((t) => ({
    name: t.name,
    about: serverFor(t, ctx).about,
    status: 'ok' as const,
    rounds: [],
    transport: t.name,
    client: 'bench',
  }));
  for (let round = 1; round <= ctx.rounds; round++) {
    for (const t of ts) {
      const began = Date.now();
      const label = `${s.name} r${round} ${t.name.padEnd(12)}`;
      const { round: row } = await steadyRateRun(
        serverFor(t, ctx),
        (port) => ({ ...echoJob(s.echo, port, ctx), transport: jobTransport(t, ctx) }),
        false,
        round,
        ctx.gen,
        ctx.pin,
        label,
      );
      // Without deflate there is nothing to negotiate: a run always has its row.
      const h2row: H2EchoRound = { ...row!, serverCpuUsPerMsg: (row!.serverCpu * 1e6) / row!.msgsPerSec };
      entries.find((e) => e.transport === t.name)!.rounds.push(h2row);
      log(`${rateLine(label, row!, false, undefined, began)}  server ${h2row.serverCpuUsPerMsg.toFixed(2)} µs/msg`);
    }
  }
  return finishH2Echo(s, entries, notesFor(s, ctx));
}
