/**
 * Prints the README's benchmark table and its heading line from bench/results/latest.json, so the
 * README always shows the committed run: `pnpm --dir bench readme-table`. Another results file
 * (a run saved with --out) can be named as the argument, relative to bench/. The HTTP/2 group, if
 * the run has it, gets a table of its own: it compares wsup with itself, not with ws; so does the
 * multinode group (each system against its broker's own rate).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { H2EchoScenarioResult, H2OpenRound, H2OpenScenarioResult, H2ScenarioResult, OpenClient } from './h2-report.js';
import { isMultinodeResult, multinodeMarkdown } from './multinode-report.js';
import { BENCH_DIR } from './processes.js';
import { type BenchReport, cpuPerMessageUs, type EchoRound, isVsWs } from './report.js';
import { TRANSPORT_PAIRS } from './scenarios.js';

const COLUMNS: [server: string, heading: string][] = [
  ['ws', 'ws'],
  ['ws-native', 'ws + native addons'],
  ['uws', 'uWebSockets.js'],
  ['raw-net', 'raw node:net'],
  ['raw-net-message', 'raw node:net, whole messages'],
  ['wsup', '**wsup**'],
  ['wsup-iter', 'wsup `for await`'],
  ['wsup-express', 'Express'],
  ['wsup-fastify', 'Fastify'],
  ['wsup-koa', 'Koa'],
];

const file = process.argv[2] ? resolve(BENCH_DIR, process.argv[2]) : join(BENCH_DIR, 'results', 'latest.json');
const report = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;
const m = report.machine;
const date = report.date.replace('T', ' ').slice(0, 16);
const vsWs = report.scenarios.filter(isVsWs);
const lines = [
  `Run of ${date} UTC on ${m.cpu}, ${m.cores} cores, ${m.memory}, Node ${m.node}, ${m.os}; ${m.pinning}; medians of ${report.config.rounds} rounds` +
    (report.config.appHeapMb
      ? `; in the echo and broadcast scenarios every server process holds a ${report.config.appHeapMb} MB application heap.`
      : '.') +
    (vsWs.length > 0
      ? ' Throughput in messages per second (broadcast: deliveries per second); idle in server RSS per connection. Ratios are to pure `ws` in the same run.'
      : ''),
];
if (vsWs.length > 0) {
  lines.push(
    '',
    `| scenario | target | ${COLUMNS.map(([, h]) => h).join(' | ')} |`,
    `| --- | --- |${COLUMNS.map(() => ' ---: |').join('')}`,
  );
}
for (const result of vsWs) {
  const s = result.scenario;
  const idle = s.kind === 'idle';
  const target = result.target;
  const bound = 'min' in target ? `≥ ${target.min}×` : `≤ ${target.max}×`;
  const cells = COLUMNS.map(([name]) => {
    const entry = result.servers.find((e) => e.name === name);
    if (!entry?.median || entry.status !== 'ok') return '–';
    const value = idle
      ? `${((entry.median as { rssPerConn: number }).rssPerConn / 1024).toFixed(1)} KiB`
      : Math.round((entry.median as { msgsPerSec: number }).msgsPerSec).toLocaleString('en-US');
    const cell = name === 'ws' ? value : `${value} (${entry.ratio!.toFixed(2)}×)`;
    return name === 'wsup' ? `**${cell}**` : cell;
  });
  lines.push(`| ${s.name}: ${s.title} | ${bound} (${target.met ? 'met' : 'not met'}) | ${cells.join(' | ')} |`);
}

// ---------------------------------------------------------------------------------------------
// The speed targets against the references (uWebSockets.js, the raw node:net servers, ws), each
// computed from the same run.

type Figure = { msgsPerSec?: number; rssPerConn?: number; heapPerConn?: number; acceptMs?: number };
const entryOf = (scenario: string, server: string) => {
  const e = vsWs.find((x) => x.scenario.name === scenario)?.servers.find((x) => x.name === server);
  return e?.status === 'ok' ? e : undefined;
};
type Round = Figure & { round: number };
const roundsOf = <R = Round>(scenario: string, server: string): R[] => (entryOf(scenario, server)?.rounds ?? []) as R[];
/**
 * The median over rounds of `f(a's round) ÷ f(b's round)`, or undefined when no round has both.
 * Each round runs every server back to back, so a ratio taken within a round cancels how the
 * machine drifts between rounds (a tenth, at times, over one run), which a ratio of the two
 * servers' medians does not.
 */
