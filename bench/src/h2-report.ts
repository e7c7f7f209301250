/**
 * Results of the HTTP/2 group: medians over rounds, HTTP/2 ÷ HTTP/1.1 from the same run, and the
 * text tables. Every figure of an HTTP/2 transport is divided by the same figure of its HTTP/1.1
 * counterpart (TLS by TLS, cleartext by cleartext), with the same client.
 */
import { type EchoRound, int, kib, mb, medianRound, ms, pct, type ServerEntry, table } from './report.js';
import { type H2EchoScenario, type H2OpenScenario, TRANSPORT_PAIRS } from './scenarios.js';

export interface H2OpenRound {
  round: number;
  opened: number;
  /** From the first connect to the last WebSocket open. */
  openMs: number;
  opensPerSec: number;
  /** CPU time per WebSocket opened, µs, of each end (whichever end ran out of core limits opens/s). */
  serverCpuUs: number;
  clientCpuUs: number;
  /** Memory per open WebSocket: RSS and heap once all were open, less before, after forced GCs. */
  serverRssPerWs: number;
  serverHeapPerWs: number;
  clientRssPerWs: number;
  clientHeapPerWs: number;
  peakRss: number;
  shortfall?: string;
}

/**
 * An echo run of the HTTP/2 group: an echo scenario's row, plus the server's CPU per message,
 * which holds up when other processes slow the whole run down (the rate does not).
 */
export interface H2EchoRound extends EchoRound {
  serverCpuUsPerMsg: number;
}

/** Which client opened the WebSockets of an open run. */
export type OpenClient = 'bench' | 'wsup';

/** One transport (with one client, in the open scenario): rows of rounds and their median. */
export interface H2Entry<R> extends ServerEntry<R> {
  transport: string;
  client: OpenClient;
}

/** HTTP/2 ÷ HTTP/1.1 for one pair of transports and one client: figure name → ratio. */
export interface H2Pair {
  /** 'TLS' or 'cleartext'. */
  label: string;
  client: OpenClient;
  h2: string;
  h1: string;
  ratios: Record<string, number>;
}

export interface H2OpenScenarioResult {
  scenario: H2OpenScenario;
  servers: H2Entry<H2OpenRound>[];
  pairs: H2Pair[];
  notes: string[];
}

export interface H2EchoScenarioResult {
  scenario: H2EchoScenario;
  servers: H2Entry<H2EchoRound>[];
  pairs: H2Pair[];
  notes: string[];
}

export type H2ScenarioResult = H2OpenScenarioResult | H2EchoScenarioResult;

/** The figures divided in each scenario, with how the summary names them. */
const OPEN_FIGURES: [key: keyof H2OpenRound, label: string][] = [
  ['opensPerSec', 'opens/s'],
  ['serverCpuUs', 'server CPU/WS'],
  ['clientCpuUs', 'client CPU/WS'],
  ['serverRssPerWs', 'server RSS/WS'],
  ['serverHeapPerWs', 'server heap/WS'],
  ['clientRssPerWs', 'client RSS/WS'],
  ['clientHeapPerWs', 'client heap/WS'],
];
const ECHO_FIGURES: [key: keyof H2EchoRound, label: string][] = [
  ['msgsPerSec', 'msgs/s'],
  ['serverCpuUsPerMsg', 'server CPU/msg'],
  ['p99Ms', 'p99'],
];

/** Medians, then each HTTP/2 entry's figures ÷ its HTTP/1.1 counterpart's (same client). */
function finish<R extends { round: number; peakRss: number }>(
  entries: H2Entry<R>[],
  figures: [key: keyof R, label: string][],
  main: keyof R,
): H2Pair[] {
  for (const e of entries) e.median = medianRound(e.rounds);
  const pairs: H2Pair[] = [];
  for (const p of TRANSPORT_PAIRS) {
    for (const h2 of entries.filter((e) => e.transport === p.h2 && e.median)) {
      const h1 = entries.find((e) => e.transport === p.h1 && e.client === h2.client && e.median);
      if (!h1) continue;
      const ratios: Record<string, number> = {};
      for (const [key] of figures) ratios[key as string] = (h2.median![key] as number) / (h1.median![key] as number);
      h2.ratio = ratios[main as string];
      pairs.push({ label: p.label, client: h2.client, h2: p.h2, h1: p.h1, ratios });
    }
  }
  return pairs;
}

export function finishH2Open(scenario: H2OpenScenario, servers: H2Entry<H2OpenRound>[], notes: string[]): H2OpenScenarioResult {
  return { scenario, servers, pairs: finish(servers, OPEN_FIGURES, 'opensPerSec'), notes };
}

