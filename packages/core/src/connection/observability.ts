/**
 * What a WebSocket tells the outside about itself: its opening, errors and close on the
 * diagnostics channels (see `diagnostics.ts`), and its figures into the counters of the process
 * and of its router (see `stats.ts`). The WebSocket calls these at those moments only; what it
 * counts per message is kept in its `Inbound` and `Outbound`.
 */
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { closeChannel, errorChannel, openChannel } from '../diagnostics.js';
import type { WebSocketError } from '../errors.js';
import type { CloseHandshake } from './close-handshake.js';
import type { CloseInfo } from './message.js';
import { addTraffic, type Counted, noTraffic, processStats, type StatsScope } from './stats.js';

/** A WebSocket as this module sees it. */
export interface Observed extends Counted {
  readonly protocol: string;
  readonly extensions: string;
  readonly isClient: boolean;
  /** The counters of the router that adopted it, if one did. */
  readonly registry: StatsScope | undefined;
  /** When it opened: milliseconds of `performance.now()`. */
  readonly openedAt: number;
}

/** Who started the close: see {@link WebSocketCloseMessage.closedBy}. */
export type ClosedBy = 'local' | 'remote' | 'abnormal';

/** A WebSocket is being made: counts it, and returns its opening time. */
export function countOpened(): number {
  processStats.countOpened();
  // Whole milliseconds stay small integers (no boxed number per connection) for 24 days of uptime.
  return Math.floor(performance.now());
}

/** Publishes a WebSocket's opening (both sides call this once the WebSocket is made). */
export function publishOpen(
  websocket: Observed,
  request: IncomingMessage | Http2ServerRequest | undefined,
  transport: 'http/1.1' | 'h2',
): void {
  if (!openChannel.hasSubscribers) return;
  const { protocol, extensions, isClient } = websocket;
  openChannel.publish({ websocket, request, transport, protocol, extensions, isClient });
}

/** Publishes an error the WebSocket reports (as its `error` event, or as `ws.error`). */
export function publishError(websocket: Observed, error: WebSocketError): void {
  if (errorChannel.hasSubscribers) errorChannel.publish({ websocket, error });
}

/** The WebSocket is closing for idling: the one limit its way of closing does not tell. */
export function countIdle(ws: Observed): void {
  processStats.countIdle();
  ws.registry?.countIdle();
}

/** The WebSocket closed: its figures join the totals, and its close is published. */
export function countClosed(ws: Observed, info: CloseInfo, handshake: CloseHandshake | undefined): void {
  const failure = info.error?.code;
  processStats.countClosed(ws, info.code, failure);
  const router = ws.registry;
  if (router !== undefined) {
    router.live.delete(ws);
    router.countClosed(ws, info.code, failure);
  }
  if (closeChannel.hasSubscribers) closeChannel.publish(closeMessage(ws, info, handshake));
}

/**
 * Who started the close: the side whose close frame went first; 'abnormal' when neither sent
 * one (a `terminate()`, a lost connection).
 */
export function closedBy(handshake: CloseHandshake | undefined): ClosedBy {
  if (handshake === undefined || (!handshake.sent && handshake.received === undefined)) return 'abnormal';
  return handshake.receivedFirst ? 'remote' : 'local';
}

/** The message on `wsup:websocket:close`. */
export function closeMessage(websocket: Observed, info: CloseInfo, handshake: CloseHandshake | undefined) {
  const t = noTraffic();
  addTraffic(t, websocket);
  return {
    websocket,
    code: info.code,
    reason: info.reason,
    wasClean: info.wasClean,
    closedBy: closedBy(handshake),
    ...(info.error === undefined ? {} : { error: info.error }),
    duration: (performance.now() - websocket.openedAt) / 1000,
    messagesIn: t.messagesIn,
    messagesOut: t.messagesOut,
    bytesIn: t.bytesIn,
    bytesOut: t.bytesOut,
  };
}