const pairedRatio = <R extends { round: number }>(
  rounds: (server: string) => R[],
  f: (r: R) => number | undefined,
  a: string,
  b: string,
) => {
  const ofB = new Map(rounds(b).map((r) => [r.round, f(r)]));
  const each = rounds(a)
    .map((r) => {
      const x = f(r);
      const y = ofB.get(r.round);
      return x !== undefined && y !== undefined && y > 0 ? x / y : undefined;
    })
    .filter((r): r is number => r !== undefined)
    .sort((x, y) => x - y);
  return each.length === 0 ? undefined : each[each.length >> 1];
};
/** `a ÷ b` of a figure, round by round (see {@link pairedRatio}), or undefined when either is missing. */
const versus = (value: (f: Figure) => number | undefined, scenario: string, a: string, b: string) =>
  pairedRatio<Round>((server) => roundsOf(scenario, server), value, a, b);
const rateOf = (f: Figure) => f.msgsPerSec;
/**
 * How many times less CPU per message (or delivery) `a` spends than `b`, round by round (≥ 1: `a`
 * is at least as cheap): where the generator saturates, the rate says more about the generator
 * than the server, its CPU per message does not.
 */
const cheaper = (scenario: string, a: string, b: string): number | undefined =>
  // b's CPU per message ÷ a's, round by round.
  pairedRatio<EchoRound>((server) => roundsOf<EchoRound>(scenario, server).filter((x) => x.msgsPerSec > 0), cpuPerMessageUs, b, a);
/**
 * A target's row: the figure, whether it meets the target, and where one exists the same figure
 * for a floor from the same run (the least that work can cost on this machine): a floor that
 * misses the target itself proves the target out of reach, and the row says so.
 *
 * Rows of the other kinds hold no figure of wsup against the target: a floor's own row ('floor':
 * whether the floor meets the target), and wsup or one reference against another ('versus': as
 * good or better, or by how much behind), so that only a target row can read "not met".
 */
type Target = [
  target: string,
  figure: string,
  ratio: number | undefined,
  ok: (r: number) => boolean,
  /** A target row's floor, or the kind of a row that is not a target row. */
  kind?: [floor: number | undefined, what: string] | RowKind,
];
type RowKind = 'floor' | 'versus';
const best = (...ratios: (number | undefined)[]): number | undefined => {
  const known = ratios.filter((r): r is number => r !== undefined);
  return known.length === 0 ? undefined : Math.max(...known);
};
/**
 * wsup's broadcast against a node:net fan-out, by rate and by CPU per delivery. Their floor is
 * `http-floor`'s fan-out: raw-net's own over sockets node:http accepted. Every socket.write reads
 * Socket.prototype._handle through one getter; node:http's handling of a socket shows that getter
 * more shapes than node:net's, so V8 compiles the load megamorphic in any process whose sockets
 * came through node:http (README, broadcast).
 */