export function finishH2Echo(scenario: H2EchoScenario, servers: H2Entry<H2EchoRound>[], notes: string[]): H2EchoScenarioResult {
  return { scenario, servers, pairs: finish(servers, ECHO_FIGURES, 'msgsPerSec'), notes };
}

// ---------------------------------------------------------------------------------------------
// Text

export const times = (v: number): string => `${v >= 10 ? v.toFixed(1) : v.toFixed(2)}×`;

const CLIENT_TEXT: Record<OpenClient, string> = { bench: 'bench client', wsup: 'wsup client' };

/** One line per pair: "h2 tls ÷ h1 tls, bench client: opens/s 7.10×, server RSS/WS 0.38×, …". */
export function pairLines(r: H2ScenarioResult): string[] {
  const figures = r.scenario.kind === 'h2-open' ? OPEN_FIGURES : ECHO_FIGURES;
  return r.pairs.map((p) => {
    const client = r.scenario.kind === 'h2-open' ? `, ${CLIENT_TEXT[p.client]}` : '';
    const parts = figures.map(([key, label]) => `${label} ${times(p.ratios[key as string]!)}`);
    return `${p.h2} ÷ ${p.h1}${client}: ${parts.join(', ')}`;
  });
}

export function h2OpenTable(r: H2OpenScenarioResult, rounds: number): string {
  const s = r.scenario;
  const title = `${s.name}: ${s.title} (${s.concurrency} handshakes at a time), wsup server, median of ${rounds} round${rounds === 1 ? '' : 's'}`;
  const rows = r.servers.map((e) => {
    const m = e.median;
    if (!m) return [e.transport, CLIENT_TEXT[e.client], e.note ?? 'not run', '', '', '', '', '', '', '', '', '', ''];
    return [
      e.transport,
      CLIENT_TEXT[e.client],
      int(m.opened),
      `${int(m.openMs)} ms`,
      int(m.opensPerSec),
      `${int(m.serverCpuUs)} µs`,
      `${int(m.clientCpuUs)} µs`,
      kib(m.serverRssPerWs),
      kib(m.serverHeapPerWs),
      kib(m.clientRssPerWs),
      kib(m.clientHeapPerWs),
      mb(m.peakRss),
      e.ratio === undefined ? '-' : times(e.ratio),
    ];
  });
  const head = [
    'transport',
    'client',
    'opened',
    'open all',
    'opens/s',
    'srv CPU/WS',
    'cli CPU/WS',
    'srv RSS/WS',
    'srv heap/WS',
    'cli RSS/WS',
    'cli heap/WS',
    'peak RSS',
    'opens/s h2÷h1',
  ];
  return [title, table(head, rows, 2), ...pairLines(r).map((l) => `h2 ÷ h1: ${l}`), ...r.notes.map((n) => `note: ${n}`)].join('\n');
}

export function h2EchoTable(r: H2EchoScenarioResult, rounds: number): string {
  const s = r.scenario;
  const e0 = s.echo;
  const title = `${s.name}: ${s.title} (as ${e0.name}), ${e0.connections} WebSockets × ${e0.inflight} in flight, wsup server, median of ${rounds} round${rounds === 1 ? '' : 's'}`;
  const rows = r.servers.map((e) => {
    const m = e.median;
    if (!m) return [e.transport, e.note ?? 'not run', '', '', '', '', '', '', '', '', ''];
    return [
      e.transport,
      int(m.msgsPerSec),
      m.mbPerSec.toFixed(1),
      ms(m.p50Ms),
      ms(m.p99Ms),
      mb(m.peakRss),
      pct(m.serverCpu),
      m.serverCpuUsPerMsg.toFixed(2),
      pct(m.genCpu),
      pct(m.otherCpu),
      e.ratio === undefined ? '-' : times(e.ratio),
    ];
  });
  const head = ['transport', 'msgs/s', 'MB/s', 'p50 ms', 'p99 ms', 'peak RSS', 'srv CPU', 'srv µs/msg', 'gen CPU', 'other', 'h2 ÷ h1'];
  return [title, table(head, rows, 1), ...pairLines(r).map((l) => `h2 ÷ h1: ${l}`), ...r.notes.map((n) => `note: ${n}`)].join('\n');
}

export function h2Table(r: H2ScenarioResult, rounds: number): string {
  return r.scenario.kind === 'h2-open' ? h2OpenTable(r as H2OpenScenarioResult, rounds) : h2EchoTable(r as H2EchoScenarioResult, rounds);
}
