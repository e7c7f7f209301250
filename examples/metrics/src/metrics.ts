/**
 * wsup's counters as Prometheus metrics with prom-client. Every figure is read from `stats()` (a
 * router's `stats()` or the process-wide `webSocketStats()`) when Prometheus scrapes, in each
 * metric's `collect` callback: nothing is counted twice and nothing runs between scrapes. Only
 * the connection-duration histogram needs events, and takes them from the `wsup:websocket:close`
 * diagnostics channel.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { channels, type WebSocket, type WebSocketCloseMessage, type WebSocketOpenMessage, type WebSocketStats } from '@wsup/core';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The `reason` label of `wsup_terminations_total`, for each of the stats' `terminated` fields. */
export const TERMINATION_REASONS = {
  slowReader: 'slow_reader',
  heartbeat: 'heartbeat',
  idle: 'idle',
  memoryBudget: 'memory_budget',
  rateLimit: 'rate_limit',
} as const satisfies Record<keyof WebSocketStats['terminated'], string>;

/**
 * Registers the wsup metrics in `registry`, read from `stats()` at each scrape:
 *
 * - `wsup_websockets_open` (gauge): WebSockets open now.
 * - `wsup_websockets_opened_total`: WebSockets opened.
 * - `wsup_websockets_closed_total{code}`: WebSockets closed, by close code.
 * - `wsup_handshakes_refused_total{status}`: upgrade requests refused, by HTTP status.
 * - `wsup_messages_total{direction="in"|"out"}`: whole data messages.
 * - `wsup_message_bytes_total{direction, encoding="wire"|"uncompressed"}`: their payload bytes as
 *   sent on the wire (compressed when they were) and uncompressed; the difference is what
 *   permessage-deflate saved.
 * - `wsup_buffered_bytes` (gauge): bytes queued to send or received and not yet read, now.
 * - `wsup_terminations_total{reason}`: connections wsup dropped (see {@link TERMINATION_REASONS}).
 */
export function registerWsupMetrics(registry: Registry, stats: () => WebSocketStats): void {
  const registers = [registry];

  new Gauge({
    name: 'wsup_websockets_open',
    help: 'WebSockets open now.',
    registers,
    collect() {
      this.set(stats().open);
    },
  });

  new Counter({
    name: 'wsup_websockets_opened_total',
    help: 'WebSockets opened.',
    registers,
    collect() {
      this.reset();
      this.inc(stats().opened);
    },
  });

  new Counter({
    name: 'wsup_websockets_closed_total',
    help: 'WebSockets closed, by close code (1005: none was sent, 1006: the connection ended without a close frame).',
    labelNames: ['code'],
    registers,
    collect() {
      this.reset();
      for (const [code, count] of Object.entries(stats().closedByCode)) this.inc({ code }, count);
    },
  });

  new Counter({
    name: 'wsup_handshakes_refused_total',
    help: 'Upgrade requests answered with an HTTP status instead of 101, by status.',
    labelNames: ['status'],
    registers,
    collect() {
      this.reset();
      for (const [status, count] of Object.entries(stats().refusedByStatus)) this.inc({ status }, count);
    },
  });

  new Counter({
    name: 'wsup_messages_total',
    help: 'Whole data messages received (in) and sent (out).',
    labelNames: ['direction'],
    registers,
    collect() {
      const s = stats();
      this.reset();
      this.inc({ direction: 'in' }, s.messagesIn);
      this.inc({ direction: 'out' }, s.messagesOut);
    },
  });

  new Counter({
    name: 'wsup_message_bytes_total',
    help: 'Payload bytes of data messages, as on the wire (compressed when they were) and uncompressed.',
    labelNames: ['direction', 'encoding'],
    registers,
    collect() {
      const s = stats();
      this.reset();
      this.inc({ direction: 'in', encoding: 'wire' }, s.bytesIn);
      this.inc({ direction: 'in', encoding: 'uncompressed' }, s.uncompressedBytesIn);
      this.inc({ direction: 'out', encoding: 'wire' }, s.bytesOut);
      this.inc({ direction: 'out', encoding: 'uncompressed' }, s.uncompressedBytesOut);
    },
  });

  new Gauge({
    name: 'wsup_buffered_bytes',
    help: 'Bytes queued to send plus bytes received and not yet read, now.',
    registers,
    collect() {
      this.set(stats().bufferedBytes);
    },
  });

  new Counter({
    name: 'wsup_terminations_total',
    help: 'Connections wsup dropped: a peer too slow to read, silent past the heartbeat, idle, over the memory budget, or over its rate limit.',
    labelNames: ['reason'],
    registers,
    collect() {
      const { terminated } = stats();
      this.reset();
      for (const [field, reason] of Object.entries(TERMINATION_REASONS)) {
        this.inc({ reason }, terminated[field as keyof typeof TERMINATION_REASONS]);
      }
    },
  });
}

/**
 * `wsup_websocket_duration_seconds`: how long the process's server-side WebSockets stayed open,
 * observed from the `wsup:websocket:close` channel as each closes (connections the process opened
 * itself as a client are left out). Returns the function that unsubscribes.
 */
export function observeConnectionDurations(registry: Registry): () => void {
  const histogram = new Histogram({
    name: 'wsup_websocket_duration_seconds',
    help: 'How long WebSockets stayed open, from the handshake to the end of the connection.',
    buckets: [0.1, 1, 10, 60, 600, 3600, 6 * 3600, 24 * 3600],
    registers: [registry],
  });
  // The open message says which side a WebSocket is; the close message does not.
  const counted = new WeakSet<WebSocket>();
  const onOpen = (message: unknown) => {
    const { websocket, isClient } = message as WebSocketOpenMessage;
    if (!isClient) counted.add(websocket);
  };
  const onClose = (message: unknown) => {
    const { websocket, duration } = message as WebSocketCloseMessage;
    if (counted.delete(websocket)) histogram.observe(duration);
  };
  subscribe(channels.open, onOpen);
  subscribe(channels.close, onClose);
  return () => {
    unsubscribe(channels.open, onOpen);
    unsubscribe(channels.close, onClose);
  };
}
