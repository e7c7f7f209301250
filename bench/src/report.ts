/** Aggregation (medians over rounds), the text tables, and the SVG chart of the ratios. */
import type { H2ScenarioResult } from './h2-report.js';
import type { MultinodeScenarioResult } from './multinode-report.js';
import type { EchoScenario, IdleScenario, RateScenario, Scenario } from './scenarios.js';
import { BASELINE, CEILING, SUBJECT } from './servers.js';

export interface EchoRound {
  round: number;
  msgsPerSec: number;
  mbPerSec: number;
  p50Ms: number;
  p99Ms: number;
  peakRss: number;
  /** Server CPU over the measured window, fraction of one core (all its threads). */
  serverCpu: number;
  genCpu: number;
  /** Generator event loop utilisation over the window: the share of it not spent waiting for data. */
  genBusy: number;
  /** CPU used during the window by anything else (cores): other processes, unattributed kernel work. */
  otherCpu: number;
  verified: number;
  /** Generator-side messages per socket write / per read in the window. */
  msgsPerWrite: number;
  msgsPerRead: number;
  /** Full (mark-compact) collections in the server during the measured window (absent in older results). */
  majorGcs?: number;
}

/** A round's server CPU per message (per delivery in broadcast), in µs. */
export function cpuPerMessageUs(row: { serverCpu: number; msgsPerSec: number }): number {
  return (row.serverCpu / row.msgsPerSec) * 1e6;
}

export interface IdleRound {
  round: number;
  opened: number;
  acceptMs: number;
  /**
   * Server CPU time (user + system, all threads) from before the first connection to the last
   * 101, per handshake, in µs: what the server spent, whichever end limited "accept all".
   */
  cpuPerHandshakeUs: number;
  rssPerConn: number;
  heapPerConn: number;
  /**
   * Server CPU (all threads) as a share of one core while every connection sits open and idle,
   * after the RSS is read: what idle connections cost a server that does nothing.
   */
  idleCpu?: number;
  peakRss: number;
  shortfall?: string;
}

export interface ServerEntry<R> {
  name: string;
  about: string;
  info?: string;
  /** 'n/a' when the server did not negotiate what the scenario needs (deflate). */
  status: 'ok' | 'n/a';
  note?: string;
  rounds: R[];
  median?: R;
  /** This server ÷ ws: msgs/s for echo scenarios, RSS per connection for idle. */
  ratio?: number;
}

/** An echo or broadcast scenario: rates, where "msgs/s" counts echoes or deliveries. */
export interface EchoScenarioResult {
  scenario: RateScenario;
  servers: ServerEntry<EchoRound>[];
  target: { ratio: number | null; min: number; met: boolean | null; text: string };
}

export interface IdleScenarioResult {
  scenario: IdleScenario;
  servers: ServerEntry<IdleRound>[];
  target: { ratio: number | null; max: number; met: boolean | null; text: string };
  notes: string[];
}

export type ScenarioResult = EchoScenarioResult | IdleScenarioResult | H2ScenarioResult | MultinodeScenarioResult;

/** The results compared with ws (everything but the HTTP/2 group, which compares wsup with itself). */
export function isVsWs(r: ScenarioResult): r is EchoScenarioResult | IdleScenarioResult {
  const kind = r.scenario.kind;
  return kind === 'echo' || kind === 'broadcast' || kind === 'idle';
}

export interface Machine {
  cpu: string;
  cores: number;
  memory: string;
  node: string;
  os: string;
  pinning: string;
}