const broadcastAgainst = (target: string, reference: string, label: string): Target[] => [
  [
    target,
    `wsup ÷ ${label}, deliveries/s`,
    versus(rateOf, 'broadcast', 'wsup', reference),
    (r) => r >= 1,
    [versus(rateOf, 'broadcast', 'http-floor', reference), 'the node:http fan-out floor'],
  ],
  [
    '',
    `${label} ÷ wsup, server CPU per delivery`,
    cheaper('broadcast', 'wsup', reference),
    (r) => r >= 1,
    [cheaper('broadcast', 'http-floor', reference), 'the node:http fan-out floor'],
  ],
];
const TARGETS: Target[] = [
  ['small ≥ uWebSockets.js', 'wsup ÷ uWS, 32 B msgs/s', versus(rateOf, 'small', 'wsup', 'uws'), (r) => r >= 1],
  [
    '',
    'wsup `for await` ÷ uWS',
    versus(rateOf, 'small', 'wsup-iter', 'uws'),
    (r) => r >= 1,
    [versus(rateOf, 'small', 'iter-floor', 'uws'), 'a minimal `for await` channel'],
  ],
  ['', 'uWS ÷ wsup, server CPU per message', cheaper('small', 'wsup', 'uws'), (r) => r >= 1],
  [
    '`for await` within 5% of events',
    'small: for await ÷ events',
    versus(rateOf, 'small', 'wsup-iter', 'wsup'),
    (r) => r >= 0.95,
    [versus(rateOf, 'small', 'iter-floor', 'wsup'), 'a minimal `for await` channel'],
  ],
  ['', 'medium', versus(rateOf, 'medium', 'wsup-iter', 'wsup'), (r) => r >= 0.95],
  ['', 'large', versus(rateOf, 'large', 'wsup-iter', 'wsup'), (r) => r >= 0.95],
  ['', 'compressed', versus(rateOf, 'compressed', 'wsup-iter', 'wsup'), (r) => r >= 0.95],
  [
    'medium ≥ uWebSockets.js',
    'wsup ÷ uWS, 16 KiB msgs/s',
    versus(rateOf, 'medium', 'wsup', 'uws'),
    (r) => r >= 1,
    [best(versus(rateOf, 'medium', 'raw-net', 'uws'), versus(rateOf, 'medium', 'raw-net-message', 'uws')), 'the raw node:net servers'],
  ],
  [
    '',
    'uWS ÷ wsup, server CPU per message',
    cheaper('medium', 'wsup', 'uws'),
    (r) => r >= 1,
    [best(cheaper('medium', 'raw-net', 'uws'), cheaper('medium', 'raw-net-message', 'uws')), 'the raw node:net servers'],
  ],
  ['large ≥ 0.95× raw node:net', 'wsup ÷ raw node:net, 1 MiB msgs/s', versus(rateOf, 'large', 'wsup', 'raw-net'), (r) => r >= 0.95],
  ['', 'wsup ÷ raw node:net with whole messages', versus(rateOf, 'large', 'wsup', 'raw-net-message'), (r) => r >= 0.95],
  ['', 'raw node:net ÷ wsup, server CPU per message', cheaper('large', 'wsup', 'raw-net'), (r) => r >= 0.95],
  ['', 'raw node:net with whole messages ÷ wsup, server CPU per message', cheaper('large', 'wsup', 'raw-net-message'), (r) => r >= 0.95],
  ...broadcastAgainst('broadcast ≥ raw node:net', 'raw-net', 'raw node:net'),
  [
    '',
    "node:http fan-out floor ÷ raw node:net, deliveries/s (raw node:net's fan-out over sockets node:http accepted)",
    versus(rateOf, 'broadcast', 'http-floor', 'raw-net'),
    (r) => r >= 1,
    'floor',
  ],
  ['', 'raw node:net ÷ that floor, server CPU per delivery', cheaper('broadcast', 'http-floor', 'raw-net'), (r) => r >= 1, 'floor'],
  ['', 'wsup ÷ that floor, deliveries/s', versus(rateOf, 'broadcast', 'wsup', 'http-floor'), (r) => r >= 1, 'versus'],
  ['', 'that floor ÷ wsup, server CPU per delivery', cheaper('broadcast', 'wsup', 'http-floor'), (r) => r >= 1, 'versus'],
  // Not a floor of the rows above: round by round it runs 0.91-1.06x raw-net, at the target
  // within the noise, so a run where it falls short proves nothing out of reach.
  [
    '',
    'raw node:net with whole messages ÷ raw node:net, deliveries/s (a fan-out of whole messages at its least)',
    versus(rateOf, 'broadcast', 'raw-net-message', 'raw-net'),
    (r) => r >= 1,
    'versus',
  ],
  ...broadcastAgainst('', 'raw-net-message', 'raw node:net with whole messages'),
  ['idle ≤ 0.9× ws', 'wsup ÷ ws, RSS per connection', versus((f) => f.rssPerConn, 'idle', 'wsup', 'ws'), (r) => r <= 0.9],
  // RSS per connection moves by up to 1 KiB between rounds of one server; heap per connection does not.
  ['', 'wsup ÷ ws, heap per connection', versus((f) => f.heapPerConn, 'idle', 'wsup', 'ws'), (r) => r <= 0.9],
  [
    '',
    'wsup `for await` ÷ ws',
    versus((f) => f.rssPerConn, 'idle', 'wsup-iter', 'ws'),
    (r) => r <= 0.9,
    [versus((f) => f.rssPerConn, 'idle', 'http-iter-floor', 'ws'), 'the node:http `for await` floor'],
  ],
  [
    '',
    'node:http `for await` floor ÷ ws (a handler suspended on req and res, no WebSocket)',
    versus((f) => f.rssPerConn, 'idle', 'http-iter-floor', 'ws'),
    (r) => r <= 0.9,
    'floor',
  ],
  [
    '',
    'wsup `for await` ÷ that floor, RSS per connection',
    versus((f) => f.rssPerConn, 'idle', 'wsup-iter', 'http-iter-floor'),
    (r) => r <= 1,
    'versus',
  ],
  ['', 'the same, heap per connection', versus((f) => f.heapPerConn, 'idle', 'wsup-iter', 'http-iter-floor'), (r) => r <= 1, 'versus'],
];
/**
 * Each handshake floor, what it stands for in the table, and the servers it bounds: node:http's
 * (the `upgrade` event, the accept key, one write), and each framework's own routing of the
 * upgrade request with a route writing the 101 itself. No server whose handshakes go through
 * that path accepts faster.
 */
