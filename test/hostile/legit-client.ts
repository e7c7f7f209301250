/**
 * The legitimate client: a child process of its own (so an attacker busy in the harness cannot
 * slow it down) that keeps one WebSocket to the server's echo route and does round trips
 * throughout a probe, one every few milliseconds, timing each. The harness tells it where to
 * connect (`start`), when the attack begins (`mark`: counters restart) and when it ends (`stop`:
 * it reports and disconnects). It uses the `ws` client, the same for both servers, and offers
 * permessage-deflate as browsers do.
 */
import WebSocket from 'ws';

/** Harness → legit client. */
export type ToLegit = { type: 'start'; port: number } | { type: 'mark' } | { type: 'stop' };

/** Legit client → harness. */
export type FromLegit = { type: 'ready' } | { type: 'started'; ok: boolean; error?: string } | LegitStats;

export interface LegitStats {
  type: 'stats';
  /** Round trips completed since `mark`. */
  roundTrips: number;
  /** The slowest round trip since `mark`, counting one still waiting at `stop`, in ms. */
  maxLatencyMs: number;
  /** The median round trip since `mark`, counting one still waiting at `stop`, in ms. */
  medianLatencyMs: number;
  /** Whether the connection was still open at `stop`. */
  open: boolean;
  /** How it ended if it did: a close code or an error. */
  ended?: string;
}

/** Milliseconds between the end of one round trip and the next request. */
const PACE_MS = 10;
const WARMUP_ROUND_TRIPS = 3;
const PAYLOAD = 'legit '.padEnd(64, '.');

let ws: WebSocket | undefined;
let seq = 0;
let sentAt = 0;
let waiting = false;
let roundTrips = 0;
let maxLatencyMs = 0;
/** Round-trip times since `mark` (bounded: at most one per PACE_MS). */
let latencies: number[] = [];
let ended: string | undefined;
let timer: NodeJS.Timeout | undefined;
let onWarm: (() => void) | undefined;

function send(msg: FromLegit): void {
  if (process.connected) process.send?.(msg);
}

function next(): void {
  timer = undefined;
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  seq++;
  sentAt = performance.now();
  waiting = true;
  ws.send(`${PAYLOAD}${seq}`);
}

function start(port: number): void {
  seq = roundTrips = maxLatencyMs = 0;
  latencies = [];
  waiting = false;
  ended = undefined;
  const socket = new WebSocket(`ws://127.0.0.1:${port}/echo`);
  ws = socket;
  let warm = false;
  const warmup = setTimeout(() => {
    if (!warm) send({ type: 'started', ok: false, error: `not ${WARMUP_ROUND_TRIPS} round trips within 5 s (${ended ?? 'open'})` });
    warm = true;
  }, 5000);
  onWarm = () => {
    clearTimeout(warmup);
    if (!warm) send({ type: 'started', ok: true });
    warm = true;
  };
  socket.on('open', next);
  socket.on('message', (data) => {
    if (ws !== socket || !waiting || data.toString() !== `${PAYLOAD}${seq}`) return;
    waiting = false;
    roundTrips++;
    const latency = performance.now() - sentAt;
    maxLatencyMs = Math.max(maxLatencyMs, latency);
    if (latencies.length < 1_000_000) latencies.push(latency);
    if (roundTrips === WARMUP_ROUND_TRIPS) onWarm?.();
    timer = setTimeout(next, PACE_MS);
  });
  socket.on('close', (code) => {
    ended ??= `closed ${code}`;
  });
  socket.on('error', (err: Error & { code?: string }) => {
    ended ??= `error ${err.code ?? err.message}`;
  });
}

function stop(): void {
  const socket = ws;
  ws = undefined;
  if (timer) clearTimeout(timer);
  timer = undefined;
  const latency = waiting ? performance.now() - sentAt : 0;
  const all = waiting ? [...latencies, latency] : latencies;
  all.sort((a, b) => a - b);
  const stats: LegitStats = {
    type: 'stats',
    roundTrips,
    maxLatencyMs: Math.round(Math.max(maxLatencyMs, latency)),
    medianLatencyMs: all.length ? Math.round(all[Math.floor(all.length / 2)]!) : 0,
    open: socket?.readyState === WebSocket.OPEN,
  };
  if (ended) stats.ended = ended;
  socket?.terminate();
  send(stats);
}

process.on('disconnect', () => process.exit(0));
process.on('message', (msg: ToLegit) => {
  if (msg.type === 'start') start(msg.port);
  else if (msg.type === 'mark') {
    roundTrips = 0;
    maxLatencyMs = 0;
    latencies = [];
  } else if (msg.type === 'stop') stop();
});
send({ type: 'ready' });