export interface BenchReport {
  date: string;
  machine: Machine;
  config: {
    rounds: number;
    warmupMs: number;
    durationMs: number;
    scenarios: string[];
    servers: string[];
    /** MB of live objects each server process was given before it started (`--app-heap`). */
    appHeapMb?: number;
  };
  scenarios: ScenarioResult[];
  elapsedSeconds: number;
  /** Echo runs during which other processes used a noticeable share of the CPU. */
  disturbedRuns: number;
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Median of every numeric field, except peak RSS which is the peak over the rounds. */
export function medianRound<R extends { round: number; peakRss: number }>(rounds: R[]): R | undefined {
  if (rounds.length === 0) return undefined;
  const out: Record<string, unknown> = { ...rounds[0]!, round: 0 };
  for (const key of Object.keys(rounds[0]!)) {
    const values = rounds.map((r) => (r as Record<string, unknown>)[key]);
    if (key === 'peakRss') out[key] = Math.max(...(values as number[]));
    else if (key !== 'round' && values.every((v) => typeof v === 'number')) out[key] = median(values as number[]);
  }
  return out as R;
}

export function finishEcho(scenario: RateScenario, servers: ServerEntry<EchoRound>[]): EchoScenarioResult {
  for (const s of servers) s.median = medianRound(s.rounds);
  const base = servers.find((s) => s.name === BASELINE && s.status === 'ok')?.median?.msgsPerSec;
  for (const s of servers) if (base && s.status === 'ok' && s.median) s.ratio = s.median.msgsPerSec / base;
  const subject = servers.find((s) => s.name === SUBJECT);
  const ratio = subject?.ratio ?? null;
  let text: string;
  let met: boolean | null = null;
  if (!subject) text = `target wsup ≥ ${scenario.minRatio}× ws: not run`;
  else if (subject.status === 'n/a') text = `target wsup ≥ ${scenario.minRatio}× ws: n/a (${subject.note})`;
  else if (ratio === null) text = `target wsup ≥ ${scenario.minRatio}× ws: no ws baseline in this run`;
  else {
    met = ratio >= scenario.minRatio;
    text = `target wsup ≥ ${scenario.minRatio}× ws: ${ratio.toFixed(2)}× — ${met ? 'MET' : 'NOT MET'}`;
  }
  return { scenario, servers, target: { ratio, min: scenario.minRatio, met, text } };
}

export function finishIdle(scenario: IdleScenario, servers: ServerEntry<IdleRound>[], notes: string[]): IdleScenarioResult {
  for (const s of servers) s.median = medianRound(s.rounds);
  const base = servers.find((s) => s.name === BASELINE)?.median?.rssPerConn;
  for (const s of servers) if (base && s.median) s.ratio = s.median.rssPerConn / base;
  const ratio = servers.find((s) => s.name === SUBJECT)?.ratio ?? null;
  const met = ratio === null ? null : ratio <= scenario.maxRatio;
  const text =
    ratio === null
      ? 'target wsup memory/connection ≤ ws: not measured'
      : `target wsup memory/connection ≤ ws: ${ratio.toFixed(2)}× ws — ${met ? 'MET' : 'NOT MET'}`;
  return { scenario, servers, target: { ratio, max: scenario.maxRatio, met, text }, notes };
}

// ---------------------------------------------------------------------------------------------
// Text

export const int = (n: number): string => Math.round(n).toLocaleString('en-US');
export const mb = (bytes: number): string => `${(bytes / 1048576).toFixed(0)} MiB`;
export const ms = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
export const pct = (v: number): string => `${Math.round(v * 100)}%`;
export const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;

export function table(head: string[], rows: string[][], leftCols = 1): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i < leftCols ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** How the load was applied, for a table's title. */
function load(s: RateScenario): string {
  return s.kind === 'broadcast'
    ? `${s.inflight} messages in flight, msgs/s = deliveries`
    : `${s.connections} connections × ${s.inflight} in flight`;
}

export function echoTable(r: EchoScenarioResult, rounds: number): string {
  const s = r.scenario;
  const title = `${s.name}: ${s.title}, ${load(s)}, median of ${rounds} round${rounds === 1 ? '' : 's'}`;
  const rows = r.servers.map((e) => {
    const m = e.median;
    if (e.status !== 'ok' || !m) return [e.name, `n/a (${e.note ?? 'not run'})`, '', '', '', '', '', '', '', ''];
    return [
      e.name,
      int(m.msgsPerSec),
      m.mbPerSec.toFixed(1),
      ms(m.p50Ms),
      ms(m.p99Ms),
      mb(m.peakRss),
      pct(m.serverCpu),
      pct(m.genCpu),
      pct(m.otherCpu),
      e.ratio === undefined ? '-' : `${e.ratio.toFixed(2)}×`,
    ];
  });
  const head = ['server', 'msgs/s', 'MB/s', 'p50 ms', 'p99 ms', 'peak RSS', 'srv CPU', 'gen CPU', 'other', 'vs ws'];
  return `${title}\n${table(head, rows)}\n${r.target.text}`;
}

export function idleTable(r: IdleScenarioResult, rounds: number): string {
  const s = r.scenario;
  const title = `${s.name}: ${s.title} (${s.concurrency} handshakes at a time), median of ${rounds} round${rounds === 1 ? '' : 's'}`;
  const wsAccept = r.servers.find((e) => e.name === BASELINE)?.median?.acceptMs;
  const rows = r.servers.map((e) => {
    const m = e.median;
    if (!m) return [e.name, 'not run', '', '', '', '', '', '', '', ''];
    return [
      e.name,
      int(m.opened),
      `${int(m.acceptMs)} ms`,
      m.cpuPerHandshakeUs === undefined ? '-' : `${int(m.cpuPerHandshakeUs)} µs`,
      kib(m.rssPerConn),
      kib(m.heapPerConn),
      m.idleCpu === undefined ? '-' : `${(m.idleCpu * 100).toFixed(2)}%`,
      mb(m.peakRss),
      e.ratio === undefined ? '-' : `${e.ratio.toFixed(2)}×`,
      // ws's accept-all time ÷ this one's: above 1 accepts faster than ws.
      wsAccept ? `${(wsAccept / m.acceptMs).toFixed(2)}×` : '-',
    ];
  });
  const head = [
    'server',
    'connections',
    'accept all',
    'srv CPU/hs',
    'RSS/conn',
    'heap/conn',
    'idle CPU',
    'peak RSS',
    'RSS/conn vs ws',
    'accept speed vs ws',
  ];
  return [title, table(head, rows), r.target.text, ...r.notes.map((n) => `note: ${n}`)].join('\n');
}

/** Either end of a run counts as saturated from this share of its core. */
const SATURATED = 0.9;

/**
 * Which end limited a run. A generator that reads messages one or two at a time is keeping up as
 * they arrive, however busy that keeps it: one that could not keep up would find more waiting at
 * each read, each read costing it less per message.
 */
function limit(m: EchoRound, unit: string): string {
  const server = m.serverCpu >= SATURATED;
  const gen = (m.genBusy ?? m.genCpu) >= SATURATED;
  if (server && !gen) return 'limit: server';
  if (server && m.msgsPerRead < 2)
    return `limit: server (the generator takes ${m.msgsPerRead.toFixed(1)} ${unit} per read: it keeps up as they arrive)`;
  if (server) return 'limit: both ends saturated';
  if (gen) return 'limit: generator, so this is a lower bound for the server';
  return 'limit: neither end saturated (the loopback TCP stack, see README)';
}

/**
 * What the generator was seen to sustain: the fastest run it drove, whichever server that was,
 * and how far above the subject and the baseline that is. Servers within 10% of it share one wall,
 * named by whether the generator was saturated there.
 */
function capacity(servers: ServerEntry<EchoRound>[], rate: string): string {
  const best = servers.reduce((a, b) => (b.median!.msgsPerSec > a.median!.msgsPerSec ? b : a));
  const top = best.median!;
  const vs = [SUBJECT, BASELINE]
    .map((name) => servers.find((s) => s.name === name && s !== best))
    .filter((s): s is ServerEntry<EchoRound> => s !== undefined)
    .map((s) => `${(top.msgsPerSec / s.median!.msgsPerSec).toFixed(2)}× ${s.name}`);
  let line = `the generator sustained ${int(top.msgsPerSec)} ${rate} driving ${best.name}${vs.length ? ` (${vs.join(', ')})` : ''}`;
  const near = servers.filter((s) => s !== best && top.msgsPerSec / s.median!.msgsPerSec < 1.1);
  if (near.length > 0) {
    const names = near.map((s) => s.name).join(', ');
    const genSaturated = (top.genBusy ?? top.genCpu) >= SATURATED;
    if (genSaturated && top.serverCpu < SATURATED)
      line += `; ${names} within 10% of it: the generator is saturated there, so those figures are lower bounds`;
    else if (genSaturated) line += `; ${names} within 10% of it: both ends are saturated there`;
    // Servers running the same code at the limit of their own cores come out close without any shared wall.
    else if ([best, ...near].every((s) => s.median!.serverCpu >= SATURATED))
      line += `; ${names} within 10% of it, each at the limit of its own core`;
    else line += `; ${names} within 10% of it: one wall, the loopback TCP stack both ends share, see README`;
  }
  return line;
}

/**
 * The evidence that the generator is not what limits the WebSocket servers: the same generator
 * drives the ceiling server faster than them, and while it drives them the server process is the
 * one whose core is saturated.
 */
export function generatorProof(results: ScenarioResult[]): string[] {
  const lines: string[] = [];
  for (const r of results) {
    if (r.scenario.kind !== 'echo' && r.scenario.kind !== 'broadcast') continue;
    const fanout = r.scenario.kind === 'broadcast';
    const rate = fanout ? 'deliveries/s' : 'msgs/s';
    const unit = fanout ? 'deliveries' : 'messages';
    const servers = (r as EchoScenarioResult).servers.filter((s) => s.status === 'ok' && s.median);
    const ceiling = servers.find((s) => s.name === CEILING);
    const others = servers.filter((s) => s.name !== CEILING).sort((a, b) => b.median!.msgsPerSec - a.median!.msgsPerSec);
    if (others.length === 0) continue;
    const width = Math.max(10, ...others.map((o) => o.name.length));
    const parts = others.map((o) => {
      const m = o.median!;
      const vs = ceiling ? `, ceiling ÷ it ${(ceiling.median!.msgsPerSec / m.msgsPerSec).toFixed(2)}×` : '';
      return (
        `    ${o.name.padEnd(width)} ${int(m.msgsPerSec).padStart(10)} ${rate}  server CPU ${pct(m.serverCpu).padStart(4)}  ` +
        `generator CPU ${pct(m.genCpu).padStart(4)} busy ${pct(m.genBusy ?? m.genCpu).padStart(4)}  ${m.msgsPerRead.toFixed(1)} ${unit}/read${vs}; ${limit(m, unit)}`
      );
    });
    const c = ceiling?.median;
    const why = r.scenario.kind === 'echo' && r.scenario.deflate ? `${CEILING} cannot negotiate deflate` : `${CEILING} was not run`;
    const head = c
      ? `${r.scenario.name}: ${CEILING} ceiling ${int(c.msgsPerSec)} ${rate} (server CPU ${pct(c.serverCpu)}, generator CPU ${pct(c.genCpu)} busy ${pct(c.genBusy ?? c.genCpu)})`
      : `${r.scenario.name}: no ceiling in this scenario (${why}); the generator's busy share shows its headroom`;
    lines.push(head, ...parts);
    lines.push(`    => ${capacity(servers, rate)}`);
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------
// SVG

const COLORS: Record<string, string> = {
  'raw-net': '#9e9e9e',
  uws: '#6a51a3',
  ws: '#3182bd',
  'ws-native': '#6baed6',
  wsup: '#e6550d',
  'wsup-iter': '#fd8d3c',
  'wsup-express': '#31a354',
  'wsup-fastify': '#74c476',
  'wsup-koa': '#a1d99b',
};
const FALLBACK = ['#d6616b', '#e7969c', '#8c6d31', '#bd9e39'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A round tick step giving a handful of ticks up to `max`. */
function tickStep(max: number): number {
  for (const step of [0.25, 0.5, 1, 2, 5, 10, 20, 50]) if (max / step <= 8) return step;
  return 100;
}

/**
 * Grouped horizontal bars: one group per scenario, one bar per server, length = ratio to ws.
 * Each group has its own scale and axis (broadcast ratios run to tens, idle ones below 1, so one
 * shared scale would flatten the rest). Throughput groups read "higher is better"; the idle group
 * charts memory per connection, where lower is better, and says so. In each group the dashed red
 * line is the target and the dotted blue line ws itself (1×).
 */
export function ratiosSvg(report: BenchReport): string {
  // The HTTP/2 group has no ratio to ws: its HTTP/2 ÷ HTTP/1.1 figures are in the tables only.
  const groups = report.scenarios.filter(isVsWs).map((r) => {
    const idle = r.scenario.kind === 'idle';
    const bars = r.servers.map((s) => ({
      name: s.name,
      ratio: s.ratio,
      na: s.status !== 'ok' ? (s.note ?? 'n/a') : s.ratio === undefined ? 'no data' : null,
    }));
    const target = idle ? (r as IdleScenarioResult).target.max : (r as EchoScenarioResult).target.min;
    const what = r.scenario.kind === 'broadcast' ? 'deliveries/s' : 'msgs/s';
    const label = idle
      ? `${r.scenario.name}: memory per connection ÷ ws (lower is better, target ≤ ${target}×)`
      : `${r.scenario.name} (${r.scenario.title}): ${what} ÷ ws (target wsup ≥ ${target}×)`;
    const max = Math.max(1, target, ...bars.map((b) => b.ratio ?? 0)) * 1.08;
    const step = tickStep(max);
    return { label, bars, target, step, scaleMax: Math.ceil(max / step) * step };
  });
  const names = [...new Set(groups.flatMap((g) => g.bars.map((b) => b.name)))];
  const color = (name: string): string => COLORS[name] ?? FALLBACK[names.indexOf(name) % FALLBACK.length]!;

  const width = 900;
  const left = 110;
  const right = 70;
  const plot = width - left - right;
  const barH = 16;
  const gap = 4;
  const parts: string[] = [];
  let y = report.disturbedRuns > 0 ? 92 : 78;

  for (const g of groups) {
    const x = (v: number): number => left + (v / g.scaleMax) * plot;
    parts.push(`<text x="${left}" y="${y}" class="group">${esc(g.label)}</text>`);
    y += 10;
    const top = y;
    for (const b of g.bars) {
      parts.push(`<text x="${left - 8}" y="${y + barH - 4}" class="name" text-anchor="end">${esc(b.name)}</text>`);
      if (b.na !== null || b.ratio === undefined) {
        parts.push(`<text x="${left + 6}" y="${y + barH - 4}" class="na">${esc(b.na ?? 'n/a')}</text>`);
      } else {
        const w = Math.max(1, x(b.ratio) - left);
        parts.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${color(b.name)}"/>`);
        parts.push(`<text x="${(left + w + 5).toFixed(1)}" y="${y + barH - 4}" class="value">${b.ratio.toFixed(2)}×</text>`);
      }
      y += barH + gap;
    }
    const tx = x(g.target).toFixed(1);
    parts.push(`<line x1="${tx}" y1="${top - 4}" x2="${tx}" y2="${y}" class="target"/>`);
    const one = x(1).toFixed(1);
    parts.push(`<line x1="${one}" y1="${top - 4}" x2="${one}" y2="${y}" class="one"/>`);
    parts.push(`<line x1="${left}" y1="${y}" x2="${left + plot}" y2="${y}" class="axis"/>`);
    for (let v = 0; v <= g.scaleMax + 1e-9; v += g.step) {
      const tick = x(v).toFixed(1);
      parts.push(`<line x1="${tick}" y1="${y}" x2="${tick}" y2="${y + 4}" class="axis"/>`);
      parts.push(`<text x="${tick}" y="${y + 15}" class="tick" text-anchor="middle">${Number(v.toFixed(2))}×</text>`);
    }
    y += 44;
  }

  const height = y - 14;
  const m = report.machine;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif">
<style>
  .title { font-size: 16px; font-weight: 600; }
  .sub { font-size: 11px; fill: #555; }
  .group { font-size: 13px; font-weight: 600; }
  .name, .value { font-size: 11px; }
  .tick { font-size: 10px; fill: #555; }
  .na { font-size: 11px; fill: #888; font-style: italic; }
  .target { stroke: #c00; stroke-dasharray: 4 3; stroke-width: 1.5; }
  .one { stroke: #3182bd; stroke-width: 1; stroke-dasharray: 1 2; }
  .axis { stroke: #333; }
</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="${left}" y="24" class="title">wsup benchmarks: ratio to ws (pure JS), same run</text>
<text x="${left}" y="42" class="sub">${esc(`${report.date.slice(0, 16).replace('T', ' ')} UTC · ${m.cpu}, ${m.cores} cores · Node ${m.node} · ${m.os} · medians of ${report.config.rounds} rounds`)}</text>
<text x="${left}" y="56" class="sub">each scenario on its own scale · dashed red: the target · dotted blue: ws itself (1×)</text>
${report.disturbedRuns > 0 ? `<text x="${left}" y="70" class="sub">${esc(`${report.disturbedRuns} runs kept were disturbed by other processes (see "other" in latest.json)`)}</text>` : ''}
${parts.join('\n')}
</svg>
`;
}

export function isEcho(s: Scenario): s is EchoScenario {
  return s.kind === 'echo';
}