const HANDSHAKE_FLOORS = [
  ['http-floor', 'node:http', 'the most any server on node:http can reach', ['wsup', 'wsup-iter']],
  [
    'express-floor',
    'Express',
    'Express routing the upgrade request, the route writing the 101 itself: the most any library routed through Express can reach',
    ['wsup-express'],
  ],
  [
    'fastify-floor',
    'Fastify',
    'Fastify routing the upgrade request, the route writing the 101 itself: the most any library routed through Fastify can reach',
    ['wsup-fastify'],
  ],
  [
    'koa-floor',
    'Koa',
    'Koa routing the upgrade request, the route writing the 101 itself: the most any library routed through Koa can reach',
    ['wsup-koa'],
  ],
] as const;
const acceptVersusWs = (server: string) => versus((f) => f.acceptMs, 'idle', 'ws', server);
for (const [floor, path, , servers] of HANDSHAKE_FLOORS) {
  for (const name of servers) {
    TARGETS.push([
      name === 'wsup' ? 'accepting 10,000 ≥ 1.2× faster than ws' : '',
      `ws's time ÷ ${name === 'wsup' ? 'wsup (router)' : name}'s`,
      acceptVersusWs(name),
      (r) => r >= 1.2,
      [acceptVersusWs(floor), `the ${path} floor`],
    ]);
  }
}
for (const [floor, path, about] of HANDSHAKE_FLOORS) {
  TARGETS.push(['', `ws's time ÷ ${path} floor's (${about})`, acceptVersusWs(floor), (r) => r >= 1.2, 'floor']);
}
const shown = TARGETS.filter(([, , r]) => r !== undefined);
if (shown.length > 0) {
  lines.push('', '| target | figure | ratio | |', '| --- | --- | ---: | --- |');
  // Two decimals, or three where two would round across the target (0.999× "not met" read 1.00×).
  const ratio = (r: number, ok: (r: number) => boolean): string => `${ok(Number(r.toFixed(2))) === ok(r) ? r.toFixed(2) : r.toFixed(3)}×`;
  for (const [target, figure, r, ok, kind] of shown) {
    let status: string;
    if (kind === 'floor') status = ok(r!) ? 'the floor meets the target' : 'the floor misses the target';
    else if (kind === 'versus') status = ok(r!) ? 'as good or better' : `behind by ${(Math.abs(1 - r!) * 100).toFixed(1)}%`;
    else {
      const [reach, what] = kind ?? [undefined, ''];
      status = ok(r!) ? 'met' : reach !== undefined && !ok(reach) ? `out of reach: ${what} ${ratio(reach, ok)}` : 'not met';
    }
    lines.push(`| ${target} | ${figure} | ${ratio(r!, ok)} | ${status} |`);
  }
}

