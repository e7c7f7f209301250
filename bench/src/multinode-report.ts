/**
 * Results of the multinode group: medians over rounds, each system's deliveries/s ÷ its broker's
 * own raw rate from the same run, and the text and markdown tables.
 */
import type { BrokerName } from './multinode-brokers.js';
import type { SystemKind } from './loadgen-multinode.js';
import { int, medianRound, ms, pct, table } from './report.js';
import type { MultinodeScenario } from './scenarios.js';

export interface MultinodeRound {
  round: number;
  deliveriesPerSec: number;
  /** Messages published and delivered to every subscriber of their topic, per second. */
  messagesPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Largest peak RSS of the three server processes (0 for the raw broker runs). */
  peakRss: number;
  /** Cores used during the window by the system under test: the three servers and the broker. */
  sutCpu: number;
  serversCpu: number;
  brokerCpu: number;
  /** The system's CPU time per delivery, µs. */
  cpuUsPerDelivery: number;
  genCpu: number;
  genBusy: number;
  /** Cores used by anything else during the window. */
  otherCpu: number;
  deliveriesPerRead: number;
}

export interface MultinodeEntry {
  /** `raw redis`, `wsup redis`, `socket.io redis`… */
  name: string;
  broker: BrokerName;
  system: SystemKind;
  about: string;
  status: 'ok' | 'skipped' | 'failed';
  note?: string;
  rounds: MultinodeRound[];
  median?: MultinodeRound;
  /** deliveries/s ÷ the raw broker's deliveries/s, medians of the same run. */
  vsRaw?: number;
}

export interface MultinodeScenarioResult {
  scenario: MultinodeScenario;
  entries: MultinodeEntry[];
  /** Each broker: what it was, or why it was skipped. */
  brokers: { name: BrokerName; about?: string; skipped?: string }[];
  notes: string[];
  /** Rounds of this group (its default differs from the other scenarios'). */
  rounds: number;
}

export function isMultinodeResult(r: { scenario: { kind: string } }): r is MultinodeScenarioResult {
  return r.scenario.kind === 'multinode';
}

export function finishMultinode(
  scenario: MultinodeScenario,
  entries: MultinodeEntry[],
  brokers: MultinodeScenarioResult['brokers'],
  notes: string[],
  rounds: number,
): MultinodeScenarioResult {
  for (const e of entries) e.median = medianRound(e.rounds);
  for (const e of entries) {
    const raw = entries.find((x) => x.broker === e.broker && x.system === 'raw' && x.median)?.median;
    if (raw && e.median && e.status === 'ok') e.vsRaw = e.median.deliveriesPerSec / raw.deliveriesPerSec;
  }
  return { scenario, entries, brokers, notes, rounds };
}

const times = (v: number): string => `${v >= 10 ? v.toFixed(1) : v.toFixed(2)}×`;

/** How the load was applied, for the titles. */
export function describe(s: MultinodeScenario): string {
  const subs = s.nodes * s.subscribersPerNode;
  const pubs = s.nodes * s.publishersPerNode;
  return (
    `${s.nodes} nodes, ${subs} subscribers (${s.subscribersPerNode} per node) on ${s.topics} topic${s.topics === 1 ? '' : 's'}, ` +
    `${pubs} publishers (${s.publishersPerNode} per node), ${s.payloadBytes} B text, ${s.window} in flight per publisher`
  );
}

export function multinodeTable(r: MultinodeScenarioResult, rounds: number): string {
  const s = r.scenario;
  const title = `${s.name}: ${describe(s)}; median of ${rounds} round${rounds === 1 ? '' : 's'}`;
  const rows = r.entries.map((e) => {
    const m = e.median;
    if (e.status !== 'ok' || !m) return [e.name, `${e.status}: ${e.note ?? 'not run'}`, '', '', '', '', '', '', '', '', ''];
    return [
      e.name,
      int(m.deliveriesPerSec),
      int(m.messagesPerSec),
      ms(m.p50Ms),
      ms(m.p99Ms),
      pct(m.serversCpu),
      pct(m.brokerCpu),
      m.cpuUsPerDelivery.toFixed(2),
      pct(m.genCpu),
      pct(m.otherCpu),
      e.system === 'raw' ? '1 (raw)' : e.vsRaw === undefined ? '-' : times(e.vsRaw),
    ];
  });
  const head = [
    'system',
    'deliveries/s',
    'msgs/s',
    'p50 ms',
    'p99 ms',
    'nodes CPU',
    'broker CPU',
    'µs CPU/dlv',
    'gen CPU',
    'other',
    '÷ raw broker',
  ];
  const brokers = r.brokers.map((b) => `broker ${b.name}: ${b.skipped ? `skipped (${b.skipped})` : b.about}`);
  return [title, table(head, rows), ...brokers, ...r.notes.map((n) => `note: ${n}`)].join('\n');
}

/** The README's markdown table of the group. */
export function multinodeMarkdown(r: MultinodeScenarioResult): string[] {
  const lines = [
    `Multinode: ${describe(r.scenario)}; medians of ${r.rounds} rounds. Each system ÷ its broker's own pub/sub rate (raw) in the same run; CPU is the three nodes' and the broker's, per delivery.`,
    '',
    '| broker | system | deliveries/s | p50 ms | p99 ms | µs CPU per delivery | ÷ raw broker |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const e of r.entries) {
    const m = e.median;
    const system = e.system === 'wsup' ? '**wsup**' : e.system === 'raw' ? 'raw broker client' : 'Socket.IO';
    if (e.status !== 'ok' || !m) {
      lines.push(`| ${e.broker} | ${system} | ${e.status}: ${e.note ?? ''} | | | | |`);
      continue;
    }
    const ratio = e.system === 'raw' ? '1' : e.vsRaw === undefined ? '–' : times(e.vsRaw);
    lines.push(
      `| ${e.broker} | ${system} | ${int(m.deliveriesPerSec)} | ${ms(m.p50Ms)} | ${ms(m.p99Ms)} | ${m.cpuUsPerDelivery.toFixed(2)} | ${e.system === 'wsup' ? `**${ratio}**` : ratio} |`,
    );
  }
  for (const b of r.brokers) if (b.skipped) lines.push(`| ${b.name} | – | skipped: ${b.skipped} | | | | |`);
  return lines;
}