// ---------------------------------------------------------------------------------------------
// The HTTP/2 group: a row per figure and pair of transports, HTTP/1.1 next to HTTP/2.

const h2 = report.scenarios.filter((r): r is H2ScenarioResult => !isVsWs(r) && !isMultinodeResult(r));
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;
const rate = (v: number): string => Math.round(v).toLocaleString('en-US');

/** The figures shown for the open scenario: [client, field, what it is, format]. */
const OPEN_ROWS: [OpenClient, keyof H2OpenRound, string, (v: number) => string][] = [
  ['bench', 'opensPerSec', 'WebSockets opened/s', rate],
  ['bench', 'serverCpuUs', 'server CPU per WebSocket opened', (v) => `${rate(v)} µs`],
  ['bench', 'serverRssPerWs', 'server RSS per WebSocket', kib],
  ['bench', 'serverHeapPerWs', 'server heap per WebSocket', kib],
  ['wsup', 'opensPerSec', 'WebSockets opened/s by wsup’s client', rate],
  ['wsup', 'clientRssPerWs', 'wsup client RSS per WebSocket', kib],
];

if (h2.length > 0) {
  lines.push(
    '',
    'HTTP/2 against HTTP/1.1, wsup alone (ws and uWebSockets.js do not speak RFC 8441), same run. TLS: one port serving both (ALPN), ECDSA P-256, full handshakes; 1:1: a session per WebSocket; cleartext: h2c against node:http.',
    '',
    '| scenario | figure | transports | HTTP/1.1 | HTTP/2 | h2 ÷ h1 |',
    '| --- | --- | --- | ---: | ---: | ---: |',
  );
  let last = '';
  const row = (scenario: string, figure: string, value: (transport: string) => number | undefined, format: (v: number) => string) => {
    for (const p of TRANSPORT_PAIRS) {
      const a = value(p.h1);
      const b = value(p.h2);
      if (a === undefined || b === undefined) continue;
      lines.push(
        `| ${scenario === last ? '' : scenario} | ${figure} | ${p.label} | ${format(a)} | ${format(b)} | **${(b / a).toFixed(2)}×** |`,
      );
      last = scenario;
    }
  };
  for (const r of h2) {
    const name = `${r.scenario.name}: ${r.scenario.title}`;
    if (r.scenario.kind === 'h2-open') {
      const entries = (r as H2OpenScenarioResult).servers;
      for (const [client, key, figure, format] of OPEN_ROWS) {
        row(
          name,
          figure,
          (t) => entries.find((e) => e.transport === t && e.client === client)?.median?.[key] as number | undefined,
          format,
        );
      }
    } else {
      const entries = (r as H2EchoScenarioResult).servers;
      const median = (t: string) => entries.find((e) => e.transport === t)?.median;
      row(name, 'msgs/s', (t) => median(t)?.msgsPerSec, rate);
      row(
        name,
        'server CPU per message',
        (t) => median(t)?.serverCpuUsPerMsg,
        (v) => `${v.toFixed(2)} µs`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The multinode group: a row per broker and system, with its ratio to the broker's own rate.

for (const r of report.scenarios.filter(isMultinodeResult)) lines.push('', ...multinodeMarkdown(r));
process.stdout.write(`${lines.join('\n')}\n`);
